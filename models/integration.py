"""The integration under test: three replicas, one design, every write, and the events.

:class:`Integration` is the whole system under test in plain Python. It has no clock:
every method takes the current time, so SimPy (``sim/``) can drive it through a working
week and Hypothesis can drive it through any interleaving of saves and batch runs.
Everything it does is reported to ``emit`` as history events (schema in
``sim/history.py``), which is how checks and metrics see it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from models.design import DesignSpec
from models.entities import Catalogue
from models.records import Write, WriteLog
from models.sync import Batch, MapState, extract, load, pending, run_duration_s
from models.systems import ApplyOutcome, Replica

Emit = Callable[[dict[str, Any]], None]


def _discard(_event: dict[str, Any]) -> None:
    return None


class Integration:
    """Replicas of every system in ``design.systems``, kept in sync by the design's maps."""

    def __init__(
        self,
        design: DesignSpec,
        catalogue: Catalogue,
        emit: Emit = _discard,
    ) -> None:
        self.design = design
        self.catalogue = catalogue
        self.emit = emit
        self.writelog = WriteLog()
        self.replicas: dict[str, Replica] = {s: Replica(s, catalogue) for s in design.systems}
        self.maps: dict[str, MapState] = {
            name: MapState(name, spec, spec.settings(design.batch))
            for name, spec in design.maps.items()
        }
        # Operations checks RecVersion on update (FACTS.md section 3): a form saved after
        # someone else changed the row fails with UpdateConflict. Dataverse forms do not.
        self.local_version_check = frozenset(design.local_version_check)
        self._key_counters: dict[str, int] = {}

    # ------------------------------------------------------------------ keys

    def new_key(self, entity: str) -> str:
        """The next business key of ``entity`` (``ACC-00001``...), unique in the run."""
        n = self._key_counters.get(entity, 0) + 1
        self._key_counters[entity] = n
        return f"{self.catalogue[entity].key_prefix}-{n:05d}"

    # ----------------------------------------------------------------- saves

    def open_form(self, system: str, entity: str, key: str, fields) -> tuple[dict, int]:
        """What a user sees when opening a form: base per field and the row version."""
        row = self.replicas[system].row(entity, key)
        if row is None:
            return {f: () for f in fields}, 0
        return row.snapshot_base(fields), row.row_version

    def save(
        self,
        *,
        now_s: float,
        actor: str,
        role: str,
        system: str,
        entity: str,
        key: str,
        fields: Mapping[str, Any],
        base: Mapping[str, tuple[str, ...]] | None = None,
        opened_s: float | None = None,
        opened_row_version: int | None = None,
    ) -> Write | None:
        """A user saves a form. Returns the write, or None when the save was refused.

        ``base`` defaults to what the replica holds now (a form opened and saved at
        once). A refusal (read-only replica, or a stale row version where the system
        checks it) is recorded as a ``reject`` the user sees.
        """
        replica = self.replicas[system]
        row = replica.row(entity, key)
        if base is None:
            base = row.snapshot_base(tuple(fields)) if row is not None else {f: () for f in fields}
        writelog = self.writelog
        write_id = writelog.next_id(system)
        write = Write(
            write_id=write_id, entity=entity, key=key,
            op="create" if row is None else "update",
            fields=dict(fields), base={f: tuple(base.get(f, ())) for f in fields},
            actor=actor, role=role, system=system, time_s=now_s,
            opened_s=now_s if opened_s is None else opened_s,
        )
        writelog.add(write)
        emit = self.emit
        emit({
            "t": now_s, "kind": "write", "write_id": write_id, "actor": actor, "role": role,
            "system": system, "entity": entity, "key": key, "op": write.op,
            "fields": write.fields, "base": {f: list(b) for f, b in write.base.items()},
            "opened_t": write.opened_s,
        })
        if row is None:
            current = dict(fields)
        else:
            current = row.values()
        reason = self.design.edit_refusal(entity, system, current)
        if (
            reason is None
            and row is not None
            and opened_row_version is not None
            and system in self.local_version_check
            and row.row_version != opened_row_version
        ):
            reason = (f"UpdateConflict: {entity} {key} changed in {system} since the form "
                      f"was opened (row version {opened_row_version} -> {row.row_version})")
        if reason is not None:
            emit({"t": now_s, "kind": "reject", "write_id": write_id, "system": system,
                  "entity": entity, "key": key, "reason": reason})
            return None
        versions = {f: (v, write_id) for f, v in fields.items()}
        outcome = replica.apply(entity, key, versions, writelog)
        self._emit_apply(now_s, system, entity, key, "user", outcome)
        return write

    # ----------------------------------------------------------- batch runs

    def pending(self, map_name: str) -> bool:
        state = self.maps[map_name]
        return pending(state, self.replicas[state.spec.source])

    def start_run(self, map_name: str, now_s: float) -> Batch:
        """A scheduled run fires: extract its rows now (the snapshot it will load)."""
        state = self.maps[map_name]
        state.running = True
        batch = extract(state, self.replicas[state.spec.source], now_s)
        self.emit({
            "t": now_s, "kind": "batch_start", "run_id": batch.run_id, "map": map_name,
            "entity": batch.entity, "source": batch.source, "target": batch.target,
            "rows": len(batch.rows), "skipped_ticks": state.skipped_ticks,
        })
        return batch

    def run_duration_s(self, batch: Batch) -> float:
        return run_duration_s(self.maps[batch.map_name].settings, len(batch.rows))

    def finish_run(self, batch: Batch, now_s: float) -> int:
        """The run loads its rows into the target; returns the number of rows changed."""
        state = self.maps[batch.map_name]
        outcomes = load(batch, self.replicas[batch.target], self.writelog)
        changed = 0
        for key, outcome in outcomes:
            if outcome.changed:
                changed += 1
                self._emit_apply(now_s, batch.target, batch.entity, key, batch.run_id, outcome)
        state.running = False
        state.rows_moved += changed
        self.emit({
            "t": now_s, "kind": "batch_end", "run_id": batch.run_id, "map": batch.map_name,
            "entity": batch.entity, "source": batch.source, "target": batch.target,
            "rows_changed": changed, "rows_unchanged": len(outcomes) - changed,
            "duration_s": now_s - batch.started_s,
        })
        return changed

    def run_now(self, map_name: str, now_s: float) -> int:
        """Extract and load at once (initial loads, tests): a run of zero duration."""
        return self.finish_run(self.start_run(map_name, now_s), now_s)

    def initial_load(self, now_s: float) -> int:
        """Run the maps in the reference graph's topological order until nothing is pending.

        Accounts reach every system before contacts, orders before their lines, so no
        reference dangles after the initial load. Returns the number of runs made.
        """
        position = {name: i for i, name in enumerate(self.catalogue.load_order)}
        order = sorted(self.maps, key=lambda m: (position[self.maps[m].spec.entity],))
        runs = 0
        progress = True
        while progress:
            progress = False
            for name in order:
                if self.pending(name):
                    self.run_now(name, now_s)
                    runs += 1
                    progress = True
        return runs

    def quiet(self) -> bool:
        """No map is running and none has unread changes: the replicas can agree."""
        return not any(s.running for s in self.maps.values()) and not any(
            self.pending(name) for name in self.maps
        )

    # ----------------------------------------------------------- reporting

    def _emit_apply(
        self, now_s: float, system: str, entity: str, key: str, via: str, outcome: ApplyOutcome
    ) -> None:
        emit = self.emit
        emit({
            "t": now_s, "kind": "apply", "system": system, "entity": entity, "key": key,
            "via": via, "fields": outcome.changed, "row_version": outcome.row_version,
            "created": outcome.created,
        })
        for field, lost, by in outcome.overwrites:
            emit({"t": now_s, "kind": "overwrite", "system": system, "entity": entity,
                  "key": key, "field": field, "lost_write": lost, "by_write": by, "via": via})

    def contract(self, staleness_p99_s: Mapping[str, float] | None = None) -> dict[str, Any]:
        """What the checker needs to judge a run of this design (see sim/history.py)."""
        design = self.design
        copies = design.copies()
        synced: dict[str, dict[str, list[str]]] = {}
        for spec in design.maps.values():
            entity = self.catalogue[spec.entity]
            entry = synced.setdefault(spec.entity, {"fields": [], "systems": copies[spec.entity]})
            for f in spec.fields or entity.field_names:
                if f not in entry["fields"]:
                    entry["fields"].append(f)
        return {
            "systems": list(design.systems),
            "entities": {
                e.name: {"key": e.key_field, "fields": list(e.field_names),
                         "references": e.references,
                         "status_order": list(e.status_order) if e.status_order else None}
                for e in self.catalogue
            },
            "synced": synced,
            "editable": {e: {s: (c or {}) for s, c in w.items()}
                         for e, w in design.editable.items()},
            "promises": list(design.promises),
            "sanctioned": list(design.sanctioned),
            "echo_bound": design.echo_bound,
            "staleness_p99_s": dict(staleness_p99_s or {}),
            "local_version_check": sorted(self.local_version_check),
        }
