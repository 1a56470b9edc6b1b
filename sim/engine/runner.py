"""Run a scenario: seed, initial load, a working week, the quiescence phase, the evidence.

A run has two phases (STYLE.md 7). First the organisation works: users act in their
working hours, scripted actions fire, maps run on their schedules. At the end of
``duration_days`` user actions stop, and the **quiescence phase** begins: forms still
open are saved, maps keep running until every map has drained (nothing running, nothing
unread), bounded by ``quiescence_max_s``. The final ``quiescence`` event says whether it
was reached; only then can convergence be judged.

:func:`run_scenario` returns a :class:`RunResult`; :func:`run_to_folder` writes the
run folder atomically: everything goes to a hidden staging folder beside ``--out``
(``.<name>.staging-<host>-<pid>-<random>``); when it is complete, an earlier run folder
is renamed aside (``.<name>.old-...``), the staging folder renamed in, and the earlier one
deleted. A run killed at any instant leaves either the earlier folder or the new one
under ``--out``, never half of one; the next run into the same place removes staging
folders whose process is gone and puts an earlier folder back if it was caught aside.
Staging folders of earlier versions (``.<name>.XXXXXXXX``, no owner in the name) are
cleaned too when they are recognisably a dead run's (see :func:`_clean_legacy_staging`).
Only a folder that is recognisably a run folder (it has ``manifest.json``) is ever
replaced: anything else under ``--out`` is a user's and is refused (exit 2).
"""

from __future__ import annotations

import gc
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from models import events as ev
from models.actions import seed_custom_data, seed_initial_data
from sim import __version__
from sim.engine.faults import fault_process, swarm_faults
from sim.engine.licence_enforcement import entitlement_metrics
from sim.engine.transport import Courier, batch_schedule
from sim.engine.workload import build_users, resolver_process, scripted_process, user_process
from sim.engine.world import World
from sim.history import HistoryRecorder
from sim.scenario.spec import Scenario
from sim.scenario.yamlio import InputError

QUIESCENCE_POLL_S = 60.0


@dataclass
class RunResult:
    """What a run produced: identity, trace hash, metrics, and the events if kept."""

    scenario: str
    design: str
    seed: int
    trace_sha256: str
    metrics: dict[str, float]
    quiescent: bool
    end_s: float
    sim_events: int
    event_count: int
    events: list[dict[str, Any]] | None = None
    history_path: Path | None = None
    overwrites_by: dict[str, int] = field(default_factory=dict)
    check: Any = None  # the checker's report, when the run was checked
    check_cpu_s: float | None = None  # CPU seconds the check took, when it was timed
    replaced: bool = False  # the run folder replaced an earlier run folder


def _quiescence_monitor(env, world: World, done):
    """After the workload ends, stop the run once every map has drained."""
    integ = world.integration
    yield env.timeout(max(0.0, world.workload_end_s - env.now))
    while True:
        if world.open_forms == 0 and integ.quiet():
            world.stopped = True
            done.succeed(True)
            return
        yield env.timeout(QUIESCENCE_POLL_S)


@contextmanager
def cycle_collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for the block, back as it was after it.

    A run builds millions of long-lived objects (rows, field versions, writes, events)
    and frees almost nothing until it ends; reference counting frees what it drops.
    With the collector on, every collection of the oldest generation walks all of them:
    measured on a 1,000-user week of p2c-2017 (``p2c bench --model --users 1000 --days
    5``) that was 14.6 of 31.3 s of CPU, more per event the longer the run, for the same
    peak memory (557 MB either way: the run makes no garbage cycles worth collecting).
    Nested uses are harmless; the collector is re-enabled only if it was on.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def run_scenario(
    scenario: Scenario,
    seed: int | None = None,
    *,
    keep_events: bool = True,
    history_path: Path | None = None,
    progress: bool = False,
    watch: Callable[[list[dict[str, Any]]], None] | None = None,
) -> RunResult:
    """Run ``scenario`` once with ``seed`` (default: the scenario's own), with the
    cyclic garbage collector paused (:func:`cycle_collector_paused`).

    ``watch`` is handed the run's events a block at a time as they are recorded
    (:class:`~sim.history.HistoryRecorder`): a checker's ``RunCheck.feed`` judges the run
    while it runs, with no event kept for it and nothing read back from the history."""
    with cycle_collector_paused():
        return _run_scenario(scenario, seed, keep_events, history_path, progress, watch)


