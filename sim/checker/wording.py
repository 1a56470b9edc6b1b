"""Words for explanations: writes, apply paths, values and times as people say them.

An explanation is read by an architect who has not seen the code, so it names the
person, the record, the value and the wall-clock-like time: "W-operations-17
(ops_clerk-3 set account ACC-0012 credit_limit 5000 at day 1 10:14)". These helpers are
shared by every invariant so the phrasing stays the same across the report.
"""

from __future__ import annotations

from typing import Any

from models.clock import format_t
from sim.checker.ledger import C_ACTOR, C_ENTITY, C_FIELDS, C_KEY, UNKNOWN, Ledger


def value_words(value: Any) -> str:
    """``5000.0`` -> ``"5000"``, ``None`` -> ``"(empty)"``, unknown -> ``"(unknown)"``."""
    if value is UNKNOWN:
        return "(unknown)"
    if value is None or value == "":
        return "(empty)"
    if isinstance(value, float):
        if value == int(value) and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.2f}"
    return str(value)


def when(t: float | None) -> str:
    """Simulated seconds as ``"day 1 10:14"`` (``"?"`` when unknown)."""
    return "?" if t is None else format_t(float(t))


def describe_write(ledger: Ledger, write: str | int, field: str | None = None) -> str:
    """``W-x (actor set entity KEY field value at day D HH:MM)``.

    ``write`` is a write id or a write index. With ``field`` only that field's value is
    quoted; without, every field the write set, in field-name order: a history read from
    a file has its keys sorted, a run checked in memory has them in the order the model
    set them, and the same history must be described in the same words either way.
    A version without a ``write`` event (an initial load) is said to be one.
    """
    i = ledger.index.get(write) if isinstance(write, str) else write
    if i is None or not ledger.is_saved(i):
        write_id = write if isinstance(write, str) else ledger.ids[write]
        return f"{write_id} (a version with no save in the history, e.g. the initial load)"
    cold = ledger.cold[i]
    fields, actor, entity, key = cold[C_FIELDS], cold[C_ACTOR], cold[C_ENTITY], cold[C_KEY]
    if field is not None and field in fields:
        what = f"{field} {value_words(fields[field])}"
    else:
        what = ", ".join(f"{f} {value_words(v)}" for f, v in sorted(fields.items())) or "no field"
    return f"{ledger.ids[i]} ({actor} set {entity} {key} {what} at {when(ledger.times[i])})"


def describe_via(via: str | None) -> str:
    """An apply path in words: a user save, the initial load, a named batch run
    (``map#n``), a queued message (``map/M-n``) or a live sync (``live:map``)."""
    if via is None:
        return "an unknown path"
    if via == "user":
        return "a user save"
    if via == "initial-load":
        return "the initial load"
    if "#" in via:
        return f"batch run {via}"
    if "/" in via:
        sync_map, message = via.split("/", 1)
        return f"message {message} of {sync_map}"
    if via.startswith("live:"):
        return f"the live sync {via[5:]}"
    return via


def record_words(entity: str | None, key: str | None) -> str:
    return f"{entity} {key}"


def plural(count: int, noun: str, suffix: str = "s") -> str:
    return f"{count} {noun}{'' if count == 1 else suffix}"
