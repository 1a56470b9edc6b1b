"""Running a plan: every missing (configuration, replication), adaptive rounds, summaries;
and :func:`sweep_from_args`, the whole sweep as ``p2c sweep`` runs it.
"""

from __future__ import annotations

import json
import math
import shutil
import sqlite3
import sys
import time
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Any

from tqdm import tqdm

from sim.engine.runner import MAX_INITIAL_RECORDS, MAX_USER_DAYS
from sim.scenario.yamlio import InputError
from sim.study.executors import Executor, RunTask, make_executor
from sim.study.stats import Interval, mean_interval, metric_value, pareto_front
from sim.study.store import ResultStore, StoredRun, read_store, stored_run_count
from sim.study.sweep.output import write_outputs
from sim.study.sweep.plan import SweepPlan, load_sweep, plan_sweep
from sim.study.sweep.result import ConfigurationSummary, SweepResult


def run_sweep(
    plan: SweepPlan,
    executor: Executor,
    store: ResultStore,
    *,
    progress: bool = False,
) -> SweepResult:
    """Run every (configuration, replication) not yet in ``store``, then summarise.

    Tasks are ordered replication first (every configuration's replication 0, then
    every configuration's replication 1, ...), so an interrupted sweep has an even
    picture. Each finished run is committed to the store before the next is awaited.
    """
    started = time.perf_counter()
    spec = plan.spec
    done = store.done()
    stored_before = set(done)
    skipped_keys: set[tuple[str, int]] = set()
    wanted = {c.config_hash: spec.replications for c in plan.configurations}
    by_hash = {c.config_hash: c for c in plan.configurations}
    executed = skipped = 0
    bar = None
    try:
        while True:
            tasks, already = _missing_tasks(plan, wanted, done)
            skipped_keys |= already & stored_before
            skipped = len(skipped_keys)
            if progress and bar is None:
                bar = _progress_bar(plan, len(tasks), skipped)
            elif bar is not None:
                bar.total = executed + len(tasks)
                bar.refresh()
            for outcome in executor.imap_unordered(tasks):
                configuration = by_hash.get(outcome.config_hash)
                if configuration is None:
                    raise RuntimeError(
                        f"a worker returned unknown configuration {outcome.config_hash[:12]}"
                    )
                store.add(outcome, configuration)
                done.add((outcome.config_hash, outcome.seed))
                executed += 1
                if bar is not None:
                    bar.update(1)
            if spec.adaptive is None:
                break
            more = _adaptive_targets(plan, _planned(store.rows(), wanted), wanted)
            if not more:
                break
            wanted.update(more)
    finally:
        if bar is not None:
            bar.close()
    rows = _planned(store.rows(), wanted)
    summaries = summarise(plan, rows)
    return SweepResult(
        plan=plan,
        runs=rows,
        summaries=summaries,
        executed=executed,
        skipped=skipped,
        elapsed_s=time.perf_counter() - started,
        executor=getattr(executor, "description", type(executor).__name__),
    )


def _progress_bar(plan: SweepPlan, total: int, skipped: int):
    """tqdm on stderr: runs done of runs planned, rate, and the ETA from the rate."""
    bar = tqdm(
        total=total,
        unit="run",
        desc=f"sweep {plan.spec.name}",
        file=sys.stderr,
        dynamic_ncols=True,
        smoothing=0.1,
    )
    if skipped:
        bar.set_postfix_str(f"{skipped} already stored")
    return bar


def _missing_tasks(
    plan: SweepPlan, wanted: dict[str, int], done: set[tuple[str, int]]
) -> tuple[list[RunTask], set[tuple[str, int]]]:
    """The runs still to do (replication first), and the keys of those already done."""
    tasks: list[RunTask] = []
    already: set[tuple[str, int]] = set()
    most = max(wanted.values(), default=0)
    for replication in range(most):
        seed = plan.seed(replication)
        for configuration in plan.configurations:
            if replication >= wanted[configuration.config_hash]:
                continue
            if (configuration.config_hash, seed) in done:
                already.add((configuration.config_hash, seed))
            else:
                tasks.append(plan.task(configuration, replication))
    return tasks, already