def _run_scenario(
    scenario: Scenario,
    seed: int | None,
    keep_events: bool,
    history_path: Path | None,
    progress: bool,
    watch: Callable[[list[dict[str, Any]]], None] | None = None,
) -> RunResult:
    spec = scenario.spec
    seed = spec.seed if seed is None else int(seed)
    recorder = HistoryRecorder(keep=keep_events, path=history_path, watch=watch)
    try:
        world = World(scenario, seed, recorder)
        env = world.env
        integ = world.integration
        world.emit(
            {
                "t": 0.0,
                "kind": ev.RUN_START,
                "scenario": spec.name,
                "seed": seed,
                "design": scenario.design.name,
                "contract": integ.contract(spec.objectives.staleness_p99_s),
            }
        )
        courier = Courier(env, world)
        _load_initial_data(scenario, world, courier)
        integ.on_send = courier.send
        world.courier_pause, world.courier_resume = courier.pause, courier.resume
        _start_processes(scenario, world)
        done = env.event()
        env.process(_quiescence_monitor(env, world, done))
        deadline_s = world.workload_end_s + spec.quiescence_max_s
        _run_until(env, done, deadline_s, progress, scenario.name)
        reached = bool(done.triggered)
        world.emit(
            {
                "t": float(env.now),
                "kind": ev.QUIESCENCE,
                "reached": reached,
                "workload_end_t": world.workload_end_s,
                "deadline_t": deadline_s,
            }
        )
        recorder.close()
    except BaseException:
        recorder.abort()
        raise
    metrics = world.metrics.result()
    metrics.update(
        entitlement_metrics(scenario, world.metrics.role_day, world.metrics.integration_day)
    )
    metrics["sim_end_s"] = float(env.now)
    metrics["quiescent"] = 1.0 if reached else 0.0
    result = RunResult(
        scenario=spec.name,
        design=scenario.design.name,
        seed=seed,
        trace_sha256=recorder.sha256,
        metrics=metrics,
        quiescent=reached,
        end_s=float(env.now),
        sim_events=sim_event_count(env),
        event_count=recorder.count,
        events=recorder.events,
        history_path=history_path,
        overwrites_by=dict(world.metrics.overwrites_by),
    )
    if _FREE_WORLDS:
        release_world(world)
    return result


#: Whether a finished run's world is freed before :func:`run_scenario` returns (see
#: :func:`release_world`); off only in a process that ends after its run
#: (:func:`leave_worlds_to_exit`).
_FREE_WORLDS = True


def leave_worlds_to_exit() -> None:
    """In this process, leave each finished run's world to the end of the process.

    For a worker that runs one design and exits (``p2c compare``'s, with the cyclic
    collector off for its life): freeing a run's objects one by one took 0.39-0.44 s of
    a 1,000-user week (11.5 s under p2c-2017, 18.8 s under naive-bidirectional,
    2026-12-02), work the operating system does at once when the worker leaves with
    ``os._exit``. The peak memory does not change when the run was checked while it was
    recorded (``RunCheck``): the checker's state then already lives beside the world's.
    """
    global _FREE_WORLDS
    _FREE_WORLDS = False


def release_world(world: World) -> None:
    """Break a finished run's reference cycles, so reference counting frees it now.

    The integration and its concurrency rule point at each other, the courier and the
    world too, and SimPy's queue still holds the suspended user processes, whose frames
    hold the world: without this, the whole run (rows, writes, the write log) would wait
    for the cyclic collector, which :func:`cycle_collector_paused` keeps off. Measured at
    1,000 users x 2 days: freeing this way took 0.26 s against 1.3 s for a collection.
    Only the world's own containers are emptied; the result was built before.
    """
    world.env._queue.clear()  # noqa: SLF001 - SimPy keeps no public way to drop its queue
    vars(world.integration).clear()
    vars(world).clear()


