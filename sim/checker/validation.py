"""The history contract, checked line by line as a history file is streamed.

A history that breaks the documented contract (``sim/history.py``) is bad input,
not a run with anomalies: a checker that judged it would report nonsense as verdicts (an
apply of a write that never happened looks like a lost update; a history without its
``run_start`` has no promises, so every violation looks unpromised). ``p2c verify``
therefore refuses it with ``file:line: what is wrong`` and exit 2, and a converted or
hand-written history that passes can be trusted.

:class:`ContractValidator` is fed every event once, in order, by
:class:`sim.checker.files.HistoryReader` (the same single streamed pass the checker
reads), and keeps only what the rules need: the write ids seen, the records created in
each system, the last time. The rules:

- the first event is ``run_start``, and there is only one;
- every event's ``kind`` is one the contract defines (:data:`KINDS`);
- every event has a time ``t`` (seconds, a number), and time never goes backwards;
- a write id is written once; an ``apply`` names, for each field, a write that
  happened before it; a ``reject`` names a write that happened; so do every other
  event that names a write: a ``write``'s ``base`` (the versions its user saw), an
  ``overwrite``'s ``lost_write`` and ``by_write``, a ``conflict``'s ``write_ids``, a
  ``send``'s ``cause`` and ``write_ids``;
- a ``deliver``, ``redelivery`` or ``dead_letter`` names a message that was sent;
- an ``apply`` to a record that was never created in that system (no earlier apply
  with ``created: true`` there) is refused, and so is creating one twice;
- a ``reapply`` (versions a replica already held, written again) names writes that
  happened, to a record that exists there;
- ``quiescence`` is the last event.

``p2c verify`` leaves the apply rules (its write ids happened, its record was created,
and once) to the strict :class:`~sim.checker.ledger.Ledger` that reads the same events
one step behind (``ContractValidator(writes=ledger.index)``): the ledger finds those
breaches in its own pass for free and words them alike, and the validator then reads
the write ids from the ledger's index instead of keeping a second set of them.
"""

from __future__ import annotations

from collections.abc import Container
from typing import Any

from models import events as ev

#: Every event kind the history contract defines (sim/history.py), as
#: models/events.py defines them.
KINDS = frozenset(ev.EVENTS)


