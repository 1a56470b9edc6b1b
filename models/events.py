"""History events: the one contract the model emits and the checker reads.

A run's history is a stream of flat JSON objects, one per event, each with ``t``
(simulated seconds since Monday 00:00) and ``kind``. This module defines every kind
once: its name (a constant such as :data:`APPLY`), the fields it carries (a
``TypedDict`` per kind, :data:`EVENTS`), and the closed vocabularies some fields take
(:class:`DeliveryOutcome`, :class:`ConflictResolution`). ``sim/history.py``
explains what each kind means; emitters (``models/integration.py``, ``sim/engine``)
build events of these types and the checker (``sim/checker``) reads them by these
names. :func:`event_problems` checks one event against its definition (the tests run it
over every event of every reference scenario).

A field typed ``Annotated[str, SomeEnum]`` holds the enum's value as plain text.
This module imports nothing from the rest of the project. (No ``from __future__ import
annotations`` here: ``TypedDict`` reads ``NotRequired`` from evaluated annotations.)
"""

import types
import typing
from enum import StrEnum
from typing import Annotated, Any, NotRequired, TypedDict


class DeliveryOutcome(StrEnum):
    """What a queued message came to at its target (``deliver`` / ``redelivery``)."""

    APPLIED = "applied"  # its versions were written
    UNCHANGED = "unchanged"  # allowed, but the target already held every version
    STALE = "stale"  # every version was one the target had superseded: skipped
    CONFLICT = "conflict"  # queued for a person, or rejected at the primary
    MERGED = "merged"  # field-merge kept some versions and surfaced the rest
    PRIMARY_WINS = "primary_wins"  # a non-primary side took the primary's fields
    DUPLICATE_IGNORED = "duplicate_ignored"  # a redelivery an idempotent receiver ignored
    INSERTED_AGAIN = "inserted_again"  # a redelivery the insert-only bug made a record of

    @property
    def wrote(self) -> bool:
        """An outcome that says the target took the versions (else ``unchanged``)."""
        return self in (DeliveryOutcome.APPLIED, DeliveryOutcome.PRIMARY_WINS)


class ConflictResolution(StrEnum):
    """How a design handled the concurrent versions it detected (``conflict`` events)."""

    PRIMARY_WINS = "primary_wins"  # the primary kept its own version
    QUEUED = "queued"  # held back for a person to merge
    MERGED_BY_STAMP = "merged_by_stamp"  # the higher hybrid-clock stamp won, per field


#: The invariants a design may promise or sanction, in report order: the names the
#: contract (``run_start.contract.promises``) and the checker's verdicts use.
INVARIANT_NAMES: tuple[str, ...] = (
    "convergence",
    "no_lost_update",
    "ownership",
    "referential_integrity",
    "no_duplicate_keys",
    "monotone_lifecycle",
    "invoice_totals",
    "bounded_echo",
    "accounted_for",
    "staleness",
    "no_retired_in_bundles",
    "lock_safety",
)

# ------------------------------------------------------------------ kind names

RUN_START = "run_start"
WRITE = "write"
REJECT = "reject"
APPLY = "apply"
REAPPLY = "reapply"
OVERWRITE = "overwrite"
BATCH_START = "batch_start"
BATCH_END = "batch_end"
SEND = "send"
DELIVER = "deliver"
REDELIVERY = "redelivery"
DEAD_LETTER = "dead_letter"
DELIVERY_LOST = "delivery_lost"
CONFLICT = "conflict"
LOCK_GRANT = "lock_grant"
LOCK_DENY = "lock_deny"
LOCK_RELEASE = "lock_release"
FAULT_START = "fault_start"
FAULT_END = "fault_end"
CATCH_UP_START = "catch_up_start"
CATCH_UP_END = "catch_up_end"
QUIESCENCE = "quiescence"

# ------------------------------------------------------------------ event types


class Event(TypedDict):
    """What every event carries."""

    t: float
    kind: str


class RunStartEvent(Event):
    scenario: str
    seed: int
    design: str
    contract: dict[str, Any]  # what the checker needs (Integration.contract)


class WriteEvent(Event):
    write_id: str
    actor: str
    role: str
    system: str
    entity: str
    key: str
    op: str  # create | update
    fields: dict[str, Any]  # field -> value set
    base: dict[str, list[str]]  # field -> the write ids the user saw
    opened_t: float
    lease_token: NotRequired[int]  # the lease it was saved under (cross-system locking)


class RejectEvent(Event):
    write_id: str
    system: str
    entity: str
    key: str
    reason: str


class ReapplyEvent(Event):
    """A sync without loopback control re-wrote versions the replica already held: no
    field changed (so not an ``apply``), but the write was applied again (echo)."""

    system: str
    entity: str
    key: str
    via: str
    fields: dict[str, str]  # field -> the write id re-applied


class ApplyEvent(Event):
    system: str
    entity: str
    key: str
    via: str  # user, initial-load, a run id, a live map, a map/message
    fields: dict[str, str]  # field -> write id of the version now held
    row_version: int
    created: bool


class OverwriteEvent(Event):
    system: str
    entity: str
    key: str
    field: str
    lost_write: str
    by_write: str
    via: str


class BatchStartEvent(Event):
    run_id: str
    map: str
    entity: str
    source: str
    target: str
    rows: int
    skipped_ticks: int


class BatchEndEvent(Event):
    run_id: str
    map: str
    entity: str
    source: str
    target: str
    rows_changed: int
    rows_unchanged: int
    duration_s: float
    keys: list[str]  # the business keys of every row the run carried, in load order
    rows_failed: NotRequired[int]  # a run that could not load
    failed: NotRequired[str]  # why


