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

Output
------
:func:`write_report` writes ``index.html`` (one file, inline CSS, no scripts, no network,
every user-supplied string escaped), the charts as PNG files beside it, and
``report.json`` with every figure the page shows, into a temporary folder renamed into
place at the end. ``p2c report SCENARIO`` is the command (:func:`add_report_parser`).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import io
import json
import math
import os
import shutil
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sim.scenario.yamlio import (
    InputError,
    LineMap,
    PathKey,
    format_path,
    load_yaml,
    validation_error,
)

#: Requests one user save attempt costs: the read that opened the form, and the write.
REQUESTS_PER_SAVE = 2
#: Systems on Dataverse, whose requests count against Power Platform entitlements.
DATAVERSE_SYSTEMS = ("sales", "hub")
#: The systems people work in; staleness is measured between them.
USER_SYSTEMS = ("sales", "operations")
#: Writes at risk (lost + conflicting + abandoned) per 1,000 saves an option may have
#: and still be recommended on cost alone.
DEFAULT_MAX_RISK_PER_1000 = 1.0
#: Used to turn "per simulated working day" into "per month" in the reasoning.
WORKING_DAYS_PER_MONTH = 21
REPORT_FORMAT = "p2c-licensing-report/1"
TEMPLATE = "licensing_report.html.j2"
IMAGES = {"cost_vs_risk": "cost_vs_risk.png", "cost_breakdown": "cost_breakdown.png"}

EXIT_OK, EXIT_FAILED = 0, 1


# ---------------------------------------------------------------------------------------
# Options: validated with file:line errors, built into scenarios
# ---------------------------------------------------------------------------------------


class ExtraCost(BaseModel):
    """A monthly cost that is not a licence (running a custom integration, say)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=120)
    usd_month: float = Field(ge=0, allow_inf_nan=False)
    note: str = ""


class OptionSpec(BaseModel):
    """One entry of a scenario's ``options:`` list.

    ``design`` names a design (``scenarios/designs/<name>.yaml``, or a ``designs/``
    folder beside the scenario); omitted, the scenario's own design is used. ``roles``
    maps an existing role to the keys it changes (any key a role has); mappings are
    merged into the role, lists and values replace it. ``extra_costs`` are added to the
    option's monthly cost and listed separately.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=80)
    description: str = ""
    design: str | None = Field(None, min_length=1)
    roles: dict[str, dict[str, Any]] = Field(default_factory=dict)
    extra_costs: list[ExtraCost] = Field(default_factory=list)


@dataclass(frozen=True)
class Option:
    """An option ready to run: its scenario has the role changes and the design applied."""

    index: int
    name: str
    description: str
    design: str
    scenario: Any  # sim.scenario.spec.Scenario
    roles: dict[str, dict[str, Any]] = field(default_factory=dict)
    extra_costs: tuple[ExtraCost, ...] = ()
    notes: tuple[str, ...] = ()


def _deep_merge(base: Any, override: Any) -> Any:
    """Mappings merge key by key; anything else in ``override`` replaces ``base``."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = _deep_merge(base[key], value) if key in base else copy.deepcopy(value)
        return merged
    return copy.deepcopy(override)


def _option_linemap(linemap: LineMap, index: int, overrides: Mapping[str, Any]) -> LineMap:
    """Lines for the merged scenario: a role key an option changed points at the option.

    Errors that scenario validation finds in a merged role (a licence not in the price
    book, an action in the wrong system) then name the line in the option that caused it.
    """
    merged = LineMap(linemap.file)
    merged.lines = {path: line for path, line in linemap.lines.items()
                    if not (path and path[0] == "options")}
    prefix: PathKey = ("options", index, "roles")

    def replace(path: tuple[str | int, ...], value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                replace(path + (key,), inner)
            return
        target = ("roles",) + path
        for old in [p for p in merged.lines if p[:len(target)] == target and p != target]:
            del merged.lines[old]

    for role, change in overrides.items():
        replace((role,), change)
    for path, line in linemap.lines.items():
        if path[:3] == prefix and len(path) > 3:
            merged.lines[("roles",) + path[3:]] = line
    return merged


def _known_designs(near: Path | None) -> set[str]:
    """Design names an option may use: the catalogue, and ``designs/`` folders beside
    the scenario (where ``sim.scenario.spec`` looks for them too)."""
    from sim.study.compare import catalogue_names

    names = set(catalogue_names())
    for folder in ([near / "designs", near.parent / "designs"] if near is not None else []):
        names |= {p.stem for p in folder.glob("*.yaml") if not p.stem.startswith("_")}
    return names


def load_options(scenario: Any, linemap: LineMap | None = None) -> list[Option]:
    """The scenario's options, validated and built (raises :class:`InputError`).

    ``linemap`` gives file lines for messages; by default the scenario file is read again
    for them. A scenario without options gives one option: the scenario as written.
    """
    from sim.scenario.spec import Role, scenario_from_data
    from sim.study.compare import design_variant

    if linemap is None:
        linemap = (load_yaml(scenario.path)[1] if scenario.path is not None
                   else LineMap(f"scenario {scenario.name}"))
    raw_options = scenario.raw.get("options") or []
    if not raw_options:
        return [Option(0, scenario.design.name, scenario.spec.description or "",
                       scenario.design.name, scenario,
                       notes=("the scenario lists no options: it is reported as written",))]
    near = scenario.path.parent if scenario.path is not None else None
    role_keys = set(Role.model_fields)
    seen: dict[str, int] = {}
    options = []
    for index, raw in enumerate(raw_options):
        where: PathKey = ("options", index)
        if not isinstance(raw, dict):
            raise linemap.error(where, "an option is a mapping: {name: ..., design: ..., "
                                       "roles: {...}}")
        try:
            spec = OptionSpec.model_validate(raw)
        except ValidationError as exc:
            raise validation_error(exc, linemap, where) from None
        if spec.name in seen:
            raise linemap.error(where + ("name",), f"duplicate option name {spec.name!r} "
                                                   f"(also options[{seen[spec.name]}])")
        seen[spec.name] = index
        for role, change in spec.roles.items():
            if role not in scenario.spec.roles:
                raise linemap.error(where + ("roles", role),
                                    f"no role {role!r} in the scenario (roles: "
                                    f"{', '.join(scenario.spec.roles)})")
            unknown = sorted(key for key in change if key not in role_keys)
            if unknown:
                raise linemap.error(where + ("roles", role, unknown[0]),
                                    f"unknown role key (keys: {', '.join(sorted(role_keys))})")
        data = {key: copy.deepcopy(value) for key, value in scenario.raw.items()
                if key != "options"}
        roles = dict(data.get("roles") or {})
        for role, change in spec.roles.items():
            roles[role] = _deep_merge(roles[role], change)
        data["roles"] = roles
        lines = _option_linemap(linemap, index, spec.roles)
        try:
            built = scenario_from_data(data, lines, near, scenario.path)
        except InputError as exc:
            raise InputError(f"{exc.message}\n  (in option {spec.name!r}, {format_path(where)})"
                             ) from None
        notes: list[str] = []
        design_name = spec.design or scenario.design.name
        if spec.design is not None:
            known = _known_designs(near)
            if spec.design not in known:
                raise linemap.error(where + ("design",), f"unknown design {spec.design!r} "
                                                         f"(known: {', '.join(sorted(known))})")
            try:
                variant = design_variant(built, spec.design)
            except InputError as exc:
                raise linemap.error(where + ("design",), exc.message) from None
            built = built.with_design(variant.design)
            notes += [f"scenario design override not applicable to {spec.design}: {item}"
                      for item in variant.dropped]
        options.append(Option(index, spec.name, spec.description, design_name, built,
                              {role: dict(change) for role, change in spec.roles.items()},
                              tuple(spec.extra_costs), tuple(notes)))
    return options


# ---------------------------------------------------------------------------------------
# One run: the figures a decision rests on
# ---------------------------------------------------------------------------------------


@dataclass
class RunFigures:
    """The figures of one option under one seed (flat, JSON-friendly)."""

    seed: int
    trace_sha256: str
    quiescent: bool
    figures: dict[str, float | None]
    requests_per_user_per_day: dict[str, float]
    integration_requests_per_day: float
    invariants: dict[str, dict[str, Any]]
    broken_promises: list[str]
    examples: list[str]
    problems: list[str]


def working_days(duration_days: float) -> float:
    """Working days (Monday to Friday; a run starts on a Monday) in a run's duration."""
    whole = math.ceil(duration_days)
    days = sum(min(1.0, duration_days - day) for day in range(whole) if day % 7 < 5)
    return max(days, 1e-9)


