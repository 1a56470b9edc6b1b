"""``p2c compare SCENARIO``: one scenario under several designs with one seed, side by side."""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from pathlib import Path
from typing import Any

from sim.cli.errors import EXIT_FAILED, EXIT_OK, seed_arg
from sim.scenario.yamlio import InputError


def cmd_compare(args: argparse.Namespace) -> int:
    """Run one scenario under several designs with the same seed; print a table."""
    # Imported when the command runs, not when p2c builds its parser: p2c --help stays fast.
    from sim.engine.runner import check_run_folder, check_run_size
    from sim.scenario.spec import load_scenario
    from sim.scenario.variants import catalogue_names
    from sim.study.compare import (
        DesignTiming,
        default_out,
        design_done_words,
        headline,
        invariant_matrix,
        map_designs,
        run_design,
    )
    from sim.study.executors import available_cores

    scenario = load_scenario(args.scenario)
    names = _design_names(args, catalogue_names())
    workers = getattr(args, "workers", None)
    if workers is not None and workers < 1:
        raise InputError("p2c compare: --workers must be >= 1")
    workers = workers or available_cores()
    check_run_size(scenario, yes=args.yes)
    seed = scenario.spec.seed if args.seed is None else args.seed
    root = Path(args.out) if args.out else Path("reports") / "compare"
    for name in names:  # every run folder checked before the first run starts
        check_run_folder(default_out(root, scenario, name, seed))
    checker = installed_checker()
    on_done = None
    if not args.json and sys.stderr.isatty():
        print(
            f"running {scenario.name} under {len(names)} design(s), "
            f"{min(workers, len(names))} at a time ...",
            file=sys.stderr,
        )

        def on_done(name: str, timing: DesignTiming, finished: int, total: int) -> None:
            print("  " + design_done_words(name, timing, finished, total), file=sys.stderr)

    started = time.perf_counter()
    done = map_designs(
        functools.partial(run_design, scenario, seed, root, checker is not None),
        names,
        workers,
        on_done,
    )
    wall_s = time.perf_counter() - started
    columns = []
    notes = []
    for name, ((result, dropped), _timing) in done.items():
        if dropped:
            notes.append(f"{name}: scenario overrides not applicable: {', '.join(dropped)}")
        columns.append((name, result))
    timings = {name: timing for name, (_, timing) in done.items()}
    figures = {name: headline(result) for name, result in columns}
    verdicts, failed = _verdicts(columns)
    if args.json:
        print(
            json.dumps(
                {
                    "scenario": scenario.name,
                    "seed": seed,
                    "designs": names,
                    "metrics": {name: result.metrics for name, result in columns},
                    "headline": figures,
                    "invariants": verdicts,
                    "trace_sha256": {name: result.trace_sha256 for name, result in columns},
                    "notes": notes,
                    "failed": failed,
                    "wall_s": round(wall_s, 3),
                    "workers": min(workers, len(names)),
                    "design_wall_s": {name: round(t.wall_s, 3) for name, t in timings.items()},
                    "design_cpu_s": {name: round(t.cpu_s, 3) for name, t in timings.items()},
                    # Of each design's CPU, the check's (None when not checked).
                    "design_check_cpu_s": {
                        name: None if r.check_cpu_s is None else round(r.check_cpu_s, 3)
                        for name, r in columns
                    },
                    "design_peak_rss_mb": {
                        name: round(t.peak_rss_mb, 1) for name, t in timings.items()
                    },
                },
                sort_keys=True,
            )
        )
        return EXIT_FAILED if failed else EXIT_OK
    if args.markdown:
        print("\n".join(invariant_matrix(verdicts, names)))
        return EXIT_FAILED if failed else EXIT_OK
    timing = (wall_s, min(workers, len(names)), timings)
    report = _text_report(args, scenario, seed, root, names, figures, verdicts, notes, timing)
    print("\n".join(report))
    return EXIT_FAILED if failed else EXIT_OK


def _design_names(args: argparse.Namespace, known: list[str]) -> list[str]:
    """The designs to run: --all, else the --design names (deduplicated), else all."""
    names = list(dict.fromkeys(args.design or [])) or list(known)
    if args.all:
        names = list(known)
    for name in names:
        if name not in known:
            raise InputError(f"unknown design {name!r} (known: {', '.join(known)})")
    return names