def _load_initial_data(scenario: Scenario, world: World, courier: Courier) -> None:
    """Seed the scenario's initial data; with ``initial_sync: timed`` its changes travel
    through the courier like any other, else the initial load copies them at t=0."""
    spec = scenario.spec
    integ = world.integration
    data = spec.initial_data
    timed = spec.initial_sync == "timed"
    if timed:  # the migration's changes travel like any other
        integ.on_send = courier.send
    seed_initial_data(
        integ,
        world.streams.get("initial-data"),
        accounts=data.accounts,
        contacts_per_account=data.contacts_per_account,
        products=data.products,
        bundles=data.bundles,
        bundle_lines_per_bundle=data.bundle_lines_per_bundle,
    )
    if data.custom:
        editable = scenario.design.editable
        seed_custom_data(
            integ,
            world.streams,
            data.custom,
            lambda entity: next(iter(editable.get(entity, {})), scenario.design.systems[0]),
        )
    if not timed:
        integ.initial_load(0.0)


def _start_processes(scenario: Scenario, world: World) -> None:
    """Start the faults, conflict resolver, users, scripted actions and batch schedules,
    in that order (the order SimPy sees them is part of the trace)."""
    spec = scenario.spec
    env = world.env
    integ = world.integration
    faults = list(spec.faults)
    if spec.swarm is not None:
        faults += swarm_faults(
            spec.swarm, integ.design, world.workload_end_s, world.streams.get("faults")
        )
    for index, fault in enumerate(faults):
        if fault.kind != "clock_skew":
            env.process(fault_process(env, world, fault, index))
    integ.on_conflict = lambda conflict: env.process(resolver_process(env, world, conflict))
    for user in build_users(world):
        env.process(user_process(env, world, user))
    for i, action in enumerate(spec.scripted):
        actor = action.actor or f"{action.role}-script-{i + 1}"
        env.process(scripted_process(env, world, action, actor))
    for map_name in integ.maps:
        env.process(batch_schedule(env, world, map_name))


def sim_event_count(env) -> int:
    """How many events SimPy scheduled in ``env`` (its insertion counter)."""
    # simpy.Environment numbers every scheduled event with itertools.count in _eid;
    # reading it advances it by one, which no later event can observe after the run.
    return next(env._eid)


def _run_until(env, done, deadline_s: float, progress: bool, label: str) -> None:
    """Run until quiescence or the deadline, in slices so a progress bar can move."""
    if not progress:
        env.run(until=_first_of(env, done, deadline_s))
        return
    # Imported only for a bar: most runs (tests, CI, pipes) show none, and tqdm costs about
    # as much to import as the rest of starting p2c (issue 17: p2c starts fast).
    from tqdm import tqdm

    day_s = 86_400.0
    with tqdm(
        total=round(deadline_s / day_s, 2),
        unit="sim-day",
        desc=label,
        delay=2.0,
        leave=False,
        bar_format="{desc}: {n:.2f}/{total:.2f} sim-days [{elapsed}<{remaining}]",
    ) as bar:
        while not done.triggered and env.now < deadline_s:
            step = min(deadline_s, env.now + day_s / 8)
            env.run(until=_first_of(env, done, step))
            bar.n = round(env.now / day_s, 2)
            bar.refresh()


def _first_of(env, done, until_s: float):
    """An event that fires at ``until_s`` or when ``done`` fires, whichever is first."""
    if done.triggered:
        return done
    timer = env.timeout(max(0.0, until_s - env.now))
    return env.any_of([done, timer])


# -------------------------------------------------------------- run size

#: Simulated user-days and initial records one run may have without ``--yes``. Measured
#: (README, "Performance"): a 1,000-user working day takes about 4 s, so 20,000
#: user-days (1,000 users for a four-week month) is about 80 s and a few hundred MB;
#: ``headcount: 1000000`` for a week (5,000,000 user-days) would be hours and gigabytes.
#: The schema's maxima stay wide (an organisation is what it is); the estimate asks.
MAX_USER_DAYS = 20_000
MAX_INITIAL_RECORDS = 2_000_000
SECONDS_PER_USER_DAY = 0.004  # measured on the 2-core reference machine
SECONDS_PER_RECORD = 0.0001


def run_size(scenario: Scenario) -> tuple[float, int, float]:
    """(user-days, initial records, estimated seconds) of one run of ``scenario``."""
    spec = scenario.spec
    users = sum(role.headcount for role in spec.roles.values())
    user_days = users * spec.duration_days
    data = spec.initial_data
    records = int(
        data.accounts * (1 + data.contacts_per_account)
        + data.products
        + data.bundles * (1 + data.bundle_lines_per_bundle)
    )
    seconds = user_days * SECONDS_PER_USER_DAY + records * SECONDS_PER_RECORD
    return user_days, records, seconds


