"""``p2c replay RUN_DIR``: re-run a run folder's scenario and seed; compare the trace hash."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from sim.cli.errors import EXIT_FAILED, EXIT_OK
from sim.scenario.yamlio import InputError


def cmd_replay(args: argparse.Namespace) -> int:
    """Re-run a run folder's resolved scenario and seed; compare the trace hash."""
    # Imported when the command runs, not when p2c builds its parser: p2c --help stays fast.
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
        print(
            f"replay of {folder} (seed {seed}): trace {result.trace_sha256[:16]} "
            f"{'matches' if same else 'DIFFERS from'} the recorded {expected[:16]}"
        )
    return EXIT_OK if same else EXIT_FAILED


def add_replay_parser(sub: Any) -> None:
    """Add ``p2c replay`` to p2c's subcommands."""
    replay = sub.add_parser("replay", help="re-run a run folder and compare its trace hash")
    replay.add_argument("run_dir", help="a run folder written by p2c run (holds manifest.json)")
    replay.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object: expected and got trace hash, same",
    )
    replay.set_defaults(func=cmd_replay)
