"""``p2c report SCENARIO``: the licensing decision report (see :mod:`sim.reporting.licensing`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from sim.cli.errors import EXIT_FAILED, EXIT_OK
from sim.reporting.licensing.recommendation import DEFAULT_MAX_RISK_PER_1000
from sim.scenario.yamlio import InputError


def default_out(scenario_name: str) -> Path:
    return Path("reports") / scenario_name


def cmd_report(args: argparse.Namespace) -> int:
    """``p2c report SCENARIO [--out DIR] [--seeds N] [--max-risk X] [--json]``."""
    # Imported when the command runs, not when p2c builds its parser: p2c --help stays fast.
    from sim.reporting.licensing.comparison import compare_options
    from sim.reporting.licensing.html import check_report_folder, write_report
    from sim.scenario.spec import load_scenario

    path = Path(args.scenario)
    scenario = load_scenario(path)
    if args.seeds < 1:
        raise InputError("p2c report: --seeds must be at least 1")
    out = Path(args.out) if args.out else default_out(scenario.name)
    check_report_folder(out)  # before the runs, not after them
    chatty = not args.json and sys.stderr.isatty()
    progress = (lambda text: print(text, file=sys.stderr)) if chatty else None
    comparison = compare_options(
        scenario, args.seeds, max_risk_per_1000=args.max_risk, progress=progress
    )
    index = write_report(comparison, out)
    data = comparison.to_json()
    if args.json:
        print(
            json.dumps(
                {
                    "scenario": scenario.name,
                    "report": str(index),
                    "json": str(out / "report.json"),
                    "seeds": comparison.seeds,
                    "recommendation": data["recommendation"],
                    "pareto_front": data["pareto_front"],
                    "options": {o["name"]: o["row"] for o in data["options"]},
                    "failed": comparison.failed,
                },
                sort_keys=True,
            )
        )
    else:
        seeds = ", ".join(map(str, comparison.seeds))
        lines = [f"p2c report: {scenario.name}, seeds {seeds} (the same for every option)", ""]
        lines += comparison.table_lines()
        pick = data["recommendation"]["option"]
        lines += ["", f"Recommendation: {pick or 'none'}"]
        lines += [f"  - {reason}" for reason in data["recommendation"]["reasons"]]
        lines += [f"  ! {entry['sentence']}" for entry in data["recommendation"]["rests_on"]]
        for result in comparison.results:
            if result.broken_promises:
                lines.append(
                    f"{result.option.name}: promised invariants violated: "
                    f"{', '.join(result.broken_promises)}"
                )
        lines += ["", f"Report: {index}"]
        print("\n".join(lines))
    return EXIT_FAILED if comparison.failed else EXIT_OK


def add_report_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``report`` to ``p2c``'s subcommands (``add_report_parser(sub)`` in build_parser)."""
    parser = subparsers.add_parser(
        "report",
        help="licensing decision report: the scenario's options, cost versus risk",
        description="Run every option listed under the scenario's options: (a design and "
        "role changes) on the same seeds, check each history, price the "
        "licences, and write reports/<name>/index.html with its charts and "
        "report.json. Exit 1 when an option breaks an invariant its design "
        "promises (the report is written all the same).",
    )
    parser.add_argument(
        "scenario", help="scenario YAML file with options:, e.g. scenarios/licensing_decision.yaml"
    )
    parser.add_argument("--out", help="report folder (default: reports/<scenario name>)")
    parser.add_argument(
        "--seeds",
        type=int,
        default=3,
        metavar="N",
        help="run each option with N seeds: the scenario's seed and the next N-1 (default 3)",
    )
    parser.add_argument(
        "--max-risk",
        type=float,
        default=DEFAULT_MAX_RISK_PER_1000,
        metavar="X",
        help="writes at risk per 1,000 saves an option may have "
        "to be recommended on cost (default "
        f"{DEFAULT_MAX_RISK_PER_1000:g})",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=cmd_report)
    return parser
