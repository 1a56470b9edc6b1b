"""The integration under test: three replicas, one design, every write, and the events.

:class:`Integration` is the whole system under test in plain Python. It has no clock:
every method takes the current time, so SimPy (``sim/``) can drive it through a working
week and Hypothesis can drive it through any interleaving of saves and batch runs.
Everything it does is reported to ``emit`` as history events (schema in
``sim/engine/history.py``), which is how checks and metrics see it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from models.design import DesignSpec, MapSpec
from models.entities import Catalogue
from models.messages import Conflict, Lease, LeaseTable, Message
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
            for name, spec in design.maps.items() if spec.transport == "batch"
        }
        # Live and queue maps, by (source system, entity), in design order.
        self.links: dict[tuple[str, str], list[tuple[str, MapSpec]]] = {}
        for name, spec in design.maps.items():
            if spec.transport != "batch":
                self.links.setdefault((spec.source, spec.entity), []).append((name, spec))
        self.concurrency = design.concurrency
        # Queued messages the driver must deliver. A driver with a clock (SimPy) sets
        # ``on_send`` to schedule each one as it is sent; others take the outbox.
        self.outbox: list[Message] = []
        self.on_send: Callable[[Message], None] | None = None
        self.on_conflict: Callable[[Conflict], None] | None = None
        self.in_flight = 0  # messages sent and not yet delivered or dead-lettered
        self.conflicts: list[Conflict] = []  # detected, waiting for the resolver
        self._open_conflicts: dict[tuple[str, str], Conflict] = {}
        self._pair_ids: dict[tuple, str] = {}
        self.leases = LeaseTable(hold_until_replicated=design.concurrency.hold_until_replicated)
        # Faults: systems down, pairs of systems that cannot reach each other, paused maps
        # (dual-write maintenance: changes queue until the map resumes).
        self.down: set[str] = set()
        self.partitions: set[frozenset[str]] = set()
        self.paused: dict[str, float] = {}  # map name -> paused since (s)
        self._delivered: set[str] = set()  # message ids applied (idempotent redelivery)
        self._hlc: dict[str, tuple[float, int]] = {}
        self.stamps: dict[str, tuple[float, int, str]] = {}  # write id -> HLC stamp
        self._counters: dict[str, int] = {}
        self.last_refusal: str | None = None  # why the latest save was refused, if it was
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
        lease: Lease | None = None,
        live_delay_s: float = 0.0,
        transaction_records: int = 1,
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
        if system in self.down:
            reason = f"{system} is unavailable (outage): the save failed"
        if (
            reason is None
            and row is not None
            and opened_row_version is not None
            and system in self.local_version_check
            and row.row_version != opened_row_version
        ):
            if self.design.local_check_level == "row":
                reason = (f"UpdateConflict: {entity} {key} changed in {system} since the form "
                          f"was opened (row version {opened_row_version} -> {row.row_version})")
            else:
                moved = [f for f in fields if f in row.fields
                         and (row.fields[f][1],) != tuple(write.base.get(f, ()))]
                if moved:
                    reason = (f"UpdateConflict: {', '.join(moved)} of {entity} {key} changed in "
                              f"{system} since the form was opened")
        if reason is None and self.concurrency.mode == "lease_lock":
            reason = self.leases.refusal(lease, entity, key, actor, now_s,
                                         self.concurrency.fencing)
        if reason is None:
            reason = self._live_refusal(system, entity, live_delay_s, transaction_records)
        self.last_refusal = reason
        if reason is not None:
            emit({"t": now_s, "kind": "reject", "write_id": write_id, "system": system,
                  "entity": entity, "key": key, "reason": reason})
            return None
        if self.concurrency.mode == "field_merge":
            self.stamps[write_id] = self._tick_clock(system, now_s)
        elif self.concurrency.mode == "lww_clock":
            self.stamps[write_id] = (now_s + self.design.clock_skew_s.get(system, 0.0), 0,
                                     system)
        versions = {f: (v, write_id) for f, v in fields.items()}
        outcome = replica.apply(entity, key, versions, writelog)
        self._emit_apply(now_s, system, entity, key, "user", outcome)
        if outcome.changed:
            self._propagate(system, entity, key, now_s, write_id, hops=0, came_from=None,
                            changed=outcome.changed)
        return write

    # ------------------------------------------------- live and queued maps

    def _live_refusal(self, system: str, entity: str, delay_s: float,
                      records: int = 1) -> str | None:
        """dual-write live: the save commits on both sides or on neither. A transaction
        over the time limit (2 min) or the record limit (1,000: a header and all its
        lines save together) rolls back on both sides."""
        for name, spec in self.links.get((system, entity), ()):
            if spec.transport != "live" or name in self.paused:
                continue  # a paused live map queues its changes instead
            if not self.reachable(system, spec.target):
                return (f"Unit of Work can not commit transaction: {spec.target} is "
                        f"unreachable (map {name}); rolled back on both sides")
            if records > self.design.live.max_records:
                return (f"Unit of Work can not commit transaction: {records:,} records exceed "
                        f"the {self.design.live.max_records:,}-record limit (map {name}); "
                        "rolled back on both sides")
            if delay_s > self.design.live.max_transaction_s:
                return (f"Unit of Work can not commit transaction: {delay_s:.0f} s exceeds the "
                        f"{self.design.live.max_transaction_s:.0f} s limit (map {name}); "
                        "rolled back on both sides")
        return None

    def _next(self, prefix: str) -> str:
        n = self._counters.get(prefix, 0) + 1
        self._counters[prefix] = n
        return f"{prefix}-{n}"

    def _tick_clock(self, system: str, now_s: float,
                    seen: tuple[float, int] | None = None) -> tuple[float, int, str]:
        """Hybrid logical clock of ``system``: physical time with skew, logical counter."""
        physical = now_s + self.design.clock_skew_s.get(system, 0.0)
        wall, logical = self._hlc.get(system, (float("-inf"), 0))
        candidates = [(physical, -1), (wall, logical)]
        if seen is not None:
            candidates.append(seen)
        top = max(c[0] for c in candidates)
        logical = max((c[1] for c in candidates if c[0] == top), default=-1) + 1
        self._hlc[system] = (top, logical)
        return (top, logical, system)

    def _propagate(self, system: str, entity: str, key: str, now_s: float, cause: str | None,
                   hops: int, came_from: str | None,
                   changed: dict[str, str] | None = None) -> None:
        """Send a changed row over every live and queue map leaving ``system``.

        A change that arrived from ``came_from`` is not sent back there when the map has
        echo suppression (loopback control); without it, it is, up to ``max_hops``.
        """
        links = self.links.get((system, entity))
        if not links:
            return
        row = self.replicas[system].row(entity, key)
        for name, spec in links:
            if spec.target == came_from and spec.echo_suppression:
                continue
            if hops >= spec.max_hops:
                continue
            versions = dict(row.fields) if spec.fields is None else {
                f: row.fields[f] for f in spec.fields if f in row.fields}
            if spec.transport == "live" and name in self.paused and changed is not None:
                # A paused dual-write map queues the change itself, to be replayed on
                # resume (catch-up), not a snapshot of the whole row.
                versions = {f: v for f, v in versions.items() if f in changed}
            if spec.when and not all(versions.get(f, (None,))[0] in allowed
                                     for f, allowed in spec.when.items()):
                continue
            if spec.transport == "live" and name not in self.paused:
                outcome = self.replicas[spec.target].apply(entity, key, versions, self.writelog)
                self._emit_apply(now_s, spec.target, entity, key, f"live:{name}", outcome)
                continue
            message = Message(self._next("M"), name, entity, key, system, spec.target,
                              versions, cause, hops + 1, now_s)
            self.in_flight += 1
            if self.concurrency.mode == "lease_lock":
                mark = (entity, key)
                self.leases.in_flight[mark] = self.leases.in_flight.get(mark, 0) + 1
            self.emit({"t": now_s, "kind": "send", "message_id": message.message_id,
                       "map": name, "entity": entity, "key": key, "source": system,
                       "target": spec.target, "cause": cause, "hops": message.hops,
                       "write_ids": sorted({v[1] for v in versions.values()})})
            if self.on_send is not None:
                self.on_send(message)
            else:
                self.outbox.append(message)

    def reachable(self, a: str, b: str) -> bool:
        """Both systems up and no partition between them."""
        down = self.down
        return a not in down and b not in down and frozenset((a, b)) not in self.partitions

    def fail_run(self, batch: Batch, now_s: float, reason: str) -> None:
        """A run that could not load (a system down, a partition): nothing is applied,
        the map's watermark goes back so the next scheduled run retries every row (a
        Data Integrator run in ERROR is retried at the next scheduled run)."""
        state = self.maps[batch.map_name]
        if state.settings.retry_failed_runs:
            state.watermark = min(state.watermark, batch.watermark_before)
        state.running = False
        self.emit({
            "t": now_s, "kind": "batch_end", "run_id": batch.run_id, "map": batch.map_name,
            "entity": batch.entity, "source": batch.source, "target": batch.target,
            "rows_changed": 0, "rows_unchanged": 0, "rows_failed": len(batch.rows),
            "failed": reason, "duration_s": now_s - batch.started_s,
        })

    def take_outbox(self) -> list[Message]:
        """Hand the queued messages to the driver (it delivers them later)."""
        messages, self.outbox = self.outbox, []
        return messages

    def dead_letter(self, message: Message, now_s: float, reason: str) -> None:
        """Give up on a message, with a reason (never silently)."""
        self._settle(message)
        self.emit({"t": now_s, "kind": "dead_letter", "message_id": message.message_id,
                   "map": message.map_name, "reason": reason})

    def _settle(self, message: Message) -> None:
        self.in_flight -= 1
        if self.concurrency.mode == "lease_lock":
            mark = (message.entity, message.key)
            left = self.leases.in_flight.get(mark, 0) - 1
            if left > 0:
                self.leases.in_flight[mark] = left
            else:
                self.leases.in_flight.pop(mark, None)

    def deliver(self, message: Message, now_s: float) -> str:
        """Apply a queued message at its target under the design's concurrency rule.

        Returns the outcome: ``applied``, ``unchanged``, ``stale`` (every version is
        one the target already superseded: skipped, not retried), ``conflict`` (queued
        for a person, or rejected because the target is the primary), ``merged``
        (field-merge kept some fields and surfaced the rest).
        """
        spec = self.design.maps[message.map_name]
        if message.message_id in self._delivered and spec.apply_mode == "upsert":
            # At-least-once transport, idempotent receiver: a redelivery changes nothing.
            self.emit({"t": now_s, "kind": "redelivery", "message_id": message.message_id,
                       "map": message.map_name, "outcome": "duplicate_ignored"})
            return "duplicate_ignored"
        first = message.message_id not in self._delivered
        self._delivered.add(message.message_id)
        if first:
            self._settle(message)
        mode = self.concurrency.mode
        target = self.replicas[message.target]
        row = target.row(message.entity, message.key)
        if spec.apply_mode == "insert" and row is not None:
            # The planted bug: a receiver that inserts instead of upserting makes a second
            # record with the same business key on every redelivery.
            outcome = target.apply(message.entity, message.key, message.versions,
                                   self.writelog)
            outcome.created = True
            outcome.changed.update({f: v[1] for f, v in message.versions.items()})
            self._emit_apply(now_s, message.target, message.entity, message.key,
                             f"{message.map_name}/{message.message_id}", outcome)
            if not first:
                self.emit({"t": now_s, "kind": "redelivery", "message_id": message.message_id,
                           "map": message.map_name, "outcome": "inserted_again"})
                return "inserted_again"
            self.emit({"t": now_s, "kind": "deliver", "message_id": message.message_id,
                       "map": message.map_name, "outcome": "applied"})
            return "applied"
        incoming = message.versions
        writelog = self.writelog
        unseen: list[tuple[str, str, str]] = []  # (field, target's write, incoming write)
        superseded: set[str] = set()  # fields where the target holds a descendant already
        newer_anywhere = row is None
        if row is not None:
            for name, version in incoming.items():
                current = row.fields.get(name)
                if current is None:
                    newer_anywhere = True
                    continue
                if current[1] == version[1]:
                    continue
                if writelog.is_ancestor(current[1], version[1], name):
                    newer_anywhere = True
                elif writelog.is_ancestor(version[1], current[1], name):
                    superseded.add(name)  # the target holds a descendant of this version
                else:
                    newer_anywhere = True
                    unseen.append((name, current[1], version[1]))
        via = f"{message.map_name}/{message.message_id}"
        outcome_name = "applied"
        apply_versions = incoming
        if mode not in ("none", "lww_arrival") and superseded:
            # Careful designs never move a field backwards: a version the target already
            # superseded (a reordered or forwarded older message) is left out.
            apply_versions = {name: version for name, version in incoming.items()
                              if name not in superseded}
        force = not spec.echo_suppression  # home-made sync without loopback control
        if mode in ("primary_wins", "version_check", "field_merge") and not newer_anywhere:
            outcome_name = "stale"
            apply_versions = {}
        elif unseen and mode == "primary_wins" and message.target == self.concurrency.primary:
            # The primary keeps its own version of every field edited on both sides and
            # records the conflict; the rest of the update still applies. (The FAQ says
            # "the other side's update is rejected"; whether its other fields are kept is
            # not documented. Rejecting them too would leave the sides diverged, since
            # nothing re-sends them: the model keeps them, and says so here.)
            self._conflict(now_s, message, unseen, "primary_wins")
            clashing = {name for name, _, _ in unseen}
            apply_versions = {n: v for n, v in apply_versions.items() if n not in clashing}
            outcome_name = "conflict"
        elif mode == "version_check" and (
                unseen or (message.entity, message.key) in self._open_conflicts):
            # One conflict per record at a time: a mismatch on a record that already has
            # an open conflict joins it, so the resolver merges every version at once.
            conflict = self._open_conflicts.get((message.entity, message.key))
            if conflict is None:
                conflict = Conflict(self._next("C"), message.target, message.entity,
                                    message.key, {}, now_s, message.message_id)
                self._open_conflicts[(message.entity, message.key)] = conflict
                self.conflicts.append(conflict)
                if self.on_conflict is not None:
                    self.on_conflict(conflict)
            conflict.joined.append(dict(incoming))
            self._conflict(now_s, message, unseen, "queued", conflict.conflict_id)
            outcome_name, apply_versions = "conflict", {}
        elif mode == "field_merge" and row is not None:
            apply_versions = {}
            for name, version in incoming.items():
                current = row.fields.get(name)
                if current is None or writelog.is_ancestor(current[1], version[1], name):
                    apply_versions[name] = version
                elif any(u[0] == name for u in unseen):
                    if self.stamps.get(version[1], (0, 0, "")) > self.stamps.get(current[1],
                                                                                   (0, 0, "")):
                        apply_versions[name] = version
            if unseen:
                self._conflict(now_s, message, unseen, "merged_by_stamp")
                outcome_name = "merged"
            seen = [self.stamps[v[1]][:2] for v in incoming.values() if v[1] in self.stamps]
            if seen:
                self._tick_clock(message.target, now_s, max(seen))
        if mode == "lww_clock" and row is not None:
            # Wall-clock last-writer-wins per field, ancestry ignored: no conflict record.
            none = (float("-inf"), 0, "")
            apply_versions = {
                name: version for name, version in incoming.items()
                if name not in row.fields
                or self.stamps.get(version[1], none) > self.stamps.get(row.fields[name][1], none)}
        changed = False
        if apply_versions:
            if force and row is not None:
                # Home-made sync without loopback control rewrites every field it gets,
                # which counts as a change and fires the sync again.
                outcome = target.apply(message.entity, message.key, apply_versions, writelog)
                outcome.changed.update({f: v[1] for f, v in apply_versions.items()})
            else:
                outcome = target.apply(message.entity, message.key, apply_versions, writelog)
            if outcome.changed:
                changed = True
                self._emit_apply(now_s, message.target, message.entity, message.key, via,
                                 outcome)
        if outcome_name == "applied" and not changed:
            outcome_name = "unchanged"
        if outcome_name == "applied" and unseen and mode == "primary_wins":
            outcome_name = "primary_wins"  # the non-primary side takes the primary's fields
        self.emit({"t": now_s, "kind": "deliver", "message_id": message.message_id,
                   "map": message.map_name, "outcome": outcome_name})
        if changed:
            self._propagate(message.target, message.entity, message.key, now_s,
                            message.cause, message.hops, came_from=message.source)
        return outcome_name

    def _conflict(self, now_s: float, message: Message, unseen: list[tuple[str, str, str]],
                  resolution: str, conflict_id: str | None = None) -> None:
        """Record detected concurrent versions. Both sides of a crossing pair detect the
        same conflict; it keeps one id (from its pair of writes) so it counts once."""
        for field, theirs, ours in unseen:
            pair = (message.entity, message.key, field, frozenset((theirs, ours)))
            cid = conflict_id or self._pair_ids.get(pair)
            if cid is None:
                cid = self._pair_ids[pair] = self._next("C")
            self.emit({"t": now_s, "kind": "conflict", "conflict_id": cid,
                       "system": message.target, "entity": message.entity, "key": message.key,
                       "field": field, "write_ids": [theirs, ours], "resolution": resolution,
                       "message_id": message.message_id})

    def resolve(self, conflict: Conflict, now_s: float, actor: str, role: str) -> Write | None:
        """A person resolves a queued conflict with a merge write that saw both sides.

        For each field where the target and the incoming change differ, the merge takes
        the more recently saved of the two values; its base names both versions, so
        neither is lost. The merge is saved in the conflict's system and syncs onward.
        """
        conflict.resolved = True
        self._open_conflicts.pop((conflict.entity, conflict.key), None)
        row = self.replicas[conflict.system].row(conflict.entity, conflict.key)
        if row is None:
            return None
        writelog = self.writelog
        # Every version in play: what each replica holds now, and what the held-back
        # messages carried. The merge keeps, per field, the latest saved of the heads
        # (versions no other candidate descends from) and names all heads as its base.
        candidates: dict[str, dict[str, Any]] = {}
        for replica in self.replicas.values():
            other = replica.row(conflict.entity, conflict.key)
            if other is not None:
                for name, version in other.fields.items():
                    candidates.setdefault(name, {})[version[1]] = version[0]
        for incoming in conflict.joined:
            for name, version in incoming.items():
                candidates.setdefault(name, {})[version[1]] = version[0]
        fields: dict[str, Any] = {}
        base: dict[str, tuple[str, ...]] = {}
        for name, versions in candidates.items():
            heads = [w for w in versions if not any(
                o != w and writelog.is_ancestor(w, o, name) for o in versions)]
            if len(heads) < 2 and row.fields.get(name, (None, None))[1] in heads:
                continue  # one head, already held here: nothing to merge for this field
            heads.sort(key=lambda w: (writelog[w].time_s if w in writelog else 0.0, w))
            fields[name] = versions[heads[-1]]
            base[name] = tuple(heads)
        if not fields:
            return None
        return self.save(now_s=now_s, actor=actor, role=role, system=conflict.system,
                         entity=conflict.entity, key=conflict.key, fields=fields, base=base)

    # ------------------------------------------------------------------ leases

    def acquire_lease(self, system: str, entity: str, key: str, actor: str,
                      now_s: float) -> Lease | None:
        """Ask the hub for the right to edit a record; None when denied."""
        if "hub" in self.down:
            return None
        lease = self.leases.acquire(entity, key, actor, system, now_s,
                                    self.concurrency.lease_s)
        self.emit({"t": now_s, "kind": "lock_grant" if lease else "lock_deny",
                   "system": system, "entity": entity, "key": key, "actor": actor,
                   "token": lease.token if lease else None,
                   "expires_t": lease.expires_s if lease else None})
        return lease

    def release_lease(self, lease: Lease, now_s: float) -> None:
        self.leases.release(lease)
        self.emit({"t": now_s, "kind": "lock_release", "entity": lease.entity,
                   "key": lease.key, "actor": lease.holder, "token": lease.token})

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
            while self.outbox:  # queued designs: deliver the initial data at once
                for message in self.take_outbox():
                    self.deliver(message, now_s)
                    runs += 1
                progress = True
        return runs

    def quiet(self) -> bool:
        """No map is running and none has unread changes: the replicas can agree."""
        if self.in_flight or any(not c.resolved for c in self.conflicts):
            return False
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
        """What the checker needs to judge a run of this design (see sim/engine/history.py)."""
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