def check_run_size(scenario: Scenario, *, yes: bool = False) -> None:
    """Refuse (exit 2) a run far beyond what this tool runs in minutes, unless ``yes``."""
    user_days, records, seconds = run_size(scenario)
    if yes or (user_days <= MAX_USER_DAYS and records <= MAX_INITIAL_RECORDS):
        return
    raise InputError(
        f"{scenario.path or scenario.name}: a large run: {user_days:,.0f} user-days "
        f"(limit {MAX_USER_DAYS:,}) and {records:,} initial records (limit "
        f"{MAX_INITIAL_RECORDS:,}), estimated {seconds / 60:,.0f} min or more and memory to "
        "match; lower headcount, duration_days or initial_data, or run it anyway with --yes"
    )


# -------------------------------------------------------------- run folders


def code_commit() -> str | None:
    """The git commit of the source checkout this code runs from; None when installed
    from a wheel (site-packages may sit inside some other repository's work tree)."""
    root = Path(__file__).resolve().parents[2]
    if not (root / "pyproject.toml").is_file() or not (root / ".git").exists():
        return None
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in (
        "p2c-testbed",
        "simpy",
        "numpy",
        "networkx",
        "pydantic",
        "pyyaml",
        "hypothesis",
        "matplotlib",
    ):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def manifest(scenario: Scenario, result: RunResult) -> dict[str, Any]:
    """Everything needed to reproduce the run, and the command that does it."""
    source = str(scenario.path) if scenario.path else None
    return {
        "scenario": scenario.name,
        "scenario_file": source,
        "scenario_sha256": scenario.sha256(),
        "design": scenario.design.name,
        "seed": result.seed,
        "trace_sha256": result.trace_sha256,
        "p2c_version": __version__,
        "commit": code_commit(),
        "packages": package_versions(),
        "reproduce": f"p2c run {source} --seed {result.seed}" if source else None,
    }


