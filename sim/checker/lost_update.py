"""No lost update: every save survives, is superseded knowingly, or is shown to someone.

Definitions (the design's core idea, made exact):

*Ancestry* is per field and follows bases. A write's ``base[f]`` lists the write(s) whose
version of ``f`` the user saw when opening the form (a merge lists several). W is an
*ancestor* of X for ``f`` when W is in ``X.base[f]`` or is an ancestor of a write in it.
Every write is its own ancestor: re-applying the same version loses nothing.

A write W that was *applied* (saved in its own system: not rejected, followed by its
``user`` apply) and set field ``f`` is **lost for f** when, at the end of the history,

1. in no replica is W the final version of ``f`` of its record, nor an ancestor of that
   final version (so no copy anywhere still carries W or anything built on it), and
2. nothing *surfaced* it: no ``reject`` of W and no ``conflict`` event naming W (a
   person was shown W, so the loss is not silent).

Concurrent edits of *different* fields of one record never lose each other: ancestry is
per field. A write superseded by one whose base included it is not lost either: the
later user saw it.

The check is linear in the history: at the end, walk back from every final version of
every field in every replica along bases, marking ancestors once per field (a write is
marked at most once per field it is reached through), then every applied write field
not marked is lost. The ledger remembers, per (write, field), the last time the write
was displaced in the system where it was saved, which the explanation quotes: "W-1 (...)
was overwritten at day 1 10:30 in operations by batch run accounts_hub_to_operations#4
carrying W-88, whose base did not include W-1."

Judged at the end of the history even without quiescence (the design defines losses
"at the end"); the note then warns that a message still in flight might have carried a
write. Designs that lose updates by construction (last-writer-wins) list this invariant
under ``sanctioned``: the losses are counted and explained with status ``sanctioned``.
"""

from __future__ import annotations

import numpy as np

from sim.checker.invariant import Invariant
from sim.checker.ledger import (
    APPLIED,
    C_BASE,
    C_ENTITY,
    C_FIELDS,
    C_KEY,
    COMPLEX,
    MULTI_FIELD,
    NO_PARENT,
    Ledger,
)
from sim.checker.verdicts import Anomaly, AnomalyList, Verdict, make_verdict
from sim.checker.wording import describe_via, describe_write, plural, when


def surviving_versions(ledger: Ledger) -> dict[str, np.ndarray]:
    """``field -> marks``: ``marks[i]`` is true when write ``i`` is a final version of the
    field somewhere, or an ancestor of one.

    Walks back along bases from every final field version of every replica, marking
    each (write, field) once, so the cost is linear in writes plus rows. The walk goes a
    whole generation at a time with numpy: the common single-field, single-parent write
    is followed through ``ledger.parent``; the others (merges, multi-field writes) read
    their base. When few walks are left (one long history of one record), plain Python
    finishes them, so a deep chain never costs one numpy round per step.
    """
    size = len(ledger.ids)
    codes = np.frombuffer(bytes(ledger.field_code), dtype=np.uint8).astype(np.int16)
    parents = np.array(ledger.parent, dtype=np.int64)
    finals: dict[str, list[int]] = {}
    for by_entity in ledger.tables.values():
        for table in by_entity.values():
            rows = table.values()
            for field in set().union(*rows):
                found = [row[field] for row in rows if field in row]
                finals.setdefault(field, []).extend(found)
    marked: dict[str, np.ndarray] = {}
    for field, versions in finals.items():
        marks = marked[field] = np.zeros(size, dtype=bool)
        code = ledger.field_code_of(field)
        frontier = _unique(np.asarray(versions, dtype=np.int64))
        while frontier.size > _NUMPY_FRONTIER:
            frontier = frontier[~marks[frontier]]
            marks[frontier] = True
            up = parents[frontier]
            step = [up[(up >= 0) & (codes[frontier] == code)]]
            bases = frontier[up == COMPLEX]
            if bases.size:
                step.append(np.asarray(_base_parents(ledger, bases, field), dtype=np.int64))
            frontier = _unique(np.concatenate(step))
        _walk(ledger, frontier.tolist(), field, marks)
    return marked


def _unique(writes: np.ndarray) -> np.ndarray:
    """The distinct indexes in ``writes``, sorted: ``np.unique``, by sorting. (numpy 2's
    ``np.unique`` hashes integers, seven times slower here than a sort; the result is
    the same.)"""
    writes = np.sort(writes)
    if writes.size > 1:
        keep = np.empty(writes.size, dtype=bool)
        keep[0] = True
        np.not_equal(writes[1:], writes[:-1], out=keep[1:])
        writes = writes[keep]
    return writes


