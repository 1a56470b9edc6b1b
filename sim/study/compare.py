"""Compare designs: the same organisation, workload and seed under each design.

Every design runs with the same root seed, so every user draws from the same named
stream in every run (common random numbers): differences between the columns come from
the designs, not from luck. The scenario's design overrides (``design: {extends: ...,
batch: {...}}``) are applied to each design where they fit; overrides of maps a design
does not have are dropped and reported.
"""

from __future__ import annotations

import gc
import multiprocessing
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.checker.check import RunCheck
from sim.engine.runner import (
    cycle_collector_paused,
    leave_worlds_to_exit,
    run_scenario,
    run_to_folder,
)
from sim.scenario.spec import Scenario
from sim.scenario.variants import design_variant
from sim.study.executors import available_cores, start_method, worker_signals


def headline(result: Any) -> dict[str, float | None]:
    """The figures an architect compares first, from a run's metrics and verdicts."""
    m = result.metrics
    writes = m.get("writes", 0.0) or 0.0
    per_k = (lambda n: round(1000.0 * n / writes, 2)) if writes else (lambda n: None)
    figures: dict[str, float | None] = {
        "user saves accepted": writes,
        "saves refused": m.get("saves_rejected", 0.0),
        "overwritten writes": m.get("overwritten_writes", 0.0),
        "overwritten writes per 1,000 saves": per_k(m.get("overwritten_writes", 0.0)),
        "conflicts surfaced": m.get("conflicts", 0.0),
        "handoffs": m.get("handoffs", 0.0),
        "handoffs abandoned": m.get("handoffs_abandoned", 0.0),
        "edits abandoned (lock)": m.get("lock_abandoned", 0.0),
        "blocked user minutes": round(m.get("blocked_user_s", 0.0) / 60.0, 1),
        "batch runs": m.get("batch_runs", 0.0),
        "messages sent": m.get("messages_sent", 0.0),
    }
    for flow in (
        "account:sales->operations",
        "account:operations->sales",
        "order:operations->sales",
    ):
        figures[f"p95 delay {flow} (min)"] = (
            round(m[f"propagation_p95_s.{flow}"] / 60.0, 1)
            if f"propagation_p95_s.{flow}" in m
            else None
        )
    report = getattr(result, "check", None)
    if report is not None:
        lost = report.verdicts.get("no_lost_update")
        if lost is not None:
            fields = (lost.violations or 0) + (lost.sanctioned or 0)
            figures["lost writes"] = float(lost.metrics.get("lost_writes", fields))
            figures["lost write fields"] = float(fields)
            figures["lost write fields per 1,000 saves"] = per_k(fields)
    return figures


def default_out(root: Path, scenario: Scenario, design: str, seed: int) -> Path:
    return root / f"{scenario.name}-{design}-seed{seed}"


