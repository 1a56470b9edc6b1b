"""Scheduled batch maps (the Data Integrator engine of 2017), as plain functions.

A run of a map has two halves, split so any driver can interleave other work between
them (SimPy gives the run a duration; a Hypothesis state machine lets edits happen in
between; an initial load does both at once):

1. :func:`extract` reads the source's change log from the map's watermark (or, without
   change tracking, every row) and snapshots the mapped field versions of at most
   ``max_rows_per_run`` rows that pass the map's ``when`` filter;
2. :func:`load` upserts those snapshots into the target, matched on the business key.

Because the snapshot is taken at extract time, an edit made in the target while a run is
in flight is overwritten when the run loads: exactly the race users see in production.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from models.design import BatchSettings, MapSpec
from models.records import FieldVersion, WriteLog
from models.systems import ApplyOutcome, Replica


@dataclass(slots=True)
class MapState:
    """What a map remembers between runs."""

    name: str
    spec: MapSpec
    settings: BatchSettings
    watermark: int = 0  # position in the source's change log already read
    runs: int = 0
    running: bool = False
    skipped_ticks: int = 0
    rows_moved: int = 0


@dataclass(slots=True)
class Batch:
    """The rows one run extracted, ready to load."""

    run_id: str
    map_name: str
    entity: str
    source: str
    target: str
    rows: list[tuple[str, dict[str, FieldVersion]]] = field(default_factory=list)
    started_s: float = 0.0
    watermark_before: int = 0  # restored when the run fails


def pending(state: MapState, source: Replica) -> bool:
    """True when the source has changes this map has not read yet."""
    if not state.settings.change_tracking:
        return False  # a full export has nothing "pending": it re-reads everything
    return state.watermark < len(source.change_log[state.spec.entity])


def _passes(values_of, when: dict[str, list] | None) -> bool:
    if not when:
        return True
    for name, allowed in when.items():
        version = values_of.get(name)
        if version is None or version[0] not in allowed:
            return False
    return True


def _snapshot(fields: dict, mapped: list[str] | None) -> dict:
    """A row's field versions as a run carries them: all, or the map's fields it has."""
    if mapped is None:
        return dict(fields)
    return {f: fields[f] for f in mapped if f in fields}


def extract(state: MapState, source: Replica, now_s: float) -> Batch:
    """Start a run: snapshot the rows to move and advance the watermark past them."""
    spec = state.spec
    state.runs += 1
    batch = Batch(
        f"{state.name}#{state.runs}",
        state.name,
        spec.entity,
        spec.source,
        spec.target,
        started_s=now_s,
        watermark_before=state.watermark,
    )
    table = source.tables[spec.entity]
    limit = state.settings.max_rows_per_run
    mapped = spec.fields
    when = spec.when
    rows = batch.rows
    if state.settings.change_tracking:
        log = source.change_log[spec.entity]
        position = state.watermark
        end = len(log)
        while position < end and len(rows) < limit:
            key = log[position]
            row = table[key]
            # Only the row's latest change counts; earlier entries are superseded.
            if row.changed_seq == position and (not when or _passes(row.fields, when)):
                rows.append((key, _snapshot(row.fields, mapped)))
            position += 1
        state.watermark = position
    else:
        for key in source.keys[spec.entity]:
            if len(rows) >= limit:
                break
            row = table[key]
            if not when or _passes(row.fields, when):
                rows.append((key, _snapshot(row.fields, mapped)))
    return batch


def load(batch: Batch, target: Replica, writelog: WriteLog) -> Iterator[tuple[str, ApplyOutcome]]:
    """Finish a run: upsert every extracted row into the target, in extract order (the
    target owns the extracted copies from then on), yielding each row's key and outcome
    as it is applied, so a caller reports each row before the next is loaded."""
    entity = batch.entity
    apply = target.apply
    for key, versions in batch.rows:
        yield key, apply(entity, key, versions, writelog, True)


def run_duration_s(settings: BatchSettings, rows: int) -> float:
    """How long a run takes: fixed overhead plus time per row (both parameters)."""
    return settings.run_overhead_s + settings.row_time_s * rows