def _per_1000(count: float, writes: float) -> float | None:
    return 1000.0 * count / writes if writes else None


def account_staleness_p95_s(metrics: Mapping[str, float]) -> float | None:
    """The larger p95 propagation delay of customer (account) changes between the two
    systems people work in (the hub is a stop on the way, not a destination)."""
    values = []
    prefix = "propagation_p95_s.account:"
    for key, value in metrics.items():
        if key.startswith(prefix):
            origin, _, target = key[len(prefix):].partition("->")
            if origin in USER_SYSTEMS and target in USER_SYSTEMS:
                values.append(value)
    return max(values) if values else None


def figures_from_run(metrics: Mapping[str, float], lost_updates: float | None
                     ) -> dict[str, float | None]:
    """The report's figures from a run's metrics and the checker's lost-update count."""
    get = metrics.get
    writes = float(get("writes", 0.0))
    lost = lost_updates
    conflicts = float(get("conflicts", 0.0))
    abandoned = (float(get("handoffs_abandoned", 0.0)) + float(get("licence_refusals", 0.0))
                 + float(get("lock_abandoned", 0.0)))
    handoffs = float(get("handoffs", 0.0)) + float(get("licence_handoffs", 0.0))
    handoff_delay_s = float(get("handoff_delay_s", 0.0)) + float(get("licence_handoff_delay_s",
                                                                     0.0))
    staleness = account_staleness_p95_s(metrics)
    at_risk = None if lost is None else lost + conflicts + abandoned
    return {
        "writes": writes,
        "lost_updates": lost,
        "conflicts": conflicts,
        "abandoned_edits": abandoned,
        "lost_per_1000": None if lost is None else _per_1000(lost, writes),
        "conflicts_per_1000": _per_1000(conflicts, writes),
        "abandoned_per_1000": _per_1000(abandoned, writes),
        "risk_per_1000": None if at_risk is None else _per_1000(at_risk, writes),
        "p95_staleness_min": None if staleness is None else staleness / 60.0,
        "blocked_user_minutes": float(get("blocked_user_s", 0.0)) / 60.0,
        "handoffs": handoffs,
        "design_handoffs": float(get("handoffs", 0.0)),
        "licence_handoffs": float(get("licence_handoffs", 0.0)),
        "mean_handoff_delay_min": handoff_delay_s / handoffs / 60.0 if handoffs else None,
        "refusals": float(get("saves_rejected", 0.0)) + float(get("licence_refusals", 0.0)),
        "saves_refused": float(get("saves_rejected", 0.0)),
        "licence_refusals": float(get("licence_refusals", 0.0)),
    }


