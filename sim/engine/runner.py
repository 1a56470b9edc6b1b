"""Run a scenario: seed, initial load, a working week, the quiescence phase, the evidence.

A run has two phases (STYLE.md 7). First the organisation works: users act in their
working hours, scripted actions fire, maps run on their schedules. At the end of
``duration_days`` user actions stop, and the **quiescence phase** begins: forms still
open are saved, maps keep running until every map has drained (nothing running, nothing
unread), bounded by ``quiescence_max_s``. The final ``quiescence`` event says whether it
was reached; only then can convergence be judged.

:func:`run_scenario` returns a :class:`RunResult`; :func:`write_run_folder` writes the
run folder atomically (a temporary folder renamed at the end, so an interrupted run
never leaves half a folder).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from sim import __version__
from sim.engine.faults import fault_process, swarm_faults
from sim.engine.history import HistoryRecorder
from sim.engine.licences import entitlement_metrics
from sim.engine.transport import Courier, batch_schedule
from sim.engine.workload import (
    build_users,
    resolver_process,
    scripted_process,
    seed_initial_data,
    user_process,
)
from sim.engine.world import World
from sim.scenario.spec import Scenario

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


def run_scenario(
    scenario: Scenario,
    seed: int | None = None,
    *,
    keep_events: bool = True,
    history_path: Path | None = None,
    progress: bool = False,
) -> RunResult:
    """Run ``scenario`` once with ``seed`` (default: the scenario's own)."""
    spec = scenario.spec
    seed = spec.seed if seed is None else int(seed)
    recorder = HistoryRecorder(keep=keep_events, path=history_path)
    try:
        world = World(scenario, seed, recorder)
        env = world.env
        integ = world.integration
        world.emit({
            "t": 0.0, "kind": "run_start", "scenario": spec.name, "seed": seed,
            "design": scenario.design.name,
            "contract": integ.contract(spec.objectives.staleness_p99_s),
        })
        data = spec.initial_data
        seed_initial_data(integ, world.streams.get("initial-data"),
                          accounts=data.accounts, contacts_per_account=data.contacts_per_account,
                          products=data.products, bundles=data.bundles,
                          bundle_lines_per_bundle=data.bundle_lines_per_bundle)
        integ.initial_load(0.0)
        courier = Courier(env, world)
        integ.on_send = courier.send
        world.courier_pause, world.courier_resume = courier.pause, courier.resume
        faults = list(spec.faults)
        if spec.swarm is not None:
            faults += swarm_faults(spec.swarm, integ.design, world.workload_end_s,
                                   world.streams.get("faults"))
        for index, fault in enumerate(faults):
            if fault.kind != "clock_skew":
                env.process(fault_process(env, world, fault, index))
        integ.on_conflict = lambda conflict: env.process(
            resolver_process(env, world, conflict))
        for user in build_users(world):
            env.process(user_process(env, world, user))
        for i, action in enumerate(spec.scripted):
            actor = action.actor or f"{action.role}-script-{i + 1}"
            env.process(scripted_process(env, world, action, actor))
        for map_name in integ.maps:
            env.process(batch_schedule(env, world, map_name))
        done = env.event()
        env.process(_quiescence_monitor(env, world, done))
        deadline_s = world.workload_end_s + spec.quiescence_max_s
        _run_until(env, done, deadline_s, progress, scenario.name)
        reached = bool(done.triggered)
        world.emit({"t": float(env.now), "kind": "quiescence", "reached": reached,
                    "workload_end_t": world.workload_end_s, "deadline_t": deadline_s})
        recorder.close()
    except BaseException:
        recorder.abort()
        raise
    metrics = world.metrics.result()
    metrics.update(entitlement_metrics(scenario, world.metrics.role_day,
                                       world.metrics.integration_day))
    metrics["sim_end_s"] = float(env.now)
    metrics["quiescent"] = 1.0 if reached else 0.0
    return RunResult(
        scenario=spec.name, design=scenario.design.name, seed=seed,
        trace_sha256=recorder.sha256, metrics=metrics, quiescent=reached, end_s=float(env.now),
        sim_events=sim_event_count(env), event_count=recorder.count, events=recorder.events,
        history_path=history_path, overwrites_by=dict(world.metrics.overwrites_by),
    )


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
    from tqdm import tqdm

    day_s = 86_400.0
    with tqdm(total=round(deadline_s / day_s, 2), unit="sim-day", desc=label, delay=2.0,
              leave=False, bar_format="{desc}: {n:.2f}/{total:.2f} sim-days "
                                      "[{elapsed}<{remaining}]") as bar:
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


# -------------------------------------------------------------- run folders


def code_commit() -> str | None:
    """The git commit of the source checkout this code runs from; None when installed
    from a wheel (site-packages may sit inside some other repository's work tree)."""
    root = Path(__file__).resolve().parents[2]
    if not (root / "pyproject.toml").is_file() or not (root / ".git").exists():
        return None
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in ("p2c-testbed", "simpy", "numpy", "networkx", "pydantic", "pyyaml",
                    "hypothesis", "matplotlib"):
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
    scenario: Scenario, out_dir: Path, seed: int | None = None, progress: bool = False,
    finish: Callable[[RunResult], dict[str, Any]] | None = None,
) -> RunResult:
    """Run and write the run folder: scenario.resolved.yaml, manifest.json,
    history.jsonl.gz, metrics.json, plus the JSON files ``finish(result)`` returns (the
    verdict), all or nothing."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; a run folder is for sharing
    try:
        result = run_scenario(scenario, seed, keep_events=True,
                              history_path=staging / "history.jsonl.gz", progress=progress)
        write_json(staging / "manifest.json", manifest(scenario, result))
        write_json(staging / "metrics.json", result.metrics)
        with open(staging / "scenario.resolved.yaml", "w", encoding="utf-8") as handle:
            yaml.safe_dump(scenario.resolved(), handle, sort_keys=False, allow_unicode=True)
        for name, content in (finish(result) if finish else {}).items():
            write_json(staging / name, content)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    result.history_path = out_dir / "history.jsonl.gz"
    return result


def write_json(path: Path, data: Any) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, sort_keys=True, default=str)
        handle.write("\n")
