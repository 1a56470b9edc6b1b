"""``p2c check PATH...``: run regression suites (see :mod:`sim.study.regression`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from sim.cli.errors import EXIT_FAILED, EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    """``p2c check PATH...``: exit 0 when every case meets its expectations, 1 otherwise."""
    # Imported when the command runs, not when p2c builds its parser: p2c --help stays fast.
    from sim.study.regression import check_paths

    progress = (not args.json and sys.stderr.isatty()) if args.progress is None else args.progress
    result = check_paths(
        args.paths, workers=args.workers, scheduler=args.scheduler, out=args.out, progress=progress
    )
    if args.json:
        print(
            json.dumps(
                {
                    "cases": [
                        {
                            "case": r.case.id,
                            "file": str(r.case.file),
                            "design": r.case.design_name,
                            "passed": r.passed,
                            "seeds": r.case.seeds,
                            "trace_sha256": [o.trace_sha256 for o in r.outcomes],
                            "mismatches": [
                                {
                                    "subject": m.subject,
                                    "expected": m.expected,
                                    "observed": m.observed,
                                }
                                for m in r.mismatches
                            ],
                            "reproduce": str(r.repro_file) if r.repro_file else None,
                        }
                        for r in result.results
                    ],
                    "failed": len(result.failed),
                },
                sort_keys=True,
            )
        )
    else:
        print("\n".join(result.lines()))
    return EXIT_FAILED if result.failed else EXIT_OK


def add_check_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``check`` to ``p2c``'s subcommands (``add_check_parser(sub)`` in build_parser)."""
    parser = subparsers.add_parser(
        "check",
        help="run a regression suite; exit 1 on any regression",
        description="Run every suite file (a scenario with an expect: block) under its "
        "designs and replications; print a diff for each expectation not met "
        "(expected vs observed with the confidence interval); exit 1 on any.",
    )
    parser.add_argument(
        "paths", nargs="+", metavar="PATH", help="suite files or folders, e.g. scenarios/suite/"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="local worker processes (default: every core; 0 = in this process)",
    )
    parser.add_argument("--scheduler", metavar="ADDRESS", help="run on a Dask cluster")
    parser.add_argument(
        "--out",
        default=str(Path("reports") / "check"),
        help="where failed cases' resolved scenarios go (default reports/check)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: when a terminal)",
    )
    parser.set_defaults(func=cmd_check)
    return parser
