"""Licensing decision reports: the same organisation under several options, cost versus risk.

The question a decision maker brings
------------------------------------
"Some Operations users must maintain customer data. Do we buy them Sales licences and keep
the one-way sync, make customers read-only in Operations and live with handoffs, or build
a two-way sync?" Each answer is an **option**: a design from the catalogue and changes to
roles (where they work, which licences they hold). A scenario lists its options under
``options:``; this module runs every option on the same organisation and workload, with
the same seeds (common random numbers: the differences come from the options, not from
luck), checks each history, prices each option's licences, and writes a report.

What is measured, per option
----------------------------
- **Licence cost**: the rights each role needs follow from its actions and the design
  (:func:`sim.engine.licence_enforcement.role_required_rights`). A role whose licences
  the option fixes (``licences: [...]``) is priced as given, and flagged when those
  licences do not grant what the role does or are not a valid set (Team Members next to
  Finance, for example); every other role gets the cheapest compliant licences from
  :func:`models.licensing.cost_roles`. Minimum seats (Finance today: 20) are counted over
  all roles, fixed ones included, and unused seats are paid at full price, as
  ``cost_roles`` does.
- **Requests against entitlements**: each user save attempt (a ``write`` event, accepted
  or refused) counts :data:`REQUESTS_PER_SAVE` requests (the read that opened the form and
  the create or update itself). Per role, the busiest simulated day's count divided by the
  headcount is compared with the role's entitlement per user per 24 h. Every apply by a
  map (not by a user) into a Dataverse system (Sales or the hub) is one integration
  request, compared with the tenant pool.
- **Risk**: *lost* updates of any record (the checker's ``no_lost_update`` count,
  violations and sanctioned alike), *conflicting* updates (the ``conflicts`` metric:
  someone must decide which value wins, and until then one side shows the wrong one) and
  *abandoned* edits (handoffs given up, saves no licensed colleague took over, edits
  abandoned at a lock), each per 1,000 accepted user saves. Their sum is the option's
  **writes at risk per 1,000**, the y axis of the cost-versus-risk chart.
- **Friction**: p95 staleness of customer data (the larger p95 propagation delay of the
  ``account`` flows between Sales and Operations), blocked user minutes, handoffs
  (design handoffs plus licence handoffs) and refusals (saves the system refused plus
  licence refusals).

The recommendation
------------------
Options whose licences do not cover their users' work, or that break an invariant their
design promises, are not recommended. Among the rest, the cheapest option whose writes at
risk stay at or under a threshold (:data:`DEFAULT_MAX_RISK_PER_1000`, ``--max-risk``) is
recommended; it always lies on the Pareto front of cost and risk. When none is under the
threshold, the least risky is recommended and the trade-off is spelled out: what each
cheaper option saves per month and how many writes a month it puts at risk.
Beside it the report names every price-book figure that is not verified (a price, an
attach price, a minimum) without which the recommended option, its licences or its cost
would change, and says what the recommendation would be without it
(:mod:`sim.reporting.licensing.sensitivity`).

Output
------
:func:`write_report` writes ``index.html`` (one file, inline CSS, no scripts, no network,
every user-supplied string escaped), the charts as PNG files beside it, and
``report.json`` with every figure the page shows, into a temporary folder renamed into
place at the end. ``p2c report SCENARIO`` is the command (:mod:`sim.cli.report`).

Modules, in the order data flows (each imports only those before it):

- ``options``: the scenario's ``options:`` validated (file:line errors) and built;
- ``figures``: one run of one option, its figures (risk, friction, requests);
- ``costing``: an option's bill (licences per role, seats, build and run costs);
- ``text``: how numbers are written;
- ``recommendation``: the Pareto front (the study's rule) and the recommendation;
- ``sensitivity``: the unverified price-book figures the recommendation rests on;
- ``comparison``: every option on the same seeds, as the plain data of ``report.json``;
- ``charts``: the matplotlib figures; ``html``: the page and the report folder;
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sim.reporting.licensing.charts import cost_breakdown_figure, cost_risk_figure, figure_png
    from sim.reporting.licensing.comparison import Comparison, OptionResult, compare_options
    from sim.reporting.licensing.costing import LicenceCosting, RoleLicences, license_option
    from sim.reporting.licensing.figures import (
        REQUESTS_PER_SAVE,
        RunFigures,
        figures_from_run,
        request_counts,
        run_option,
    )
    from sim.reporting.licensing.html import render_html, write_report
    from sim.reporting.licensing.options import ExtraCost, Option, OptionSpec, load_options
    from sim.reporting.licensing.recommendation import (
        DEFAULT_MAX_RISK_PER_1000,
        pareto_front,
        recommend,
    )

__all__ = [
    "DEFAULT_MAX_RISK_PER_1000",
    "REQUESTS_PER_SAVE",
    "Comparison",
    "ExtraCost",
    "LicenceCosting",
    "Option",
    "OptionResult",
    "OptionSpec",
    "RoleLicences",
    "RunFigures",
    "compare_options",
    "cost_breakdown_figure",
    "cost_risk_figure",
    "figure_png",
    "figures_from_run",
    "license_option",
    "load_options",
    "pareto_front",
    "recommend",
    "render_html",
    "request_counts",
    "run_option",
    "write_report",
]

#: Where each public name lives. The package imports a module the first time one of its
#: names is asked for (PEP 562), so importing one of its modules does not load the others:
#: ``p2c`` reads :data:`DEFAULT_MAX_RISK_PER_1000` from ``recommendation`` for its help
#: text without loading the costing, comparison, charts and HTML modules and the licensing
#: model they import (issue 17: p2c starts fast; tests/test_imports.py).
_HOMES: dict[str, str] = {
    "Comparison": "comparison",
    "DEFAULT_MAX_RISK_PER_1000": "recommendation",
    "ExtraCost": "options",
    "LicenceCosting": "costing",
    "Option": "options",
    "OptionResult": "comparison",
    "OptionSpec": "options",
    "REQUESTS_PER_SAVE": "figures",
    "RoleLicences": "costing",
    "RunFigures": "figures",
    "compare_options": "comparison",
    "cost_breakdown_figure": "charts",
    "cost_risk_figure": "charts",
    "figure_png": "charts",
    "figures_from_run": "figures",
    "license_option": "costing",
    "load_options": "options",
    "pareto_front": "recommendation",
    "recommend": "recommendation",
    "render_html": "html",
    "request_counts": "figures",
    "run_option": "figures",
    "write_report": "html",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # the next look-up is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