class ContractValidator:
    """Feed it each event in order (:meth:`check`); it says what breaks the contract."""

    __slots__ = ("writes", "messages", "records", "last_t", "started", "ended", "open", "shared")

    def __init__(self, writes: Container[str] | None = None) -> None:
        """With ``writes``, the write ids are the keys of a strict ledger's ``index`` fed
        the same events right after the validator has passed each one, and the apply
        rules are the ledger's (see the module docstring): the validator neither adds
        write ids nor keeps the records created."""
        self.shared = writes is not None
        self.writes: Any = set() if writes is None else writes
        self.messages: set[str] = set()
        self.records: set[tuple[str, str, str]] = set()
        self.last_t = float("-inf")
        self.started = False
        self.ended = False
        # Started and not yet ended: the one flag :meth:`passes` tests.
        self.open = False

    def check(self, event: dict[str, Any]) -> str | None:
        """What about ``event`` breaks the contract, in words, or ``None``.

        ``event`` has already passed :func:`sim.checker.files.event_problem` (its kind
        is text and the fields the checker reads have their types).
        """
        kind = event["kind"]
        if kind not in KINDS:
            return f"unknown event kind {kind!r} (the contract defines: {', '.join(sorted(KINDS))})"
        if not self.started:
            if kind != "run_start":
                return (
                    f"a history starts with a run_start event (its contract: systems, "
                    f"promises), but the first event is {kind!r}"
                )
            self.started = self.open = True
        elif kind == "run_start":
            return "a second run_start: one history holds one run"
        if self.ended:
            return f"{kind} after the quiescence event, which is the last of a run"
        t = event.get("t")
        if t is None:
            return f"{kind} event: it has no time 't'"
        if t < self.last_t:
            return (
                f"time goes backwards: t={t} after an event at t={self.last_t} "
                "(events are in time order)"
            )
        self.last_t = t
        if kind == "write":
            write_id = event["write_id"]
            if write_id in self.writes:
                return f"write {write_id} happens twice (a write id is unique)"
            problem = self._base(write_id, event.get("base"))
            if problem:
                return problem
            if not self.shared:
                self.writes.add(write_id)
        elif kind == "apply":
            return None if self.shared else self._apply(event)
        elif kind == "reapply":
            return None if self.shared else self._reapply(event)
        elif kind == "reject":
            if event["write_id"] not in self.writes:
                return f"reject of {event['write_id']}, a write that never happened"
        elif kind == "overwrite":
            return self._named(event, "lost_write", event.get("lost_write")) or self._named(
                event, "by_write", event.get("by_write")
            )
        elif kind == "conflict":
            return self._named_list(event, "write_ids")
        elif kind == "send":
            cause = event.get("cause")
            problem = (
                self._named(event, "cause", cause) if cause is not None else None
            ) or self._named_list(event, "write_ids")
            if problem:
                return problem
            self.messages.add(event["message_id"])
        elif kind in ("deliver", "redelivery", "dead_letter"):
            message_id = event.get("message_id")
            if message_id not in self.messages:
                return f"{kind} of message {message_id}, which was never sent (no send before it)"
        elif kind == "quiescence":
            self.ended = True
            self.open = False
        return None

    def passes(self, event: Any) -> bool:
        """True when ``event`` is a ``write``, an ``apply``, a ``reapply``, a ``send`` or a
        ``deliver`` that is plainly readable (:func:`sim.checker.files.event_problem`
        passes it) and keeps the contract; the validator's state then moves on exactly as
        :meth:`check` would move it. Any line of JSON may be asked: what is not an object
        is ``False``.

        These kinds make nearly every line of a history, so their shape and contract
        are tested here in one go, a few type tests and set lookups each, instead of the
        shape table and then :meth:`check`. ``False`` means "ask the full path": another
        kind, or a doubt; nothing has changed, so :meth:`check` (after ``event_problem``)
        words the problem, if any. ``tests/test_checker_fast_paths.py`` checks that the
        two agree on broken events.

        Every test costs a few bytecodes on every line of a file, so the fields are read
        by subscript inside ``try`` (a missing one, or a line that is not an object,
        raises), not by ``event.get``, a method call each, and started-and-not-ended is
        one flag (:attr:`open`): with both, a call on the writes and applies of
        ``synthetic_history(30_000)`` read from its file went from 6,420 to 5,230
        instructions (callgrind, 2026-12-02).
        """
        try:
            kind = event["kind"]
            t = event["t"]
        except (KeyError, TypeError):
            return False
        if (type(t) is not float and type(t) is not int) or t < self.last_t or not self.open:
            return False
        if kind == "apply" or kind == "reapply":
            try:
                system = event["system"]
                entity = event["entity"]
                key = event["key"]
                fields = event["fields"]
                via = event["via"]
            except KeyError:
                return False
            if (
                type(system) is not str
                or type(entity) is not str
                or type(key) is not str
                or type(fields) is not dict
                or type(via) is not str
            ):
                return False
            if self.shared:
                # The strict ledger judges the write ids and the record.
                for write_id in fields.values():
                    if type(write_id) is not str:
                        return False
                self.last_t = t
                return True
            if not self._passes_record(event, kind, (system, entity, key), fields):
                return False
        elif kind == "write":
            try:
                write_id = event["write_id"]
                system = event["system"]
                entity = event["entity"]
                key = event["key"]
            except KeyError:
                return False
            writes = self.writes
            if (
                type(write_id) is not str
                or type(system) is not str
                or type(entity) is not str
                or type(key) is not str
                or write_id in writes
            ):
                return False
            fields = event.get("fields")
            if fields is not None and type(fields) is not dict:
                return False
            base = event.get("base")
            if base is not None:
                if type(base) is not dict:
                    return False
                for parents in base.values():
                    if type(parents) is not list:
                        return False
                    for parent in parents:
                        if type(parent) is not str or parent not in writes:
                            return False
            if not self.shared:
                writes.add(write_id)
        elif kind == "send" or kind == "deliver":
            # A queued design's two commonest kinds (with reapply, three quarters of a
            # naive-bidirectional history).
            return self._passes_message(event, kind, t)
        else:
            return False
        self.last_t = t
        return True

    def _passes_record(
        self, event: dict[str, Any], kind: str, record: tuple[str, str, str], fields: dict
    ) -> bool:
        """:meth:`passes` for an ``apply`` or ``reapply`` when the validator keeps the
        write ids and records itself (no strict ledger): its write ids happened, and its
        record exists there (a reapply, an apply) or not yet (an apply creating it)."""
        writes = self.writes
        for write_id in fields.values():
            if type(write_id) is not str or write_id not in writes:
                return False
        records = self.records
        if kind == "reapply":  # versions the replica already held: it exists there
            if record not in records:
                return False
        elif event.get("created"):
            if record in records:
                return False
            records.add(record)
        elif record not in records:
            return False
        return True

    def _passes_message(self, event: dict[str, Any], kind: str, t: float) -> bool:
        """:meth:`passes` for a ``send`` (its cause and write ids happened) or a
        ``deliver`` (of a message sent)."""
        message_id = event.get("message_id")
        if type(message_id) is not str:
            return False
        if kind == "deliver":
            if message_id not in self.messages:
                return False
        else:
            writes = self.writes
            cause = event.get("cause")
            if cause is not None and (type(cause) is not str or cause not in writes):
                return False
            named = event.get("write_ids")
            if named is not None:
                if type(named) is not list:
                    return False
                for write_id in named:
                    if type(write_id) is not str or write_id not in writes:
                        return False
            self.messages.add(message_id)
        self.last_t = t
        return True

    def _named(self, event: dict[str, Any], name: str, write_id: Any) -> str | None:
        """``write_id`` (the event's field ``name``) is a write that happened."""
        kind = event["kind"]
        if type(write_id) is not str:
            return f"{kind} event: {name!r} must be the id of a write (text), not {write_id!r}"
        if write_id not in self.writes:
            return f"{kind} names write {write_id} ({name}), which never happened before it"
        return None

    def _named_list(self, event: dict[str, Any], name: str) -> str | None:
        """The event's field ``name``, when present, is a list of writes that happened."""
        ids = event.get(name)
        if ids is None:
            return None
        if type(ids) is not list:
            return f"{event['kind']} event: {name!r} must be a list of write ids, not {ids!r}"
        for i, write_id in enumerate(ids):
            problem = self._named(event, f"{name}[{i}]", write_id)
            if problem:
                return problem
        return None

    def _base(self, write_id: str, base: Any) -> str | None:
        """A write's ``base``: per field, the earlier writes its user saw."""
        if base is None:
            return None
        for field, parents in base.items():
            if type(parents) is not list:
                return (
                    f"write {write_id}: base[{field!r}] must be a list of write ids, "
                    f"not {parents!r}"
                )
            for parent in parents:
                if type(parent) is not str or parent not in self.writes:
                    return (
                        f"write {write_id}: base[{field!r}] names write {parent!r}, "
                        "which never happened before it"
                    )
        return None

    def _reapply(self, event: dict[str, Any]) -> str | None:
        # Versions the replica already held, written again: their writes happened, and
        # the record exists there.
        for field, write_id in event["fields"].items():
            if write_id not in self.writes:
                return (
                    f"reapply names write {write_id} (field {field!r}), which never "
                    "happened before it"
                )
        record = (event["system"], event["entity"], event["key"])
        if record not in self.records:
            return (
                f"reapply to {record[1]} {record[2]} in {record[0]}, a record never "
                "created there (no earlier apply with created: true)"
            )
        return None

    def _apply(self, event: dict[str, Any]) -> str | None:
        for field, write_id in event["fields"].items():
            if write_id not in self.writes:
                return (
                    f"apply names write {write_id} (field {field!r}), which never "
                    "happened before it"
                )
        record = (event["system"], event["entity"], event["key"])
        if event.get("created"):
            if record in self.records:
                return (
                    f"apply creates {record[1]} {record[2]} in {record[0]}, which "
                    "already exists there"
                )
            self.records.add(record)
        elif record not in self.records:
            return (
                f"apply to {record[1]} {record[2]} in {record[0]}, a record never "
                "created there (no earlier apply with created: true)"
            )
        return None
