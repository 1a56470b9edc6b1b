"""Benchmarks: ratios measured in one process, never absolute times in a test.

``p2c bench`` answers the performance targets (issue 17), each as a figure and met / not
met:

1. **model over its recording floor** (``model_over_recording_floor``, at most 3): the
   run's CPU time per history event over the *recording floor*'s, same events, same
   process. The floor is the least any simulator of this history must do per event:
   the run's own events, already built as Python objects, encoded as the history
   encodes them, hashed and compressed in blocks as the history writes them (a
   :class:`~sim.history.HistoryRecorder` writing a file, exactly the run's own
   recording path). It is measured by reading the run's history back a block at a time
   (decoding is not timed) and recording each block again; the floor's trace hash must
   equal the run's, or the bench refuses to report the ratio;
2. **every design in under a minute** (``week_1000_all_designs_s``, under 60 s): the
   seed organisation scaled to ``--users`` for ``--days`` under every catalogue design,
   exactly what ``p2c compare`` does (run, history written, checked), the designs run in
   parallel on the available cores with the same seed (common random numbers); the
   wall time of the whole and each design's time and peak memory (under 1 GB);
3. **the checker** (``checker_1m_cpu_s`` under 10 s, ``checker_over_floor`` at most 1.5,
   the 1M/100k ratio at most 12): :func:`sim.bench.synthetic.bench_checker`, which says
   what is measured and how; the best of ``CHECKER_PASSES`` (3) passes per size counts,
   and the passes' spread is printed beside it.

Full scale is 1,000 users for a working week (5 days) and the checker on 100,000 and
1,000,000 writes. ``--users`` and ``--days`` scale every part (the checker's sizes in
proportion to users x days); ``--quick`` is a tenth of the users for one day. A figure
measured at another scale is reported under a neutral key (``all_designs_s``,
``checker_cpu_s``) and its target is "not judged": a target is a statement about full
scale. A timing too short to resolve is repeated until it is not, or reported as too
short to measure (``None``), never as 0.00 s.
"""

from __future__ import annotations

import copy
import functools
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sim import catalogue
from sim.bench.memory import resident_mb
from sim.bench.synthetic import bench_checker, bench_verify
from sim.engine.runner import run_scenario
from sim.history import BLOCK_EVENTS, HistoryRecorder, read_history
from sim.scenario.spec import Scenario, scenario_from_data
from sim.scenario.variants import catalogue_names
from sim.scenario.yamlio import load_yaml
from sim.study.compare import DesignTiming, design_done_words, map_designs, run_design
from sim.study.executors import available_cores

SEED_SCENARIO = catalogue.seed_scenario_file()

FULL_USERS = 1000
FULL_DAYS = 5.0
FULL_CHECKER_SIZES = (100_000, 1_000_000)

#: (key, limit, sense): ``"<="`` the figure must be at most the limit, ``"<"`` under it.
TARGETS = {
    "model_over_recording_floor": (3.0, "<="),
    "week_1000_all_designs_s": (60.0, "<"),
    "peak_rss_mb": (1024.0, "<"),
    "checker_1m_cpu_s": (10.0, "<"),
    "checker_over_floor": (1.5, "<="),
    "checker_ratio": (12.0, "<="),
    "verify_1m_cpu_s": (10.0, "<"),
}

#: Passes per checker size; the best of each kind counts and the spread is printed. One
#: pass moved ``checker_over_floor`` by a quarter on this 2-core machine when other work
#: ran beside it (measured 2026-12-01 with two helpers' runs beside the bench): the best
#: of three is what a change can be judged by.
CHECKER_PASSES = 3

#: Passes of ``p2c verify`` on the largest file; the best counts and the spread is
#: printed. Three single passes of the same commit gave 24.3, 24.9 and 31.7 s at
#: 1,000,000 writes (2026-12-02), so one pass is not a figure to judge a change by.
VERIFY_PASSES = 2