#: Below this many walks in one generation, Python finishes the walk (see above).
_NUMPY_FRONTIER = 256


def _base_parents(ledger: Ledger, writes: np.ndarray, field: str) -> list[int]:
    """Indexes of the writes named in the bases (for ``field``) of ``writes``, all of them
    ``COMPLEX`` writes, whose cold base is kept whole (read directly: this runs once per
    such write and field, and a method call each would be a third of its time)."""
    cold, index_get = ledger.cold, ledger.index.get
    found: list[int] = []
    append = found.append
    for i in writes.tolist():
        for parent_id in cold[i][C_BASE].get(field) or ():
            parent = index_get(parent_id)
            if parent is not None:
                append(parent)
    return found


def _walk(ledger: Ledger, stack: list[int], field: str, marks: np.ndarray) -> None:
    """Mark ``stack`` and every ancestor for ``field``, one write at a time."""
    code = ledger.field_code_of(field)
    field_code, parent_of = ledger.field_code, ledger.parent
    cold, index = ledger.cold, ledger.index
    while stack:
        i = stack.pop()
        # Follow single parents along the array; read bases only when there is more.
        while not marks[i]:
            marks[i] = True
            parent = parent_of[i]
            if parent >= 0:
                if field_code[i] != code:
                    break  # its one parent is for another field: none for this one
                i = parent
                continue
            if parent == NO_PARENT:
                break
            for parent_id in cold[i][C_BASE].get(field) or ():
                based = index.get(parent_id)
                if based is not None and not marks[based]:
                    stack.append(based)
            break


def is_ancestor(ledger: Ledger, ancestor: int, descendant: int, field: str) -> bool:
    """True when write ``descendant`` saw write ``ancestor`` for ``field`` (via bases)."""
    if ancestor == descendant:
        return True
    stack = [descendant]
    seen = {descendant}
    while stack:
        i = stack.pop()
        for parent_id in ledger.base_ids(i, field):
            parent = ledger.index.get(parent_id)
            if parent is None:
                continue
            if parent == ancestor:
                return True
            if parent not in seen:
                seen.add(parent)
                stack.append(parent)
    return False


def lost_writes(ledger: Ledger) -> tuple[list[tuple[int, str]], int, int]:
    """``([(write index, field), ...] lost in history order, fields judged, surfaced)``.

    Single-field writes are judged a whole column at a time with numpy; writes setting
    several fields one by one.
    """
    marked = surviving_versions(ledger)
    size = len(ledger.ids)
    if size == 0:
        return [], 0, 0
    status = np.frombuffer(bytes(ledger.status), dtype=np.uint8)
    surfaced = np.zeros(size, dtype=bool)
    if ledger.surfaced:
        surfaced[np.fromiter(ledger.surfaced, dtype=np.int64)] = True
    codes = np.frombuffer(bytes(ledger.field_code), dtype=np.uint8)
    applied = status == APPLIED
    lost: list[tuple[int, str]] = []
    judged = int(np.count_nonzero(applied & (codes != MULTI_FIELD)))
    unmarked = np.zeros(size, dtype=bool)
    field_of = np.empty(size, dtype=np.uint8)
    for code, field in enumerate(ledger.field_names):
        if field is None:
            continue
        column = applied & (codes == code)
        marks = marked.get(field)
        if marks is not None:
            column &= ~marks
        unmarked |= column
        field_of[column] = code
    surfaced_count = int(np.count_nonzero(unmarked & surfaced))
    single = np.flatnonzero(unmarked & ~surfaced)
    lost.extend((int(i), ledger.field_names[field_of[i]]) for i in single)
    for i in np.flatnonzero(applied & (codes == MULTI_FIELD)).tolist():
        for field in ledger.cold[i][C_FIELDS]:
            judged += 1
            marks = marked.get(field)
            if marks is not None and marks[i]:
                continue
            if i in ledger.surfaced:
                surfaced_count += 1
                continue
            lost.append((i, field))
    lost.sort()
    return lost, judged, surfaced_count


