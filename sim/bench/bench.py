"""Benchmarks: ratios measured in one process, never absolute times in a test.

``p2c bench`` answers DESIGN.md's performance targets:

- **model overhead**: the model's SimPy events per second divided by a bare SimPy
  loop's, both in this process on this machine. Target: at least 0.33 (model overhead
  at most 3x raw SimPy). The bare loop is many processes each yielding timeouts, the
  cheapest thing SimPy can do, for the same number of events as the model run;
- **scale**: one simulated business day of a ``--users``-strong organisation (the seed
  organisation scaled up), seconds of wall time (target: under a minute for 1,000 users);
- **checker**: CPU seconds to check a generated history of 100,000 and 1,000,000 writes
  and their ratio (target: under 10 s, ratio at most 12), beside the *floor*, the least
  any one-pass checker does on the same history on this machine
  (:func:`sim.bench.synthetic.bench_checker` says what is measured and how).
"""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

import simpy

from sim import catalogue
from sim.engine.runner import run_scenario, sim_event_count
from sim.scenario.spec import Scenario, scenario_from_data
from sim.scenario.yamlio import load_yaml

SEED_SCENARIO = catalogue.seed_scenario_file()


def bare_simpy_rate(events: int, processes: int = 1000) -> tuple[float, int]:
    """Events per second of a bare SimPy loop scheduling about ``events`` timeouts."""
    env = simpy.Environment()
    per_process = max(1, events // processes)

    def ticker(env):
        for _ in range(per_process):
            yield env.timeout(1.0)

    for _ in range(processes):
        env.process(ticker(env))
    started = time.perf_counter()
    env.run()
    elapsed = time.perf_counter() - started
    count = sim_event_count(env)
    return count / elapsed, count


def scaled_scenario(users: int, days: float, source: Path = SEED_SCENARIO) -> Scenario:
    """The seed organisation with every headcount (and its data) scaled to ``users``."""
    data, linemap = load_yaml(source)
    data = copy.deepcopy(data)
    total = sum(role["headcount"] for role in data["roles"].values())
    factor = users / total
    for role in data["roles"].values():
        role["headcount"] = max(1, round(role["headcount"] * factor))
    initial = data.setdefault("initial_data", {})
    for key in ("accounts", "products", "bundles"):
        if key in initial:
            initial[key] = max(1, round(initial[key] * factor))
    data["duration_days"] = days
    data["scripted"] = []
    data["name"] = f"{data['name']}-x{users}users"
    return scenario_from_data(data, linemap, source.parent, source)


def measure_model(scenario: Scenario, seed: int | None = None) -> dict[str, Any]:
    started = time.perf_counter()
    result = run_scenario(scenario, seed, keep_events=False)
    elapsed = time.perf_counter() - started
    return {"wall_s": elapsed, "sim_events": result.sim_events,
            "history_events": result.event_count, "rate": result.sim_events / elapsed,
            "trace_sha256": result.trace_sha256}


def run_bench(users: int = 1000, days: float = 1.0, checker: bool = True,
              checker_sizes: tuple[int, ...] = (100_000, 1_000_000),
              all_designs: bool = True) -> dict[str, Any]:
    """All benchmark figures as a dict (the CLI prints them)."""
    figures: dict[str, Any] = {"users": users, "days": days}
    scenario = scaled_scenario(users, days)
    model = measure_model(scenario)
    raw_rate, raw_events = bare_simpy_rate(model["sim_events"])
    figures["model"] = model
    figures["raw_simpy"] = {"rate": raw_rate, "sim_events": raw_events}
    figures["model_over_raw"] = model["rate"] / raw_rate
    figures["designs"] = {scenario.design.name: model["wall_s"]}
    if all_designs:
        from sim.study.compare import catalogue_names, design_variant

        for name in catalogue_names():
            if name in figures["designs"]:
                continue
            variant = scenario.with_design(design_variant(scenario, name).design)
            figures["designs"][name] = measure_model(variant)["wall_s"]
    if checker:
        try:
            from sim.bench.synthetic import bench_checker
        except ImportError:
            figures["checker"] = "not available"
        else:
            figures["checker"] = bench_checker(sizes=checker_sizes)
    return figures


def bench_lines(figures: dict[str, Any]) -> list[str]:
    model, raw = figures["model"], figures["raw_simpy"]
    ratio = figures["model_over_raw"]
    lines = [
        f"p2c bench: seed organisation scaled to {figures['users']:,} users, "
        f"{figures['days']:g} simulated day(s)",
        f"  model      {model['rate']:>12,.0f} SimPy events/s  ({model['sim_events']:,} events, "
        f"{model['history_events']:,} history events, {model['wall_s']:.2f} s)",
        f"  bare SimPy {raw['rate']:>12,.0f} SimPy events/s  ({raw['sim_events']:,} events)",
        f"  model/raw  {ratio:.3f}  (target >= 0.33: {'met' if ratio >= 0.33 else 'NOT met'})",
    ]
    for design, seconds in figures["designs"].items():
        verdict = "met" if seconds < 60 else "NOT met"
        lines.append(f"  one day, {figures['users']:,} users, {design}: {seconds:.2f} s "
                     f"(target < 60 s: {verdict})")
    checker = figures.get("checker")
    if isinstance(checker, dict):
        lines.extend(checker_lines(checker))
    elif checker:
        lines.append(f"  checker: {checker}")
    return lines


def checker_lines(figures: dict[str, Any]) -> list[str]:
    """The checker benchmark in words: CPU seconds per size beside the floor, the targets
    for 1,000,000 writes and the ratio (the raw figures are in ``--json``)."""
    sizes = sorted(int(key.rsplit("_", 1)[1]) for key in figures if key.startswith("seconds_"))
    lines = []
    for n in sizes:
        seconds = figures[f"seconds_{n}"]
        line = (f"  checker {n:>9,} writes: {seconds:6.2f} s CPU "
                f"({figures[f'us_per_event_{n}']:.2f} us/event over "
                f"{figures[f'events_{n}']:,} events; floor {figures[f'floor_seconds_{n}']:.2f} s, "
                f"checker/floor {figures[f'over_floor_{n}']:.2f})")
        if n == 1_000_000:
            line += f"  (target < 10 s: {'met' if seconds < 10 else 'NOT met'})"
        lines.append(line)
    if len(sizes) > 1:
        ratio, size_ratio = figures["ratio"], figures["size_ratio"]
        limit = 1.2 * size_ratio
        lines.append(
            f"  checker ratio {sizes[-1]:,}/{sizes[0]:,}: {ratio:.2f} (target <= {limit:g}: "
            f"{'met' if ratio <= limit else 'NOT met'}); the floor's own ratio: "
            f"{figures['floor_ratio']:.2f}")
    return lines
