"""The ``p2c`` command line: what users and CI script against.

Exit codes: 0 every promised invariant holds; 1 an invariant or expectation failed;
2 bad input or usage (one clear message naming file, line and field; nothing written).
``--json`` prints one JSON object for scripts instead of the readable summary.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sim.yamlio import InputError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


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


def cmd_run(args: argparse.Namespace) -> int:
    from sim.runner import run_to_folder
    from sim.scenario import load_scenario
    from sim.summary import overwrite_lines, summary_lines

    scenario = load_scenario(args.scenario)
    seed = scenario.spec.seed if args.seed is None else args.seed
    out = Path(args.out) if args.out else _default_out(scenario.name, seed)
    checker = _checker()

    def verdict_files(result) -> dict[str, Any]:
        if checker is None or result.events is None:
            return {}
        report = checker.check_history(result.events)
        result.check = report
        return {"verdict.json": report.to_json()}

    progress = not args.json and sys.stderr.isatty()
    result = run_to_folder(scenario, out, seed, progress=progress, finish=verdict_files)
    report = getattr(result, "check", None)
    failed = bool(report is not None and report.failed)
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
            "invariants": invariants, "failed": failed,
        }, sort_keys=True))
    else:
        lines = summary_lines(result, scenario)
        if report is not None:
            lines += ["", *report.summary_lines(max_explanations=args.explain)]
        else:
            explained = overwrite_lines(result.events or [], limit=args.explain)
            if explained:
                lines += ["", "First overwritten edits:", *("  " + x for x in explained)]
        lines += ["", f"Run folder: {out}",
                  f"Reproduce:  p2c run {args.scenario} --seed {seed}"]
        print("\n".join(lines))
    return EXIT_FAILED if failed else EXIT_OK


def cmd_replay(args: argparse.Namespace) -> int:
    """Re-run a run folder's resolved scenario and seed; compare the trace hash."""
    from sim.runner import run_scenario
    from sim.scenario import load_scenario

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
    from sim.bench import bench_lines, run_bench

    if args.users < 1 or args.days <= 0:
        raise InputError("p2c bench: --users must be >= 1 and --days > 0")
    sizes = (100_000, 1_000_000) if not args.quick else (10_000, 100_000)
    figures = run_bench(users=args.users, days=args.days, checker=not args.no_checker,
                        checker_sizes=sizes)
    if args.json:
        print(json.dumps(figures, sort_keys=True, default=str))
    else:
        print("\n".join(bench_lines(figures)))
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="p2c", description=(
        "Simulate and verify the Dynamics 365 Sales <-> Operations prospect-to-cash "
        "integration through the hub. Exit codes: 0 ok, 1 a promised invariant failed, "
        "2 bad input."))
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    run = sub.add_parser("run", help="run a scenario and print its summary",
                         description="Run a scenario, write a run folder, print a summary.")
    run.add_argument("scenario", help="scenario YAML file, e.g. scenarios/prospect_to_cash.yaml")
    run.add_argument("--seed", type=int, help="root seed (default: the scenario's seed)")
    run.add_argument("--out", help="run folder (default: reports/runs/<scenario>-seed<N>)")
    run.add_argument("--json", action="store_true", help="print one JSON object")
    run.add_argument("--explain", type=int, default=5, metavar="N",
                     help="how many anomaly explanations to print (default 5)")
    run.set_defaults(func=cmd_run)

    replay = sub.add_parser("replay", help="re-run a run folder and compare its trace hash")
    replay.add_argument("run_dir")
    replay.add_argument("--json", action="store_true")
    replay.set_defaults(func=cmd_replay)

    bench = sub.add_parser("bench", help="measure model overhead, scale and checker speed")
    bench.add_argument("--users", type=int, default=1000)
    bench.add_argument("--days", type=float, default=1.0)
    bench.add_argument("--no-checker", action="store_true", help="skip the checker benchmark")
    bench.add_argument("--quick", action="store_true",
                       help="checker on 10k/100k writes instead of 100k/1M")
    bench.add_argument("--json", action="store_true")
    bench.set_defaults(func=cmd_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if getattr(args, "func", None) is None:
            parser.print_help()
            return EXIT_USAGE
        return args.func(args)
    except InputError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
