"""The ``p2c`` command line: what users and CI script against.

Exit codes: 0 every promised invariant holds; 1 an invariant or expectation failed;
2 bad input or usage (one clear message naming file, line and field; nothing written),
or the environment refused (a full disk, a read-only or missing folder, an unreadable
file: one line naming the path and the cause); 130 interrupted (Ctrl-C, SIGINT), 143
terminated (SIGTERM), both after cleaning up (no partial files, no worker processes
left); 141 standard output was closed (``| head``), quietly.
``--json`` prints one JSON object for scripts instead of the readable summary.

Every command's errors are reported here, in :func:`main`, the one place that turns
exceptions into messages and exit codes, so each command only raises.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sim import __version__
from sim.scenario.yamlio import InputError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED, EXIT_PIPE, EXIT_TERMINATED = 130, 141, 143

EXIT_CODES_HELP = (
    "Exit codes: 0 ok, 1 a promised invariant (or expectation) failed, 2 bad input or an "
    "environment error (full disk, read-only folder, unreadable file), 130 interrupted "
    "(SIGINT), 143 terminated (SIGTERM); both clean up first. 141: output pipe closed.")


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, so every clean-up path that handles Ctrl-C
    (partial files removed, worker processes stopped) handles it too."""


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors exit 2 through our own error path."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        raise InputError(f"{self.prog}: {message}")


def _default_out(scenario_name: str, seed: int) -> Path:
    return Path("reports") / "runs" / f"{scenario_name}-seed{seed}"


def _checker():
    """The checker, when installed (it lives in sim/checker)."""
    try:
        from sim import checker
    except ImportError:  # pragma: no cover - the checker ships with the project
        return None
    return checker if hasattr(checker, "check_history") else None


def _check_files(checker):
    """The run folder's verdict.json, computed from the run's events by the checker."""
    return None if checker is None else checker.verdict_files


def cmd_compare(args: argparse.Namespace) -> int:
    """Run one scenario under several designs with the same seed; print a table."""
    import functools
    import time

    from sim.engine.runner import check_run_folder, check_run_size
    from sim.reporting.summary import table
    from sim.scenario.spec import load_scenario
    from sim.study.compare import (
        catalogue_names,
        default_out,
        headline,
        invariant_matrix,
        map_designs,
        run_design,
    )
    from sim.study.executors import available_cores

    scenario = load_scenario(args.scenario)
    names = list(dict.fromkeys(args.design or [])) or catalogue_names()
    if args.all:
        names = catalogue_names()
    known = catalogue_names()
    for name in names:
        if name not in known:
            raise InputError(f"unknown design {name!r} (known: {', '.join(known)})")
    workers = getattr(args, "workers", None)
    if workers is not None and workers < 1:
        raise InputError("p2c compare: --workers must be >= 1")
    workers = workers or available_cores()
    check_run_size(scenario, yes=args.yes)
    seed = scenario.spec.seed if args.seed is None else args.seed
    root = Path(args.out) if args.out else Path("reports") / "compare"
    for name in names:  # every run folder checked before the first run starts
        check_run_folder(default_out(root, scenario, name, seed))
    checker = _checker()
    if not args.json and sys.stderr.isatty():
        print(f"running {scenario.name} under {len(names)} design(s), "
              f"{min(workers, len(names))} at a time ...", file=sys.stderr)
    started = time.perf_counter()
    done = map_designs(functools.partial(run_design, scenario, seed, root, checker is not None),
                       names, workers)
    wall_s = time.perf_counter() - started
    columns = []
    notes = []
    for name, ((result, dropped), _timing) in done.items():
        if dropped:
            notes.append(f"{name}: scenario overrides not applicable: {', '.join(dropped)}")
        columns.append((name, result))
    timings = {name: timing for name, (_, timing) in done.items()}
    figures = {name: headline(result) for name, result in columns}
    verdicts = {}
    failed = False
    for name, result in columns:
        report = result.check
        if report is not None:
            failed = failed or report.failed
            verdicts[name] = {inv: {"status": v.status, "violations": v.violations,
                                    "sanctioned": v.sanctioned,
                                    "promised": inv in report.promises}
                              for inv, v in report.verdicts.items()}
    if args.json:
        print(json.dumps({
            "scenario": scenario.name, "seed": seed, "designs": names,
            "metrics": {name: result.metrics for name, result in columns},
            "headline": figures, "invariants": verdicts,
            "trace_sha256": {name: result.trace_sha256 for name, result in columns},
            "notes": notes, "failed": failed, "wall_s": round(wall_s, 3),
            "workers": min(workers, len(names)),
            "design_wall_s": {name: round(t.wall_s, 3) for name, t in timings.items()},
            "design_peak_rss_mb": {name: round(t.peak_rss_mb, 1)
                                   for name, t in timings.items()},
        }, sort_keys=True))
        return EXIT_FAILED if failed else EXIT_OK
    if args.markdown:
        print("\n".join(invariant_matrix(verdicts, names)))
        return EXIT_FAILED if failed else EXIT_OK
    labels = list(next(iter(figures.values())).keys()) if figures else []
    rows = [[label, *(_cell(figures[name].get(label)) for name in names)] for label in labels]
    lines = [f"p2c compare: {scenario.name}, seed {seed} (same seed for every design: "
             "common random numbers)", ""]
    lines += table(rows, ["", *names])
    if verdicts:
        invariants = list(next(iter(verdicts.values())).keys())
        rows = [[inv, *(_verdict_cell(verdicts[name].get(inv)) for name in names)]
                for inv in invariants]
        lines += ["", "Invariants (* = promised by the design; a promised violation fails):"]
        lines += table(rows, ["", *names])
    lines += ["", f"Wall time {wall_s:.1f} s, {min(workers, len(names))} design(s) at a time; "
              "each design: " + ", ".join(f"{name} {t.wall_s:.1f} s"
                                          for name, t in timings.items())]
    lines += ["", *notes, f"Run folders under {root}/",
              f"Reproduce: p2c compare {args.scenario} --seed {seed} "
              + " ".join(f"--design {n}" for n in names)]
    print("\n".join(lines))
    return EXIT_FAILED if failed else EXIT_OK


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