def _planned(rows: list[StoredRun], wanted: dict[str, int]) -> list[StoredRun]:
    """The stored runs this plan asks for: its configurations' first ``wanted`` replications.

    A store can hold more (a resumed sweep whose file now asks for fewer replications,
    or other configurations); they stay stored but are left out of this sweep's
    statistics, so a resumed sweep reports exactly what a fresh one would.
    """
    return [r for r in rows if r.replication < wanted.get(r.config_hash, 0)]


def _adaptive_targets(
    plan: SweepPlan, rows: list[StoredRun], wanted: dict[str, int]
) -> dict[str, int]:
    """Configurations whose interval is still too wide, with how many runs to aim for.

    The target is the classic sample-size estimate ``n = (t * s / (r * mean))^2`` from
    the current spread, at least one more run and at most double the current count (so
    one noisy estimate cannot commit a hundred runs), capped by ``max_replications``.
    """
    adaptive = plan.spec.adaptive
    assert adaptive is not None
    by_config = _rows_by_config(rows)
    targets = {}
    for configuration in plan.configurations:
        key = configuration.config_hash
        values = [metric_value(r.metrics, adaptive.metric) for r in by_config.get(key, [])]
        interval = mean_interval(values, plan.spec.confidence)
        n = interval.n
        if n >= adaptive.max_replications or n < wanted[key]:
            continue
        if _narrow_enough(interval, adaptive.relative_half_width):
            continue
        target = n + 1
        if n >= 2 and interval.mean != 0 and not math.isnan(interval.half_width):
            ratio = interval.half_width / (adaptive.relative_half_width * abs(interval.mean))
            target = max(n + 1, min(2 * n, math.ceil(n * ratio * ratio)))
        targets[key] = min(adaptive.max_replications, target)
    return targets


def _narrow_enough(interval: Interval, relative: float) -> bool:
    if interval.n < 2 or math.isnan(interval.half_width):
        return False
    return interval.half_width <= relative * abs(interval.mean)


def _rows_by_config(rows: Iterable[StoredRun]) -> dict[str, list[StoredRun]]:
    grouped: dict[str, list[StoredRun]] = {}
    for row in sorted(rows, key=lambda r: (r.config_hash, r.replication)):
        grouped.setdefault(row.config_hash, []).append(row)
    return grouped


def summarise(plan: SweepPlan, rows: list[StoredRun]) -> list[ConfigurationSummary]:
    """Per configuration (in plan order): intervals, verdict tallies, Pareto flags."""
    by_config = _rows_by_config(rows)
    summaries = []
    for configuration in plan.configurations:
        runs = by_config.get(configuration.config_hash, [])
        intervals = {
            name: mean_interval([metric_value(r.metrics, name) for r in runs], plan.spec.confidence)
            for name in plan.metrics
        }
        verdicts: dict[str, dict[str, int]] = {}
        for run in runs:
            for invariant, verdict in run.verdicts.items():
                tally = verdicts.setdefault(invariant, {})
                tally[verdict["status"]] = tally.get(verdict["status"], 0) + 1
        summaries.append(
            ConfigurationSummary(
                configuration=configuration,
                seeds=[r.seed for r in runs],
                intervals=intervals,
                verdicts=verdicts,
                failed_runs=sum(1 for r in runs if r.failed),
                check_errors=sum(1 for r in runs if r.check_error),
            )
        )
    objectives = plan.spec.objectives
    if objectives:
        points = [[s.intervals[name].mean for name in objectives] for s in summaries]
        for summary, on_front in zip(
            summaries, pareto_front(points, list(objectives.values())), strict=True
        ):
            summary.pareto = on_front
    return summaries


def default_out(name: str) -> Path:
    return Path("reports") / "sweeps" / name


