"""The history file format: one JSON event per line, the evidence every check is judged from.

This module is the contract between the engine, which writes a run's history
(:class:`HistoryRecorder`), and the checker, which reads it (:func:`read_history`) without
the engine: encoding, reading and the trace hash live here, below both, so neither imports
the other. It is not in ``models/`` because it is about files (gzip, paths, orjson), which
the model never touches; the typed events themselves stay in :mod:`models.events`.

May import: nothing of ours (the standard library, orjson, isal).

A run's history is an ordered stream of flat events. Each event is a JSON object with
sorted keys and at least ``t`` (simulated seconds since the run started, Monday 00:00)
and ``kind``. The trace hash is the SHA-256 of the UTF-8 lines (each ending in ``\\n``),
so two runs with the same seed, scenario and code have the same ``trace_sha256``.

Event kinds (the contract the checker in ``sim/checker`` reads). Each kind's name, fields
and their types are defined once in :mod:`models.events` (one ``TypedDict`` per kind);
this docstring explains what they mean:

``run_start``
    Once, first. ``scenario`` (name), ``seed``, ``design`` (name) and ``contract``: what
    the checker needs to judge the run without the scenario file:

    - ``systems``: list of system names, e.g. ``["sales", "hub", "operations"]``;
    - ``entities``: ``{entity: {"key": key_field, "fields": [...],
      "references": {field: entity}, "status_order": [...] or null}}``;
    - ``synced``: ``{entity: {"fields": [...], "systems": [...]}}``: the fields some map
      copies and every system that holds a copy of the entity through the maps;
    - ``editable``: ``{entity: {system: {field: [allowed values]} or {}}}``: where user
      saves are accepted; a condition, when present, must hold for the row's current
      values (e.g. ``order: {sales: {status: [Draft]}}``);
    - ``promises``: names of invariants the design promises (a violated promise fails
      the run); ``sanctioned``: invariants whose violations the design accepts by
      construction (last-writer-wins sanctions ``no_lost_update``);
    - ``echo_bound``: the most applies one user write may cause in one replica;
    - ``staleness_p99_s``: ``{flow: seconds}``, optional objectives; a flow is named
      ``"entity:origin->destination"``.

``write``
    A user (or business step) save attempt. ``write_id`` (unique, ``W-<system>-<n>``),
    ``actor``, ``role``, ``system`` (where the save happened), ``entity``, ``key``,
    ``op`` (``create`` | ``update``), ``fields`` (``{field: value}`` it sets), ``base``
    (``{field: [write ids]}``: per field, the write(s) the user saw when the form was
    opened; ``[]`` when the field had no value; a merge names several parents),
    ``opened_t`` (when the form was opened). Every write is followed, at the same ``t``,
    by exactly one ``apply`` with ``via: "user"`` in its own system, or by a ``reject``.

``reject``
    ``write_id``, ``system``, ``entity``, ``key``, ``reason``: the save was refused and
    its user was shown the refusal (so the write is surfaced, never silently lost).

``apply``
    A replica changed. ``system``, ``entity``, ``key``, ``via`` (``"user"``,
    ``"initial-load"`` or a batch run id such as ``"accounts_hub_to_operations#4"``),
    ``fields`` (``{field: write_id}``: the field versions now held; only fields whose
    version changed are listed), ``row_version`` (after the apply), ``created`` (bool).
    Values are not repeated: a field version is identified by the write that produced
    it, whose ``write`` event carries the value.

``overwrite``
    Emitted with an ``apply`` when a field's previous version is replaced by one whose
    ancestry (following bases) does not include it: ``system``, ``entity``, ``key``,
    ``field``, ``lost_write``, ``by_write``, ``via``. This is the model's own view; the
    checker recomputes lost updates from writes and applies and does not trust it.

``batch_start`` / ``batch_end``
    A scheduled run of one map. ``run_id`` (``<map>#<n>``), ``map``, ``entity``,
    ``source``, ``target``; ``batch_start`` has ``rows`` (rows extracted, at most the
    map's row limit) and ``skipped_ticks`` (schedule ticks skipped since the map's
    previous run because that run was still going; 0 when it kept pace); ``batch_end``
    has ``rows_changed`` and ``rows_unchanged`` (every extracted row ends in one of
    them), ``duration_s`` and ``keys`` (the business key of every row the run carried,
    so any save can be traced to the run that moved it); a run that could not load
    (outage, partition) has ``rows_failed`` and ``failed`` (the reason) instead, and its
    rows are retried by the next run.

``reapply``
    A sync without loopback control re-wrote versions a replica already held:
    ``system``, ``entity``, ``key``, ``via``, ``fields`` (``{field: write_id}``). No
    field changed (an ``apply`` lists only fields whose version changed); the checker
    counts it as one more application of those writes (echo).

``send`` / ``deliver`` / ``redelivery`` / ``dead_letter``
    Queued designs. ``send``: ``message_id``, ``map``, ``source``, ``target``, ``cause``
    (the write), ``hops``, ``write_ids``. ``deliver``: ``message_id``, ``outcome``
    (applied, unchanged, stale, conflict, merged, primary_wins). ``redelivery``: a
    duplicate delivery of a message already delivered, ``outcome`` duplicate_ignored (an
    idempotent receiver) or inserted_again (the insert-only bug). ``dead_letter``:
    ``message_id`` and ``reason``: given up, never silently.

``conflict``
    ``conflict_id``, ``system``, ``entity``, ``key``, ``field``, ``write_ids`` (the
    concurrent versions), ``resolution`` (queued, primary_wins, merged_by_stamp): the
    writes named are surfaced, so not counted as silently lost.

``lock_grant`` / ``lock_deny`` / ``lock_release``, ``fault_start`` / ``fault_end``,
``delivery_lost``, ``catch_up_start`` / ``catch_up_end``
    Leases (with fencing ``token``), faults (``fault_id``, ``fault``, ``detail``), and
    transport incidents, for timelines and metrics.

``quiescence``
    Once, last. ``reached`` (bool): user actions stopped at ``workload_end_t`` and every
    map drained before the bound ``deadline_t``; when false, convergence is "unknown".
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Iterator
from io import BytesIO
from pathlib import Path
from typing import Any, cast

import orjson
from isal import igzip

Event = dict[str, Any]

_SORTED = orjson.OPT_SORT_KEYS


def encode_event(event: Event) -> bytes:
    """One canonical JSON line (sorted keys, no spaces, UTF-8) without the newline.

    orjson writes exactly what ``json.dumps(sort_keys=True, separators=(",", ":"),
    ensure_ascii=False)`` writes (shortest round-trip floats included), an order of
    magnitude faster; encoding is the largest single cost of recording a run.
    """
    return orjson.dumps(event, option=_SORTED)


#: Events encoded and buffered before one block is hashed and compressed. Compressing
#: a line at a time cost a fifth of a run (one ``compress`` call per event); a block of a
#: few thousand lines costs one call and compresses the same bytes.
BLOCK_EVENTS = 4096

#: Events handed to a recorder's ``watch`` at a time. A checker that reads a run while it
#: is recorded (``RunCheck.feed``) shares the CPU's caches with the model: handed blocks
#: of 4,096 events it cost the model as much as it saved (naive-bidirectional, 1,000
#: users x 1 day: 7.44 s of CPU against 7.16 s judging the file afterwards, medians of
#: 6), while the event dicts of 128 are still warm and soon reused (1,000 users x 2 days:
#: naive-bidirectional 11.59 s against 12.40 s, p2c-2017 6.87 s against 6.95 s, medians
#: of 5, 2026-12-02). The check's state then lives beside the run's: the peak memory
#: of those runs went from 247 to 333 MB and from 266 to 346 MB.
WATCH_EVENTS = 128

#: ISA-L's default level (0-3), writing ordinary gzip that any reader reads. On a 300-user
#: day (21.1 MB of lines, 2026-12-02) zlib at its default level 6 took 0.250 s of CPU for
#: 1.71 MB, zlib level 1 0.100 s for 2.30 MB, ISA-L level 2 0.023 s for 2.15 MB (level 3:
#: 0.063 s, 2.04 MB): a tenth of zlib's time for files a quarter larger. Compressing was
#: 12-15% of a design's run in ``p2c compare``. The bytes are compressed, not the events:
#: trace hashes, which hash the lines, do not depend on it.
COMPRESS_LEVEL = 2

_LINE = orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE

#: How much decompressed history :func:`read_history` splits into lines at a time.
READ_BYTES = 1 << 20


class HistoryRecorder:
    """Collects events in order, hashing their canonical lines.

    ``keep=True`` keeps the event dicts in memory (tests, notebooks, the checker run in
    the same process); ``watch``, a callable, is handed the event dicts as they are
    recorded, a list of :data:`WATCH_EVENTS` at a time (in order, each event once, the
    rest by :meth:`close`), so that a checker judges the run while it is recorded, with no
    event kept and nothing read back (``sim.checker.check.RunCheck.feed``); ``path``
    streams the lines to a gzip file written under a temporary name and renamed by
    :meth:`close`, so an interrupted run never leaves a half-written history behind.
    Lines are encoded as events arrive and hashed and compressed in blocks of
    :data:`BLOCK_EVENTS` (the hash of the concatenation is the hash of the lines one
    after another, so the trace hash does not depend on blocks).
    """

    __slots__ = (
        "events",
        "_watch",
        "_pending",
        "_hash",
        "_file",
        "_raw",
        "_tmp",
        "_path",
        "_flushed",
        "_block",
        "_append",
    )

    def __init__(
        self,
        keep: bool = True,
        path: Path | None = None,
        watch: Callable[[list[Event]], None] | None = None,
    ) -> None:
        self.events: list[Event] | None = [] if keep else None
        self._watch = watch
        # The events recorded and not yet handed to ``watch`` (None: nothing watches).
        self._pending: list[Event] | None = None if watch is None else []
        self._hash = hashlib.sha256()
        self._path = path
        self._tmp: Path | None = None
        self._file = None
        self._flushed = 0
        self._block: list[bytes] = []
        self._append = self._block.append
        if path is not None:
            self._tmp = path.with_name(path.name + ".partial")
            # mtime=0 keeps the gzip bytes themselves reproducible.
            raw = open(self._tmp, "wb")  # noqa: SIM115 - closed in close()
            self._file = igzip.IGzipFile(
                filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=COMPRESS_LEVEL
            )
            self._raw = raw

    def record(self, event: Event) -> None:
        self._append(orjson.dumps(event, option=_LINE))
        if self.events is not None:
            self.events.append(event)
        pending = self._pending
        if pending is not None:
            pending.append(event)
            if len(pending) >= WATCH_EVENTS:
                self._pass_on()
        if len(self._block) >= BLOCK_EVENTS:
            self._flush()

    def _pass_on(self) -> None:
        """Hand the events not yet watched to ``watch``."""
        pending = self._pending
        if pending:
            self._pending = []
            cast(Callable, self._watch)(pending)

    def _flush(self) -> None:
        block = self._block
        if not block:
            return
        data = b"".join(block)
        self._flushed += len(block)
        block.clear()
        self._hash.update(data)
        if self._file is not None:
            self._file.write(data)

    @property
    def count(self) -> int:
        """Events recorded so far."""
        return self._flushed + len(self._block)

    @property
    def sha256(self) -> str:
        self._flush()
        return self._hash.hexdigest()

    def close(self) -> None:
        self._pass_on()
        self._flush()
        if self._file is not None:
            self._file.close()
            self._raw.close()
            # both are set whenever a file was opened
            os.replace(cast(Path, self._tmp), cast(Path, self._path))
            self._file = None

    def abort(self) -> None:
        """Drop a partial file (used when a run fails, is interrupted or the disk is
        full: closing flushes, which may fail again on a full disk; the file goes anyway)."""
        self._block.clear()
        if self._pending is not None:
            self._pending.clear()
        if self._file is not None:
            file, self._file = self._file, None
            try:
                file.close()
            except OSError:
                pass
            finally:
                try:
                    self._raw.close()
                except OSError:
                    pass
                if self._tmp is not None:
                    self._tmp.unlink(missing_ok=True)


def split_lines(data: bytes) -> tuple[list[bytes], bytes]:
    """``data`` cut into its complete lines, each with its ``\\n``, and what follows the
    last ``\\n`` (an unfinished line, or ``b""``).

    ``io.BytesIO.readlines`` finds each newline with ``memchr``; ``bytes.split(b"\\n")``
    tests the bytes one at a time (CPython 3.11): on the lines of a synthetic history
    (234 bytes on average) 341 against 1,420 instructions a line (callgrind,
    2026-12-02). orjson reads a line with its newline as it reads it without (trailing
    whitespace), but words an error by its position: ask :func:`line_error` for the
    line's own words.
    """
    lines = BytesIO(data).readlines()
    if lines and not lines[-1].endswith(b"\n"):
        return lines, lines.pop()
    return lines, b""


def line_error(line: bytes) -> orjson.JSONDecodeError | None:
    """orjson's error for ``line`` read without its newline (its words, as a line of its
    own), or ``None`` when it reads."""
    try:
        orjson.loads(line[:-1] if line.endswith(b"\n") else line)
    except orjson.JSONDecodeError as exc:
        return exc
    return None


def read_history(path: Path | str) -> Iterator[Event]:
    """Stream events from a ``history.jsonl`` or ``history.jsonl.gz`` file."""
    path = Path(path)
    # ISA-L's gzip reader: the same bytes as the standard library's, a quarter of the CPU.
    opener = igzip.open if path.suffix == ".gz" else open
    # Bytes a megabyte at a time, cut into lines here (split_lines): orjson decodes (and
    # checks) the UTF-8 itself, and a text layer iterating line by line costs a fifth more.
    loads = orjson.loads
    with opener(path, "rb") as handle:
        rest = b""
        while chunk := handle.read(READ_BYTES):
            lines, rest = split_lines(rest + chunk)
            for line in lines:
                if not line.isspace():
                    try:
                        event = loads(line)
                    except orjson.JSONDecodeError as exc:
                        raise (line_error(line) or exc) from None
                    yield event
        if rest.strip():
            yield loads(rest)


def trace_sha256(events: Iterable[Event]) -> str:
    """The trace hash of an event stream, as :class:`HistoryRecorder` computes it."""
    digest = hashlib.sha256()
    for event in events:
        digest.update(orjson.dumps(event, option=_SORTED) + b"\n")
    return digest.hexdigest()