def _verdicts(columns: list[tuple[str, Any]]) -> tuple[dict[str, dict[str, Any]], bool]:
    """Per design, each invariant's verdict as plain data; and whether a promise failed."""
    verdicts = {}
    failed = False
    for name, result in columns:
        report = result.check
        if report is not None:
            failed = failed or report.failed
            verdicts[name] = report.counts()
    return verdicts, failed


def _text_report(
    args: argparse.Namespace,
    scenario: Any,
    seed: int,
    root: Path,
    names: list[str],
    figures: dict[str, dict[str, Any]],
    verdicts: dict[str, dict[str, Any]],
    notes: list[str],
    timing: tuple[float, int, dict[str, Any]],
) -> list[str]:
    """The plain-text report: headline table, invariant table, timings, reproduce line."""
    # Imported when the command runs, not when p2c builds its parser: p2c --help stays fast.
    from sim.reporting.summary import table

    wall_s, at_a_time, timings = timing
    labels = list(next(iter(figures.values())).keys()) if figures else []
    rows = [[label, *(_cell(figures[name].get(label)) for name in names)] for label in labels]
    lines = [
        f"p2c compare: {scenario.name}, seed {seed} (same seed for every design: "
        "common random numbers)",
        "",
    ]
    lines += table(rows, ["", *names])
    if verdicts:
        invariants = list(next(iter(verdicts.values())).keys())
        rows = [
            [inv, *(_verdict_cell(verdicts[name].get(inv)) for name in names)] for inv in invariants
        ]
        lines += ["", "Invariants (* = promised by the design; a promised violation fails):"]
        lines += table(rows, ["", *names])
    lines += [
        "",
        f"Wall time {wall_s:.1f} s, {at_a_time} design(s) at a time; "
        "each design: " + ", ".join(f"{name} {t.wall_s:.1f} s" for name, t in timings.items()),
    ]
    lines += [
        "",
        *notes,
        f"Run folders under {root}/",
        f"Reproduce: p2c compare {args.scenario} --seed {seed} "
        + " ".join(f"--design {n}" for n in names),
    ]
    return lines


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and value.is_integer():
        return f"{int(value):,}"
    return f"{value:,}" if isinstance(value, int | float) else str(value)


def _verdict_cell(verdict: dict[str, Any] | None) -> str:
    if verdict is None:
        return "-"
    status = verdict["status"]
    count = verdict["violations"] or verdict["sanctioned"]
    text = f"{status} {count}" if count else status
    return ("*" if verdict["promised"] else "") + text


def installed_checker() -> Any:
    """The checker, when installed (it lives in sim/checker)."""
    try:
        # Imported when the command runs, not when p2c builds its parser: p2c --help stays fast.
        from sim import checker
    except ImportError:  # pragma: no cover - the checker ships with the project
        return None
    return checker if hasattr(checker, "check_history") else None


def add_compare_parser(sub: Any) -> None:
    """Add ``p2c compare`` to p2c's subcommands."""
    compare = sub.add_parser(
        "compare",
        help="run a scenario under several designs, side by side",
        description="Same organisation, workload and seed under each design (common random "
        "numbers); one table of metrics and invariant verdicts.",
    )
    compare.add_argument(
        "scenario", help="scenario YAML file, e.g. scenarios/prospect_to_cash.yaml"
    )
    compare.add_argument(
        "--design",
        action="append",
        metavar="NAME",
        help="a catalogue design; repeat (default: every design)",
    )
    compare.add_argument("--all", action="store_true", help="every design in the catalogue")
    compare.add_argument(
        "--seed", type=seed_arg, help="root seed for every design (default: the scenario's seed)"
    )
    compare.add_argument("--out", help="folder for the run folders (default reports/compare)")
    compare.add_argument(
        "--yes",
        action="store_true",
        help="run even when the estimated size is beyond a few minutes",
    )
    compare.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object (metrics, verdicts, trace hashes per design)",
    )
    compare.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="designs run at a time, each in its own process (default: the available cores)",
    )
    compare.add_argument(
        "--markdown",
        action="store_true",
        help="print the invariant x design table as Markdown (README)",
    )
    compare.set_defaults(func=cmd_compare)
