"""Executors: where the runs of a sweep or a regression suite happen.

A sweep is many independent runs: one per (configuration, seed). Each run is a pure
function of its inputs (the scenario data, the overrides of its configuration, the
design and the seed), so it can run anywhere and in any order and still give the same
trace hash. That makes parallelism easy and honest: an executor only has to ship the
inputs out and the results back.

**What travels.** A :class:`RunTask` carries the scenario's raw data (the parsed YAML, a
few kilobytes), the dotted-path overrides, the catalogue design name and the seed; never
a live object. The worker rebuilds the scenario with :func:`sim.study.configure.configure` (the
same function the sweep used to validate the configuration up front), runs it, checks
the history, and sends back a :class:`RunOutcome`: metrics, a verdict summary per
invariant and the trace hash. Events stay in the worker; a week of a mid-size
organisation is tens of thousands of events, and shipping them would cost more than the
run.

**Three executors, one interface** (``imap_unordered(tasks)`` yielding outcomes as they
finish, ``close()``):

- :class:`InlineExecutor` runs in this process, one after another (``workers=0``):
  notebooks with a handful of runs, pytest items, debugging with a breakpoint.
- :class:`LocalExecutor` uses a :class:`~concurrent.futures.ProcessPoolExecutor` on this
  machine's cores (the default). Processes, not threads: a run is pure Python and holds
  the GIL. Workers are *forked* where the platform can (Linux): they start at once,
  share the parent's imported modules, and, unlike *spawned* workers, do not re-import
  the caller's script, so a plain script calling :func:`sim.api.compare` needs no
  ``if __name__ == "__main__"`` guard. Elsewhere (macOS, Windows) they are spawned.
- :class:`DaskExecutor` submits to a Dask distributed cluster named by its scheduler
  address (``tcp://HOST:8786``): the same tasks, on as many machines as the cluster has.
  Every worker needs this package installed (``pip install -e .``).

Results arrive in completion order, which differs between executors and between runs;
everything downstream (the store, statistics, tables) keys and sorts by (configuration
hash, seed), so the numbers never depend on who finished first.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.checker import CheckReport
from sim.checker.check import RunCheck, loss_metrics
from sim.engine.metrics import MetricsCollector
from sim.engine.runner import cycle_collector_paused, run_scenario
from sim.scenario.yamlio import InputError
from sim.study.configure import configure

#: How many tasks each worker may have queued beyond the one it runs: enough to keep it
#: busy between results, few enough that an interrupted sweep loses little work.
TASKS_IN_FLIGHT_PER_WORKER = 2

#: How long to try reaching a Dask scheduler before giving up (exit 2, nothing touched).
DASK_CONNECT_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class RunTask:
    """Everything a worker needs for one run, and nothing it could not pickle.

    ``raw`` is the scenario file's data, ``overrides`` maps dotted paths
    (``design.batch.interval_s``) to values, ``design`` optionally names a catalogue
    design to run under instead of the scenario's own (its overrides still apply, as in
    ``p2c compare``). ``near`` is the folder designs are looked up beside (the scenario
    file's folder) and ``source`` the scenario file for messages; ``replication`` (the
    index of ``seed`` among the replications) and ``label`` (a readable name of the
    configuration) only travel back in the outcome. ``config_hash`` is the
    configuration's identity as the sender computed it; the worker recomputes it and
    refuses to run on a mismatch (a worker with other code or other design files would
    silently produce results for another configuration).
    """

    raw: dict[str, Any]
    overrides: tuple[tuple[str, Any], ...]
    design: str | None
    seed: int
    config_hash: str
    replication: int = 0
    near: str | None = None
    source: str | None = None
    check: bool = True
    keep_delays: bool = False
    label: str = ""


@dataclass
class RunOutcome:
    """What comes back from a worker: small, flat and picklable.

    ``verdicts`` maps invariant name to ``{"status", "violations", "sanctioned",
    "promised"}``; ``failed`` is true when the design promised an invariant that was
    violated. ``delays`` (only when asked for) maps a flow
    (``account:sales->operations``) to every propagation delay in seconds, for
    staleness distributions. ``check_error`` records a checker crash instead of losing
    the run's metrics to it.
    """

    config_hash: str
    seed: int
    design: str
    trace_sha256: str
    metrics: dict[str, float]
    replication: int = 0
    verdicts: dict[str, dict[str, Any]] = field(default_factory=dict)
    failed: bool = False
    quiescent: bool = True
    elapsed_s: float = 0.0
    check_error: str | None = None
    delays: dict[str, list[float]] | None = None
    dropped: list[str] = field(default_factory=list)
    label: str = ""


def execute(task: RunTask) -> RunOutcome:
    """Run one task: rebuild the scenario, run it, check it, summarise (the worker side)."""

    started = time.perf_counter()
    configured = configure(
        task.raw,
        dict(task.overrides),
        task.design,
        near=Path(task.near) if task.near else None,
        source=Path(task.source) if task.source else None,
    )
    if configured.config_hash != task.config_hash:
        raise RuntimeError(
            f"configuration {task.label or task.config_hash[:12]} hashes to "
            f"{configured.config_hash[:12]} on this worker but {task.config_hash[:12]} where "
            "it was planned: the worker runs other code or other design files"
        )
    # The cyclic collector paused for the check too: it walks a run's worth of objects.
    with cycle_collector_paused():
        # The check reads the run while it is recorded (RunCheck, as p2c compare does):
        # events are kept only for the delays, when asked for.
        check = RunCheck() if task.check else None
        result = run_scenario(
            configured.scenario,
            task.seed,
            keep_events=task.keep_delays,
            watch=None if check is None else check.feed,
        )
        verdicts: dict[str, dict[str, Any]] = {}
        failed = False
        check_error = None
        if check is not None:
            try:
                verdicts, failed, losses = verdict_summary(check.report())
                result.metrics.update(losses)
            except Exception as exc:  # a checker bug must not lose the run's metrics
                check_error = f"{type(exc).__name__}: {exc}"
        delays = propagation_delays(result.events or []) if task.keep_delays else None
    return RunOutcome(
        config_hash=task.config_hash,
        seed=result.seed,
        design=result.design,
        trace_sha256=result.trace_sha256,
        replication=task.replication,
        metrics=dict(result.metrics),
        verdicts=verdicts,
        failed=failed,
        quiescent=result.quiescent,
        elapsed_s=time.perf_counter() - started,
        check_error=check_error,
        delays=delays,
        dropped=list(configured.dropped),
        label=task.label,
    )


def verdict_summary(
    report: CheckReport,
) -> tuple[dict[str, dict[str, Any]], bool, dict[str, float]]:
    """The checker's verdicts reduced to status and counts (explanations stay behind),
    whether a promise failed, and the run's loss metrics (``lost_writes``, ...)."""
    summary = {
        name: {
            "status": verdict.status,
            "violations": int(verdict.violations or 0),
            "sanctioned": int(verdict.sanctioned or 0),
            "promised": name in report.promises,
        }
        for name, verdict in report.verdicts.items()
    }
    return summary, bool(report.failed), loss_metrics(report)