def invariant_matrix(verdicts: dict[str, dict[str, dict[str, Any]]], names: list[str]) -> list[str]:
    """Markdown: one row per invariant, one column per design; **bold** = promised.

    A cell reads ``holds``, ``sanctioned (n)``, ``violated (n)`` or ``unknown``; a
    promised invariant that is violated is what makes ``p2c run`` exit 1.
    """
    if not verdicts:
        return ["(no verdicts: the checker is not installed)"]
    invariants = list(next(iter(verdicts.values())).keys())
    lines = ["| invariant | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for invariant in invariants:
        cells = []
        for name in names:
            verdict = verdicts[name].get(invariant)
            if verdict is None:
                cells.append("-")
                continue
            count = verdict["violations"] or verdict["sanctioned"]
            text = verdict["status"] + (f" ({count})" if count else "")
            cells.append(f"**{text}**" if verdict["promised"] else text)
        lines.append(f"| {invariant} | " + " | ".join(cells) + " |")
    return lines


# ------------------------------------------------------------- designs in parallel


@dataclass
class DesignTiming:
    """How long one design's run took in its worker, and its peak memory."""

    wall_s: float
    cpu_s: float
    peak_rss_mb: float


def design_done_words(name: str, timing: DesignTiming, finished: int, total: int) -> str:
    """The progress line of one finished design (``map_designs``' ``on_done``)."""
    return (
        f"{name} done in {timing.wall_s:,.1f} s ({timing.cpu_s:,.1f} s CPU, "
        f"{timing.peak_rss_mb:,.0f} MB peak), {finished} of {total}"
    )


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports kilobytes, macOS bytes.
    return peak / (1024.0 * 1024.0) if sys.platform == "darwin" else peak / 1024.0


def _timed_call(job: tuple[Callable[[str], Any], str]) -> tuple[str, Any, DesignTiming]:
    function, name = job
    wall, cpu = time.perf_counter(), time.process_time()
    result = function(name)
    timing = DesignTiming(time.perf_counter() - wall, time.process_time() - cpu, _peak_rss_mb())
    return name, result, timing


def _one_task_worker(forked: bool = False) -> None:
    """Set up a worker process that runs one design and exits (``maxtasksperchild=1``).

    The cyclic garbage collector stays off for the worker's life. Runs and checks pause
    it anyway (:func:`~sim.engine.runner.cycle_collector_paused`); turning it back on at
    the end made the next allocation collect everything allocated meanwhile, hundreds of
    thousands of objects, only to free what was left in reference cycles just before
    the process ends: 0.3 s of a 10.5 s naive-bidirectional day at 1,000 users (then the
    checker's ledger and invariants and the run's finished forms; both are now freed by
    reference counting, :meth:`~sim.checker.ledger.Ledger.release` and the workload's
    form driver, so little is left for a collection either way). A ``forked`` worker
    leaves with ``os._exit``, and the operating system takes the memory back at once,
    so the run's world is left to it (:func:`~sim.engine.runner.leave_worlds_to_exit`);
    a spawned one ends its interpreter, which would collect the world then. It also
    drops ``p2c``'s SIGTERM handler (:func:`worker_signals`).
    """
    worker_signals()
    gc.disable()
    if forked:
        leave_worlds_to_exit()


def map_designs(
    function: Callable[[str], Any],
    names: list[str],
    workers: int | None = None,
    on_done: Callable[[str, DesignTiming, int, int], None] | None = None,
) -> dict[str, tuple[Any, DesignTiming]]:
    """``function(name)`` for every design name, ``workers`` at a time, in worker processes.

    ``function`` and what it returns travel between processes, so both must pickle (a
    module-level function or a :func:`functools.partial` of one, such as
    :func:`run_design`).

    Each design runs in a fresh worker process (one task per process, forked where the
    platform can, so nothing is re-imported and the scenario is inherited, not pickled),
    so its peak memory is its own, and runs with the cyclic garbage collector off
    (:func:`_one_task_worker`). Every run is a pure function of the scenario, design
    and seed, so the results do not depend on the order they finish in; they come back
    keyed by name, in ``names`` order. ``workers`` defaults to the available cores;
    ``workers <= 1`` (or one design) runs them here, one after another.

    ``on_done(name, timing, finished, total)`` is called in this process as each design
    finishes, in the order they finish (a progress line: a full-scale week runs for
    minutes); it sees the timing only, never the result.
    """
    workers = available_cores() if workers is None else workers
    jobs = [(function, name) for name in names]
    finished = 0
    # What on_done raised in the pool's result thread, raised again here: an exception
    # left in that thread would end it, and the results it had not handed on would be
    # waited for forever.
    failed: list[BaseException] = []

    def done_one(outcome: tuple[str, Any, DesignTiming]) -> None:
        nonlocal finished
        finished += 1
        if on_done is not None and not failed:
            try:
                on_done(outcome[0], outcome[2], finished, len(jobs))
            except BaseException as exc:  # noqa: BLE001 - raised again in the caller
                failed.append(exc)

    if workers <= 1 or len(names) <= 1:
        done = []
        for job in jobs:
            name, result, timing = _timed_call(job)
            done.append((name, result, timing))
            if on_done is not None:
                on_done(name, timing, len(done), len(jobs))
    else:
        method = start_method()
        context = multiprocessing.get_context(method)
        # Ended with close() and join(), not the context's terminate(): with one task per
        # worker the pool keeps forking replacements, and terminate() can miss one that
        # is being born (it then waits for it forever) or hit one that still has `p2c`'s
        # SIGTERM handler (a "Terminated" traceback on a run that succeeded).
        # worker_signals (in _one_task_worker) makes a terminate() on Ctrl-C or an error
        # kill quietly.
        with context.Pool(
            min(workers, len(names)),
            initializer=_one_task_worker,
            initargs=(method == "fork",),
            maxtasksperchild=1,
        ) as pool:
            # One task each, queued in order (as map with chunksize=1 queues them); the
            # callback runs in the pool's result thread as each finishes. The results are
            # taken in order: a failed design raises here, as map raised.
            pending = [pool.apply_async(_timed_call, (job,), callback=done_one) for job in jobs]
            done = [outcome.get() for outcome in pending]
            pool.close()
            pool.join()
    if failed:
        raise failed[0]
    by_name = {name: (result, timing) for name, result, timing in done}
    return {name: by_name[name] for name in names}


def run_design(
    scenario: Scenario, seed: int, root: Path | None, check: bool, name: str
) -> tuple[Any, list[str]]:
    """One column of ``p2c compare``: ``scenario`` under design ``name`` with ``seed``,
    its run folder written under ``root`` (none when ``root`` is None), checked when
    ``check``. Returns the run's result without its events (they stay in the worker)
    and the overrides that did not fit the design."""
    variant = design_variant(scenario, name)
    configured = scenario.with_design(variant.design)
    # The check reads the run's events while they are recorded (RunCheck): none is
    # kept for it and nothing is parsed back from the history file.
    online = RunCheck() if check else None
    watch = None if online is None else online.feed
    finish = None if online is None else online.verdict_files
    if root is None:
        with cycle_collector_paused():  # the check too (run_to_folder pauses it itself)
            result = run_scenario(configured, seed, keep_events=False, watch=watch)
            if finish is not None:
                finish(result)
    else:
        result = run_to_folder(
            configured,
            default_out(root, scenario, name, seed),
            seed,
            finish=finish,
            keep_events=False,
            watch=watch,
        )
    result.events = None
    return result, variant.dropped
