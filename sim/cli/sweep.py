"""``p2c sweep SWEEP.yaml``: run a sweep, write its files, print its table."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

EXIT_OK, EXIT_FAILED = 0, 1


def cmd_sweep(args: argparse.Namespace) -> int:
    """``p2c sweep SWEEP.yaml``: run the sweep, write the outputs, print the table."""
    # Imported here, not at the top: building p2c's parser (p2c --help) stays fast.
    from sim.reporting.sweep import summary_lines
    from sim.study.sweep.output import summary_records
    from sim.study.sweep.run import sweep_from_args

    progress = (not args.json and sys.stderr.isatty()) if args.progress is None else args.progress
    try:
        result = sweep_from_args(
            args.sweep,
            workers=args.workers,
            scheduler=args.scheduler,
            out=args.out,
            resume=args.resume,
            fresh=args.fresh,
            progress=progress,
            yes=args.yes,
        )
    except KeyboardInterrupt:
        print("interrupted: every finished run is stored; continue with --resume", file=sys.stderr)
        raise
    failed = bool(args.strict and result.failed_runs)
    assert result.out_dir is not None
    if args.json:
        print(
            json.dumps(
                {
                    "sweep": result.plan.spec.name,
                    "out_dir": str(result.out_dir),
                    "store": str(result.out_dir / "results.sqlite"),
                    "executed": result.executed,
                    "skipped": result.skipped,
                    "elapsed_s": round(result.elapsed_s, 3),
                    "executor": result.executor,
                    "configurations": summary_records(result),
                    "pareto_front": [s.configuration.label for s in result.summaries if s.pareto],
                    "failed_runs": result.failed_runs,
                    "failed": failed,
                },
                sort_keys=True,
                default=str,
            )
        )
    else:
        lines = summary_lines(result)
        lines += [
            "",
            f"Results: {result.out_dir}/ (results.sqlite, summary.csv, summary.json, runs.csv)",
            f"Resume or extend: p2c sweep {args.sweep} --resume",
        ]
        print("\n".join(lines))
    return EXIT_FAILED if failed else EXIT_OK


def add_sweep_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``sweep`` to ``p2c``'s subcommands (``add_sweep_parser(sub)`` in build_parser)."""
    parser = subparsers.add_parser(
        "sweep",
        help="run a scenario over factors and replications, with confidence intervals",
        description="Run every configuration of a sweep file (factors x designs) for several "
        "replications with common random numbers; print means with 95% "
        "t-intervals and the Pareto front; results in reports/sweeps/<name>/.",
    )
    parser.add_argument("sweep", help="sweep YAML file, e.g. scenarios/sweeps/batch_interval.yaml")
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="local worker processes (default: every core; 0 = in this process)",
    )
    parser.add_argument(
        "--scheduler", metavar="ADDRESS", help="run on a Dask cluster, e.g. tcp://10.0.0.5:8786"
    )
    parser.add_argument(
        "--resume", action="store_true", help="keep the stored results and run only what is missing"
    )
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="discard the stored results and start again (they are deleted "
        "when the first new run is stored). Without --resume or --fresh "
        "a store that holds finished runs is refused (exit 2)",
    )
    parser.add_argument(
        "--yes",
        action="store_true",
        help="run even when the estimated size is large: more than 200,000 "
        "user-days in all (runs still to do x users x days), or one run "
        "beyond p2c run's limits (refused with the estimate otherwise)",
    )
    parser.add_argument("--out", help="output folder (default reports/sweeps/<name>)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar with ETA on stderr (default: when a terminal)",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="exit 1 when any run broke an invariant its design promises",
    )
    parser.set_defaults(func=cmd_sweep)
    return parser
