"""``p2c bench``: the performance targets of DESIGN.md, measured (see :mod:`sim.bench`)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from sim.cli.errors import EXIT_OK
from sim.scenario.yamlio import InputError


def cmd_bench(args: argparse.Namespace) -> int:
    # Imported when the command runs, not when p2c builds its parser: p2c --help stays fast.
    from sim.bench.bench import bench_lines, run_bench
    from sim.bench.record import bench_meta, load_average, write_bench_file

    if (args.users is not None and args.users < 1) or (args.days is not None and args.days <= 0):
        raise InputError("p2c bench: --users must be >= 1 and --days > 0")
    if args.workers is not None and args.workers < 1:
        raise InputError("p2c bench: --workers must be >= 1")
    parts = {"model": args.model, "designs": args.week, "checker": args.checker}
    if not any(parts.values()):
        parts = dict.fromkeys(parts, True)
    if args.no_checker:
        parts["checker"] = False
    out = Path(args.out) if args.out is not None else None
    if out is not None and out.is_dir():
        raise InputError(
            f"p2c bench: --out {out}: a folder; give a file name (e.g. {out}/bench.json)"
        )
    load_start = load_average()
    started = time.perf_counter()

    def progress(words: str) -> None:
        # Standard error: standard output stays the figures (one JSON object with --json).
        print(f"p2c bench [{time.perf_counter() - started:6.1f} s]: {words}", file=sys.stderr)

    figures = run_bench(
        users=args.users,
        days=args.days,
        quick=args.quick,
        workers=args.workers,
        progress=progress,
        **parts,
    )
    if args.json:
        print(json.dumps(figures, sort_keys=True, default=str))
    else:
        print("\n".join(bench_lines(figures)))
    if out is not None:
        replaced = write_bench_file(out, figures, bench_meta(bench_command(args), load_start))
        # On standard error: standard output stays one JSON object with --json.
        print(
            f"Bench file: {out}{' (replaced the earlier one)' if replaced else ''}", file=sys.stderr
        )
    return EXIT_OK


def bench_command(args: argparse.Namespace) -> str:
    """The ``p2c bench`` command line the options in ``args`` come from (canonical order)."""
    words = ["p2c", "bench"]
    for flag in ("quick", "model", "week", "checker", "no_checker", "json"):
        if getattr(args, flag):
            words.append("--" + flag.replace("_", "-"))
    for option in ("users", "days", "workers", "out"):
        value = getattr(args, option)
        if value is not None:
            words += [f"--{option}", f"{value:g}" if isinstance(value, float) else str(value)]
    return " ".join(words)


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
    bench.add_argument(
        "--out",
        metavar="FILE",
        help="also write the JSON figures to FILE with when and how they were measured "
        "(date UTC, command, load average at start and end, cores, Python, git commit); "
        "written to a temporary file and renamed, replacing an earlier FILE",
    )
    bench.set_defaults(func=cmd_bench)