class SendEvent(Event):
    message_id: str
    map: str
    entity: str
    key: str
    source: str
    target: str
    cause: str | None  # the write that caused it (None: a forwarded echo)
    hops: int
    write_ids: list[str]


class DeliverEvent(Event):
    message_id: str
    map: str
    outcome: Annotated[str, DeliveryOutcome]


class RedeliveryEvent(Event):
    message_id: str
    map: str
    outcome: Annotated[str, DeliveryOutcome]


class DeadLetterEvent(Event):
    message_id: str
    map: str
    reason: str


class DeliveryLostEvent(Event):
    message_id: str
    map: str


class ConflictEvent(Event):
    conflict_id: str
    system: str
    entity: str
    key: str
    field: str
    write_ids: list[str]  # the concurrent versions: the target's, the incoming one
    resolution: Annotated[str, ConflictResolution]
    message_id: str


class LockGrantEvent(Event):
    system: str
    entity: str
    key: str
    actor: str
    token: int
    expires_t: float


class LockDenyEvent(Event):
    system: str
    entity: str
    key: str
    actor: str
    token: None
    expires_t: None


class LockReleaseEvent(Event):
    entity: str
    key: str
    actor: str
    token: int


class FaultStartEvent(Event):
    fault_id: str
    fault: str  # its kind (outage, partition, ...)
    detail: str


class FaultEndEvent(Event):
    fault_id: str
    fault: str


class CatchUpStartEvent(Event):
    map: str
    expected_s: float


class CatchUpEndEvent(Event):
    map: str


class QuiescenceEvent(Event):
    reached: bool
    workload_end_t: float
    deadline_t: float


#: Every kind of event, by name, with the type that defines its fields.
EVENTS: dict[str, type] = {
    RUN_START: RunStartEvent,
    WRITE: WriteEvent,
    REJECT: RejectEvent,
    APPLY: ApplyEvent,
    REAPPLY: ReapplyEvent,
    OVERWRITE: OverwriteEvent,
    BATCH_START: BatchStartEvent,
    BATCH_END: BatchEndEvent,
    SEND: SendEvent,
    DELIVER: DeliverEvent,
    REDELIVERY: RedeliveryEvent,
    DEAD_LETTER: DeadLetterEvent,
    DELIVERY_LOST: DeliveryLostEvent,
    CONFLICT: ConflictEvent,
    LOCK_GRANT: LockGrantEvent,
    LOCK_DENY: LockDenyEvent,
    LOCK_RELEASE: LockReleaseEvent,
    FAULT_START: FaultStartEvent,
    FAULT_END: FaultEndEvent,
    CATCH_UP_START: CatchUpStartEvent,
    CATCH_UP_END: CatchUpEndEvent,
    QUIESCENCE: QuiescenceEvent,
}


def fields_of(kind: str) -> dict[str, Any]:
    """The fields of ``kind`` and their types (``Annotated`` kept, ``NotRequired``
    unwrapped: see :func:`required_fields`), ``t`` and ``kind`` included."""
    hints = typing.get_type_hints(EVENTS[kind], include_extras=True)
    return {
        name: typing.get_args(hint)[0]
        if typing.get_origin(hint) in (typing.NotRequired, typing.Required)
        else hint
        for name, hint in hints.items()
    }


#: Each kind's fields as :func:`fields_of` gives them, worked out once (resolving type
#: hints per event made checking a run's history against its contract slow).
_FIELDS = {kind: fields_of(kind) for kind in EVENTS}


def required_fields(kind: str) -> frozenset[str]:
    return EVENTS[kind].__required_keys__  # type: ignore[attr-defined]


def event_problems(event: dict[str, Any]) -> list[str]:
    """Every way ``event`` departs from its kind's definition (empty when it conforms):
    an unknown kind, a missing or unknown field, a value of the wrong type."""
    kind = event.get("kind")
    if kind not in EVENTS:
        return [f"unknown kind {kind!r}"]
    hints = _FIELDS[kind]
    problems = [
        f"{kind}: no field {name!r}" for name in sorted(required_fields(kind)) if name not in event
    ]
    for name, value in event.items():
        if name not in hints:
            problems.append(f"{kind}: unknown field {name!r}")
        elif not conforms(value, hints[name]):
            problems.append(f"{kind}: {name} = {value!r} is not {_type_name(hints[name])}")
    return problems


def conforms(value: Any, hint: Any) -> bool:
    """Whether a JSON value fits a type hint of this module (an int is a float)."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is Any:
        return True
    if hint is None or hint is type(None):
        return value is None
    if origin is Annotated:
        base, *meta = args
        return conforms(value, base) and all(
            value in {m.value for m in choice}
            for choice in meta
            if isinstance(choice, type) and issubclass(choice, StrEnum)
        )
    if origin in (typing.Union, types.UnionType):
        return any(conforms(value, a) for a in args)
    if origin is dict:
        return isinstance(value, dict) and all(
            conforms(k, args[0]) and conforms(v, args[1]) for k, v in value.items()
        )
    if origin is list:
        return isinstance(value, list) and all(conforms(v, args[0]) for v in value)
    if hint is float:
        return type(value) in (int, float)
    if hint is int:
        return type(value) is int
    return type(value) is hint


def _type_name(hint: Any) -> str:
    if typing.get_origin(hint) is Annotated:
        base, *meta = typing.get_args(hint)
        return " or ".join(repr(m.value) for choice in meta for m in choice)
    if typing.get_origin(hint) is not None:
        return str(hint).replace("typing.", "")
    return getattr(hint, "__name__", None) or str(hint)
