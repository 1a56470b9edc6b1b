"""``p2c run SCENARIO``: run a scenario, write its run folder, print its summary."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from sim.cli.compare import cmd_compare, installed_checker
from sim.cli.errors import EXIT_FAILED, EXIT_OK, count_arg, seed_arg
from sim.glossary import LOSS_GLOSSARY
from sim.scenario.yamlio import InputError


def cmd_run(args: argparse.Namespace) -> int:
    # Imported when the command runs, not when p2c builds its parser: p2c --help stays fast.
    from sim.checker.check import RunCheck
    from sim.engine.runner import check_run_size, run_to_folder
    from sim.history import read_history
    from sim.reporting.summary import (
        ScriptedWrites,
        overwrite_lines,
        scripted_lines,
        summary_lines,
    )
    from sim.scenario.spec import load_scenario
    from sim.scenario.variants import catalogue_names, design_variant

    if args.design and len(args.design) > 1:
        args.all = args.markdown = False
        return cmd_compare(args)
    scenario = load_scenario(args.scenario)
    if args.design:
        if args.design[0] not in catalogue_names():
            raise InputError(
                f"unknown design {args.design[0]!r} (known: {', '.join(catalogue_names())})"
            )
        scenario = scenario.with_design(design_variant(scenario, args.design[0]).design)
    check_run_size(scenario, yes=args.yes)
    seed = scenario.spec.seed if args.seed is None else args.seed
    out = Path(args.out) if args.out else default_out(scenario.name, seed)
    progress = not args.json and sys.stderr.isatty()
    # No event is kept: the checker judges the run while it is recorded, the summary
    # keeps the few writes its scripted saves could be, and the rest of the summary
    # (timelines, overwrites without a checker) reads the run folder's history back.
    scripted = ScriptedWrites(scenario)
    check = RunCheck() if installed_checker() is not None else None

    def watch(events: list[dict[str, Any]]) -> None:
        if check is not None:
            check.feed(events)
        scripted.watch(events)

    result = run_to_folder(
        scenario,
        out,
        seed,
        progress=progress,
        finish=None if check is None else check.verdict_files,
        keep_events=False,
        watch=watch,
    )
    report = getattr(result, "check", None)
    failed = bool(report is not None and report.failed)
    pictures = _timelines(report, result, out, args.timeline) if args.timeline else []
    if args.json:
        invariants = {}
        if report is not None:
            invariants = {
                name: {"status": v.status, "violations": v.violations, "sanctioned": v.sanctioned}
                for name, v in report.verdicts.items()
            }
        print(
            json.dumps(
                {
                    "scenario": result.scenario,
                    "design": result.design,
                    "seed": result.seed,
                    "trace_sha256": result.trace_sha256,
                    "run_dir": str(out),
                    "quiescent": result.quiescent,
                    "metrics": result.metrics,
                    "invariants": invariants,
                    "failed": failed,
                    "replaced": result.replaced,
                },
                sort_keys=True,
            )
        )
    else:
        lines = summary_lines(result, scenario)
        incidents = scripted_lines(scenario, scripted.writes, report)
        if incidents:
            lines += ["", *incidents]
        if report is not None:
            lines += ["", *report.summary_lines(max_explanations=args.explain)]
        else:
            explained = overwrite_lines(read_history(out / "history.jsonl.gz"), limit=args.explain)
            if explained:
                lines += ["", "First overwritten writes:", *("  " + x for x in explained)]
        lines += [f"Timeline: {p}" for p in pictures]
        replaced = " (replaced the earlier run folder there)" if result.replaced else ""
        lines += [
            "",
            f"Run folder: {out}{replaced}",
            f"Reproduce:  p2c run {args.scenario} --seed {seed}",
        ]
        print("\n".join(lines))
    return EXIT_FAILED if failed else EXIT_OK


def _timelines(report, result, out: Path, count: int) -> list[Path]:
    """PNG timelines of the first ``count`` anomalies (violations first, then sanctioned)."""
    if report is None:
        return []
    # Imported when the command runs, not when p2c builds its parser: p2c --help stays fast.
    from sim.history import read_history
    from sim.reporting.timeline import plot_first_anomalies

    # Each picture streams the run folder's history afresh, keeping one record's events.
    history = out / "history.jsonl.gz"
    return plot_first_anomalies(report, lambda: read_history(history), out / "timelines", count)


def default_out(scenario_name: str, seed: int) -> Path:
    """``reports/runs/<scenario>-seed<N>``: where ``p2c run`` writes without ``--out``."""
    return Path("reports") / "runs" / f"{scenario_name}-seed{seed}"


def add_run_parser(sub: Any) -> None:
    """Add ``p2c run`` to p2c's subcommands."""
    run = sub.add_parser(
        "run",
        help="run a scenario and print its summary",
        description="Run a scenario, write a run folder, print a summary.",
        epilog=LOSS_GLOSSARY,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("scenario", help="scenario YAML file, e.g. scenarios/prospect_to_cash.yaml")
    run.add_argument("--seed", type=seed_arg, help="root seed (default: the scenario's seed)")
    run.add_argument("--out", help="run folder (default: reports/runs/<scenario>-seed<N>)")
    run.add_argument("--json", action="store_true", help="print one JSON object")
    run.add_argument(
        "--yes",
        action="store_true",
        help="run even when the estimated size (user-days, initial records) is "
        "beyond what runs in a few minutes",
    )
    run.add_argument(
        "--explain",
        type=count_arg,
        default=5,
        metavar="N",
        help="how many anomaly explanations to print (default 5)",
    )
    run.add_argument(
        "--timeline",
        type=count_arg,
        default=0,
        metavar="N",
        help="draw a timeline PNG for each of the first N anomalies (run folder, timelines/)",
    )
    run.add_argument(
        "--design",
        action="append",
        metavar="NAME",
        help="run under this catalogue design instead; repeat to compare",
    )
    run.set_defaults(func=cmd_run)