def propagation_delays(events: Iterable[dict[str, Any]]) -> dict[str, list[float]]:
    """Every propagation delay per flow, measured exactly as the run's metrics are."""
    collector = MetricsCollector()
    for event in events:
        collector.observe(event)
    return {flow: [float(x) for x in samples] for flow, samples in collector.delays.items()}


# ------------------------------------------------------------------ executors


class _Closing:
    """``with make_executor(...) as executor:``: :meth:`close` when the block ends, or
    :meth:`abort` when it raises (Ctrl-C, SIGTERM, a failure), which stops the workers
    instead of waiting for their runs."""

    def close(self) -> None:  # pragma: no cover - every executor defines it
        raise NotImplementedError

    def abort(self) -> None:  # pragma: no cover - every executor defines it
        raise NotImplementedError

    def __enter__(self) -> Any:
        return self

    def __exit__(self, kind: object, value: object, traceback: object) -> None:
        if kind is None:
            self.close()
            return
        try:
            self.abort()
        finally:
            self.close()


class InlineExecutor(_Closing):
    """Runs every task here, in order: no processes, no pickling (``workers=0``)."""

    workers = 1
    description = "in this process"

    def imap_unordered(self, tasks: Iterable[RunTask]) -> Iterator[RunOutcome]:
        for task in tasks:
            yield execute(task)

    def close(self) -> None:
        """Nothing to release."""

    def abort(self) -> None:
        """Nothing runs elsewhere."""


def _windowed(submit, tasks: list[RunTask], window: int) -> Iterator[RunOutcome]:
    """Submit at most ``window`` tasks at a time; yield outcomes as they finish.

    ``submit`` returns a :class:`concurrent.futures.Future`. On the way out (finished,
    interrupted, or the consumer stopped) the tasks not yet started are cancelled.
    """
    queue = iter(tasks)
    running: set[Future[RunOutcome]] = set()
    try:
        for task in queue:
            running.add(submit(task))
            if len(running) >= window:
                break
        while running:
            done, running = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                outcome = future.result()
                next_task = next(queue, None)
                if next_task is not None:
                    running.add(submit(next_task))
                yield outcome
    except KeyboardInterrupt:
        # Interrupted (Ctrl-C, SIGTERM): the executor's abort() stops the workers and
        # fails what they held. Cancelling here first races the process pool's own
        # clean-up (Python 3.11 then prints an InvalidStateError from its thread).
        raise
    except BaseException:
        for future in running:
            future.cancel()
        raise