def run_to_folder(
    scenario: Scenario,
    out_dir: Path,
    seed: int | None = None,
    progress: bool = False,
    finish: Callable[[RunResult], dict[str, Any]] | None = None,
    keep_events: bool = True,
    watch: Callable[[list[dict[str, Any]]], None] | None = None,
) -> RunResult:
    """Run and write the run folder: scenario.resolved.yaml, manifest.json,
    history.jsonl.gz, metrics.json, plus the JSON files ``finish(result)`` returns (the
    verdict), all or nothing. ``keep_events=False`` keeps no event in memory (a long run
    of a large organisation): ``finish`` then reads the history back from the staged
    ``result.history_path``, unless a ``watch`` (see :func:`run_scenario`) has read the
    events as they were recorded (``RunCheck.feed``, with ``finish=RunCheck.verdict_files``).

    ``out_dir`` is checked before the simulation starts (:func:`check_run_folder`); an
    earlier run folder there is replaced atomically (``result.replaced`` says so).
    """
    out_dir = Path(out_dir)
    clean_stale_staging(out_dir)  # first: a folder half-deleted by a dead run is mended
    check_run_folder(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = out_dir.parent / f".{out_dir.name}.staging-{_owner_tag()}-{secrets.token_hex(4)}"
    staging.mkdir(mode=0o755)
    try:
        with cycle_collector_paused():  # the checker too: it holds a run's worth of state
            result, finished = _run_and_finish(
                scenario, seed, progress, finish, keep_events, staging, watch
            )
        write_json(staging / "metrics.json", result.metrics)
        with open(staging / "scenario.resolved.yaml", "w", encoding="utf-8") as handle:
            yaml.safe_dump(scenario.resolved(), handle, sort_keys=False, allow_unicode=True)
        for name, content in finished.items():
            write_json(staging / name, content)
        result.replaced = _swap_in(staging, out_dir)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if exc.filename is None:  # a write deep inside (gzip, json): name the folder
            raise OSError(
                exc.errno, f"{exc.strerror or exc} (writing the run folder)", str(out_dir)
            ) from None
        raise
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    result.history_path = out_dir / "history.jsonl.gz"
    return result


def _run_and_finish(
    scenario: Scenario,
    seed: int | None,
    progress: bool,
    finish: Callable[[RunResult], dict[str, Any]] | None,
    keep_events: bool,
    staging: Path,
    watch: Callable[[list[dict[str, Any]]], None] | None = None,
) -> tuple[RunResult, dict[str, Any]]:
    """The run into ``staging``, its manifest, then ``finish(result)`` (the verdict)."""
    result = run_scenario(
        scenario,
        seed,
        keep_events=keep_events,
        history_path=staging / "history.jsonl.gz",
        progress=progress,
        watch=watch,
    )
    write_json(staging / "manifest.json", manifest(scenario, result))
    # The checker's files first: judging adds its loss counts to the run's metrics.
    return result, finish(result) if finish else {}


def check_run_folder(out_dir: Path) -> bool:
    """Refuse (exit 2) an ``--out`` that a run may not write; True when it holds an
    earlier run folder that the run will replace.

    Checked before any simulation starts, so a user learns of a wrong ``--out`` at once
    and a folder that is not a run folder (no ``manifest.json``) is never emptied.
    """
    out_dir = Path(out_dir)
    for parent in reversed(out_dir.parents):
        if parent.exists() and not parent.is_dir():
            raise InputError(f"{out_dir}: cannot be a run folder: {parent} is a file, not a folder")
    if not out_dir.exists():
        return False
    if not out_dir.is_dir():
        raise InputError(f"{out_dir}: exists and is not a folder; --out names a run folder")
    if (out_dir / "manifest.json").is_file():
        return True
    if any(out_dir.iterdir()):
        raise InputError(
            f"{out_dir}: not a run folder (no manifest.json) and not empty; "
            "refusing to replace what is in it: choose another --out or move "
            "its contents away"
        )
    return False


def _owner_tag() -> str:
    """``<host>-<pid>``: whose staging folder this is, so a later run can tell it is stale."""
    host = "".join(c if c.isalnum() else "_" for c in socket.gethostname())[:40] or "host"
    return f"{host}-{os.getpid()}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def clean_stale_staging(out_dir: Path) -> list[Path]:
    """Remove the hidden staging folders beside ``out_dir`` left by runs that died.

    A staging folder is stale when the process named in it (on this host) is gone. An
    earlier run folder caught aside (``.<name>.old-...``: the run died between the two
    renames of the swap) is put back when ``out_dir`` is missing, else deleted. Returns
    what was removed or restored.
    """
    out_dir = Path(out_dir)
    parent = out_dir.parent
    if not parent.is_dir():
        return []
    host = _owner_tag().rsplit("-", 1)[0]
    touched = []
    for kind in ("old", "staging"):  # a folder set aside is restored before staging goes
        prefix = f".{out_dir.name}.{kind}-{host}-"
        for path in sorted(parent.glob(f".{glob_escape(out_dir.name)}.{kind}-*")):
            rest = path.name[len(prefix) :] if path.name.startswith(prefix) else ""
            pid_text = rest.split("-", 1)[0]
            if not pid_text.isdigit() or _pid_alive(int(pid_text)):
                continue  # another host's, or a run still going
            try:
                if kind == "old" and not out_dir.exists():
                    os.rename(path, out_dir)
                else:
                    shutil.rmtree(path)
            except OSError:
                continue  # best effort: never fail a run over someone's leftovers
            touched.append(path)
    touched += _clean_legacy_staging(out_dir)
    return touched


#: What a run folder holds (and so what an earlier version's staging folder held).
RUN_FOLDER_FILES = frozenset(
    {
        "history.jsonl.gz",
        "history.jsonl.gz.partial",
        "manifest.json",
        "metrics.json",
        "scenario.resolved.yaml",
        "verdict.json",
    }
)
#: An earlier version's staging folder untouched this long is a dead run's (a live run
#: writes its history continuously and its other files within seconds of each other).
LEGACY_STALE_S = 600


def _clean_legacy_staging(out_dir: Path) -> list[Path]:
    """Staging folders of the runner before 280d811: ``.<name>.XXXXXXXX`` (tempfile's 8
    characters, no owner in the name). Only folders that are recognisably a dead run's
    are touched: the exact name pattern, nothing inside but run-folder files, nothing
    modified for ``LEGACY_STALE_S`` and (where ``/proc`` exists) no file of it open in
    any process. A complete one (with ``manifest.json``: the run finished, but was killed
    while the earlier folder was being deleted) is put in place when ``out_dir`` is
    missing or is what is left of a half-deleted run folder; an incomplete one is deleted;
    a complete one beside a complete run folder is left alone (a finished run is never
    discarded by guesswork).
    """
    parent = out_dir.parent
    pattern = re.compile(rf"\.{re.escape(out_dir.name)}\.[a-z0-9_]{{8}}")
    candidates = [
        p
        for p in sorted(parent.glob(f".{glob_escape(out_dir.name)}.*"))
        if pattern.fullmatch(p.name)
    ]
    if not candidates:
        return []
    try:  # the file system's clock, the one that stamped those folders
        with tempfile.TemporaryFile(dir=parent, prefix=f".{out_dir.name}.clock-") as probe:
            now = os.fstat(probe.fileno()).st_mtime
    except OSError:
        return []
    touched = []
    for path in candidates:
        try:
            if not _dead_run_staging(path, now):
                continue
            if not (path / "manifest.json").is_file():
                shutil.rmtree(path)
            elif not out_dir.exists():
                os.rename(path, out_dir)
            elif _half_deleted_run_folder(out_dir):
                shutil.rmtree(out_dir)
                os.rename(path, out_dir)
            else:
                continue
        except OSError:
            continue  # best effort, as above
        touched.append(path)
    return touched


def _dead_run_staging(path: Path, now: float) -> bool:
    if path.is_symlink() or not path.is_dir():
        return False
    entries = list(path.iterdir())
    if any(e.name not in RUN_FOLDER_FILES or e.is_symlink() or not e.is_file() for e in entries):
        return False
    newest = max(e.stat().st_mtime for e in [path, *entries])
    if now - newest < LEGACY_STALE_S:
        return False
    return not _open_in_any_process(path)


def _half_deleted_run_folder(out_dir: Path) -> bool:
    """``out_dir`` without its manifest and holding nothing but run-folder files: what
    the earlier runner's ``rmtree`` left when it was killed."""
    if out_dir.is_symlink() or not out_dir.is_dir() or (out_dir / "manifest.json").exists():
        return False
    return all(
        e.name in RUN_FOLDER_FILES and e.is_file() and not e.is_symlink() for e in out_dir.iterdir()
    )


def _open_in_any_process(folder: Path) -> bool:
    """True when some process has a file under ``folder`` open (Linux /proc; elsewhere
    False, the age test alone deciding)."""
    proc = Path("/proc")
    if not (proc / "self" / "fd").is_dir():
        return False
    inside = str(folder.resolve()) + os.sep
    for pid in proc.iterdir():
        if not pid.name.isdigit():
            continue
        try:
            for fd in (pid / "fd").iterdir():
                if os.readlink(fd).startswith(inside):
                    return True
        except OSError:
            continue  # gone, or not ours to read
    return False


def glob_escape(name: str) -> str:
    """``name`` with glob metacharacters quoted."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)


def _swap_in(staging: Path, out_dir: Path) -> bool:
    """Rename the complete ``staging`` folder to ``out_dir``; an earlier run folder there
    is renamed aside first and deleted last. True when an earlier folder was replaced.

    SIGINT and SIGTERM are held back for the two renames, so a signal cannot land between
    them; only SIGKILL can, and then the next run puts the earlier folder back.
    """
    blocked = _block_signals()
    try:
        if not check_run_folder(out_dir):
            os.rename(staging, out_dir)
            return False
        aside = out_dir.parent / f".{out_dir.name}.old-{_owner_tag()}-{secrets.token_hex(4)}"
        os.rename(out_dir, aside)
        try:
            os.rename(staging, out_dir)
        except BaseException:
            os.rename(aside, out_dir)  # put the earlier run folder back
            raise
    finally:
        _unblock_signals(blocked)
    shutil.rmtree(aside, ignore_errors=True)
    return True


_HELD = {signal.SIGINT, signal.SIGTERM}


def _block_signals() -> bool:
    if not hasattr(signal, "pthread_sigmask"):  # pragma: no cover - Windows
        return False
    signal.pthread_sigmask(signal.SIG_BLOCK, _HELD)
    return True


def _unblock_signals(blocked: bool) -> None:
    if blocked:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _HELD)


def write_json(path: Path, data: Any) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, sort_keys=True, default=str)
        handle.write("\n")
