"""Checking a history: one pass, every invariant, one report.

``check_history(events)`` reads the events once, in order, from any iterable (a list, or
``read_history(path)`` streaming a gzip file) and returns a
:class:`~sim.checker.report.CheckReport`. The events are never stored: a shared
:class:`~sim.checker.ledger.Ledger` keeps compact per-write and per-record state and each
invariant hooks the moments it must see. Each invariant is also a pure function of its
own (``no_lost_update(events) -> Verdict``), which runs the same machinery with only
that invariant attached.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from models.events import INVARIANT_NAMES
from sim.checker.accounting import AccountedFor
from sim.checker.convergence import Convergence
from sim.checker.duplicates import NoDuplicateKeys
from sim.checker.echo import BoundedEcho
from sim.checker.invariant import Invariant
from sim.checker.invoices import InvoiceTotals
from sim.checker.ledger import Event, Ledger
from sim.checker.lifecycle import MonotoneLifecycle
from sim.checker.lock_safety import LockSafety
from sim.checker.lost_update import NoLostUpdate
from sim.checker.ownership import Ownership
from sim.checker.references import ReferentialIntegrity
from sim.checker.report import CheckReport
from sim.checker.retired import NoRetiredBundleLines
from sim.checker.staleness import Staleness
from sim.checker.verdicts import Verdict
from sim.history import read_history

_JUDGES: dict[str, type[Invariant]] = {
    cls.name: cls
    for cls in (
        Convergence,
        NoLostUpdate,
        Ownership,
        ReferentialIntegrity,
        NoDuplicateKeys,
        MonotoneLifecycle,
        InvoiceTotals,
        BoundedEcho,
        AccountedFor,
        Staleness,
        NoRetiredBundleLines,
        LockSafety,
    )
}
if set(_JUDGES) != set(INVARIANT_NAMES):  # pragma: no cover - a developer's mistake
    raise ImportError(
        f"invariants without a judge: {set(INVARIANT_NAMES) - set(_JUDGES)}; "
        f"judges of no invariant: {set(_JUDGES) - set(INVARIANT_NAMES)}"
    )

#: Every invariant, by name (models.events.INVARIANT_NAMES, in its order), with its judge.
INVARIANTS: dict[str, type[Invariant]] = {name: _JUDGES[name] for name in INVARIANT_NAMES}


def check_history(
    events: Iterable[Event], only: Sequence[str] | None = None, *, ledger: Ledger | None = None
) -> CheckReport:
    """Judge every invariant (or those named in ``only``) in one pass over ``events``.

    ``ledger``: a fresh :class:`Ledger` to read them with (a strict one, say, as
    :func:`sim.checker.files.check_file` passes); by default a lenient one.

    The cyclic garbage collector is paused during the pass: the checker creates
    millions of small long-lived containers and no cycles, and generational collections
    over them would make the pass slower than linear. It is restored afterwards, the new
    objects handed over without a long pause (as :meth:`RunCheck.report` does). The
    ledger is released once the verdicts are built (:meth:`Ledger.release`), so the
    checker's state is freed by reference counting, not left as cycles for the collector.
    """
    check = RunCheck(only, ledger=ledger)
    collecting = gc.isenabled()
    gc.disable()
    try:
        check.ledger.feed(events)
        return check.report()
    except BaseException:
        check.ledger.release()  # idempotent: report() may have released it already
        raise
    finally:
        if collecting:
            # Hand the objects made meanwhile to the oldest generation in one step (see
            # RunCheck.report), with the collector still off until then.
            gc.freeze()
            gc.unfreeze()
            gc.enable()


class RunCheck:
    """One check, fed a history a block of events at a time: what :func:`check_history`
    does in one call, split so that a run can be judged *while it is recorded*.

    A run hands each block of events to :meth:`feed` as its recorder writes them
    (``run_scenario(..., watch=check.feed)``); :meth:`report` then finishes the check.
    The ledger reads the run's own event objects, so nothing is parsed back from the
    history file and no event is kept for the check, and the verdicts are those
    :func:`check_history` gives on the same events (the ledger's pass is the same one,
    cut where the blocks are cut: ``tests/test_online_check.py`` compares them on every
    reference run). :attr:`cpu_s` counts the CPU seconds spent in :meth:`feed` and
    :meth:`report`, the check's share of a run.

    A checker that raises while the run goes on does not stop the run: the exception is
    kept, the blocks after it are not read, and :meth:`report` raises it, so the caller
    decides (a sweep keeps the run's metrics and records the error).
    """

    def __init__(self, only: Sequence[str] | None = None, *, ledger: Ledger | None = None) -> None:
        names = list(INVARIANTS) if only is None else list(only)
        unknown = [name for name in names if name not in INVARIANTS]
        if unknown:
            raise ValueError(f"unknown invariant(s) {unknown}; known: {list(INVARIANTS)}")
        if ledger is None:
            ledger = Ledger()
        elif ledger.events or ledger.finished:
            raise ValueError("a check needs a fresh ledger (this one has read events)")
        self.ledger = ledger
        self.invariants = [INVARIANTS[name](ledger) for name in names]
        self.cpu_s = 0.0
        self.error: BaseException | None = None
        self._report: CheckReport | None = None

    def feed(self, events: Iterable[Event]) -> None:
        """Read the next events of the history, in order (a run's recorder calls this
        with each block it writes). Time is counted in :attr:`cpu_s`."""
        if self.error is not None:
            return
        if self._report is not None:
            raise ValueError("this check has reported: it reads no more events")
        started = time.process_time()
        try:
            self.ledger.feed(events)
        except Exception as exc:  # kept for report(): the run goes on (see the class)
            self.error = exc
        finally:
            self.cpu_s += time.process_time() - started

    def report(self) -> CheckReport:
        """Finish the check and return its report (the same report on a second call).

        Raises the exception :meth:`feed` kept, if any. The cyclic collector is paused
        while the verdicts are built and, if it was on, the objects made meanwhile are
        handed to the oldest generation in one step (freeze, then unfreeze) instead of
        letting the first young collection traverse millions of them; they are examined
        by the next full collection, as any long-lived object would be.
        """
        if self._report is not None:
            return self._report
        ledger = self.ledger
        if self.error is not None:
            ledger.release()
            raise self.error
        started = time.process_time()
        collecting = gc.isenabled()
        gc.disable()
        try:
            ledger.finish()
            verdicts = {inv.name: inv.verdict() for inv in self.invariants}
        finally:
            # The ledger and the invariants point at each other (hooks are their bound
            # methods and closures): dropping the hooks lets reference counting free them
            # all when the caller lets go, instead of the cyclic collector walking them.
            ledger.release()
            if collecting:
                gc.freeze()
                gc.unfreeze()
                gc.enable()
        problems = []
        if not ledger.has_run_start:
            problems.append("no run_start event: the contract is unknown, most checks are vacuous")
        contract = ledger.contract
        self._report = CheckReport(
            verdicts=verdicts,
            promises=contract.promises,
            sanctioned_invariants=tuple(sorted(contract.sanctioned)),
            run=ledger.run,
            quiescence=ledger.quiescence,
            events=ledger.events,
            problems=problems,
        )
        self.cpu_s += time.process_time() - started
        return self._report

    def verdict_files(self, result: Any) -> dict[str, Any]:
        """:func:`verdict_files` for a run this check read while it was recorded: the
        report from :meth:`report`, not from the run's events or its file; the check's
        CPU seconds are left on ``result.check_cpu_s``."""
        report = self.report()
        result.check_cpu_s = self.cpu_s
        return _files_of(result, report)


def verdict_files(result: Any) -> dict[str, Any]:
    """The checker's files for a run folder: ``{"verdict.json": ...}`` from the run's own
    events (kept in ``result.events``); the report is left on ``result.check``. This is the
    ``finish`` hook of :func:`sim.engine.runner.run_to_folder` that ``p2c run`` passes.
    A run that kept no events is judged from its history file, streamed."""
    events = result.events
    if events is None:
        path = getattr(result, "history_path", None)
        if path is None or not Path(path).exists():
            return {}
        events = read_history(path)
    return _files_of(result, check_history(events))


def _files_of(result: Any, report: CheckReport) -> dict[str, Any]:
    """``{"verdict.json": ...}`` for ``report``, which is left on ``result.check``, its
    loss counts added to the run's metrics."""
    result.check = report
    result.metrics.update(loss_metrics(report))
    return {"verdict.json": report.to_json()}


def loss_metrics(report: CheckReport) -> dict[str, float]:
    """``lost_writes`` and ``lost_write_fields`` of a judged run (README glossary), for
    its metrics beside the model's ``overwritten_writes``; and its retired bundle lines
    (``bundle_lines_retired`` at the end, ``bundle_line_retired_hours``)."""
    found: dict[str, float] = {}
    for invariant, names in (
        ("no_lost_update", ("lost_writes", "lost_write_fields")),
        ("no_retired_in_bundles", ("bundle_lines_retired", "bundle_line_retired_hours")),
    ):
        verdict = report.verdicts.get(invariant)
        if verdict is None or verdict.status == "unknown":
            continue
        found.update(
            {name: float(verdict.metrics[name]) for name in names if name in verdict.metrics}
        )
    return found


def check_one(name: str, events: Iterable[Event]) -> Verdict:
    """One invariant's verdict on a history (same pass, only that invariant attached)."""
    return check_history(events, only=(name,)).verdicts[name]


def convergence(events: Iterable[Event]) -> Verdict:
    """See :mod:`sim.checker.convergence`."""
    return check_one("convergence", events)


def no_lost_update(events: Iterable[Event]) -> Verdict:
    """See :mod:`sim.checker.lost_update`."""
    return check_one("no_lost_update", events)


def ownership(events: Iterable[Event]) -> Verdict:
    """See :mod:`sim.checker.ownership`."""
    return check_one("ownership", events)


def referential_integrity(events: Iterable[Event]) -> Verdict:
    """See :mod:`sim.checker.references`."""
    return check_one("referential_integrity", events)


def no_duplicate_keys(events: Iterable[Event]) -> Verdict:
    """See :mod:`sim.checker.duplicates`."""
    return check_one("no_duplicate_keys", events)


def monotone_lifecycle(events: Iterable[Event]) -> Verdict:
    """See :mod:`sim.checker.lifecycle`."""
    return check_one("monotone_lifecycle", events)


def invoice_totals(events: Iterable[Event]) -> Verdict:
    """See :mod:`sim.checker.invoices`."""
    return check_one("invoice_totals", events)


def bounded_echo(events: Iterable[Event]) -> Verdict:
    """See :mod:`sim.checker.echo`."""
    return check_one("bounded_echo", events)


def accounted_for(events: Iterable[Event]) -> Verdict:
    """See :mod:`sim.checker.accounting`."""
    return check_one("accounted_for", events)


def staleness(events: Iterable[Event]) -> Verdict:
    """See :mod:`sim.checker.staleness`."""
    return check_one("staleness", events)


def no_retired_in_bundles(events: Iterable[Event]) -> Verdict:
    """See :mod:`sim.checker.retired`."""
    return check_one("no_retired_in_bundles", events)


def lock_safety(events: Iterable[Event]) -> Verdict:
    """See :mod:`sim.checker.lock_safety`."""
    return check_one("lock_safety", events)