def sweep_from_args(
    path: Path | str | dict[str, Any],
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    out: Path | str | None = None,
    resume: bool = False,
    fresh: bool = False,
    progress: bool = False,
    yes: bool = False,
) -> SweepResult:
    """Plan, run and write a sweep: what ``p2c sweep`` and :func:`sim.api.sweep` do.

    The order keeps a user's stored results safe: the plan is validated, the store
    checked (finished runs there and neither ``resume`` nor ``fresh``: refused, exit 2),
    the executor started (a Dask scheduler that cannot be reached fails here, before
    anything is touched), and only then is the store opened for writing. Before that, a
    sweep whose runs still to do add up to more than ``MAX_SWEEP_USER_DAYS`` (or with
    one run beyond ``p2c run``'s limits) is refused with its estimate unless ``yes``.
    A ``fresh``
    store loses its earlier rows only when the first new run is committed. The derived
    files (summary.csv, summary.json, runs.csv) are always regenerated from the store,
    each written under a temporary name and renamed, even when the sweep stops early.
    """
    if resume and fresh:
        raise InputError(
            "p2c sweep: --resume keeps the stored runs and --fresh discards them; give one of them"
        )
    if isinstance(path, dict):
        plan = plan_sweep(path)
    else:
        plan = load_sweep(path)
    out_dir = Path(out) if out else default_out(plan.spec.name)
    store_path = out_dir / "results.sqlite"
    _check_out_dir(out_dir)
    stored = _store_call(store_path, stored_run_count, store_path)
    if stored and not (resume or fresh):
        raise InputError(
            f"{store_path}: holds {stored} finished run(s); keep them and run only what is "
            "missing with --resume, or discard them with --fresh"
        )
    done = _done_keys(store_path) if stored and resume else set()
    check_sweep_size(plan, done, yes=yes)
    with make_executor(workers, scheduler) as executor:
        out_dir.mkdir(parents=True, exist_ok=True)
        store = _store_call(
            store_path,
            ResultStore,
            store_path,
            fresh=fresh and bool(stored),
            meta={
                "sweep": plan.spec.name,
                "spec": json.dumps(plan.spec.model_dump(mode="json"), sort_keys=True),
            },
        )
        try:
            result = _store_call(store_path, run_sweep, plan, executor, store, progress=progress)
        except BaseException:
            executor.abort()  # no worker left running while the files are refreshed
            _refresh_outputs(plan, store, out_dir)
            raise
        finally:
            store.close()
    result.out_dir = out_dir
    write_outputs(result, out_dir)
    return result


#: Simulated user-days a whole sweep may have without ``--yes``: ten times one run's
#: limit (sim/engine/runner.py MAX_USER_DAYS), about 15 minutes of one core by the
#: measured 0.004 s a user-day. The shipped sweeps need 3,700 to 11,200.
MAX_SWEEP_USER_DAYS = 200_000


def sweep_size(
    plan: SweepPlan, done: Collection[tuple[str, int]] = frozenset()
) -> tuple[int, float, float, float, int]:
    """(runs, user-days, estimated seconds on one core, largest run's user-days, largest
    run's initial records) of every (configuration, replication) of ``plan`` not in
    ``done``: each configuration's :func:`sim.engine.runner.run_size` times its runs still
    to do (an adaptive sweep counted at its ``max_replications``, the most it can run)."""
    runs = 0
    user_days = seconds = 0.0
    largest_days, largest_records = 0.0, 0
    for configuration in plan.configurations:
        days, records, one = configuration.size
        todo = sum(
            (configuration.config_hash, plan.seed(r)) not in done
            for r in range(_most_replications(plan))
        )
        if todo:
            runs += todo
            user_days += todo * days
            seconds += todo * one
            largest_days = max(largest_days, days)
            largest_records = max(largest_records, records)
    return runs, user_days, seconds, largest_days, largest_records


