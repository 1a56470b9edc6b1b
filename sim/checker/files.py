"""Checking a history file: one streamed pass, and every bad line named by its number.

``p2c verify`` judges a history that is already on disk: a run folder's
``history.jsonl.gz``, a history kept from an older run after the checker changed, or one
written by hand or converted from another system's audit log in the same event format
(``sim/history.py``). :class:`HistoryReader` streams the events of such a file once,
never holding them, and remembers which line it is on, so that whatever goes wrong is
reported as ``file:line: what`` instead of a traceback:

- a line that is not a JSON object (or a file that is not the gzip it claims to be);
- an event the checker cannot read, such as a ``write`` without ``write_id`` or an
  ``apply`` whose ``fields`` is not an object (:func:`event_problem` checks what the
  checker reads of each kind of event as the line is read);
- an event that breaks the history contract: no ``run_start`` first, an unknown kind,
  time going backwards, an apply of a write that never happened or to a record never
  created (:mod:`sim.checker.validation`, in the same pass);
- anything else the checker cannot make sense of: the line being read when it stopped,
  or, when it stopped after the last line, the file.

:func:`check_file` returns the :class:`~sim.checker.report.CheckReport` of the file or
raises :class:`HistoryFileError` (a ``ValueError``) with that message.
"""

from __future__ import annotations

import sys
import typing
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson
from isal import igzip, isal_zlib

from models import events as ev
from sim.checker.check import INVARIANTS, check_history
from sim.checker.ledger import ContractBreach, Event, Ledger
from sim.checker.report import CheckReport
from sim.checker.validation import ContractValidator
from sim.history import line_error, split_lines

#: The names a run folder's history may have, in the order they are looked for.
HISTORY_NAMES = ("history.jsonl.gz", "history.jsonl")

#: Decompressed bytes split into lines at a time (the progress bar moves once per block).
READ_BYTES = 1 << 20


class HistoryFileError(ValueError):
    """A history file that cannot be checked: ``path:line: message``."""

    def __init__(self, path: Path, message: str, line: int | None = None) -> None:
        name = "<stdin>" if str(path) == STDIN else str(path)
        where = f"{name}:{line}" if line else name
        super().__init__(f"{where}: {message}")
        self.path, self.line, self.message = path, line, message


#: The name that stands for standard input (``zcat history.jsonl.gz | p2c verify -``).
STDIN = "-"


def history_path(path: Path | str) -> Path:
    """The history file named by ``path``: the file itself, or the one in a run folder
    (``-``, standard input, is itself)."""
    if str(path) == STDIN:
        return Path(STDIN)
    path = Path(path)
    if path.is_dir():
        for name in HISTORY_NAMES:
            if (path / name).is_file():
                return path / name
        raise HistoryFileError(
            path, f"no history in this folder (looked for {' or '.join(HISTORY_NAMES)})"
        )
    if not path.is_file():
        raise HistoryFileError(path, "no such file or folder")
    return path


