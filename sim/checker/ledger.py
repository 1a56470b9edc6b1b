"""The ledger: everything the checker remembers while it reads a history once.

Invariants are judged from a stream that may be far larger than memory should hold, so
events are never kept. The :class:`Ledger` reads each event once and keeps compact
state, sized by writes and records rather than by events.

**Writes are numbered.** Each ``write`` event gets the next *write index* ``i``;
``index[write_id] -> i``. What the hot path needs per write lives in flat columns
indexed by ``i`` (a byte or a machine number each, no Python object per value), so
reading it touches one small array rather than chasing pointers:

- ``home[i]``: the slot of the system where it was saved; ``status[i]``: pending,
  applied, rejected, or stub (``surfaced``, the set of writes a person was shown, is
  small and kept apart);
- ``times[i]``: when it was saved; ``apply_counts[slot][i]``: how many applies listed
  it in that replica (its echo count; the first in another replica is its *arrival*);
- ``field_code[i]``: the code of the field it set, when it set exactly one;
  ``parent[i]``: ``NO_PARENT`` when its base names no write at all (a create), the
  parent's index when it set one field and its base names exactly one parent for it,
  ``COMPLEX`` otherwise (a merge, several fields: read the base itself). Ancestry walks
  hop along this array for the common cases.

What only explanations and value checks need stays in ``cold[i] = (fields, base, actor,
entity, key)``, the dicts of the event itself, except that ``base`` is an empty dict when
``parent[i]`` already says everything it said (read bases with :meth:`Ledger.base_ids`).
A version seen in an ``apply`` with no ``write`` event (an initial load that did not
record its writes) gets a *stub* index: status ``STUB``, no time, home or values.

**Replica rows.** ``tables[system][entity][key]`` is a row, ``{field: i}``: the version
of each field the replica holds now, as the index of the write that produced it. A
row's value for ``f`` is ``cold[row[f]][0][f]``.

**Displacements.** When an apply replaces a version in the very system where that write
was saved, the ledger notes ``(t, via, displacing index)``: the last time the write lost
its place at home, which the lost-update explanation quotes.

**Hooks.** The ledger judges nothing. An invariant that must see a moment of the run
registers a hook: a write hook (:meth:`Ledger.add_write_hook`) runs on ``write`` events
of an entity saved in systems it has not asked to skip; an apply hook
(:meth:`Ledger.add_apply_hook`) runs on an ``apply`` to its entity *before* the row
changes, with the row as it was (``None`` when the record is new in that replica),
either only when the apply lists a field it watches, or only when the apply creates the
record there. Invariants judging the final state read the ledger after
:meth:`Ledger.finish`.

**Released.** Hooks are the invariants' bound methods and closures, and the ledger's
own handlers its bound methods, so a ledger and its invariants are reference cycles.
:meth:`Ledger.release` (``check_history`` calls it once the verdicts are built) drops
them all, so reference counting frees the whole state when the caller lets go, instead
of the cyclic collector walking it when it is next enabled. Measured with the
collector off: a collection after ``check_history(synthetic_history(300_000))`` found
674,221 objects and took 0.64-0.72 s of CPU before, none and 0.01 s after; after a
1,000-user x 1-day p2c-2017 ``run_design`` with a run folder, the first collection on
re-enabling took 0.29-0.32 s before, 0.13-0.17 s after (the rest was the run's own
garbage, its finished forms: 0.002 s once those were freed too, in
``sim/engine/workload.py``). A released ledger stays readable and refuses further events.

**Strict.** A ledger made with ``strict=True`` refuses, with :class:`ContractBreach`, the
applies that break the history contract in ways it sees anyway in its own pass: an
apply (or ``reapply``) naming a write id it has not read, an apply to a record never
created in that replica (no earlier apply with ``created: true``; a ``reapply`` to one),
and an apply creating a record that already exists there. The words are those of
:class:`sim.checker.validation.ContractValidator`, and so is the order (the write ids
first, then the record), so that ``p2c verify`` can leave these rules to the ledger:
the checks cost nothing on the common path, as they sit in branches a valid history
rarely or never takes. The default ledger is lenient: an unknown write id gets a stub,
an apply to a missing record creates it.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from models import events as ev
from sim.checker.contract import Contract

Event = dict[str, Any]

#: ``status[i]`` values.
PENDING, APPLIED, REJECTED, STUB = 0, 1, 2, 3
#: ``home[i]`` of a stub: no system.
NO_SYSTEM = 255
#: ``parent[i]`` values besides a parent's index.
NO_PARENT, COMPLEX = -1, -2
#: ``field_code[i]`` of a write that set no field or several.
MULTI_FIELD = 0
#: Cold slots: ``cold[i] = (fields, base, actor, entity, key)``.
C_FIELDS, C_BASE, C_ACTOR, C_ENTITY, C_KEY = range(5)

_MAX_COUNT = 65_535  # apply counters saturate (array type "H")
_NO_BASE: dict = {}  # the cold base of a write whose parent column says it all
_STUB_COLD: tuple = ({}, _NO_BASE, None, None, None)

#: The value of a field version with no ``write`` event: unknown, never guessed.
UNKNOWN = type("Unknown", (), {"__repr__": lambda self: "UNKNOWN", "__slots__": ()})()

#: ``via`` values that apply a write in its own system (the save itself).
_SAVE_VIAS = frozenset({"user", "initial-load"})

#: How many apply paths are remembered per (write, replica) above the echo bound.
_ECHO_VIAS_KEPT = 12

#: A row: ``{field: write index}``.
Row = dict[str, int]
WriteHook = Callable[[Event], None]
ApplyHook = Callable[[Event, "Row | None"], None]


class ContractBreach(ValueError):
    """An event a strict ledger refuses (see the module docstring); the message is the
    history contract's words, without the file and line, which the reader knows."""


