"""``p2c verify``: judge a history already on disk, without running anything.

A run folder keeps its history (``history.jsonl.gz``) beside the verdict the checker
gave when it ran. ``p2c verify`` judges such a history again, or any file in the same
event format: a history kept from before a checker change, a hand-written incident, an
audit log converted from a real system. It streams the file once and prints the same
summary as ``p2c run`` (one line per invariant, the first explanations), with ``--json``
for scripts, ``--out`` for a ``verdict.json`` and ``--timeline N`` pictures. Exit codes
as everywhere: 0 when every invariant the history's design promises holds, 1 when one
is violated, 2 for a file that is not a history (``file:line: what``), with nothing
written.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

# The invariants' names alone (models.events needs only the standard library), not
# sim.checker.INVARIANTS (the same names, in the same order): building p2c's parser does
# not load the checker (issue 17: p2c starts fast).
from models.events import INVARIANT_NAMES
from sim.scenario.yamlio import InputError

EXIT_OK, EXIT_FAILED = 0, 1


def add_verify_parser(sub: Any) -> None:
    verify = sub.add_parser(
        "verify",
        help="judge a history file (or a run folder's) against every invariant",
        description="Check a history on disk in one streamed pass: every invariant, or those "
        "named with --only. Exit 1 when an invariant the design promises is "
        "violated.",
    )
    verify.add_argument(
        "history",
        help="history.jsonl or history.jsonl.gz, a run folder "
        "holding one, or - for JSON lines on standard input",
    )
    verify.add_argument(
        "--only",
        action="append",
        metavar="INVARIANT",
        choices=list(INVARIANT_NAMES),
        help="judge only this invariant; repeat for several (choices: "
        + ", ".join(INVARIANT_NAMES)
        + ")",
    )
    verify.add_argument(
        "--explain",
        type=int,
        default=5,
        metavar="N",
        help="how many explanations to print per invariant (default 5)",
    )
    verify.add_argument(
        "--out",
        metavar="DIR",
        help="write verdict.json (and timelines/) here, once the check is done",
    )
    verify.add_argument(
        "--timeline",
        type=int,
        default=0,
        metavar="N",
        help="draw a timeline PNG for each of the first N anomalies (needs --out)",
    )
    verify.add_argument(
        "--timeline-of",
        action="append",
        metavar="ID",
        default=[],
        help="draw the timeline of every anomaly naming this write id or "
        "record key (e.g. W-operations-165, ACC-00012); repeat for "
        "several (needs --out)",
    )
    verify.add_argument("--json", action="store_true", help="print one JSON object")
    verify.set_defaults(func=cmd_verify)


def cmd_verify(args: argparse.Namespace) -> int:
    # Imported when the command runs, not when p2c builds its parser: p2c --help stays fast.
    from sim.checker.files import HistoryFileError, check_file, history_path

    if (args.timeline or args.timeline_of) and not args.out:
        raise InputError("p2c verify: --timeline and --timeline-of need --out DIR for the pictures")
    if (args.timeline or args.timeline_of) and args.history == "-":
        raise InputError(
            "p2c verify: --timeline reads the history again, so it needs a file, not standard input"
        )
    if args.explain < 0 or args.timeline < 0:
        raise InputError("p2c verify: --explain and --timeline take a count >= 0")
    if args.out:
        _check_out_folder(Path(args.out))
    progress = not args.json and sys.stderr.isatty()
    try:
        report = check_file(args.history, args.only, progress=progress)
        path = history_path(args.history)
        chosen = _chosen_anomalies(report, args.timeline, args.timeline_of)
        written = _write_outputs(report, path, Path(args.out), chosen) if args.out else []
    except HistoryFileError as exc:
        raise InputError(str(exc)) from None
    failed = report.failed
    invariants = report.counts()
    if args.json:
        print(
            json.dumps(
                {
                    "history": str(path),
                    "events": report.events,
                    "run": report.run,
                    "quiescent": bool(report.quiescence and report.quiescence.get("reached")),
                    "invariants": invariants,
                    "problems": report.problems,
                    "failed": failed,
                    "written": [str(p) for p in written],
                },
                sort_keys=True,
                default=str,
            )
        )
        return EXIT_FAILED if failed else EXIT_OK
    run = report.run
    about = ", ".join(f"{k} {run[k]}" for k in ("scenario", "design", "seed") if k in run)
    name = "standard input" if args.history == "-" else path
    lines = [
        f"p2c verify: {name} ({report.events:,} events{'; ' + about if about else ''})",
        "",
        *report.summary_lines(max_explanations=args.explain),
    ]
    lines += [f"Wrote: {p}" for p in written]
    lines += ["", f"Reproduce: {reproduce_command(args)}"]
    print("\n".join(lines))
    return EXIT_FAILED if failed else EXIT_OK


def reproduce_command(args: Any) -> str:
    """The ``p2c verify`` command that gives this output again, every choice kept."""
    words = ["p2c", "verify", args.history]
    words += [w for name in args.only or () for w in ("--only", name)]
    if args.out:
        words += ["--out", args.out]
    if args.timeline:
        words += ["--timeline", str(args.timeline)]
    words += [w for ident in args.timeline_of or () for w in ("--timeline-of", ident)]
    if args.explain != 5:
        words += ["--explain", str(args.explain)]
    return shlex.join(words)


def _chosen_anomalies(report: Any, first: int, named: list[str]) -> list[tuple[str, Any]]:
    """The anomalies to draw: the first ``first`` of the report, then every anomaly that
    names one of ``named`` (a write id or a record key), each once."""
    # Imported when the command runs, not when p2c builds its parser: p2c --help stays fast.
    from sim.checker.report import ordered_anomalies
    from sim.checker.verdicts import MAX_ANOMALIES

    ordered = ordered_anomalies(report)
    chosen = ordered[:first]
    for wanted in named:
        found = [(name, a) for name, a in ordered if wanted in a.write_ids or a.key == wanted]
        if not found:
            kept = sum(len(v.anomalies) for v in report.verdicts.values())
            raise InputError(
                f"p2c verify: no anomaly names {wanted!r} ({kept} anomalies kept; beyond "
                f"{MAX_ANOMALIES:,} per invariant anomalies are counted, not kept)"
            )
        chosen += [pair for pair in found if pair not in chosen]
    return chosen


def _check_out_folder(out: Path) -> None:
    """Refuse an ``--out`` that cannot become a folder before anything is judged (a
    million-write history takes tens of seconds to check; the answer must not be lost
    to a typo found only afterwards)."""
    for place in (out, *out.parents):
        if place.exists():
            if not place.is_dir():
                what = f"--out {out}" if place == out else f"--out {out}: {place}"
                raise InputError(
                    f"p2c verify: {what} is a file, not a folder; --out takes a folder "
                    "(created if missing) for verdict.json and timelines/"
                )
            return


def _write_outputs(
    report: Any, history: Path, out: Path, chosen: list[tuple[str, Any]]
) -> list[Path]:
    """verdict.json and the timelines, made in a scratch folder beside ``out`` and moved
    in only when all are done: an interrupted or failed verify leaves ``out`` as it was."""
    # Imported when the command runs, not when p2c builds its parser: p2c --help stays fast.
    from sim.checker.files import HistoryReader
    from sim.engine.runner import write_json
    from sim.reporting.timeline import plot_anomalies

    out.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{out.name}.verify-", dir=out.parent))
    try:
        write_json(scratch / "verdict.json", report.to_json())  # as a run folder's
        plot_anomalies(chosen, lambda: HistoryReader(history), scratch / "timelines")
        made = sorted(p.relative_to(scratch) for p in scratch.rglob("*") if p.is_file())
        for relative in made:
            target = out / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(scratch / relative, target)
        return [out / relative for relative in made]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