class HistoryReader:
    """The events of one history file, streamed once; ``line`` is the current line.

    With ``progress`` a bar on standard error follows the bytes read from disk (the
    compressed bytes of a ``.gz``), so a long file shows how far the check has come.

    With ``ledger``, a strict :class:`~sim.checker.ledger.Ledger` that is fed these
    events as they are yielded, the reader leaves the apply rules of the history
    contract to it and reads the write ids seen from its index (see
    :mod:`sim.checker.validation`); the ledger's :class:`ContractBreach` is then
    reported at :attr:`line`, as :func:`check_file` does.
    """

    def __init__(
        self, path: Path | str, *, progress: bool = False, ledger: Ledger | None = None
    ) -> None:
        if ledger is not None and not ledger.strict:
            raise ValueError("HistoryReader(ledger=...) leaves rules to a strict ledger")
        self.path = history_path(path)
        self.line = 0
        self.finished = False
        self.progress = progress
        self.ledger = ledger

    def __iter__(self) -> Iterator[Event]:
        stdin = str(self.path) == STDIN
        if stdin:
            raw = handle = sys.stdin.buffer  # plain JSON lines; decompress before the pipe
        else:
            raw = open(self.path, "rb")  # noqa: SIM115 - closed in the finally below
            # ISA-L's gzip reader: the same bytes as the standard library's, in a quarter
            # of the CPU time (decompression was a fifth of reading a history).
            handle = igzip.IGzipFile(fileobj=raw) if self.path.suffix == ".gz" else raw
        bar = None
        if self.progress and not stdin:
            # Imported only for a bar: scripts and tests show none (issue 17: p2c starts fast).
            from tqdm import tqdm

            bar = tqdm(
                total=self.path.stat().st_size,
                unit="B",
                unit_scale=True,
                desc=f"checking {self.path.name}",
                leave=False,
            )
        loads = orjson.loads
        validator = ContractValidator(None if self.ledger is None else self.ledger.index)
        contract, passes = validator.check, validator.passes
        line = 0
        try:
            # A megabyte of bytes at a time, cut into lines here (see read_history).
            rest = b""
            while True:
                chunk = handle.read(READ_BYTES)
                if chunk:
                    lines, rest = split_lines(rest + chunk)
                else:
                    lines = [rest] if rest else []
                for text in lines:
                    line += 1
                    try:
                        event = loads(text)
                    except orjson.JSONDecodeError:
                        # A blank line is skipped; it is told apart only here, where
                        # orjson has refused it (an empty document), not on every line.
                        if not text or text.isspace():
                            continue
                        self.line = line
                        raise HistoryFileError(
                            self.path, f"not a JSON event ({line_error(text)})", line
                        ) from None
                    # Writes and applies that are plainly fine pass in one call (shape
                    # and contract, ContractValidator.passes, which refuses what is not
                    # an object); the rest, and any doubt, take the full path below,
                    # which words the problem.
                    if passes(event):
                        self.line = line
                        yield event
                        continue
                    if type(event) is not dict or not _plainly_readable(event):
                        self.line = line
                        if type(event) is not dict:
                            raise HistoryFileError(
                                self.path,
                                f"an event is a JSON object, not {_json_type(event)}",
                                line,
                            )
                        problem = event_problem(event)
                        if problem:
                            raise HistoryFileError(self.path, problem, line)
                    self.line = line
                    problem = contract(event)
                    if problem:
                        raise HistoryFileError(self.path, problem, line)
                    yield event
                if bar is not None:
                    bar.update(raw.tell() - bar.n)
                if not chunk:
                    break
            self.line = line
            self.finished = True
        # isal's type stubs do not declare isal_zlib.error an exception class
        except (OSError, EOFError, zlib.error, isal_zlib.error) as exc:  # type: ignore[misc]
            raise HistoryFileError(self.path, f"unreadable: {exc}", line + 1) from None
        finally:
            if bar is not None:
                bar.close()
            if not stdin:
                handle.close()
                raw.close()


def _plainly_readable(event: dict[str, Any]) -> bool:
    """True when ``event`` is a ``write`` or an ``apply`` :func:`event_problem` would pass.

    The same rules as the shapes below for the two kinds that make nearly every line,
    written out so that the common case costs a few type tests rather than a walk over
    the shape table; anything else (another kind, or a doubt) is ``False`` and is asked
    of :func:`event_problem`, which words the problem. ``tests/test_checker_fast_paths.py``
    checks that both agree on the reference histories and on broken events.
    """
    kind = event.get("kind")
    t = event.get("t")
    if t is not None and type(t) is not float and type(t) is not int:
        return False
    if kind == "apply":
        fields = event.get("fields")
        if (
            type(fields) is not dict
            or type(event.get("system")) is not str
            or type(event.get("entity")) is not str
            or type(event.get("key")) is not str
            or type(event.get("via")) is not str
        ):
            return False
        for write_id in fields.values():
            if type(write_id) is not str:
                return False
        return True
    if kind == "write":
        fields = event.get("fields")
        base = event.get("base")
        return (
            type(event.get("write_id")) is str
            and type(event.get("system")) is str
            and type(event.get("entity")) is str
            and type(event.get("key")) is str
            and (fields is None or type(fields) is dict)
            and (base is None or type(base) is dict)
        )
    return False


_TEXT, _OBJECT, _LIST = (str,), (dict,), (list,)
_NUMBER = (int, float)
_JSON_TYPES = {str: _TEXT, dict: _OBJECT, list: _LIST}

