"""``p2c lint DESIGN_OR_SCENARIO``: print the findings, draw the graph; exit 1 on an error."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from sim.scenario.yamlio import InputError

EXIT_OK, EXIT_FAILED = 0, 1


def cmd_lint(args: argparse.Namespace) -> int:
    """``p2c lint TARGET [--png PATH] [--json]``: exit 1 when any finding is an error."""
    # Imported when the command runs, not when p2c builds its parser: p2c --help stays fast.
    from sim.lint.graph import lint_target, replica_graph
    from sim.lint.rendering import default_png_path, render_png, report_lines
    from sim.lint.rules import lint

    target = Path(args.target)
    design, catalogue = lint_target(target)
    findings = lint(design, catalogue)
    png = Path(args.png) if getattr(args, "png", None) else default_png_path(design.name)
    try:
        render_png(replica_graph(design, catalogue), findings, png)
    except OSError as exc:
        raise InputError(f"{png}: cannot write the picture ({exc.strerror or exc})") from None
    if getattr(args, "json", False):
        print(
            json.dumps(
                {
                    "design": design.name,
                    "target": str(target),
                    "findings": [f.to_json() for f in findings],
                    "png": str(png),
                },
                sort_keys=True,
            )
        )
    else:
        print("\n".join(report_lines(design, findings, target, png)))
    return EXIT_FAILED if any(f.severity == "error" for f in findings) else EXIT_OK


def add_lint_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``lint`` to ``p2c``'s subcommands (``add_lint_parser(sub)`` in build_parser)."""
    parser = subparsers.add_parser(
        "lint",
        help="static analysis of a design's replicas and maps",
        description="Check a design's topology before running it: edits that never leave "
        "their system, unguarded multi-writer entities, echo loops, references "
        "that arrive before what they point at. Exit 1 when any finding is "
        "an error.",
    )
    parser.add_argument("target", help="a design (scenarios/designs/NAME.yaml) or a scenario")
    parser.add_argument(
        "--png", help="picture of the replica graph (default: reports/lint/<design>.png)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=cmd_lint)
    return parser