def cmd_run(args: argparse.Namespace) -> int:
    from sim.engine.runner import check_run_size, run_to_folder
    from sim.reporting.summary import overwrite_lines, scripted_lines, summary_lines
    from sim.scenario.spec import load_scenario

    if args.design and len(args.design) > 1:
        args.all = args.markdown = False
        return cmd_compare(args)
    scenario = load_scenario(args.scenario)
    if args.design:
        from sim.study.compare import catalogue_names, design_variant

        if args.design[0] not in catalogue_names():
            raise InputError(f"unknown design {args.design[0]!r} "
                             f"(known: {', '.join(catalogue_names())})")
        scenario = scenario.with_design(design_variant(scenario, args.design[0]).design)
    check_run_size(scenario, yes=args.yes)
    seed = scenario.spec.seed if args.seed is None else args.seed
    out = Path(args.out) if args.out else _default_out(scenario.name, seed)
    progress = not args.json and sys.stderr.isatty()
    result = run_to_folder(scenario, out, seed, progress=progress,
                           finish=_check_files(_checker()))
    report = getattr(result, "check", None)
    failed = bool(report is not None and report.failed)
    pictures = _timelines(report, result, out, args.timeline) if args.timeline else []
    if args.json:
        invariants = {}
        if report is not None:
            invariants = {name: {"status": v.status, "violations": v.violations,
                                 "sanctioned": v.sanctioned}
                          for name, v in report.verdicts.items()}
        print(json.dumps({
            "scenario": result.scenario, "design": result.design, "seed": result.seed,
            "trace_sha256": result.trace_sha256, "run_dir": str(out),
            "quiescent": result.quiescent, "metrics": result.metrics,
            "invariants": invariants, "failed": failed, "replaced": result.replaced,
        }, sort_keys=True))
    else:
        lines = summary_lines(result, scenario)
        incidents = scripted_lines(scenario, result.events, report)
        if incidents:
            lines += ["", *incidents]
        if report is not None:
            lines += ["", *report.summary_lines(max_explanations=args.explain)]
        else:
            explained = overwrite_lines(result.events or [], limit=args.explain)
            if explained:
                lines += ["", "First overwritten edits:", *("  " + x for x in explained)]
        lines += [f"Timeline: {p}" for p in pictures]
        replaced = " (replaced the earlier run folder there)" if result.replaced else ""
        lines += ["", f"Run folder: {out}{replaced}",
                  f"Reproduce:  p2c run {args.scenario} --seed {seed}"]
        print("\n".join(lines))
    return EXIT_FAILED if failed else EXIT_OK


def _timelines(report, result, out: Path, count: int) -> list[Path]:
    """PNG timelines of the first ``count`` anomalies (violations first, then sanctioned)."""
    if report is None or result.events is None:
        return []
    from sim.reporting.timeline import plot_first_anomalies

    return plot_first_anomalies(report, lambda: result.events, out / "timelines", count)