class LocalExecutor(_Closing):
    """A pool of worker processes on this machine, kept for the executor's lifetime.

    Only ``workers * TASKS_IN_FLIGHT_PER_WORKER`` tasks are handed to the pool at a time:
    when the sweep is killed, at most that many started runs are lost, and a long sweep
    never queues thousands of pickled tasks up front.
    """

    def __init__(self, workers: int | None = None) -> None:
        self.workers = max(1, workers or available_cores())
        self.description = f"{self.workers} local worker process(es)"
        self._pool: ProcessPoolExecutor | None = None

    def imap_unordered(self, tasks: Iterable[RunTask]) -> Iterator[RunOutcome]:
        pending = list(tasks)
        if not pending:
            return iter(())
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=max(1, min(self.workers, len(pending))),
                mp_context=multiprocessing.get_context(start_method()),
                initializer=worker_signals,
            )
        pool = self._pool
        return _windowed(
            lambda task: pool.submit(execute, task),
            pending,
            self.workers * TASKS_IN_FLIGHT_PER_WORKER,
        )

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def abort(self) -> None:
        """Stop the worker processes now (the sweep was interrupted or failed): their
        runs in flight are lost, as they would be to a kill, and none is left behind."""
        if self._pool is None:
            return
        # ProcessPoolExecutor has no public way to stop running tasks; its process table
        # is the documented-by-source ``_processes`` (pid -> Process).
        processes = list((getattr(self._pool, "_processes", None) or {}).values())
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join(timeout=5)
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = None


def worker_signals() -> None:
    """In each worker: SIGTERM kills (the parent's handler, inherited by a fork, would
    turn it into an exception the pool catches and keeps the worker alive), and Ctrl-C
    is left to the parent, which stops the workers itself."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class DaskExecutor(_Closing):
    """Tasks on a Dask distributed cluster, named by its scheduler address.

    The cluster is used through its :mod:`concurrent.futures` face
    (``Client.get_executor``), so tasks are windowed exactly as locally: a killed sweep
    loses at most the runs in flight. ``pure=False``: two submissions of one task are
    two runs (the results store, not Dask's cache, decides what is already done).
    """

    def __init__(self, scheduler: str, timeout_s: float | None = None) -> None:
        timeout_s = DASK_CONNECT_TIMEOUT_S if timeout_s is None else timeout_s

        try:
            # Optional: Dask comes with the cluster extra (a clear message when it is missing).
            from distributed import Client
        except ImportError:  # Dask is the optional ``cluster`` extra
            raise InputError(
                f"--scheduler {scheduler}: running on a Dask cluster needs Dask distributed, "
                "which is not installed; install the cluster extra: "
                "pip install 'p2c-testbed[cluster]'"
            ) from None
        # Dask again: only importable once the import above succeeded.
        from distributed.comm import parse_address
        from distributed.comm.addressing import parse_host_port

        try:  # before a Client exists: a failed one hangs 60 s in its finaliser
            scheme, location = parse_address(scheduler)
            if scheme in ("tcp", "tls"):
                _, port = parse_host_port(location)
                if not 0 < int(port) < 65536:
                    raise ValueError(f"port {port} is not from 1 to 65535")
        except (ValueError, TypeError) as exc:
            raise InputError(
                f"--scheduler {scheduler}: not a scheduler address ({exc}); "
                "give one such as tcp://10.0.0.5:8786"
            ) from None
        try:
            self._client = Client(scheduler, timeout=timeout_s, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise InputError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
        threads = sum(self._client.nthreads().values())
        self.workers = max(1, threads)
        self.description = f"Dask cluster {scheduler} ({threads} worker thread(s))"
        self._executor = self._client.get_executor(pure=False)

    def imap_unordered(self, tasks: Iterable[RunTask]) -> Iterator[RunOutcome]:
        # Workers may join after start-up: size the window by the cluster as it is now.
        self.workers = max(1, sum(self._client.nthreads().values()))
        return _windowed(
            lambda task: self._executor.submit(execute, task),
            list(tasks),
            self.workers * TASKS_IN_FLIGHT_PER_WORKER,
        )

    def close(self) -> None:
        self._client.close()

    def abort(self) -> None:
        """Cancel what this client submitted; the cluster's workers are not ours to stop."""
        try:
            self._executor.shutdown(wait=False)  # cancels its futures
        except Exception:  # noqa: BLE001 - best effort on the way out
            pass


Executor = InlineExecutor | LocalExecutor | DaskExecutor


def start_method() -> str:
    return "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"


def available_cores() -> int:
    """Cores this process may use (the affinity mask, not the machine's total)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS and Windows
        return os.cpu_count() or 1


def make_executor(workers: int | None = None, scheduler: str | None = None) -> Executor:
    """The executor for ``--workers N`` / ``--scheduler ADDRESS``.

    A scheduler address wins; ``workers=0`` runs inline; ``None`` uses every core.
    """
    if scheduler:
        return DaskExecutor(scheduler)
    if workers is not None and workers < 0:
        raise InputError(f"--workers must be 0 (in this process) or more, got {workers}")
    if workers == 0:
        return InlineExecutor()
    return LocalExecutor(workers)
