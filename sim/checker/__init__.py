"""The invariant checker: pure functions from a history to verdicts.

A run's history (``sim/history.py``) is the evidence; an *invariant* is a property every
correct run of the design must have, judged from that evidence alone, without the
simulator (Maelstrom's workload / nemesis / checker split). Each invariant gives a
:class:`Verdict`: ``holds``, ``violated`` with one :class:`Anomaly` per problem, each
explained in business terms ("W-operations-17 (ops_clerk-3 set account ACC-0012
credit_limit 5000 at day 1 10:14) was overwritten at day 1 10:30 in operations by batch
run accounts_hub_to_operations#4 carrying W-sales-88, whose base did not include
W-operations-17."), ``sanctioned`` when the design accepts such anomalies by
construction (counted, never hidden), or ``unknown`` when the run ended before
quiescence and the question cannot be answered ("did not converge" is not "diverged").

The catalogue (one module each): ``convergence``, ``no_lost_update``, ``ownership``,
``referential_integrity``, ``no_duplicate_keys``, ``monotone_lifecycle``,
``invoice_totals``, ``bounded_echo``, ``accounted_for``, ``staleness``.
``columnar`` (not imported here, not used by :func:`check_history` yet) is the core of a
columnar checker: a history as integer columns and a numpy pass equal to the ledger's for
writes and applies.

Use :func:`check_history` to judge them all in one pass over a stream of events (a
list, or ``read_history(path)``), or call one alone (``no_lost_update(events)``). The
report's ``to_json()`` is a run folder's ``verdict.json``; ``summary_lines()`` is what
the command line prints; :func:`sim.reporting.timeline.plot_anomaly` draws one anomaly's
timeline; :mod:`sim.bench.synthetic` makes histories of any size and benchmarks the
checker on them.

May import: ``models`` (the clock's words for simulated time), ``sim.history`` (the history
file format, to read a run's file). The checker judges a history alone: it never imports the
engine that wrote it.
"""

from sim.checker.check import (
    INVARIANTS,
    accounted_for,
    bounded_echo,
    check_history,
    check_one,
    convergence,
    invoice_totals,
    lock_safety,
    monotone_lifecycle,
    no_duplicate_keys,
    no_lost_update,
    no_retired_in_bundles,
    ownership,
    referential_integrity,
    staleness,
    verdict_files,
)
from sim.checker.contract import Contract
from sim.checker.ledger import Ledger
from sim.checker.report import CheckReport
from sim.checker.verdicts import HOLDS, SANCTIONED, UNKNOWN, VIOLATED, Anomaly, Verdict

__all__ = [
    "HOLDS",
    "INVARIANTS",
    "SANCTIONED",
    "UNKNOWN",
    "VIOLATED",
    "Anomaly",
    "CheckReport",
    "Contract",
    "Ledger",
    "Verdict",
    "accounted_for",
    "bounded_echo",
    "check_history",
    "check_one",
    "convergence",
    "invoice_totals",
    "lock_safety",
    "monotone_lifecycle",
    "no_duplicate_keys",
    "no_lost_update",
    "no_retired_in_bundles",
    "ownership",
    "referential_integrity",
    "staleness",
    "verdict_files",
]