#: The least CPU time a floor measurement must take before it is believed.
MIN_MEASURED_S = 0.5


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


def bench_scale(users: int | None, days: float | None, quick: bool) -> dict[str, Any]:
    """Users, days and checker sizes for the options given; ``full`` when at full scale."""
    users = users if users is not None else (FULL_USERS // 10 if quick else FULL_USERS)
    days = days if days is not None else (1.0 if quick else FULL_DAYS)
    largest = FULL_CHECKER_SIZES[1] * users * days / (FULL_USERS * FULL_DAYS)
    largest = max(2_000, int(round(largest, -3)))
    sizes = (largest // 10, largest)
    full = users == FULL_USERS and days == FULL_DAYS
    return {"users": users, "days": days, "checker_sizes": sizes, "full": full}


def _history_blocks(path: Path, size: int) -> Iterator[list[dict[str, Any]]]:
    block: list[dict[str, Any]] = []
    for event in read_history(path):
        block.append(event)
        if len(block) >= size:
            yield block
            block = []
    if block:
        yield block


def recording_floor(history: Path, folder: Path) -> dict[str, Any]:
    """CPU seconds to record the events of ``history`` again, as the run recorded them.

    Events are decoded a block at a time (not timed) and recorded through a
    :class:`HistoryRecorder` writing ``folder/floor.jsonl.gz`` (timed). Repeated until
    at least :data:`MIN_MEASURED_S` of CPU has been measured; the figure is the mean.
    """
    total = 0.0
    passes = 0
    digest = ""
    while total < MIN_MEASURED_S and passes < 50:
        recorder = HistoryRecorder(keep=False, path=folder / "floor.jsonl.gz")
        for block in _history_blocks(history, BLOCK_EVENTS):
            started = time.process_time()
            record = recorder.record
            for event in block:
                record(event)
            total += time.process_time() - started
        started = time.process_time()
        recorder.close()
        digest = recorder.sha256
        total += time.process_time() - started
        passes += 1
    return {
        "cpu_s": total / passes,
        "passes": passes,
        "events": recorder.count,
        "trace_sha256": digest,
    }


def measure_model(scenario: Scenario, seed: int | None = None) -> dict[str, Any]:
    """One run as ``p2c run`` records it (history written), then its recording floor."""
    with tempfile.TemporaryDirectory(prefix="p2c-bench-") as tmp:
        folder = Path(tmp)
        history = folder / "history.jsonl.gz"
        wall, cpu = time.perf_counter(), time.process_time()
        result = run_scenario(scenario, seed, keep_events=False, history_path=history)
        cpu_s, wall_s = time.process_time() - cpu, time.perf_counter() - wall
        floor = recording_floor(history, folder)
    same = floor["trace_sha256"] == result.trace_sha256 and floor["events"] == result.event_count
    ratio = cpu_s / floor["cpu_s"] if same and floor["cpu_s"] > 0 else None
    return {
        "design": scenario.design.name,
        "cpu_s": round(cpu_s, 3),
        "wall_s": round(wall_s, 3),
        "history_events": result.event_count,
        "sim_events": result.sim_events,
        "us_per_event": round(1e6 * cpu_s / result.event_count, 3),
        "floor_cpu_s": round(floor["cpu_s"], 3),
        "floor_passes": floor["passes"],
        "floor_us_per_event": round(1e6 * floor["cpu_s"] / result.event_count, 3),
        "same_events": same,
        "ratio": None if ratio is None else round(ratio, 2),
        "trace_sha256": result.trace_sha256,
    }


def _bench_design(scenario: Scenario, seed: int, name: str) -> dict[str, Any]:
    """One design as ``p2c compare`` runs it (run folder written in a temporary folder,
    history checked), in a worker process."""
    with tempfile.TemporaryDirectory(prefix="p2c-bench-") as tmp:
        result, _ = run_design(scenario, seed, Path(tmp), True, name)
    return {
        "history_events": result.event_count,
        "trace_sha256": result.trace_sha256,
        "check_cpu_s": round(result.check_cpu_s, 3),
    }


def measure_designs(
    scenario: Scenario,
    workers: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Every catalogue design on ``scenario``, in parallel: wall time, each design's
    (``progress`` is told as each design finishes)."""
    names = catalogue_names()
    workers = workers or available_cores()
    seed = scenario.spec.seed
    parent_mb = resident_mb()
    started = time.perf_counter()
    on_done = None
    if progress is not None:
        say = progress

        def on_done(name: str, timing: DesignTiming, finished: int, total: int) -> None:
            say(design_done_words(name, timing, finished, total))

    done = map_designs(functools.partial(_bench_design, scenario, seed), names, workers, on_done)
    wall_s = time.perf_counter() - started
    return {
        "wall_s": round(wall_s, 3),
        "workers": min(workers, len(names)),
        # What each worker inherits resident from this process (counted in its peak).
        "parent_rss_mb": parent_mb,
        "designs": {
            name: {
                "wall_s": round(t.wall_s, 3),
                "cpu_s": round(t.cpu_s, 3),
                "peak_rss_mb": round(t.peak_rss_mb, 1),
                **out,
            }
            for name, (out, t) in done.items()
        },
    }


def _verdict(key: str, value: float | None, judged: bool) -> str:
    if value is None:
        return "too short to measure"
    if not judged:
        return "not judged at this scale"
    limit, sense = TARGETS[key]
    met = value <= limit if sense == "<=" else value < limit
    return "met" if met else "NOT met"


def _target(key: str, value: float | None, judged: bool) -> dict[str, Any]:
    """One target's entry in ``--json``: the figure, its limit and the verdict."""
    return {"value": value, "limit": TARGETS[key][0], "verdict": _verdict(key, value, judged)}


def run_bench(
    users: int | None = None,
    days: float | None = None,
    quick: bool = False,
    checker: bool = True,
    model: bool = True,
    designs: bool = True,
    workers: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """All benchmark figures as a dict (``p2c bench --json`` prints it).

    ``progress(words)`` is told as each part starts (``p2c bench`` prints it on standard
    error: a full-scale bench runs for several minutes)."""
    say = progress or (lambda _words: None)
    scale = bench_scale(users, days, quick)
    full = scale["full"]
    figures: dict[str, Any] = {"users": scale["users"], "days": scale["days"], "full_scale": full}
    targets: dict[str, dict[str, Any]] = {}
    scenario = scaled_scenario(scale["users"], scale["days"])
    # The designs first: a forked worker's peak resident memory counts the pages it
    # inherits from this process, so they are forked before the model's run leaves this
    # process larger (measured at 1,000 users x 1 day: every design's peak 8-23 MB higher
    # when the model ran first).
    if designs:
        say(
            f"every design at {scale['users']:,} users x {scale['days']:g} day(s), "
            f"{min(workers or available_cores(), len(catalogue_names()))} at a time"
        )
        measured = measure_designs(scenario, workers, progress)
        figures["all_designs"] = measured
        figures["all_designs_s"] = measured["wall_s"]
        figures["week_1000_all_designs_s"] = measured["wall_s"] if full else None
        peak = max(d["peak_rss_mb"] for d in measured["designs"].values())
        figures["peak_rss_mb"] = peak
        targets["week_1000_all_designs_s"] = _target(
            "week_1000_all_designs_s", measured["wall_s"], full
        )
        targets["peak_rss_mb"] = _target("peak_rss_mb", peak, full)
    if model:
        say("the model (p2c-2017) and its recording floor")
        measured = measure_model(scenario)
        figures["model"] = measured
        figures["model_over_recording_floor"] = measured["ratio"]
        # The floor is per event, so the ratio is judged at any scale.
        targets["model_over_recording_floor"] = _target(
            "model_over_recording_floor", measured["ratio"], True
        )
    if checker:
        sizes = scale["checker_sizes"]
        say(
            f"the checker on {sizes[0]:,} and {sizes[-1]:,} synthetic writes, best of "
            f"{CHECKER_PASSES} passes each, beside its floor"
        )
        measured = bench_checker(sizes=sizes, repeat=CHECKER_PASSES)
        figures["checker"] = measured
        largest = sizes[-1]
        seconds = measured[f"seconds_{largest}"]
        over = measured[f"over_floor_{largest}"]
        figures["checker_writes"] = largest
        figures["checker_cpu_s"] = seconds
        figures["checker_1m_cpu_s"] = seconds if largest == 1_000_000 else None
        figures["checker_over_floor"] = over
        figures["checker_ratio"] = measured["ratio"]
        at_1m = largest == 1_000_000
        targets["checker_1m_cpu_s"] = _target("checker_1m_cpu_s", seconds, at_1m)
        targets["checker_over_floor"] = _target("checker_over_floor", over, True)
        ratio = measured["ratio"]
        judged = measured["size_ratio"] == 10
        targets["checker_ratio"] = _target("checker_ratio", ratio, judged)
        # The same target for the whole of p2c verify on a file of the largest size.
        say(f"p2c verify of a {largest:,}-write history file, best of {VERIFY_PASSES} passes")
        with tempfile.TemporaryDirectory(prefix="p2c-bench-") as tmp:
            verify = bench_verify(largest, Path(tmp), repeat=VERIFY_PASSES)
        figures["verify"] = verify
        figures["verify_1m_cpu_s"] = verify["cpu_s"] if at_1m else None
        targets["verify_1m_cpu_s"] = _target("verify_1m_cpu_s", verify["cpu_s"], at_1m)
    for target in targets.values():
        target["met"] = target["verdict"] == "met"
    figures["targets"] = targets
    return figures


def _seconds(value: float | None) -> str:
    return "too short to measure" if value is None else f"{value:.2f} s"


def bench_lines(figures: dict[str, Any]) -> list[str]:
    """The benchmark in words (the raw figures are in ``--json``)."""
    targets = figures["targets"]
    scale = "full scale" if figures["full_scale"] else "reduced scale: targets not judged"
    lines = [
        f"p2c bench: seed organisation scaled to {figures['users']:,} users, "
        f"{figures['days']:g} simulated day(s) ({scale})"
    ]
    model = figures.get("model")
    if model:
        ratio = model["ratio"]
        lines += [
            f"  model ({model['design']}): {model['cpu_s']:.2f} s CPU "
            f"({model['wall_s']:.2f} s wall) for {model['history_events']:,} history events, "
            f"{model['us_per_event']:.2f} us/event",
            f"  recording floor: {model['floor_cpu_s']:.2f} s CPU, "
            f"{model['floor_us_per_event']:.2f} us/event (encode, hash, compress in blocks; "
            f"mean of {model['floor_passes']} pass(es))",
            "  model/recording floor: "
            + (
                "not reported: the floor's events differ from the run's"
                if ratio is None
                else f"{ratio:.2f}"
            )
            + f"  (target <= 3: {targets['model_over_recording_floor']['verdict']})",
        ]
    measured = figures.get("all_designs")
    if measured:
        verdict = targets["week_1000_all_designs_s"]["verdict"]
        lines.append(
            f"  every design ({len(measured['designs'])}), {measured['workers']} at a "
            f"time: {measured['wall_s']:.1f} s wall (target < 60 s for 1,000 users, "
            f"5 days: {verdict})"
        )
        for name, design in measured["designs"].items():
            lines.append(
                f"    {name:<26} {design['wall_s']:7.1f} s wall "
                f"{design['cpu_s']:7.1f} s CPU (check {design['check_cpu_s']:5.1f} s)  "
                f"peak {design['peak_rss_mb']:7.0f} MB"
            )
        lines.append(
            f"  peak memory of one run: {figures['peak_rss_mb']:.0f} MB "
            f"(target < 1024 MB: {targets['peak_rss_mb']['verdict']})"
            + _inherited_words(measured.get("parent_rss_mb"))
        )
    checker = figures.get("checker")
    if checker:
        lines.extend(checker_lines(checker))
        lines.append(
            f"  checker/floor at {figures['checker_writes']:,} writes: "
            f"{figures['checker_over_floor']} (target <= 1.5: "
            f"{targets['checker_over_floor']['verdict']})"
        )
    verify = figures.get("verify")
    if verify:
        lines.append(
            f"  p2c verify from disk, {verify['writes']:,} writes ({verify['events']:,} events, "
            f"{verify['file_mb']:g} MB): {verify['cpu_s']:.2f} s CPU, "
            f"{verify['us_per_event']:.2f} us/event, of which reading and parsing the file "
            f"{verify['read_cpu_s']:.2f} s; {_verify_passes_words(verify)} (target < 10 s at "
            f"1,000,000 writes: {targets['verify_1m_cpu_s']['verdict']})"
        )
        if verify.get("peak_rss_mb") is not None:
            lines.append(
                f"  p2c verify's peak memory: {verify['peak_rss_mb']:.0f} MB "
                f"({verify['rss_before_mb']:.0f} MB before it began)"
            )
    return lines


def _inherited_words(parent_mb: float | None) -> str:
    if parent_mb is None:
        return ""
    return f"; each worker's peak counts the {parent_mb:.0f} MB it inherits from this process"


def _verify_passes_words(verify: dict[str, Any]) -> str:
    """How many passes the verify figure is the best of, and how far apart they were."""
    passes, spread = verify.get("passes", 1), verify.get("spread")
    if passes < 2 or spread is None:
        return f"{passes} pass(es)"
    return f"best of {passes} passes, spread {100 * spread:.0f}%"


def checker_lines(figures: dict[str, Any]) -> list[str]:
    """The checker benchmark in words: CPU seconds per size beside the floor, the targets
    for 1,000,000 writes and the ratio (the raw figures are in ``--json``)."""
    sizes = sorted(int(key.rsplit("_", 1)[1]) for key in figures if key.startswith("seconds_"))
    lines = []
    for n in sizes:
        seconds = figures[f"seconds_{n}"]
        floor = figures[f"floor_seconds_{n}"]
        over = figures[f"over_floor_{n}"]
        line = (
            f"  checker {n:>9,} writes: {seconds:6.2f} s CPU "
            f"({figures[f'us_per_event_{n}']:.2f} us/event over "
            f"{figures[f'events_{n}']:,} events; floor {_seconds(floor)}, "
            f"checker/floor {'-' if over is None else f'{over:.2f}'}; "
            f"{_passes_words(figures, n)})"
        )
        if n == 1_000_000:
            line += f"  (target < 10 s: {'met' if seconds < 10 else 'NOT met'})"
        lines.append(line)
    if len(sizes) > 1:
        ratio, size_ratio = figures["ratio"], figures["size_ratio"]
        limit = 1.2 * size_ratio
        floor_ratio = figures["floor_ratio"]
        lines.append(
            f"  checker ratio {sizes[-1]:,}/{sizes[0]:,}: {ratio:.2f} (target <= {limit:g}: "
            f"{'met' if ratio <= limit else 'NOT met'}); the floor's own ratio: "
            + ("too short to measure" if floor_ratio is None else f"{floor_ratio:.2f}")
        )
    return lines


def _passes_words(figures: dict[str, Any], n: int) -> str:
    """How many passes the best was taken of and how far apart they were."""
    passes = figures.get(f"passes_{n}", 1)
    spread, floor_spread = figures.get(f"spread_{n}"), figures.get(f"floor_spread_{n}")
    if passes < 2 or spread is None:
        return f"{passes} pass(es)"
    floor = "-" if floor_spread is None else f"{100 * floor_spread:.0f}%"
    return f"best of {passes} passes, spread {100 * spread:.0f}% (floor {floor})"
