"""``p2c bench``: the performance targets of DESIGN.md, measured (see :mod:`sim.bench`)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from sim.cli.errors import EXIT_OK
from sim.scenario.yamlio import InputError


def cmd_bench(args: argparse.Namespace) -> int:
    # Imported when the command runs, not when p2c builds its parser: p2c --help stays fast.
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
    figures = run_bench(
        users=args.users, days=args.days, quick=args.quick, workers=args.workers, **parts
    )
    if args.json:
        print(json.dumps(figures, sort_keys=True, default=str))
    else:
        print("\n".join(bench_lines(figures)))
    return EXIT_OK


def add_bench_parser(sub: Any) -> None:
    """Add ``p2c bench`` to p2c's subcommands."""
    bench = sub.add_parser(
        "bench",
        help="measure the model, every design and the checker against their targets",
        description="Full scale: 1,000 users for a working week (5 days), every design in "
        "parallel, the checker on 100k and 1M writes. --users and --days scale "
        "every part; --quick is 100 users for one day. Naming parts (--model, "
        "--week, --checker) runs only those.",
    )
    bench.add_argument(
        "--users",
        type=int,
        metavar="N",
        help="users in the scaled organisation (default 1000; 100 with --quick)",
    )
    bench.add_argument(
        "--days", type=float, metavar="D", help="simulated working days (default 5; 1 with --quick)"
    )
    bench.add_argument(
        "--quick",
        action="store_true",
        help="a tenth of the users for one day, the checker scaled alike",
    )
    bench.add_argument("--model", action="store_true", help="the model against its recording floor")
    bench.add_argument(
        "--week",
        action="store_true",
        help="every design in parallel (a working week at full scale)",
    )
    bench.add_argument("--checker", action="store_true", help="the checker against its floor")
    bench.add_argument("--no-checker", action="store_true", help="skip the checker benchmark")
    bench.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="designs run at a time (default: the available cores)",
    )
    bench.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object: every figure, each target met or not",
    )
    bench.set_defaults(func=cmd_bench)