#: What the checker reads of each kind of event: (field, required). The kinds, fields
#: and their types are the definitions in models/events.py; the checker is lenient on
#: everything it does not read, so a hand-written history may leave it out.
_READS: dict[str, tuple[tuple[str, bool], ...]] = {
    ev.WRITE: (
        ("write_id", True),
        ("system", True),
        ("entity", True),
        ("key", True),
        ("fields", False),
        ("base", False),
    ),
    ev.APPLY: (("system", True), ("entity", True), ("key", True), ("fields", True), ("via", True)),
    ev.REAPPLY: (
        ("system", True),
        ("entity", True),
        ("key", True),
        ("fields", True),
        ("via", True),
    ),
    ev.REJECT: (("write_id", True),),
    ev.CONFLICT: (("write_ids", False),),
    ev.BATCH_START: (("run_id", True),),
    ev.BATCH_END: (("run_id", True),),
    ev.SEND: (("message_id", True),),
    ev.DELIVER: (("message_id", True),),
    ev.DEAD_LETTER: (("message_id", True),),
    ev.RUN_START: (("contract", False),),
}


def _shape(
    kind: str, reads: tuple[tuple[str, bool], ...]
) -> tuple[tuple[str, tuple[type, ...], bool], ...]:
    hints = ev.fields_of(kind)
    return tuple(
        (name, _JSON_TYPES[typing.get_origin(hints[name]) or hints[name]], required)
        for name, required in reads
    )


#: (field, allowed JSON types, required) per kind, as :func:`event_problem` checks them.
_SHAPES = {kind: _shape(kind, reads) for kind, reads in _READS.items()}


def event_problem(event: dict[str, Any]) -> str | None:
    """What makes ``event`` unreadable for the checker, in words, or ``None``.

    Only what the checker itself reads is checked: each kind's identifying fields, the
    time, and for ``write`` and ``apply`` the field maps (an apply maps each field to
    the id of the write whose version it carries). Kinds the checker does not know are
    let through, as the checker ignores them.
    """
    kind = event.get("kind")
    if type(kind) is not str:
        return 'an event needs a "kind" (text)'
    t = event.get("t")
    if t is not None and (type(t) not in _NUMBER):
        return f'{kind} event: "t" must be a number of seconds, not {_json_type(t)}'
    shape = _SHAPES.get(kind)
    if shape is None:
        return None
    for name, types, required in shape:
        value = event.get(name)
        if value is None:
            if required:
                return f"{kind} event: it has no field {name!r}"
            continue
        if type(value) not in types:
            names: dict[tuple[type, ...], str] = {
                _TEXT: "text",
                _OBJECT: "an object",
                _LIST: "an array",
            }
            wanted = names[types]
            return f"{kind} event: {name!r} must be {wanted}, not {_json_type(value)}"
    if kind == ev.APPLY or kind == ev.REAPPLY:
        for field, write_id in event["fields"].items():
            if type(write_id) is not str:
                return (
                    f"{kind} event: fields[{field!r}] must be the id of a write (text), "
                    f"not {_json_type(write_id)}"
                )
    return None


def check_file(
    path: Path | str, only: Sequence[str] | None = None, *, progress: bool = False
) -> CheckReport:
    """Judge the history file at ``path`` (or in the run folder ``path``) in one pass.

    Raises :class:`HistoryFileError` naming the file and line for a line that is not an
    event or an event the checker cannot read.
    """
    unknown = [name for name in only or () if name not in INVARIANTS]
    if unknown:
        raise ValueError(f"unknown invariant(s) {unknown}; known: {list(INVARIANTS)}")
    # The contract's apply rules are judged by the strict ledger in its own pass.
    ledger = Ledger(strict=True)
    reader = HistoryReader(path, progress=progress, ledger=ledger)
    try:
        report = check_history(reader, only, ledger=ledger)
        if report.events == 0:
            raise HistoryFileError(reader.path, "no events: an empty file is not a history")
        return report
    except HistoryFileError:
        raise
    except ContractBreach as exc:
        raise HistoryFileError(reader.path, str(exc), reader.line) from None
    except (KeyError, TypeError, AttributeError, IndexError, ValueError) as exc:
        what = _describe(exc)
        if reader.finished:
            raise HistoryFileError(
                reader.path,
                f"the events read, {reader.line:,} lines, do not make a history "
                f"the checker can judge ({what})",
            ) from None
        raise HistoryFileError(
            reader.path,
            f"the checker cannot read this event ({what}); events follow the "
            "format of sim/history.py",
            reader.line,
        ) from None


def _describe(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"it has no field {exc.args[0]!r}" if exc.args else "a field is missing"
    return f"{type(exc).__name__}: {exc}"


def _json_type(value: Any) -> str:
    return {
        list: "an array",
        str: "a string",
        int: "a number",
        float: "a number",
        bool: "true or false",
        type(None): "null",
    }.get(type(value), type(value).__name__)