def cmd_replay(args: argparse.Namespace) -> int:
    """Re-run a run folder's resolved scenario and seed; compare the trace hash."""
    from sim.engine.runner import run_scenario
    from sim.scenario.spec import load_scenario

    folder = Path(args.run_dir)
    manifest_path = folder / "manifest.json"
    if not manifest_path.is_file():
        raise InputError(f"{folder}: not a run folder (no manifest.json)")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        seed = int(manifest["seed"])
        expected = manifest["trace_sha256"]
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{manifest_path}: unreadable manifest ({exc})") from None
    scenario = load_scenario(folder / "scenario.resolved.yaml")
    result = run_scenario(scenario, seed, keep_events=False)
    same = result.trace_sha256 == expected
    if args.json:
        print(json.dumps({"expected": expected, "got": result.trace_sha256, "same": same}))
    else:
        print(f"replay of {folder} (seed {seed}): trace {result.trace_sha256[:16]} "
              f"{'matches' if same else 'DIFFERS from'} the recorded {expected[:16]}")
    return EXIT_OK if same else EXIT_FAILED


def cmd_bench(args: argparse.Namespace) -> int:
    from sim.bench.bench import bench_lines, run_bench

    if (args.users is not None and args.users < 1) or (args.days is not None and args.days <= 0):
        raise InputError("p2c bench: --users must be >= 1 and --days > 0")
    if args.workers is not None and args.workers < 1:
        raise InputError("p2c bench: --workers must be >= 1")
    parts = {"model": args.model, "designs": args.week, "checker": args.checker}
    if not any(parts.values()):
        parts = dict.fromkeys(parts, True)
    if args.no_checker:
        parts["checker"] = False
    figures = run_bench(users=args.users, days=args.days, quick=args.quick,
                        workers=args.workers, **parts)
    if args.json:
        print(json.dumps(figures, sort_keys=True, default=str))
    else:
        print("\n".join(bench_lines(figures)))
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="p2c", description=(
        "Simulate and verify the Dynamics 365 Sales <-> Operations prospect-to-cash "
        "integration through the hub."), epilog=EXIT_CODES_HELP)
    parser.add_argument("--version", action="version", version=f"p2c {__version__}",
                        help="print the installed p2c-testbed version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    run = sub.add_parser("run", help="run a scenario and print its summary",
                         description="Run a scenario, write a run folder, print a summary.")
    run.add_argument("scenario", help="scenario YAML file, e.g. scenarios/prospect_to_cash.yaml")
    run.add_argument("--seed", type=int, help="root seed (default: the scenario's seed)")
    run.add_argument("--out", help="run folder (default: reports/runs/<scenario>-seed<N>)")
    run.add_argument("--json", action="store_true", help="print one JSON object")
    run.add_argument("--yes", action="store_true",
                     help="run even when the estimated size (user-days, initial records) is "
                          "beyond what runs in a few minutes")
    run.add_argument("--explain", type=int, default=5, metavar="N",
                     help="how many anomaly explanations to print (default 5)")
    run.add_argument("--timeline", type=int, default=0, metavar="N",
                     help="draw a timeline PNG for each of the first N anomalies "
                          "(run folder, timelines/)")
    run.add_argument("--design", action="append", metavar="NAME",
                     help="run under this catalogue design instead; repeat to compare")
    run.set_defaults(func=cmd_run)

    compare = sub.add_parser(
        "compare", help="run a scenario under several designs, side by side",
        description="Same organisation, workload and seed under each design (common random "
                    "numbers); one table of metrics and invariant verdicts.")
    compare.add_argument("scenario",
                         help="scenario YAML file, e.g. scenarios/prospect_to_cash.yaml")
    compare.add_argument("--design", action="append", metavar="NAME",
                         help="a catalogue design; repeat (default: every design)")
    compare.add_argument("--all", action="store_true", help="every design in the catalogue")
    compare.add_argument("--seed", type=int,
                         help="root seed for every design (default: the scenario's seed)")
    compare.add_argument("--out", help="folder for the run folders (default reports/compare)")
    compare.add_argument("--yes", action="store_true",
                         help="run even when the estimated size is beyond a few minutes")
    compare.add_argument("--json", action="store_true",
                         help="print one JSON object (metrics, verdicts, trace hashes per design)")
    compare.add_argument("--workers", type=int, metavar="N",
                         help="designs run at a time, each in its own process "
                              "(default: the available cores)")
    compare.add_argument("--markdown", action="store_true",
                         help="print the invariant x design table as Markdown (README)")
    compare.set_defaults(func=cmd_compare)

    replay = sub.add_parser("replay", help="re-run a run folder and compare its trace hash")
    replay.add_argument("run_dir", help="a run folder written by p2c run (holds manifest.json)")
    replay.add_argument("--json", action="store_true",
                        help="print one JSON object: expected and got trace hash, same")
    replay.set_defaults(func=cmd_replay)

    from sim.lint.analysis import add_lint_parser

    add_lint_parser(sub)

    from sim.cli.schema import add_schema_parser
    from sim.cli.sweep import add_sweep_parser
    from sim.cli.verify import add_verify_parser
    from sim.reporting.licensing import add_report_parser
    from sim.study.regression import add_check_parser

    add_report_parser(sub)
    add_sweep_parser(sub)
    add_check_parser(sub)
    add_verify_parser(sub)
    add_schema_parser(sub)

    from sim.cli.explore import add_explore_parser, add_shrink_parser

    add_explore_parser(sub)
    add_shrink_parser(sub)

    from sim.cli.calibration import add_calibration_parsers

    add_calibration_parsers(sub)

    bench = sub.add_parser(
        "bench", help="measure the model, every design and the checker against their targets",
        description="Full scale: 1,000 users for a working week (5 days), every design in "
                    "parallel, the checker on 100k and 1M writes. --users and --days scale "
                    "every part; --quick is 100 users for one day. Naming parts (--model, "
                    "--week, --checker) runs only those.")
    bench.add_argument("--users", type=int, metavar="N",
                       help="users in the scaled organisation (default 1000; 100 with --quick)")
    bench.add_argument("--days", type=float, metavar="D",
                       help="simulated working days (default 5; 1 with --quick)")
    bench.add_argument("--quick", action="store_true",
                       help="a tenth of the users for one day, the checker scaled alike")
    bench.add_argument("--model", action="store_true",
                       help="the model against its recording floor")
    bench.add_argument("--week", action="store_true",
                       help="every design in parallel (a working week at full scale)")
    bench.add_argument("--checker", action="store_true", help="the checker against its floor")
    bench.add_argument("--no-checker", action="store_true", help="skip the checker benchmark")
    bench.add_argument("--workers", type=int, metavar="N",
                       help="designs run at a time (default: the available cores)")
    bench.add_argument("--json", action="store_true",
                       help="print one JSON object: every figure, each target met or not")
    bench.set_defaults(func=cmd_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one ``p2c`` command; every error becomes one message and an exit code."""
    _tolerant_streams()
    previous = _handle_sigterm()
    try:
        return _main(argv)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if getattr(args, "func", None) is None:
            parser.print_help()
            return EXIT_USAGE
        return args.func(args)
    except InputError as exc:
        _error(exc.message)
        return EXIT_USAGE
    except Terminated:
        _error("terminated (SIGTERM); partial output removed", prefix="")
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        _error("interrupted", prefix="")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_PIPE
    except OSError as exc:
        _error(environment_message(exc))
        return EXIT_USAGE
    except MemoryError:
        _error("out of memory; try a smaller scenario (fewer users or days)")
        return EXIT_USAGE


def environment_message(exc: OSError) -> str:
    """``path: cause`` for an error of the machine (disk full, read-only, permissions)."""
    cause = exc.strerror or str(exc) or type(exc).__name__
    if exc.filename2 is not None:
        return f"{exc.filename} -> {exc.filename2}: {cause}"
    if exc.filename is not None:
        return f"{exc.filename}: {cause}"
    return cause


def _error(message: str, prefix: str = "error: ") -> None:
    try:
        print(f"{prefix}{message}", file=sys.stderr)
    except (OSError, ValueError):  # stderr itself is gone: nothing more to say
        pass


def _tolerant_streams() -> None:
    """Text the terminal's encoding cannot show is replaced (``?``), never fatal."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors="replace")
            except (ValueError, OSError):  # pragma: no cover - a closed or odd stream
                pass


def _silence_stdout() -> None:
    """After a closed pipe: point stdout at /dev/null so the exit flush is quiet too."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # not a real file (e.g. under pytest)
        pass


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated()


def _handle_sigterm() -> Any:
    """Handle SIGTERM like Ctrl-C (in the main thread only; returns the old handler)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _on_sigterm)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
