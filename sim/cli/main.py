"""The ``p2c`` command line: what users and CI script against.

One module per command (``run``, ``compare``, ``replay``, ``sweep``, ``verify``, ...), each
adding its parser and raising on bad input; :mod:`sim.cli.errors` turns every error into
one message and an exit code (0 ok, 1 a promised invariant failed, 2 bad input or
environment, 130/143 interrupted/terminated, 141 closed pipe).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from sim.cli.bench import add_bench_parser
from sim.cli.calibration import add_calibration_parsers
from sim.cli.check import add_check_parser
from sim.cli.compare import add_compare_parser
from sim.cli.errors import EXIT_CODES_HELP, EXIT_USAGE, Parser, run_reporting_errors
from sim.cli.explore import add_explore_parser, add_shrink_parser
from sim.cli.lint import add_lint_parser
from sim.cli.replay import add_replay_parser
from sim.cli.report import add_report_parser
from sim.cli.run import add_run_parser
from sim.cli.schema import add_schema_parser
from sim.cli.sweep import add_sweep_parser
from sim.cli.verify import add_verify_parser


def build_parser() -> Parser:
    parser = Parser(
        prog="p2c",
        description=(
            "Simulate and verify the Dynamics 365 Sales <-> Operations prospect-to-cash "
            "integration through the hub."
        ),
        epilog=EXIT_CODES_HELP,
    )
    parser.add_argument(
        "--version",
        action=_VersionAction,
        help="print the installed p2c-testbed version and exit",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    add_run_parser(sub)
    add_compare_parser(sub)
    add_replay_parser(sub)
    add_lint_parser(sub)
    add_report_parser(sub)
    add_sweep_parser(sub)
    add_check_parser(sub)
    add_verify_parser(sub)
    add_schema_parser(sub)
    add_explore_parser(sub)
    add_shrink_parser(sub)
    add_calibration_parsers(sub)
    add_bench_parser(sub)
    return parser


class _VersionAction(argparse.Action):
    """``--version``: argparse's own action, but the version is looked up when asked for.

    ``action="version"`` needs the text when the parser is built, and looking the version
    up (importlib.metadata) would cost every command, ``p2c --help`` included, more than
    the rest of building the parser (issue 17: p2c starts fast).
    """

    def __init__(self, option_strings: Sequence[str], dest: str, help: str | None = None) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        from sim import __version__  # looked up now, not when the parser is built

        print(f"p2c {__version__}")
        parser.exit()


def main(argv: Sequence[str] | None = None) -> int:
    """Run one ``p2c`` command; every error becomes one message and an exit code."""
    return run_reporting_errors(lambda: _dispatch(argv))


def _dispatch(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return EXIT_USAGE
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