def trigger_words(ledger: Ledger, i: int, field: str, via: str | None, by: int) -> str:
    """Why the sync that displaced write ``i``'s ``field`` carried the record at all:
    "; the run carried account ACC-1 because of W-s-9 (sales_rep-7 set ... phone ...)"."""
    if via is None or via == "user":
        return ""
    cold = ledger.cold[i]
    record = f"{cold[C_ENTITY]} {cold[C_KEY]}"
    what = "the run" if "#" in via else "the sync"
    trigger = ledger.displacement_trigger(i, field)
    if trigger is None:
        if not ledger.is_saved(by):
            return ""
        return f"; {what} carried {record} because of {ledger.ids[by]} itself"
    return f"; {what} carried {record} because of {describe_write(ledger, trigger)}"


class NoLostUpdate(Invariant):
    name = "no_lost_update"

    def verdict(self) -> Verdict:
        ledger = self.ledger
        lost, judged, surfaced = lost_writes(ledger)
        found = AnomalyList()
        for write_id, field in lost:
            if found.room():
                found.add(self.anomaly(write_id, field))
            else:
                found.count += 1
        saves = ledger.status.count(APPLIED)
        metrics = {
            "writes_applied": saves,
            "write_fields_judged": judged,
            "lost_write_fields": len(lost),
            "lost_writes": len({i for i, _ in lost}),
            "surfaced_not_lost": surfaced,
            "lost_write_fields_per_1000_writes": (
                round(1000.0 * len(lost) / saves, 3) if saves else 0.0
            ),
            "conflicts": ledger.conflict_count,
            "model_reported_overwrites": ledger.model_overwrites,
        }
        if lost:
            writes = len({i for i, _ in lost})
            note = (
                f"{plural(len(lost), 'write field')} in {plural(writes, 'write')} lost "
                "without anyone being shown"
            )
            if self.is_sanctioned:
                note += " (the design accepts this: sanctioned)"
            if not ledger.quiescent:
                note += (
                    f"; judged at the end although {ledger.quiescence_words()}: a message "
                    "still in flight could have carried some"
                )
        else:
            note = f"every one of {plural(judged, 'write field')} survives or was surfaced"
        return make_verdict(
            self.name,
            found.items,
            found.count,
            sanctioned=self.is_sanctioned,
            metrics=metrics,
            note=note,
        )

    def anomaly(self, i: int, field: str) -> Anomaly:
        """The lost-update anomaly for one (write index, field), with its story."""
        ledger = self.ledger
        cold = ledger.cold[i]
        home = ledger.home_system(i)
        displaced = ledger.displacement(i, field)
        text = describe_write(ledger, i, field) + " " + self._story(i, field)
        write_ids: tuple[str, ...] = (ledger.ids[i],)
        t = via = None
        if displaced is not None:
            t, via, by = displaced
            write_ids += (ledger.ids[by],)
            trigger = ledger.displacement_trigger(i, field)
            if trigger is not None:
                write_ids += (ledger.ids[trigger],)
        return Anomaly(
            self.name,
            "lost-update",
            text,
            write_ids=write_ids,
            system=home,
            entity=cold[C_ENTITY],
            key=cold[C_KEY],
            field=field,
            t=t,
            via=via,
        )

    def _story(self, i: int, field: str, depth: int = 0) -> str:
        # How the write's version of the field disappeared from the system where it was
        # saved; when it was first superseded by a write that saw it, the loss happened
        # later to that descendant, so follow it (a few steps at most).
        ledger = self.ledger
        home = ledger.home_system(i)
        write_id = ledger.ids[i]
        displaced = ledger.displacement(i, field)
        if displaced is None:
            return f"is neither the final version of {field} nor an ancestor of it in any replica."
        t, via, by = displaced
        by_id = ledger.ids[by]
        if via == "user":
            carrier = f"by {describe_write(ledger, by, field)}"
        else:
            carrier = f"by {describe_via(via)} carrying {describe_write(ledger, by, field)}"
        if not is_ancestor(ledger, i, by, field):
            return (
                f"was overwritten at {when(t)} in {home} {carrier}, whose base did not "
                f"include {write_id}" + trigger_words(ledger, i, field, via, by) + "."
            )
        if depth >= 3 or not ledger.is_saved(by):
            return (
                f"was superseded at {when(t)} in {home} {carrier}, which saw it, but that "
                "line of versions was later overwritten without being seen."
            )
        return (
            f"was superseded at {when(t)} in {home} {carrier}, which saw it; but {by_id} "
            + self._story(by, field, depth + 1)
        )