class Ledger:
    """Compact state of one history, fed event by event (see the module docstring).

    Feed it with :meth:`feed` (any number of times, in order), then call :meth:`finish`
    once. Besides the per-write columns, invariants read:

    ``tables``
        ``system -> entity -> key -> {field: write index}``: every replica's rows.
    ``reasons``
        ``write index -> reason`` of refused saves.
    ``arrivals``
        ``(entity, origin, destination) -> [delay_s, ...]``: from save to first apply.
    ``echo_over``
        ``(write index, system) -> [via, ...]`` for writes echoed more than
        ``contract.echo_bound`` times in one replica, with the paths that brought them;
        ``overwrite_counts[slot][i]`` counts the applies that were overwrites of a
        local save rather than echoes (see ``sim/checker/echo.py``; read it with
        :meth:`overwrites_in`).
    """

    def __init__(self, contract: Contract | None = None, *, strict: bool = False) -> None:
        self.contract = contract or Contract()
        self.strict = strict
        self.run: dict[str, Any] = {}
        self.has_run_start = False
        # Per-write columns (see the module docstring).
        self.index: dict[str, int] = {}
        self.ids: list[str] = []
        self.times = array("d")
        self.home = bytearray()
        self.status = bytearray()
        self.field_code = bytearray()
        self.parent = array("q")
        self.cold: list[tuple] = []
        self.surfaced: set[int] = set()
        # One counter column per system, grown in chunks ahead of the write indexes.
        self.apply_counts: list[array] = []
        self._capacity = 0
        self.stubs = 0
        # Systems and fields by small code.
        self.systems: list[str] = []
        self._slot: dict[str, int] = {}
        self.field_names: list[str | None] = [None]
        self._field_code: dict[str, int] = {}
        # Replicas and facts collected on the way.
        self.tables: dict[str, dict[str, dict[str, Row]]] = {}
        # The last displacement at home of single-field writes, by write index (time NaN
        # when never displaced); of writes setting several fields, by (index, field).
        self.displaced_t = array("d")
        self.displaced_by = array("q")
        self.displaced_via: list[str | None] = []
        self.displaced: dict[tuple[int, str], tuple[float, str, int]] = {}
        # When a sync (not a user save) displaced a version, the newest write the same
        # apply carried, when it is not the displacing version itself: the change that
        # made the run or message carry the record (a phone edit re-sending the row whose
        # old credit limit then replaces a newer one). By (displaced index, field).
        self.triggers: dict[tuple[int, str], int] = {}
        self.reasons: dict[int, str] = {}
        # (entity, destination) -> origin slot -> delays of first arrivals.
        # (machine floats in an array: no Python object per delay)
        self._flows: dict[tuple[str, str], dict[int, array]] = {}
        self.echo_over: dict[tuple[int, str], list[str]] = {}
        # slot -> write index -> applies of the write there that overwrote a local save
        # (a column per system, grown with the apply counters).
        self.overwrite_counts: list[array] = []
        # The actors, entities and record keys of writes, one string object each:
        # ``cold`` keeps them per write, and a history read from a file parses a new
        # string for every line (about 115 of the 690 bytes a write's cold state took,
        # measured on a 30,000-write synthetic history).
        self._names: dict[str, str] = {}
        self.max_applies = 0
        self.duplicates: list[Event] = []
        self.duplicate_count = 0
        self.duplicate_write_ids: list[tuple[str, float]] = []
        self.rejects_without_reason: list[Event] = []
        self.conflict_count = 0
        self.model_overwrites = 0
        self.batches_open: dict[str, Event] = {}
        self.batch_runs = 0
        self.batch_mismatches: list[tuple[Event, Event]] = []
        self.batch_ends_unmatched: list[Event] = []
        self.batch_runs_failed = 0
        self.batch_failures_without_reason: list[Event] = []
        self.messages_open: dict[str, Event] = {}
        self.messages_sent = 0
        self.messages_delivered = 0
        self.dead_letters = 0
        self.dead_letters_without_reason: list[Event] = []
        self.quiescence: Event | None = None
        self.events = 0
        self.applies = 0
        self.last_t: float | None = None
        self.finished = False
        self.released = False
        # entity -> [(systems skipped, hook)]; None -> hooks for entities not listed.
        self.write_hooks: dict[str | None, list[tuple[frozenset[str], WriteHook]]] = {None: []}
        # entity -> [(watched fields, hook)], and entity -> [hook] run on creation.
        self.apply_hooks: dict[str, list[tuple[tuple[str, ...], ApplyHook]]] = {}
        self.create_hooks: dict[str, list[ApplyHook]] = {}
        # system -> (slot, its apply counters, entity -> (table, apply hooks, create hooks,
        # flows), its overwrite counters):
        # one lookup per apply finds everything the hot path needs about its replica.
        self._replicas: dict[str, tuple[int, array, dict[str, tuple], array]] = {}
        self.contract_hooks: list[Callable[[Contract], None]] = []
        self.finish_hooks: list[Callable[[], None]] = []
        self._echo_bound: int | None = None
        self._bind_contract(self.contract)
        self._handlers: dict[str, Callable[[Event], None]] = {
            ev.RUN_START: self._run_start,
            ev.REJECT: self._reject,
            ev.CONFLICT: self._conflict,
            ev.OVERWRITE: self._overwrite,
            ev.BATCH_START: self._batch_start,
            ev.BATCH_END: self._batch_end,
            ev.SEND: self._send,
            ev.DELIVER: self._deliver,
            ev.DEAD_LETTER: self._dead_letter,
            ev.QUIESCENCE: self._quiescence,
        }

    # -- registration ---------------------------------------------------------------

    def add_write_hook(
        self, hook: WriteHook, entity: str | None = None, skip: Sequence[str] = ()
    ) -> None:
        """Run ``hook(event)`` on ``write`` events of ``entity`` saved outside ``skip``.

        ``entity=None`` registers for writes of entities no hook names specifically.
        Skipping the systems where a hook has nothing to say keeps it off the hot path.
        """
        self.write_hooks.setdefault(entity, []).append((frozenset(skip), hook))

    def add_event_hook(self, kind: str, hook: Callable[[Event], None]) -> None:
        """Run ``hook(event)`` on events of a ``kind`` not read inline (``lock_grant``,
        ``lock_release``, ``fault_start``, ...), after the ledger's own handler if any."""
        existing = self._handlers.get(kind)
        if existing is None:
            self._handlers[kind] = hook
            return

        def both(event: Event) -> None:
            existing(event)
            hook(event)

        self._handlers[kind] = both

    def add_apply_hook(
        self,
        entity: str,
        hook: ApplyHook,
        fields: Sequence[str] = (),
        *,
        on_create: bool = False,
    ) -> None:
        """Run ``hook(event, row_before)`` on applies to ``entity``.

        With ``on_create``, when the apply creates the record in that replica;
        otherwise when the apply lists at least one of ``fields``.
        """
        if on_create:
            self.create_hooks.setdefault(entity, []).append(hook)
        else:
            self.apply_hooks.setdefault(entity, []).append((tuple(fields), hook))
        for _slot, _counts, entities, _overwrites in self._replicas.values():
            state = entities.get(entity)
            if state is not None:
                entities[entity] = self._entity_state(state[0], entity, state[3])

    def _entity_state(self, table: dict[str, Row], entity: str, flows: dict) -> tuple:
        return (
            table,
            tuple(self.apply_hooks.get(entity, ())),
            tuple(self.create_hooks.get(entity, ())),
            flows,
        )

    def _replica(self, system: str) -> tuple[int, array, dict[str, tuple], array]:
        """The hot-path state of a replica, created on first sight."""
        replica = self._replicas.get(system)
        if replica is None:
            slot = self.slot_of(system)
            self.tables.setdefault(system, {})
            replica = self._replicas[system] = (
                slot,
                self.apply_counts[slot],
                {},
                self.overwrite_counts[slot],
            )
        return replica

    def _table_state(self, system: str, entity: str) -> tuple:
        entities = self._replica(system)[2]
        state = entities.get(entity)
        if state is None:
            table = self.tables[system].setdefault(entity, {})
            flows = self._flows[(entity, system)] = {}
            state = entities[entity] = self._entity_state(table, entity, flows)
        return state

    def when_contract(self, callback: Callable[[Contract], None]) -> None:
        """Call ``callback(contract)`` once the contract is known (now, and on run_start)."""
        self.contract_hooks.append(callback)
        callback(self.contract)

    def _bind_contract(self, contract: Contract) -> None:
        self._echo_bound = contract.echo_bound
        for system in contract.systems:
            self.slot_of(system)

    def slot_of(self, system: str) -> int:
        """The small code of a system (its ``home`` value and apply-counter column)."""
        slot = self._slot.get(system)
        if slot is None:
            slot = len(self.systems)
            if slot >= NO_SYSTEM:
                raise ValueError("more than 254 systems in one history")
            self._slot[system] = slot
            self.systems.append(system)
            self.apply_counts.append(array("H", bytes(2 * self._capacity)))
            self.overwrite_counts.append(array("I", bytes(4 * self._capacity)))
        return slot

    def _grow(self, size: int) -> None:
        # Counters are zero until counted, so they are grown in chunks ahead of the
        # writes instead of appended one by one.
        extra = max(size - self._capacity, self._capacity // 2, 4096)
        zeros = bytes(2 * extra)
        for counts in self.apply_counts:
            counts.frombytes(zeros)
        zeros = bytes(4 * extra)
        for counts in self.overwrite_counts:
            counts.frombytes(zeros)
        self.displaced_t.extend(array("d", [math.nan]) * extra)
        self.displaced_by.frombytes(bytes(8 * extra))
        self.displaced_via.extend([None] * extra)
        self._capacity += extra

    def field_code_of(self, field: str) -> int:
        """The byte code of ``field`` in :attr:`field_code`, or -1 when it has none."""
        return self._field_code.get(field, -1)

    def _code_of(self, field: str) -> int:
        code = self._field_code.get(field)
        if code is None:
            code = len(self.field_names)
            if code > 255:
                return MULTI_FIELD  # too many field names for a byte: take the slow path
            self._field_code[field] = code
            self.field_names.append(field)
        return code

    # -- reading --------------------------------------------------------------------

    def feed(self, events: Iterable[Event]) -> Ledger:
        """Read events in order; kinds the checker does not know are ignored.

        ``write`` and ``apply`` (nearly every event) are handled inline here, with the
        ledger's columns bound to local names: this loop is the checker's hot path, and
        a method call or attribute lookup per event would cost a fifth of its time.
        """
        if self.released:
            raise ValueError("this ledger was released: it reads no more events")
        get_handler = self._handlers.get
        index = self.index
        index_get = index.get
        ids = self.ids
        times = self.times
        home = self.home
        status = self.status
        field_code = self.field_code
        field_code_get = self._field_code.get
        parent_of = self.parent
        cold = self.cold
        replica_get = self._replicas.get
        slot_get = self._slot.get
        displaced = self.displaced
        displaced_t = self.displaced_t
        displaced_by = self.displaced_by
        displaced_via = self.displaced_via
        triggers = self.triggers
        write_hooks_get = self.write_hooks.get
        name_get = self._names.setdefault
        default_write_hooks = self.write_hooks[None]
        echo_bound = self._echo_bound
        max_applies = self.max_applies
        apply_kind, write_kind, run_start_kind = ev.APPLY, ev.WRITE, ev.RUN_START
        reapply_kind = ev.REAPPLY  # an echo that changed no field: counted, nothing moves
        # Messages (half the events of a history of a messaging design) are counted
        # inline too, unless a hook was added for their kind (None matches no kind).
        messages_open = self.messages_open
        messages_pop = messages_open.pop
        send_kind, deliver_kind = self._message_kinds()
        sent = delivered = 0
        strict = self.strict
        count = 0
        applies = 0
        event = None
        for event in events:
            count += 1
            kind = event["kind"]
            if kind == apply_kind or kind == reapply_kind:
                applies += 1
                system = event["system"]
                replica = replica_get(system)
                if replica is None:
                    replica = self._replica(system)
                slot, counts, entities, overwrite_counts = replica
                entity = event["entity"]
                state = entities.get(entity)
                if state is None:
                    state = self._table_state(system, entity)
                table, hooks, create_hooks, flows = state
                fields = event["fields"]
                key = event["key"]
                row = table.get(key)
                if hooks:
                    for watched, hook in hooks:
                        for field in watched:
                            if field in fields:
                                hook(event, row)
                                break
                if row is None:
                    if strict and (kind != apply_kind or not event.get("created")):
                        self._breach(event, kind, None)
                    if create_hooks:
                        for hook in create_hooks:
                            hook(event, row)
                    row = table[key] = {}
                elif event.get("created"):
                    if strict and kind == apply_kind:
                        self._breach(event, kind, row)
                    self._duplicate(event)
                t = event["t"]
                via = event["via"]
                counted = exempt = over = newest = None
                multi = len(fields) > 1
                for field, write_id in fields.items():
                    i = index_get(write_id)
                    if i is None:
                        if strict:
                            self._breach(event, kind, row)
                        i = self._stub(write_id)
                    old = row.get(field)
                    if old is not i:
                        if old is not None and home[old] == slot:
                            # The old version loses its place in the system where it was
                            # saved: the story a lost-update explanation tells.
                            if field_code[old]:
                                displaced_t[old] = t
                                displaced_by[old] = i
                                displaced_via[old] = via
                            else:
                                displaced[(old, field)] = (t, via, i)
                            if via != "user":
                                if newest is None:
                                    # Indexes follow save order: the largest is newest (of
                                    # one field: the version itself).
                                    newest = (
                                        max(index_get(w, -1) for w in fields.values())
                                        if multi
                                        else i
                                    )
                                if newest > i:
                                    triggers[(old, field)] = newest
                                elif triggers:
                                    triggers.pop((old, field), None)
                            elif triggers:
                                triggers.pop((old, field), None)
                            # Overwriting a local save is not an echo (see echo.py).
                            if exempt is None:
                                exempt = {i}
                            else:
                                exempt.add(i)
                        row[field] = i
                    if multi:
                        # An apply naming a write for several fields counts once for it.
                        if counted is None:
                            counted = {i}
                        elif i in counted:
                            continue
                        else:
                            counted.add(i)
                    n = counts[i]
                    if n == 0:
                        counts[i] = 1
                        origin = home[i]
                        if origin != slot:
                            if origin != NO_SYSTEM:
                                delays = flows.get(origin)
                                if delays is None:
                                    delays = flows[origin] = array("d")
                                delays.append(t - times[i])
                        elif status[i] == PENDING and via in _SAVE_VIAS:
                            status[i] = APPLIED
                    else:
                        n += 1
                        if n <= _MAX_COUNT:
                            counts[i] = n
                        if n > max_applies:
                            max_applies = n
                        if echo_bound is not None and n > echo_bound:
                            if over is None:
                                over = [(i, n)]
                            else:
                                over.append((i, n))
                if exempt is not None:
                    for j in exempt:
                        overwrite_counts[j] += 1
                if over is not None:
                    self._echo(over, exempt, system, slot, via, echo_bound)
                if not fields and via in _SAVE_VIAS:
                    self._resolve_empty_save(event)
            elif kind == write_kind:
                write_id = event["write_id"]
                i = len(ids)
                if index.setdefault(write_id, i) != i:
                    self.duplicate_write_ids.append((write_id, event["t"]))
                    index[write_id] = i
                system = event["system"]
                known = slot_get(system)
                slot = self.slot_of(system) if known is None else known
                fields = event.get("fields") or {}
                base = event.get("base") or {}
                code = MULTI_FIELD
                parent = COMPLEX
                if len(fields) == 1:
                    for field in fields:
                        code = field_code_get(field) or self._code_of(field)
                if not any(base.values()):
                    parent = NO_PARENT
                elif code != MULTI_FIELD and len(base) == 1:
                    parents = base.get(field)
                    if parents is not None and len(parents) == 1:
                        found = index_get(parents[0])
                        if found is not None:
                            parent = found
                if i >= self._capacity:
                    self._grow(i + 1)
                ids.append(write_id)
                times.append(event["t"])
                home.append(slot)
                status.append(PENDING)
                field_code.append(code)
                parent_of.append(parent)
                entity = event["entity"]
                actor = event.get("actor", "?")
                key = event["key"]
                # Strings only: 1, 1.0 and True are equal keys, and must stay apart.
                if type(actor) is str:
                    actor = name_get(actor, actor)
                if type(key) is str:
                    key = name_get(key, key)
                if type(entity) is str:
                    entity = name_get(entity, entity)
                # The base is kept only when the columns cannot answer for it (see
                # :meth:`base_ids`): most writes name no parent or one, and the dict
                # and list of each would otherwise live as long as the ledger.
                cold.append((fields, base if parent == COMPLEX else _NO_BASE, actor, entity, key))
                hooks = write_hooks_get(entity)
                for skip, hook in default_write_hooks if hooks is None else hooks:
                    if system not in skip:
                        hook(event)
            elif kind == deliver_kind:
                if messages_pop(event["message_id"], None) is not None:
                    delivered += 1
            elif kind == send_kind:
                messages_open[event["message_id"]] = event
                sent += 1
            else:
                handler = get_handler(kind)
                if handler is not None:
                    handler(event)
                    if kind == run_start_kind:
                        echo_bound = self._echo_bound
                        default_write_hooks = self.write_hooks[None]
                        send_kind, deliver_kind = self._message_kinds()
        self.events += count
        self.applies += applies
        self.messages_sent += sent
        self.messages_delivered += delivered
        self.max_applies = max_applies
        if event is not None:
            self.last_t = event.get("t", self.last_t)
        return self

    def _message_kinds(self) -> tuple[str | None, str | None]:
        """``(send kind, deliver kind)`` for :meth:`feed` to handle inline: each kind
        whose handler is still the ledger's own, else ``None`` (its handler runs)."""
        handlers = self._handlers
        return (
            ev.SEND if handlers.get(ev.SEND) == self._send else None,
            ev.DELIVER if handlers.get(ev.DELIVER) == self._deliver else None,
        )

    def finish(self) -> Ledger:
        """Mark the end of the history (idempotent); runs the invariants' finish hooks."""
        if not self.finished:
            self.finished = True
            for hook in self.finish_hooks:
                hook()
        return self

    def release(self) -> None:
        """Drop every hook and handler, once the verdicts are built (see "Released" in
        the module docstring); the columns, rows and facts stay readable. Idempotent."""
        self.released = True
        self._handlers.clear()
        self.write_hooks.clear()
        self.apply_hooks.clear()
        self.create_hooks.clear()
        self._replicas.clear()
        self.contract_hooks.clear()
        self.finish_hooks.clear()

    # -- queries --------------------------------------------------------------------

    @property
    def quiescent(self) -> bool:
        """True when the history ends with ``quiescence`` and ``reached`` is true."""
        return bool(self.quiescence is not None and self.quiescence.get("reached"))

    def quiescence_words(self) -> str:
        """Why the run is not quiescent, in words (empty when it is)."""
        if self.quiescence is None:
            return "the history has no quiescence event (the run was cut short)"
        if not self.quiescence.get("reached"):
            return "quiescence was not reached before the deadline (reached=false)"
        return ""

    def value(self, i: int | None, field: str) -> Any:
        """The value write ``i`` set for ``field``, or :data:`UNKNOWN`."""
        if i is None:
            return UNKNOWN
        return self.cold[i][C_FIELDS].get(field, UNKNOWN)

    def base_ids(self, i: int, field: str) -> Sequence[str]:
        """The write ids the base of write ``i`` names for ``field`` (empty when none).

        A write whose base names no parent, or one parent for its one field, keeps only
        its ``parent`` column; the base itself is kept for the others.
        """
        parent = self.parent[i]
        if parent >= 0:
            if self.field_names[self.field_code[i]] == field:
                return (self.ids[parent],)
            return ()
        return self.cold[i][C_BASE].get(field) or ()

    def home_system(self, i: int) -> str | None:
        slot = self.home[i]
        return None if slot == NO_SYSTEM else self.systems[slot]

    def write_time(self, i: int) -> float | None:
        t = self.times[i]
        return None if math.isnan(t) else t

    @property
    def writes(self) -> int:
        """How many ``write`` events were read (the other indexes are stubs)."""
        return len(self.ids) - self.stubs

    def is_saved(self, i: int) -> bool:
        """True when write ``i`` had a ``write`` event (it is not a stub)."""
        return self.status[i] != STUB

    def applied(self, write_id: str) -> bool:
        """True when the write was saved: a write event, applied in its own system."""
        i = self.index.get(write_id)
        return i is not None and self.status[i] == APPLIED

    def row(self, system: str, entity: str, key: str) -> Row | None:
        return self.tables.get(system, {}).get(entity, {}).get(key)

    def table(self, system: str, entity: str) -> dict[str, Row]:
        return self.tables.get(system, {}).get(entity, {})

    @property
    def arrivals(self) -> dict[tuple[str, str, str], array]:
        """``(entity, origin, destination) -> [delay_s, ...]``: save to first apply there."""
        return {
            (entity, self.systems[origin], destination): delays
            for (entity, destination), by_origin in self._flows.items()
            for origin, delays in by_origin.items()
        }

    def applies_in(self, i: int, system: str) -> int:
        """How many applies listed write ``i`` in ``system``."""
        slot = self._slot.get(system)
        return 0 if slot is None else self.apply_counts[slot][i]

    def overwrites_in(self, i: int, system: str) -> int:
        """How many of those applies overwrote a save made in ``system`` itself."""
        slot = self._slot.get(system)
        return 0 if slot is None else self.overwrite_counts[slot][i]

    def displacement(self, i: int, field: str) -> tuple[float, str | None, int] | None:
        """``(t, via, displacing index)``: when write ``i`` last lost ``field`` at home."""
        if self.field_code[i] != MULTI_FIELD:
            t = self.displaced_t[i]
            return None if math.isnan(t) else (t, self.displaced_via[i], self.displaced_by[i])
        return self.displaced.get((i, field))

    def displacement_trigger(self, i: int, field: str) -> int | None:
        """The write that made the sync which last displaced ``field`` of write ``i`` at
        home carry the record, when that is not the displacing version itself."""
        return self.triggers.get((i, field))

    def pending_writes(self) -> list[int]:
        """Indexes of writes neither applied in their own system nor rejected."""
        status = self.status
        found = []
        start = status.find(PENDING)
        while start != -1:
            found.append(start)
            start = status.find(PENDING, start + 1)
        return found

    # -- growing the columns --------------------------------------------------------

    def _new_index(
        self,
        write_id: str,
        t: float,
        slot: int,
        status: int,
        cold: tuple,
        code: int,
        parent: int,
    ) -> int:
        i = len(self.ids)
        if i >= self._capacity:
            self._grow(i + 1)
        self.index[write_id] = i
        self.ids.append(write_id)
        self.times.append(t)
        self.home.append(slot)
        self.status.append(status)
        self.field_code.append(code)
        self.parent.append(parent)
        self.cold.append(cold)
        return i

    def _stub(self, write_id: str) -> int:
        self.stubs += 1
        return self._new_index(write_id, math.nan, NO_SYSTEM, STUB, _STUB_COLD, 0, NO_PARENT)

    # -- handlers -------------------------------------------------------------------

    def _run_start(self, event: Event) -> None:
        self.has_run_start = True
        self.run = {k: event.get(k) for k in ("scenario", "seed", "design") if k in event}
        self.contract = Contract.from_dict(event.get("contract"))
        self._bind_contract(self.contract)
        for callback in self.contract_hooks:
            callback(self.contract)

    def _breach(self, event: Event, kind: str, row: Row | None) -> None:
        """Raise :class:`ContractBreach` for an apply a strict ledger refuses: the first
        write id it names that was never read, else its record (``row``, as it was
        before the apply, ``None`` when missing)."""
        index = self.index
        for field, write_id in event["fields"].items():
            if write_id not in index:
                raise ContractBreach(
                    f"{kind} names write {write_id} (field {field!r}), which never "
                    "happened before it"
                )
        what = f"{event['entity']} {event['key']} in {event['system']}"
        if row is None:
            raise ContractBreach(
                f"{kind} to {what}, a record never created there (no earlier apply with "
                "created: true)"
            )
        raise ContractBreach(f"apply creates {what}, which already exists there")

    def _duplicate(self, event: Event) -> None:
        self.duplicate_count += 1
        if len(self.duplicates) < 1000:
            self.duplicates.append(event)

    def _echo(
        self,
        over: list[tuple[int, int]],
        exempt: set[int] | None,
        system: str,
        slot: int,
        via: str,
        bound: int | None,
    ) -> None:
        # Applies that overwrote a local save are not echoes; this one may be one of them.
        for i, applies in over:
            if exempt is not None and i in exempt:
                continue
            if bound is None or applies - self.overwrite_counts[slot][i] <= bound:
                continue
            vias = self.echo_over.get((i, system))
            if vias is None:
                vias = self.echo_over[(i, system)] = []
            if len(vias) < _ECHO_VIAS_KEPT:
                vias.append(via)

    def _resolve_empty_save(self, event: Event) -> None:
        # A save that changed no field version names no write; match it to the pending
        # write of the same record in the same system.
        slot = self._slot[event["system"]]
        for i in reversed(self.pending_writes()):
            cold = self.cold[i]
            if (
                self.home[i] == slot
                and cold[C_ENTITY] == event["entity"]
                and (cold[C_KEY] == event["key"])
            ):
                self.status[i] = APPLIED
                return

    def _reject(self, event: Event) -> None:
        write_id = event["write_id"]
        i = self.index.get(write_id)
        if i is None:
            i = self._stub(write_id)
        reason = event.get("reason")
        self.reasons[i] = reason or ""
        if self.status[i] != STUB:
            self.status[i] = REJECTED
        self.surfaced.add(i)
        if not reason:
            self.rejects_without_reason.append(event)

    def _conflict(self, event: Event) -> None:
        self.conflict_count += 1
        for write_id in event.get("write_ids") or ():
            i = self.index.get(write_id)
            if i is None:
                i = self._stub(write_id)
            self.surfaced.add(i)

    def _overwrite(self, event: Event) -> None:
        self.model_overwrites += 1

    def _batch_start(self, event: Event) -> None:
        self.batch_runs += 1
        self.batches_open[event["run_id"]] = event

    def _batch_end(self, event: Event) -> None:
        start = self.batches_open.pop(event["run_id"], None)
        if start is None:
            self.batch_ends_unmatched.append(event)
            return
        rows = start.get("rows", 0)
        failed = event.get("rows_failed", 0)
        if failed or event.get("failed"):
            self.batch_runs_failed += 1
            if not event.get("failed"):
                self.batch_failures_without_reason.append(event)
        if rows != event.get("rows_changed", 0) + event.get("rows_unchanged", 0) + failed:
            self.batch_mismatches.append((start, event))

    # ``_send`` and ``_deliver`` are what :meth:`feed` does inline (see _message_kinds).
    def _send(self, event: Event) -> None:
        self.messages_sent += 1
        self.messages_open[event["message_id"]] = event

    def _deliver(self, event: Event) -> None:
        if self.messages_open.pop(event["message_id"], None) is not None:
            self.messages_delivered += 1

    def _dead_letter(self, event: Event) -> None:
        self.dead_letters += 1
        self.messages_open.pop(event["message_id"], None)
        if not event.get("reason"):
            self.dead_letters_without_reason.append(event)

    def _quiescence(self, event: Event) -> None:
        self.quiescence = event