def request_counts(events: Sequence[Mapping[str, Any]], headcounts: Mapping[str, int]
                   ) -> tuple[dict[str, float], float]:
    """Requests per user per day for each role, and integration requests per day.

    The busiest simulated day counts (entitlements are per rolling 24 hours). A role's
    figure is that day's save attempts by the role times :data:`REQUESTS_PER_SAVE`,
    divided by its headcount; the integration's is the applies by maps into Dataverse
    systems that day.
    """
    saves: Counter[tuple[str, int]] = Counter()
    integration: Counter[int] = Counter()
    for event in events:
        kind = event["kind"]
        if kind == "write":
            role = event["role"]
            if role != "migration":
                saves[(role, int(event["t"] // 86_400))] += 1
        elif kind == "apply" and event["via"] != "user" and event["system"] in DATAVERSE_SYSTEMS:
            if event["t"] > 0:  # the initial load is a migration, not daily traffic
                integration[int(event["t"] // 86_400)] += 1
    per_user = {}
    for role, headcount in headcounts.items():
        busiest = max((n for (r, _), n in saves.items() if r == role), default=0)
        per_user[role] = REQUESTS_PER_SAVE * busiest / headcount if headcount else 0.0
    return per_user, float(max(integration.values(), default=0))


def run_option(option: Option, seed: int) -> RunFigures:
    """Run one option with one seed, check its history, and take its figures."""
    from sim.engine.runner import run_scenario

    result = run_scenario(option.scenario, seed, keep_events=True)
    events = result.events or []
    problems: list[str] = []
    invariants: dict[str, dict[str, Any]] = {}
    broken: list[str] = []
    examples: list[str] = []
    lost: float | None = None
    try:
        from sim.checker import check_history

        check = check_history(events)
    except Exception as exc:  # the checker is young: a report still says what it can
        problems.append(f"the checker failed on this run: {type(exc).__name__}: {exc}")
        check = None
    if check is not None:
        result.check = check
        for name, verdict in check.verdicts.items():
            invariants[name] = {"status": verdict.status, "violations": verdict.violations,
                                "sanctioned": verdict.sanctioned,
                                "promised": name in check.promises}
        broken = list(check.broken_promises)
        verdict = check.verdicts.get("no_lost_update")
        if verdict is not None and verdict.status == "unknown":
            problems.append(f"seed {seed}: lost updates could not be judged ({verdict.note}); "
                            "the option's risk is left unmeasured")
        elif verdict is not None:
            lost = float(verdict.violations + verdict.sanctioned)
            examples += [a.explain() for a in verdict.anomalies[:3]]
        for name in broken:
            examples += [a.explain() for a in check.verdicts[name].anomalies[:2]]
        problems += list(check.problems)
    if not result.quiescent:
        problems.append(f"seed {seed}: the run did not drain within quiescence_max_s "
                        f"({option.scenario.spec.quiescence_max_s:g} s)")
    headcounts = {name: role.headcount for name, role in option.scenario.spec.roles.items()}
    per_user, integration = request_counts(events, headcounts)
    return RunFigures(seed=seed, trace_sha256=result.trace_sha256, quiescent=result.quiescent,
                      figures=figures_from_run(result.metrics, lost),
                      requests_per_user_per_day=per_user,
                      integration_requests_per_day=integration, invariants=invariants,
                      broken_promises=broken, examples=examples, problems=problems)


def mean_figures(runs: Sequence[RunFigures]) -> dict[str, float | None]:
    """Each figure's mean over the seeds (None when no seed had it)."""
    keys = list(runs[0].figures) if runs else []
    out: dict[str, float | None] = {}
    for key in keys:
        values = [run.figures[key] for run in runs if run.figures[key] is not None]
        out[key] = sum(values) / len(values) if values else None
    return out


# ---------------------------------------------------------------------------------------
# Licences: what each option costs
# ---------------------------------------------------------------------------------------


@dataclass
class RoleLicences:
    """One role's licences under one option, priced, with what they allow."""

    role: str
    headcount: int
    fixed: bool
    lines: list[dict[str, Any]]
    per_user_usd_month: float
    cost_usd_month: float
    required: list[str]
    compliant: bool
    missing: list[str]
    problems: list[str]
    cheapest: str | None
    cheapest_per_user_usd_month: float | None
    requests_per_user_per_day: float
    requests_entitled_per_user_per_day: float

    @property
    def over_entitlement(self) -> bool:
        return self.requests_per_user_per_day > self.requests_entitled_per_user_per_day + 1e-9


@dataclass
class LicenceCosting:
    """An option's licence bill: per role, per seat line, minimum-seat padding, totals."""

    roles: list[RoleLicences]
    seats: list[dict[str, Any]]
    padding_usd_month: float
    licences_usd_month: float
    extra_costs: list[dict[str, Any]]
    cost_usd_month: float
    cost_usd_year: float
    compliant: bool
    pool_requests_per_day: float
    integration_requests_per_day: float
    notes: list[str]


def _sku_provenance(book: Any, sku_id: str, held_as: str) -> tuple[str, str]:
    sku = book.sku(sku_id)
    if held_as == "attach" and sku.attach is not None:
        return sku.attach.confidence, sku.attach.source
    return sku.confidence, sku.source


def _line(book: Any, role: str, headcount: int, sku_id: str, held_as: str,
          price: float) -> dict[str, Any]:
    confidence, source = _sku_provenance(book, sku_id, held_as)
    return {"role": role, "sku": sku_id, "sku_name": book.sku(sku_id).name,
            "held_as": held_as, "seats": headcount, "price_usd_month": price,
            "cost_usd_month": headcount * price, "confidence": confidence, "source": source}


def _fixed_layout(book: Any, skus: Sequence[str]) -> tuple[list[tuple[str, str, float]],
                                                            list[str], int]:
    """How a fixed licence list is held and priced: ``(lines, problems, requests/day)``.

    In base + attach eras the highest list-priced licence is the base and the others are
    attaches at their attach price; one that cannot be an attach is priced in full and
    the set is flagged. In the standalone era every licence is priced in full.
    """
    from models.licensing import licence_set_problems

    unique = list(dict.fromkeys(skus))
    problems = [f"{sku} is listed twice" for sku in unique if list(skus).count(sku) > 1]
    lines: list[tuple[str, str, float]] = []
    if book.licensing_model == "standalone":
        problems += licence_set_problems(book, standalone=unique)
        lines = [(sku, "standalone", book.price_usd_month(sku)) for sku in unique]
    elif unique:
        ordered = sorted(unique, key=lambda s: (-book.list_price_usd_month(s), s))
        base, attaches = ordered[0], ordered[1:]
        problems += licence_set_problems(book, base=base, attaches=attaches)
        lines.append((base, "base", book.price_usd_month(base)))
        for sku in attaches:
            attachable = book.sku(sku).attach is not None and book.sku(base).accepts_attaches
            if attachable:
                lines.append((sku, "attach", book.price_usd_month(sku, "attach")))
            else:  # not purchasable as an attach: priced as a second full licence
                lines.append((sku, "standalone", book.price_usd_month(sku)))
    per_line: dict[str, int] = {}
    for sku, held_as, _ in lines:
        if held_as in ("base", "standalone"):
            entry = book.sku(sku)
            per_line[entry.product_line] = max(per_line.get(entry.product_line, 0),
                                               entry.requests_per_day)
    return lines, problems, sum(per_line.values())


def _cheapest_alone(book: Any, headcount: int, required: frozenset
                    ) -> tuple[str | None, float | None]:
    """The cheapest compliant licences for one role on its own, preferring sets that need
    no unused minimum seats (a Plan 2 for 5 people is not 210 each, it is 20 seats)."""
    from models.licensing import NoCompliantAssignment, RoleNeed, cost_roles

    need = {"role": RoleNeed(max(headcount, 1), required)}
    for policy in ("infeasible", "pay_minimum"):
        try:
            assignment = cost_roles(need, book, min_seats_policy=policy).role("role").assignment
        except NoCompliantAssignment:
            continue
        return assignment.describe(), assignment.cost_usd_month
    return None, None


def license_option(scenario: Any, requests_per_user_per_day: Mapping[str, float] | None = None,
                   integration_requests_per_day: float = 0.0,
                   extra_costs: Sequence[ExtraCost] = ()) -> LicenceCosting:
    """Price an option's licences (see the module docstring for the rules)."""
    from models.licensing import (
        NoCompliantAssignment,
        RoleNeed,
        cost_roles,
        missing_rights,
    )
    from sim.engine.licence_enforcement import role_required_rights

    book = scenario.price_book
    requests = dict(requests_per_user_per_day or {})
    required = {name: role_required_rights(role, scenario.design)
                for name, role in scenario.spec.roles.items()}
    fixed = {name: role for name, role in scenario.spec.roles.items()
             if role.licences is not None}
    free = {name: RoleNeed(role.headcount, required[name],
                           requests_per_user_per_day=requests.get(name))
            for name, role in scenario.spec.roles.items() if name not in fixed}
    notes: list[str] = []
    # Minimum seats couple the roles: seats the fixed roles hold count toward a licence's
    # minimum, so the other roles are optimised against the minimum that is left over.
    fixed_seats: Counter[str] = Counter()
    for role in fixed.values():
        for sku in dict.fromkeys(role.licences):
            if book.sku(sku).min_seats > 1:
                fixed_seats[sku] += role.headcount
    left = {sku: max(1, book.sku(sku).min_seats - count)
            for sku, count in fixed_seats.items() if count}
    search_book = book
    if left:
        search_book = dataclasses.replace(book, skus=tuple(
            sku.model_copy(update={"min_seats": left[sku.id]}) if sku.id in left else sku
            for sku in book.skus))
    try:
        optimal = cost_roles(free, search_book) if free else None
    except NoCompliantAssignment as exc:
        raise InputError(f"{scenario.name}: no licences in price book {book.era} cover the "
                         f"roles' work: {exc}") from None
    # With the left-over minimums the search's objective equals the true bill for every
    # choice in which the other roles hold such a licence, and understates the bill of
    # every choice in which they do not (it skips the padding the fixed seats leave). So
    # when the optimum has the other roles holding it, it is the true optimum; when not,
    # it may not be, and the report says so.
    for sku, count in fixed_seats.items():
        others = sum(role.headcount for name, role in scenario.spec.roles.items()
                     if name in free and optimal is not None
                     and sku in optimal.role(name).assignment.skus)
        if count < book.sku(sku).min_seats and not others:
            notes.append(f"the fixed licences leave {sku} under its minimum of "
                         f"{book.sku(sku).min_seats} seats and no other role holds it: the "
                         "other roles' licences were chosen without counting those unused "
                         "seats, so this valid bill may not be the least possible")
    roles: list[RoleLicences] = []
    for name, role in scenario.spec.roles.items():
        needed = sorted(str(right) for right in required[name])
        if name in fixed:
            layout, problems, entitled = _fixed_layout(book, role.licences)
            missing = sorted(str(r) for r in missing_rights(book, role.licences,
                                                            required[name]))
            cheapest, cheapest_usd = _cheapest_alone(book, role.headcount, required[name])
            lines = [_line(book, name, role.headcount, sku, held_as, price)
                     for sku, held_as, price in layout]
            per_user = sum(price for _, _, price in layout)
            roles.append(RoleLicences(
                role=name, headcount=role.headcount, fixed=True, lines=lines,
                per_user_usd_month=per_user, cost_usd_month=role.headcount * per_user,
                required=needed, compliant=not missing and not problems, missing=missing,
                problems=problems, cheapest=cheapest, cheapest_per_user_usd_month=cheapest_usd,
                requests_per_user_per_day=requests.get(name, 0.0),
                requests_entitled_per_user_per_day=float(entitled)))
        else:
            assert optimal is not None
            chosen = optimal.role(name)
            assignment = chosen.assignment
            lines = [_line(book, name, role.headcount, line.sku_id, line.held_as,
                           line.price_usd_month) for line in assignment.lines]
            roles.append(RoleLicences(
                role=name, headcount=role.headcount, fixed=False, lines=lines,
                per_user_usd_month=assignment.cost_usd_month,
                cost_usd_month=chosen.cost_usd_month, required=needed, compliant=True,
                missing=[], problems=[], cheapest=assignment.describe(),
                cheapest_per_user_usd_month=assignment.cost_usd_month,
                requests_per_user_per_day=requests.get(name, 0.0),
                requests_entitled_per_user_per_day=chosen.requests_entitled_per_user_per_day))
    seats, padding, base_licences = _seat_lines(book, roles)
    licences = sum(seat["cost_usd_month"] for seat in seats)
    extras = [{"name": cost.name, "usd_month": cost.usd_month, "note": cost.note}
              for cost in extra_costs]
    total = licences + sum(extra["usd_month"] for extra in extras)
    pool = book.requests.tenant_pool
    pool_total = pool.base_requests_per_day + pool.per_base_licence_requests_per_day * base_licences
    if pool.max_requests_per_day is not None:
        pool_total = min(pool_total, pool.max_requests_per_day)
    return LicenceCosting(
        roles=roles, seats=seats, padding_usd_month=padding, licences_usd_month=licences,
        extra_costs=extras, cost_usd_month=total, cost_usd_year=12.0 * total,
        compliant=all(role.compliant for role in roles if role.headcount),
        pool_requests_per_day=float(pool_total),
        integration_requests_per_day=integration_requests_per_day, notes=notes)


def _seat_lines(book: Any, roles: Sequence[RoleLicences]
                ) -> tuple[list[dict[str, Any]], float, int]:
    """Seats per (SKU, held as) over all roles, minimum seats padded at full price (the
    rule of ``cost_roles``): ``(seat lines, padding cost, base licences)``."""
    used: dict[tuple[str, str], int] = {}
    price: dict[tuple[str, str], float] = {}
    base_licences = 0
    for role in roles:
        for line in role.lines:
            key = (line["sku"], line["held_as"])
            used[key] = used.get(key, 0) + role.headcount
            price[key] = line["price_usd_month"]
            if line["held_as"] in ("base", "standalone"):
                base_licences += role.headcount
    held: dict[str, int] = {}
    for (sku, _), count in used.items():
        held[sku] = held.get(sku, 0) + count
    unused: dict[tuple[str, str], int] = {}
    for sku, count in held.items():
        minimum = book.sku(sku).min_seats
        if 0 < count < minimum:
            kind = ("device" if book.sku(sku).kind == "device" else
                    "standalone" if book.licensing_model == "standalone" else "base")
            unused[(sku, kind)] = minimum - count
            price.setdefault((sku, kind), book.price_usd_month(sku))
            used.setdefault((sku, kind), 0)
    seats = []
    padding = 0.0
    for key in sorted(used):
        sku, held_as = key
        extra = unused.get(key, 0)
        if used[key] + extra == 0:
            continue
        padding += extra * price[key]
        confidence, source = _sku_provenance(book, sku, held_as)
        seats.append({"sku": sku, "sku_name": book.sku(sku).name, "held_as": held_as,
                      "seats_used": used[key], "seats_paid": used[key] + extra,
                      "unused_seats": extra, "min_seats": book.sku(sku).min_seats,
                      "price_usd_month": price[key],
                      "cost_usd_month": (used[key] + extra) * price[key],
                      "confidence": confidence, "source": source})
    return seats, padding, base_licences


# ---------------------------------------------------------------------------------------
# Pareto front and recommendation (pure functions of the figures)
# ---------------------------------------------------------------------------------------


def pareto_front(points: Sequence[tuple[float, float | None]]) -> list[int]:
    """Indices of the (cost, risk) points no other point dominates, both minimised.

    The dominance rule is :func:`sim.study.sweep.pareto_front`'s: equal points do not dominate
    each other, so both stay on the front; a missing (None or NaN) coordinate keeps a
    point off it.
    """
    from sim.study.sweep import pareto_front as front_mask

    clean = [tuple(math.nan if v is None else float(v) for v in point) for point in points]
    return [i for i, on in enumerate(front_mask(clean, ["min", "min"])) if on]


def _money(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value - round(value)) < 0.005:
        return f"${value:,.0f}"
    return f"${value:,.2f}"


def _risk(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _risk_parts(option: Mapping[str, Any]) -> str:
    """``" (2.2 lost, 10.2 abandoned)"``: what an option's writes at risk are made of."""
    parts = [f"{option[key]:.1f} {word}" for key, word in (
        ("lost_per_1000", "lost"), ("conflicts_per_1000", "conflicting"),
        ("abandoned_per_1000", "abandoned")) if option.get(key)]
    return f" ({', '.join(parts)})" if parts else ""


def _handed(option: Mapping[str, Any]) -> str:
    per_day = option.get("handoffs_per_day")
    return (f", and hands about {per_day:.0f} edits a working day to colleagues"
            if per_day and per_day >= 0.5 else "")


def recommend(options: Sequence[Mapping[str, Any]], max_risk_per_1000: float
              ) -> dict[str, Any]:
    """Pick an option and say why, from each option's summary.

    Each summary needs ``name``, ``cost_usd_month``, ``risk_per_1000``, ``compliant``,
    ``broken_promises`` and may have ``risk_per_month`` (writes at risk a month),
    ``handoffs_per_day`` and ``mean_handoff_delay_min``. Returns ``{"option": name or
    None, "reasons": [sentences], "eligible": [names], "front": [names]}``.
    """
    reasons: list[str] = []
    excluded = []
    for option in options:
        why = []
        if not option["compliant"]:
            issues = option.get("licence_issues") or []
            why.append("its licences do not cover what its users do"
                       + (f" ({'; '.join(issues)})" if issues else ""))
        if option["broken_promises"]:
            why.append("the checker found it breaking what its design promises ("
                       + ", ".join(option["broken_promises"]) + ")")
        if option["risk_per_1000"] is None:
            why.append("its risk could not be measured")
        if why:
            excluded.append((option, why))
    eligible = [o for o in options if all(o is not e for e, _ in excluded)]
    front_idx = pareto_front([(o["cost_usd_month"], o["risk_per_1000"]) for o in eligible])
    front = [eligible[i] for i in front_idx]
    result: dict[str, Any] = {"option": None, "reasons": reasons,
                              "eligible": [o["name"] for o in eligible],
                              "front": [o["name"] for o in front],
                              "max_risk_per_1000": max_risk_per_1000}
    if not eligible:
        reasons.append("No option can be recommended: " + "; ".join(
            f"{o['name']}: {', '.join(why)}" for o, why in excluded) + ".")
        return result
    under = [o for o in eligible if o["risk_per_1000"] <= max_risk_per_1000 + 1e-12]
    if under:
        pick = min(under, key=lambda o: (o["cost_usd_month"], o["risk_per_1000"], o["name"]))
        reasons.append(
            f"{pick['name']} is the cheapest option whose writes at risk (lost, conflicting "
            f"or never made) stay at or under {max_risk_per_1000:g} per 1,000 saves: "
            f"{_risk(pick['risk_per_1000'])} per 1,000 at {_money(pick['cost_usd_month'])} "
            "a month.")
        runner_up = sorted((o for o in under if o is not pick),
                           key=lambda o: (o["cost_usd_month"], o["risk_per_1000"], o["name"]))
        if not runner_up:
            reasons.append("It is the only option under the threshold.")
        else:
            gap = runner_up[0]["cost_usd_month"] - pick["cost_usd_month"]
            reasons.append(
                f"The next option under the threshold, {runner_up[0]['name']}, costs "
                f"{_money(gap)} a month more; only costs missing from this report that "
                f"{pick['name']} has and {runner_up[0]['name']} has not, above {_money(gap)} "
                "a month, would change the choice.")
    else:
        pick = min(eligible, key=lambda o: (o["risk_per_1000"], o["cost_usd_month"], o["name"]))
        reasons.append(
            f"No option keeps writes at risk under {max_risk_per_1000:g} per 1,000 saves. "
            f"{pick['name']} puts the fewest at risk ({_risk(pick['risk_per_1000'])} per "
            f"1,000, {_money(pick['cost_usd_month'])} a month); the trade-off against the "
            "cheaper options follows.")
    result["option"] = pick["name"]
    for other in sorted(eligible, key=lambda o: (o["cost_usd_month"], o["name"])):
        if other is pick:
            continue
        delta = other["cost_usd_month"] - pick["cost_usd_month"]
        monthly = other.get("risk_per_month")
        scale = f", about {monthly:,.0f} a month at the simulated pace" if monthly else ""
        at_risk = (f"{_risk(other['risk_per_1000'])} writes per 1,000 at risk"
                   f"{_risk_parts(other)}")
        if delta < 0:
            reasons.append(
                f"{other['name']} would save {_money(-delta)} a month ({_money(-12 * delta)} "
                f"a year) but puts {at_risk}{scale}{_handed(other)}.")
        elif other["risk_per_1000"] >= pick["risk_per_1000"]:
            more = f"costs {_money(delta)} a month more" if delta > 0 else "costs the same"
            reasons.append(f"{other['name']} {more} and is no safer: {at_risk}"
                           f"{_handed(other)}.")
        else:
            saved = (pick.get("risk_per_month") or 0) - (other.get("risk_per_month") or 0)
            per = (f", {_money(delta / saved)} per write at risk avoided"
                   if saved and saved > 0 and delta > 0 else "")
            reasons.append(
                f"{other['name']} is safer still ({_risk(other['risk_per_1000'])} per 1,000) "
                f"for {_money(delta)} a month more{per}.")
    for option, why in excluded:
        reasons.append(f"{option['name']} is not considered: {'; '.join(why)}.")
    costs = [o["cost_usd_month"] for o in options]
    spread = max(costs) - min(costs)
    if max(costs) > 0 and spread <= 0.05 * max(costs):
        reasons.append(
            f"The licence bills differ by at most {_money(spread)} a month "
            f"({100 * spread / max(costs):.0f}% of the largest): the choice rests on risk "
            "and on costs outside licences.")
    if pick.get("handoffs_per_day"):
        delay = pick.get("mean_handoff_delay_min")
        when = f", each about {delay:.0f} minutes later" if delay else ""
        reasons.append(f"{pick['name']} relies on colleagues: about "
                       f"{pick['handoffs_per_day']:.0f} edits a working day are handed "
                       f"over{when}; that people time is not in the bill.")
    reasons.append("Costs are list licence prices after the scenario's overrides, plus any "
                   "extra costs an option lists; building and running an integration is "
                   "not included unless listed.")
    return result


# ---------------------------------------------------------------------------------------
# The comparison
# ---------------------------------------------------------------------------------------


@dataclass
class OptionResult:
    """One option after its runs: per-seed figures, their means, its licence bill."""

    option: Option
    runs: list[RunFigures]
    figures: dict[str, float | None]
    licensing: LicenceCosting

    @property
    def broken_promises(self) -> list[str]:
        return sorted({name for run in self.runs for name in run.broken_promises})


@dataclass
class Comparison:
    """Every option of a scenario, run on the same seeds, priced and judged."""

    scenario: Any
    seeds: list[int]
    max_risk_per_1000: float
    results: list[OptionResult]
    recommendation: dict[str, Any]
    front: list[str]
    data: dict[str, Any]

    @property
    def failed(self) -> bool:
        """True when some option broke an invariant its design promises."""
        return any(result.broken_promises for result in self.results)

    def rows(self) -> list[dict[str, Any]]:
        """The options table: one flat dict per option (name, design, flags, figures)."""
        return [{"option": option["name"], "design": option["design"],
                 "recommended": option["recommended"], "on_front": option["on_front"],
                 "compliant": option["compliant"], **option["row"]}
                for option in self.data["options"]]

    def frame(self):
        """The options table as a pandas DataFrame indexed by option (needs pandas)."""
        import pandas as pd

        return pd.DataFrame(self.rows()).set_index("option")

    def to_json(self) -> dict[str, Any]:
        """Everything the report shows (the ``report.json``)."""
        return self.data

    def table_lines(self) -> list[str]:
        """The options table as plain text."""
        from sim.reporting.summary import table

        header = ["option", "design", "$/month", "lost/1k", "confl/1k", "risk/1k",
                  "p95 stale min", "blocked min", "handoffs", "refusals", "front"]
        rows = []
        for option in self.data["options"]:
            row = option["row"]
            rows.append([option["name"], option["design"], _money(row["cost_usd_month"]),
                         _fmt(row["lost_per_1000"]), _fmt(row["conflicts_per_1000"]),
                         _fmt(row["risk_per_1000"]), _fmt(row["p95_staleness_min"]),
                         _fmt(row["blocked_user_minutes"]), _fmt(row["handoffs"], 0),
                         _fmt(row["refusals"], 0), "yes" if option["on_front"] else ""])
        return table(rows, header, "ll" + "r" * (len(header) - 2))


def _fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _seeds(scenario: Any, seeds: int | Sequence[int]) -> list[int]:
    if isinstance(seeds, int):
        if seeds < 1:
            raise InputError("--seeds must be at least 1")
        return [scenario.spec.seed + i for i in range(seeds)]
    chosen = [int(seed) for seed in seeds]
    if not chosen:
        raise InputError("at least one seed is needed")
    return chosen


def compare_options(
    scenario: Any,
    seeds: int | Sequence[int] = 1,
    *,
    max_risk_per_1000: float = DEFAULT_MAX_RISK_PER_1000,
    progress: Callable[[str], None] | None = None,
) -> Comparison:
    """Run every option of ``scenario`` (a path or a loaded scenario) on the same seeds.

    ``seeds`` is a count (the scenario's seed and the next ones) or a list of seeds.
    """
    from sim.scenario.spec import load_scenario

    linemap = None
    if isinstance(scenario, str | Path):
        path = Path(scenario)
        scenario = load_scenario(path)
        linemap = load_yaml(path)[1]
    if not (isinstance(max_risk_per_1000, int | float) and math.isfinite(max_risk_per_1000)
            and max_risk_per_1000 >= 0):
        raise InputError(f"--max-risk must be a number >= 0, got {max_risk_per_1000!r}")
    chosen = _seeds(scenario, seeds)
    options = load_options(scenario, linemap)
    results = []
    for option in options:
        runs = []
        for seed in chosen:
            if progress is not None:
                progress(f"running option {option.name} ({option.design}), seed {seed}")
            runs.append(run_option(option, seed))
        requests = {role: max(run.requests_per_user_per_day.get(role, 0.0) for run in runs)
                    for role in option.scenario.spec.roles}
        integration = max(run.integration_requests_per_day for run in runs)
        licensing = license_option(option.scenario, requests, integration, option.extra_costs)
        results.append(OptionResult(option, runs, mean_figures(runs), licensing))
    data = _report_data(scenario, chosen, max_risk_per_1000, results)
    return Comparison(scenario, chosen, max_risk_per_1000, results, data["recommendation"],
                      data["pareto_front"], data)


def _round(value: Any, digits: int = 3) -> Any:
    """JSON-friendly numbers: rounded floats, no NaN or infinities."""
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return round(value, digits)
    if isinstance(value, dict):
        return {key: _round(inner, digits) for key, inner in value.items()}
    if isinstance(value, list | tuple):
        return [_round(inner, digits) for inner in value]
    return value


def _role_changes(changes: Mapping[str, Mapping[str, Any]]) -> list[dict[str, str]]:
    """An option's role overrides as readable lines: role, key, new value."""
    out = []

    def walk(role: str, path: str, value: Any) -> None:
        if isinstance(value, dict) and value:
            for key, inner in value.items():
                walk(role, f"{path}.{key}" if path else str(key), inner)
        else:
            text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
            out.append({"role": role, "key": path, "value": text})

    for role, change in changes.items():
        walk(role, "", change)
    return out


def _project_relative(path: Path | None) -> str | None:
    """A path as the user gave it, relative to where they ran ``p2c report`` when it lies
    below it (stable across machines for a report made from the project's root)."""
    if path is None:
        return None
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _licence_issues(roles: Sequence[Mapping[str, Any]]) -> list[str]:
    """Why an option's fixed licences fall short, one phrase per role."""
    issues = []
    for role in roles:
        parts = []
        if role["missing"]:
            parts.append("no right to " + ", ".join(role["missing"]))
        if role["problems"]:
            parts.append("not a valid licence set: " + "; ".join(role["problems"]))
        if parts and role["headcount"]:
            issues.append(f"{role['role']}: {', '.join(parts)}")
    return issues


def _report_data(scenario: Any, seeds: list[int], max_risk: float,
                 results: Sequence[OptionResult]) -> dict[str, Any]:
    """The whole report as plain data: what report.json holds and the page shows."""
    from sim.engine.runner import code_commit, package_versions

    book = scenario.price_book
    days = working_days(scenario.spec.duration_days)
    options = []
    for result in results:
        option, figures, costing = result.option, result.figures, result.licensing
        writes_per_day = (figures["writes"] or 0.0) / days
        risk = figures["risk_per_1000"]
        per_month = (None if risk is None
                     else risk / 1000.0 * writes_per_day * WORKING_DAYS_PER_MONTH)
        row = {
            "cost_usd_month": costing.cost_usd_month,
            "cost_usd_year": costing.cost_usd_year,
            "lost_per_1000": figures["lost_per_1000"],
            "conflicts_per_1000": figures["conflicts_per_1000"],
            "abandoned_per_1000": figures["abandoned_per_1000"],
            "risk_per_1000": risk,
            "risk_per_month": per_month,
            "p95_staleness_min": figures["p95_staleness_min"],
            "blocked_user_minutes": figures["blocked_user_minutes"],
            "handoffs": figures["handoffs"],
            "refusals": figures["refusals"],
        }
        risks = [run.figures["risk_per_1000"] for run in result.runs
                 if run.figures["risk_per_1000"] is not None]
        design = option.scenario.design
        options.append({
            "name": option.name,
            "description": option.description,
            "design": option.design,
            "design_description": design.description,
            "role_changes": _role_changes(option.roles),
            "row": row,
            "risk_range_per_1000": [min(risks), max(risks)] if risks else None,
            "figures": figures,
            "compliant": costing.compliant,
            "broken_promises": result.broken_promises,
            "on_front": False,
            "recommended": False,
            "licences": {
                "roles": [{
                    "role": r.role, "headcount": r.headcount, "fixed": r.fixed,
                    "lines": r.lines, "per_user_usd_month": r.per_user_usd_month,
                    "cost_usd_month": r.cost_usd_month, "required": r.required,
                    "compliant": r.compliant, "missing": r.missing, "problems": r.problems,
                    "cheapest": r.cheapest,
                    "cheapest_per_user_usd_month": r.cheapest_per_user_usd_month,
                    "requests_per_user_per_day": r.requests_per_user_per_day,
                    "requests_entitled_per_user_per_day": r.requests_entitled_per_user_per_day,
                    "over_entitlement": r.over_entitlement,
                } for r in costing.roles],
                "seats": costing.seats,
                "padding_usd_month": costing.padding_usd_month,
                "licences_usd_month": costing.licences_usd_month,
                "extra_costs": costing.extra_costs,
                "cost_usd_month": costing.cost_usd_month,
                "cost_usd_year": costing.cost_usd_year,
                "pool_requests_per_day": costing.pool_requests_per_day,
                "integration_requests_per_day": costing.integration_requests_per_day,
                "pool_exceeded": (costing.integration_requests_per_day
                                  > costing.pool_requests_per_day),
                "notes": costing.notes,
            },
            "runs": [{
                "seed": run.seed, "trace_sha256": run.trace_sha256, "quiescent": run.quiescent,
                "figures": run.figures, "invariants": run.invariants,
                "broken_promises": run.broken_promises, "examples": run.examples,
                "problems": run.problems,
                "requests_per_user_per_day": run.requests_per_user_per_day,
                "integration_requests_per_day": run.integration_requests_per_day,
            } for run in result.runs],
            "notes": list(dict.fromkeys([*option.notes, *costing.notes,
                                         *(p for run in result.runs for p in run.problems)])),
            "handoffs_per_day": (figures["handoffs"] or 0.0) / days,
        })
    front_idx = pareto_front([(o["row"]["cost_usd_month"], o["row"]["risk_per_1000"])
                              for o in options])
    for i in front_idx:
        options[i]["on_front"] = True
    summaries = [{
        "name": o["name"], "cost_usd_month": o["row"]["cost_usd_month"],
        "risk_per_1000": o["row"]["risk_per_1000"], "risk_per_month": o["row"]["risk_per_month"],
        "lost_per_1000": o["row"]["lost_per_1000"],
        "conflicts_per_1000": o["row"]["conflicts_per_1000"],
        "abandoned_per_1000": o["row"]["abandoned_per_1000"],
        "compliant": o["compliant"], "broken_promises": o["broken_promises"],
        "licence_issues": _licence_issues(o["licences"]["roles"]),
        "handoffs_per_day": o["handoffs_per_day"],
        "mean_handoff_delay_min": o["figures"]["mean_handoff_delay_min"],
    } for o in options]
    recommendation = recommend(summaries, max_risk)
    for option in options:
        option["recommended"] = option["name"] == recommendation["option"]
    used_skus = sorted({line["sku"] for o in options for r in o["licences"]["roles"]
                        for line in r["lines"]})
    prices = []
    for sku_id in used_skus:
        sku = book.sku(sku_id)
        entry = {"sku": sku_id, "name": sku.name, "price_usd_month": book.price_usd_month(sku_id),
                 "list_price_usd_month": book.list_price_usd_month(sku_id),
                 "confidence": sku.confidence, "source": sku.source,
                 "min_seats": sku.min_seats, "requests_per_day": sku.requests_per_day,
                 "attach": None}
        if sku.attach is not None:
            entry["attach"] = {"price_usd_month": book.price_usd_month(sku_id, "attach"),
                               "confidence": sku.attach.confidence,
                               "source": sku.attach.source}
        prices.append(entry)
    source = str(scenario.path) if scenario.path is not None else None
    consecutive = seeds == [scenario.spec.seed + i for i in range(len(seeds))]
    data = {
        "format": REPORT_FORMAT,
        "title": f"Licensing decision: {scenario.name}",
        "scenario": {
            "name": scenario.name, "description": scenario.spec.description,
            "file": source, "sha256": scenario.sha256(),
            "duration_days": scenario.spec.duration_days, "working_days": days,
            "headcount": sum(role.headcount for role in scenario.spec.roles.values()),
            "roles": [{"role": name, "headcount": role.headcount,
                       "home_system": role.home_system, "description": role.description}
                      for name, role in scenario.spec.roles.items()],
        },
        "seeds": seeds,
        "max_risk_per_1000": max_risk,
        "options": options,
        "pareto_front": [options[i]["name"] for i in front_idx],
        "recommendation": recommendation,
        "images": dict(IMAGES),
        "method": {
            "requests_per_save": REQUESTS_PER_SAVE,
            "dataverse_systems": list(DATAVERSE_SYSTEMS),
            "working_days_per_month": WORKING_DAYS_PER_MONTH,
            "risk": "lost + conflicting + abandoned edits per 1,000 accepted user saves",
            "staleness": "larger p95 propagation delay of account changes between Sales "
                         "and Operations",
        },
        "provenance": {
            "seeds": seeds,
            "commit": code_commit(),
            "packages": package_versions(),
            "price_book": {
                "era": book.era, "title": book.title, "as_of": str(book.as_of),
                "licensing_model": book.licensing_model,
                "file": _project_relative(Path(book.source) if book.source else None),
                "billed_monthly": book.billed_monthly,
                "billing_uplift_fraction": book.billing_uplift_fraction,
                "requests_source": book.requests.source,
            },
            "overrides": [{"price": key, "list_usd_month": old, "negotiated_usd_month": new}
                          for key, (old, new) in book.overridden.items()],
            "prices": prices,
            "reproduce": (f"p2c report {source} --seeds {len(seeds)} --max-risk {max_risk:g}"
                          if source and consecutive else None),
        },
    }
    return _round(data)


# ---------------------------------------------------------------------------------------
# Charts (matplotlib, object API only: no pyplot global state)
# ---------------------------------------------------------------------------------------

_COLOURS = {"front": "#1f5fa8", "other": "#8a8f98", "recommended": "#1a8a4a",
            "excluded": "#c0392b", "threshold": "#d68910"}


def _label(text: str) -> str:
    """A user string made safe for matplotlib text (``$`` would start mathtext)."""
    return text.replace("$", r"\$")


def cost_risk_figure(data: Mapping[str, Any] | Comparison):
    """Monthly cost against writes at risk per 1,000, the Pareto front as a step line,
    the threshold dashed, the recommended option ringed; min-max over seeds as bars."""
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    data = data.to_json() if isinstance(data, Comparison) else data
    fig = Figure(figsize=(8.0, 4.8), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    options = [o for o in data["options"] if o["row"]["risk_per_1000"] is not None]
    front = sorted((o for o in options if o["on_front"]),
                   key=lambda o: (o["row"]["cost_usd_month"], o["row"]["risk_per_1000"]))
    if len(front) > 1:
        ax.step([o["row"]["cost_usd_month"] for o in front],
                [o["row"]["risk_per_1000"] for o in front], where="post",
                color=_COLOURS["front"], linewidth=1.4, alpha=0.7, zorder=1)
    for option in options:
        x, y = option["row"]["cost_usd_month"], option["row"]["risk_per_1000"]
        excluded = not option["compliant"] or bool(option["broken_promises"])
        colour = (_COLOURS["excluded"] if excluded else
                  _COLOURS["front"] if option["on_front"] else _COLOURS["other"])
        spread = option.get("risk_range_per_1000")
        if spread and spread[1] > spread[0]:
            ax.errorbar([x], [y], yerr=[[y - spread[0]], [spread[1] - y]], fmt="none",
                        ecolor=colour, elinewidth=1, capsize=3, zorder=2)
        ax.scatter([x], [y], s=70, color=colour, marker="X" if excluded else "o", zorder=3)
        if option["recommended"]:
            ax.scatter([x], [y], s=330, facecolors="none", edgecolors=_COLOURS["recommended"],
                       linewidths=2.2, zorder=4)
        ax.annotate(_label(option["name"]), (x, y), xytext=(11, 7), textcoords="offset points",
                    fontsize=9, color="#222222", zorder=5)
    threshold = data["max_risk_per_1000"]
    ax.axhline(threshold, color=_COLOURS["threshold"], linestyle="--", linewidth=1.2, zorder=0)
    xs = [o["row"]["cost_usd_month"] for o in options] or [0.0]
    ys = [o["row"]["risk_per_1000"] for o in options] or [0.0]
    span_x = max(max(xs) - min(xs), max(xs) * 0.02, 1.0)
    ax.set_xlim(min(xs) - 0.15 * span_x, max(xs) + 0.45 * span_x)
    top = max(max(ys), threshold)
    ax.set_ylim(-0.05 * max(top, 1.0), 1.15 * max(top, 1.0))
    ax.set_xlabel("licence cost, US dollars per month")
    ax.set_ylabel("writes at risk per 1,000 saves\n(lost + conflicting + abandoned)")
    ax.xaxis.set_major_formatter(lambda value, _: f"${value:,.0f}")
    ax.grid(True, color="#e5e7eb", linewidth=0.8, zorder=0)
    ax.set_axisbelow(True)
    handles = [
        Line2D([], [], marker="o", linestyle="-", color=_COLOURS["front"], label="Pareto front"),
        Line2D([], [], marker="o", linestyle="", color=_COLOURS["other"], label="dominated"),
        Line2D([], [], marker="X", linestyle="", color=_COLOURS["excluded"],
               label="not compliant / broken promise"),
        Line2D([], [], marker="o", linestyle="", markerfacecolor="none", markersize=13,
               markeredgecolor=_COLOURS["recommended"], markeredgewidth=2,
               label="recommended"),
        Line2D([], [], linestyle="--", color=_COLOURS["threshold"],
               label=f"threshold {threshold:g} per 1,000"),
    ]
    ax.legend(handles=handles, loc="upper right", fontsize=8, framealpha=0.9)
    ax.set_title("Cost versus risk (lower left is better)", fontsize=11)
    return fig


def cost_breakdown_figure(data: Mapping[str, Any] | Comparison):
    """Each option's monthly bill as a horizontal bar, split by role, unused minimum
    seats and extra costs."""
    from matplotlib.figure import Figure

    data = data.to_json() if isinstance(data, Comparison) else data
    options = data["options"]
    roles = list(dict.fromkeys(r["role"] for o in options for r in o["licences"]["roles"]))
    parts = [*roles, "unused minimum seats", "extra costs"]
    palette = ["#1f5fa8", "#5b8fd1", "#2e8b57", "#7fbf7f", "#b8860b", "#d9a441", "#6a5acd",
               "#9f94e0", "#8b4513", "#c08a5a"]
    colours = {part: palette[i % len(palette)] for i, part in enumerate(roles)}
    colours["unused minimum seats"] = "#c0c4cc"
    colours["extra costs"] = "#c0392b"
    fig = Figure(figsize=(8.0, 0.75 * len(options) + 1.6), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    names = [_label(o["name"]) for o in options]
    left = [0.0] * len(options)
    for part in parts:
        widths = []
        for option in options:
            licences = option["licences"]
            if part == "unused minimum seats":
                widths.append(licences["padding_usd_month"])
            elif part == "extra costs":
                widths.append(sum(e["usd_month"] for e in licences["extra_costs"]))
            else:
                widths.append(sum(r["cost_usd_month"] for r in licences["roles"]
                                  if r["role"] == part))
        if not any(widths):
            continue
        ax.barh(names, widths, left=left, color=colours[part], label=_label(part),
                edgecolor="white", linewidth=0.6)
        left = [a + b for a, b in zip(left, widths, strict=True)]
    for i, total in enumerate(left):
        ax.text(total, i, f"  ${total:,.0f}", va="center", fontsize=9)
    ax.invert_yaxis()
    ax.set_xlim(0, max(left + [1.0]) * 1.18)
    ax.xaxis.set_major_formatter(lambda value, _: f"${value:,.0f}")
    ax.set_xlabel("US dollars per month")
    fig.legend(loc="outside lower center", ncol=4, fontsize=8, frameon=False)
    ax.set_title("What each option's bill is made of", fontsize=11)
    ax.grid(True, axis="x", color="#e5e7eb", linewidth=0.8)
    ax.set_axisbelow(True)
    return fig


def figure_png(fig) -> bytes:
    """A figure as PNG bytes, without the matplotlib version stamp (stable output)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120, metadata={"Software": None})
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------
# HTML and the report folder
# ---------------------------------------------------------------------------------------


def _environment():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("sim.reporting", "templates"),
        autoescape=True,  # every user-supplied string is escaped, whatever the file name
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["money"] = _money
    env.filters["num"] = _fmt
    env.filters["pct"] = lambda value: "-" if value is None else f"{100 * value:.0f}%"
    return env


def render_html(data: Mapping[str, Any]) -> str:
    """The report page for ``data`` (a comparison's ``to_json()``)."""
    return _environment().get_template(TEMPLATE).render(report=data)


def write_report(comparison: Comparison | Mapping[str, Any], out_dir: Path | str) -> Path:
    """Write ``index.html``, the charts and ``report.json`` into ``out_dir``, all or
    nothing (a temporary folder beside it, renamed at the end). An existing ``out_dir``
    is replaced only if it is empty or holds a previous report. Returns index.html."""
    data = comparison.to_json() if isinstance(comparison, Comparison) else comparison
    out = Path(out_dir)
    if out.exists():
        if not out.is_dir():
            raise InputError(f"{out}: exists and is not a folder")
        if any(out.iterdir()) and not (out / "report.json").is_file():
            raise InputError(f"{out}: not empty and not a previous report; choose another "
                             "--out (nothing was written)")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    old = None
    try:
        staging.chmod(0o755)  # mkdtemp makes it private; a report is for sharing
        (staging / IMAGES["cost_vs_risk"]).write_bytes(figure_png(cost_risk_figure(data)))
        (staging / IMAGES["cost_breakdown"]).write_bytes(
            figure_png(cost_breakdown_figure(data)))
        (staging / "index.html").write_text(render_html(data), encoding="utf-8")
        (staging / "report.json").write_text(
            json.dumps(data, indent=2, allow_nan=False) + "\n", encoding="utf-8")
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
            os.replace(out, old / "report")
        os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if old is not None and not out.exists():
            os.replace(old / "report", out)  # put the previous report back
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    return out / "index.html"


# ---------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------


def default_out(scenario_name: str) -> Path:
    return Path("reports") / scenario_name


def cmd_report(args: argparse.Namespace) -> int:
    """``p2c report SCENARIO [--out DIR] [--seeds N] [--max-risk X] [--json]``."""
    from sim.scenario.spec import load_scenario

    path = Path(args.scenario)
    scenario = load_scenario(path)
    if args.seeds < 1:
        raise InputError("p2c report: --seeds must be at least 1")
    chatty = not args.json and sys.stderr.isatty()
    progress = (lambda text: print(text, file=sys.stderr)) if chatty else None
    comparison = compare_options(scenario, args.seeds, max_risk_per_1000=args.max_risk,
                                 progress=progress)
    out = Path(args.out) if args.out else default_out(scenario.name)
    index = write_report(comparison, out)
    data = comparison.to_json()
    if args.json:
        print(json.dumps({
            "scenario": scenario.name, "report": str(index), "json": str(out / "report.json"),
            "seeds": comparison.seeds, "recommendation": data["recommendation"],
            "pareto_front": data["pareto_front"],
            "options": {o["name"]: o["row"] for o in data["options"]},
            "failed": comparison.failed,
        }, sort_keys=True))
    else:
        seeds = ", ".join(map(str, comparison.seeds))
        lines = [f"p2c report: {scenario.name}, seeds {seeds} (the same for every option)", ""]
        lines += comparison.table_lines()
        pick = data["recommendation"]["option"]
        lines += ["", f"Recommendation: {pick or 'none'}"]
        lines += [f"  - {reason}" for reason in data["recommendation"]["reasons"]]
        for result in comparison.results:
            if result.broken_promises:
                lines.append(f"{result.option.name}: promised invariants violated: "
                             f"{', '.join(result.broken_promises)}")
        lines += ["", f"Report: {index}"]
        print("\n".join(lines))
    return EXIT_FAILED if comparison.failed else EXIT_OK


def add_report_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``report`` to ``p2c``'s subcommands (``add_report_parser(sub)`` in build_parser)."""
    parser = subparsers.add_parser(
        "report", help="licensing decision report: the scenario's options, cost versus risk",
        description="Run every option listed under the scenario's options: (a design and "
                    "role changes) on the same seeds, check each history, price the "
                    "licences, and write reports/<name>/index.html with its charts and "
                    "report.json. Exit 1 when an option breaks an invariant its design "
                    "promises (the report is written all the same).")
    parser.add_argument("scenario", help="scenario YAML file with options:, e.g. "
                                         "scenarios/licensing_decision.yaml")
    parser.add_argument("--out", help="report folder (default: reports/<scenario name>)")
    parser.add_argument("--seeds", type=int, default=3, metavar="N",
                        help="run each option with N seeds: the scenario's seed and the next "
                             "N-1 (default 3)")
    parser.add_argument("--max-risk", type=float, default=DEFAULT_MAX_RISK_PER_1000,
                        metavar="X", help="writes at risk per 1,000 saves an option may have "
                                          "to be recommended on cost (default "
                                          f"{DEFAULT_MAX_RISK_PER_1000:g})")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=cmd_report)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m sim.reporting.licensing_report SCENARIO ...``: the same as ``p2c report``
    (exit 2 on bad input)."""
    parser = argparse.ArgumentParser(prog="p2c")
    add_report_parser(parser.add_subparsers(dest="command", required=True))
    try:
        args = parser.parse_args(["report", *(sys.argv[1:] if argv is None else argv)])
        return args.func(args)
    except InputError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
