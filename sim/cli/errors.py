"""The ``p2c`` command line: what users and CI script against.

Exit codes: 0 every promised invariant holds; 1 an invariant or expectation failed;
2 bad input or usage (one clear message naming file, line and field; nothing written),
or the environment refused (a full disk, a read-only or missing folder, an unreadable
file: one line naming the path and the cause); 130 interrupted (Ctrl-C, SIGINT), 143
terminated (SIGTERM), both after cleaning up (no partial files, no worker processes
left); 141 standard output was closed (``| head``), quietly.
``--json`` prints one JSON object for scripts instead of the readable summary.

Every command's errors are reported here, in :func:`run_reporting_errors`, the one place
that turns exceptions into messages and exit codes, so each command only raises.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

from sim.scenario.yamlio import InputError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED, EXIT_PIPE, EXIT_TERMINATED = 130, 141, 143

EXIT_CODES_HELP = (
    "Exit codes: 0 ok, 1 a promised invariant (or expectation) failed, 2 bad input or an "
    "environment error (full disk, read-only folder, unreadable file), 130 interrupted "
    "(SIGINT), 143 terminated (SIGTERM); both clean up first. 141: output pipe closed."
)


def seed_arg(text: str) -> int:
    """``--seed``: an integer a scenario's ``seed`` may be (0 <= seed < 2**63); anything
    else is a usage error (exit 2), not a traceback from the random streams."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"a seed is from 0 to 2**63 - 1, got {text}")
    return value


def count_arg(text: str) -> int:
    """A count option (``--timeline N``, ``--explain N``): an integer >= 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"a count is >= 0, got {text}")
    return value


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, so every clean-up path that handles Ctrl-C
    (partial files removed, worker processes stopped) handles it too."""


class Parser(argparse.ArgumentParser):
    """argparse, but usage errors exit 2 through our own error path."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        raise InputError(f"{self.prog}: {message}")


def run_reporting_errors(command: Callable[[], int]) -> int:
    """``command()``, with every error turned into one message and an exit code.

    The one place that does so: every ``p2c`` command only raises (``InputError`` for bad
    input, ``OSError`` from the machine, ``KeyboardInterrupt`` / ``Terminated``), and
    :func:`sim.cli.main.main` runs it through here.
    """
    tolerant_streams()
    previous = handle_sigterm()
    try:
        return _exit_code(command)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _exit_code(command: Callable[[], int]) -> int:
    try:
        return command()
    except InputError as exc:
        print_error(exc.message)
        return EXIT_USAGE
    except Terminated:
        print_error("terminated (SIGTERM); partial output removed", prefix="")
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        print_error("interrupted", prefix="")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        silence_stdout()
        return EXIT_PIPE
    except OSError as exc:
        print_error(environment_message(exc))
        return EXIT_USAGE
    except MemoryError:
        print_error("out of memory; try a smaller scenario (fewer users or days)")
        return EXIT_USAGE


def environment_message(exc: OSError) -> str:
    """``path: cause`` for an error of the machine (disk full, read-only, permissions)."""
    cause = exc.strerror or str(exc) or type(exc).__name__
    if exc.filename2 is not None:
        return f"{exc.filename} -> {exc.filename2}: {cause}"
    if exc.filename is not None:
        return f"{exc.filename}: {cause}"
    return cause


def print_error(message: str, prefix: str = "error: ") -> None:
    try:
        print(f"{prefix}{message}", file=sys.stderr)
    except (OSError, ValueError):  # stderr itself is gone: nothing more to say
        pass


def tolerant_streams() -> None:
    """Text the terminal's encoding cannot show is replaced (``?``), never fatal."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors="replace")
            except (ValueError, OSError):  # pragma: no cover - a closed or odd stream
                pass


def silence_stdout() -> None:
    """After a closed pipe: point stdout at /dev/null so the exit flush is quiet too."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # not a real file (e.g. under pytest)
        pass


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated()


def handle_sigterm() -> Any:
    """Handle SIGTERM like Ctrl-C (in the main thread only; returns the old handler)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _on_sigterm)