def check_sweep_size(
    plan: SweepPlan, done: Collection[tuple[str, int]] = frozenset(), *, yes: bool = False
) -> None:
    """Refuse (exit 2, the estimate printed) a sweep far beyond what runs in minutes,
    as ``p2c run`` refuses one large run, unless ``yes`` (``--yes``)."""
    runs, user_days, seconds, largest_days, largest_records = sweep_size(plan, done)
    if yes:
        return
    where = plan.path or plan.spec.name
    if largest_days > MAX_USER_DAYS or largest_records > MAX_INITIAL_RECORDS:
        raise InputError(
            f"{where}: a sweep of large runs: its largest run has {largest_days:,.0f} "
            f"user-days (limit {MAX_USER_DAYS:,}) and {largest_records:,} initial records "
            f"(limit {MAX_INITIAL_RECORDS:,}); {runs:,} runs, {user_days:,.0f} user-days in "
            f"all, estimated {seconds / 60:,.0f} min of one core or more and memory to match "
            "in each worker; lower headcount, duration_days or initial_data, or run it anyway "
            "with --yes"
        )
    if user_days > MAX_SWEEP_USER_DAYS:
        raise InputError(
            f"{where}: a large sweep: {runs:,} runs to do ({len(plan.configurations)} "
            f"configurations x up to {_most_replications(plan)} replications), "
            f"{user_days:,.0f} user-days in all (limit {MAX_SWEEP_USER_DAYS:,}), estimated "
            f"{seconds / 60:,.0f} min of one core or more; fewer factor values, replications "
            "or duration_days, or run it anyway with --yes"
        )


def _done_keys(store_path: Path) -> set[tuple[str, int]]:
    """The complete runs (configuration hash, seed) of the store, read-only."""
    rows = _store_call(store_path, read_store, store_path)
    return {(row.config_hash, row.seed) for row in rows if row.check_error is None}


def _check_out_dir(out_dir: Path) -> None:
    """Refuse an ``--out`` that cannot be a folder, before anything runs."""
    for folder in (*reversed(out_dir.parents), out_dir):
        if folder.exists() and not folder.is_dir():
            raise InputError(
                f"{out_dir}: cannot be the sweep's folder: {folder} is a file, not a folder"
            )


def _store_call(store_path: Path, function: Any, *args: Any, **kwargs: Any) -> Any:
    """``function(*args, **kwargs)``, with a SQLite failure reported as an environment
    error naming the store (``database or disk is full``, ``file is not a database``)."""
    try:
        return function(*args, **kwargs)
    except sqlite3.Error as exc:
        cause = f"results store: {exc}"
        if _nearly_full(store_path.parent):
            cause += " (the disk is full)"
        raise OSError(0, cause, str(store_path)) from None


def _nearly_full(folder: Path) -> bool:
    try:
        return shutil.disk_usage(folder).free < 1 << 20
    except OSError:
        return False


def _refresh_outputs(plan: SweepPlan, store: Any, out_dir: Path) -> None:
    """After a sweep stopped early: the derived files again from what the store holds,
    or, if they cannot be written (a full disk), none at all rather than stale ones."""
    paths = [out_dir / name for name in ("summary.csv", "summary.json", "runs.csv")]
    try:
        if store.fresh_pending:
            return  # nothing new committed: the store and its derived files still agree
        wanted = {c.config_hash: _most_replications(plan) for c in plan.configurations}
        rows = _planned(store.rows(), wanted)
        partial = SweepResult(
            plan=plan,
            runs=rows,
            summaries=summarise(plan, rows),
            executed=0,
            skipped=len(rows),
            elapsed_s=0.0,
            executor="",
        )
        write_outputs(partial, out_dir)
    except Exception:
        for stale in paths:
            stale.unlink(missing_ok=True)


def _most_replications(plan: SweepPlan) -> int:
    adaptive = plan.spec.adaptive
    return max(plan.spec.replications, adaptive.max_replications if adaptive else 0)
