"""The integration under test: three replicas, one design, every write, and the events.

:class:`Integration` is the whole system under test in plain Python. It has no clock:
every method takes the current time, so SimPy (``sim/``) can drive it through a working
week and Hypothesis can drive it through any interleaving of saves and batch runs.
Everything it does is reported to ``emit`` as history events (defined in
:mod:`models.events`, explained in ``sim/history.py``), which is how checks and
metrics see it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from operator import itemgetter
from typing import Any

from models import events as ev
from models.concurrency import Delivery, NoRule, Rule, make_rule
from models.design import DesignSpec, MapSpec
from models.entities import Catalogue
from models.events import ConflictResolution, DeliveryOutcome
from models.messages import Conflict, Lease, LeaseTable, Message
from models.records import Base, Row, Write, WriteLog
from models.sync import Batch, MapState, extract, load, pending, run_duration_s
from models.systems import ApplyOutcome, Replica

#: Where the integration reports what it does: one history event at a time.
Emit = Callable[[ev.Event], None]


def _discard(_event: ev.Event) -> None:
    return None


#: The outcomes that say the target took the versions (``DeliveryOutcome.wrote``), as
#: a set, and each outcome's text: both properties were looked up on every delivery.
_WROTE = frozenset(o for o in DeliveryOutcome if o.wrote)
_TEXT = {o: o.value for o in DeliveryOutcome}

#: The write id of a field version (value, write id).
_WRITE_ID = itemgetter(1)


class Integration:
    """Replicas of every system in ``design.systems``, kept in sync by the design's maps.

    What differs between concurrency designs is the design's rule (``self.rule``, from
    :mod:`models.concurrency`); everything here is the same under every rule.
    """

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
            if spec.transport == "batch"
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
        self.on_conflict: Callable[[Conflict], object] | None = None  # return ignored
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
        self._counters: dict[str, int] = {}
        self.last_refusal: str | None = None  # why the latest save was refused, if it was
        # Operations checks RecVersion on update (FACTS.md section 3): a form saved after
        # someone else changed the row fails with UpdateConflict. Dataverse forms do not.
        self.local_version_check = frozenset(design.local_version_check)
        self._key_counters: dict[str, int] = {}
        # (entity, system) pairs editable only while some fields hold given values: the
        # only saves whose refusal check needs the row's values.
        self._conditional = frozenset(
            (entity, system)
            for entity, where in design.editable.items()
            for system, condition in where.items()
            if condition
        )
        # (entity, system) pairs editable without a condition: no refusal to look up.
        self._free_edit = frozenset(
            (entity, system)
            for entity, where in design.editable.items()
            for system, condition in where.items()
            if not condition
        )
        self.rule = make_rule(design, self)
        # The rule's per-save hooks, None where the rule keeps the base's (which do
        # nothing): looked up once, not called on every save.
        rule_type = type(self.rule)
        self._rule_refusal = None if rule_type.refusal is Rule.refusal else self.rule.refusal
        self._rule_saved = None if rule_type.saved is Rule.saved else self.rule.saved
        # Likewise the per-message hooks (called on every send and first delivery).
        self._rule_sent = None if rule_type.sent is Rule.sent else self.rule.sent
        self._rule_settled = None if rule_type.settled is Rule.settled else self.rule.settled
        # A rule whose judge is NoRule's writes every incoming version and reports it
        # applied: deliveries under it skip building the Delivery and the Decision.
        self._takes_incoming = rule_type.judge is NoRule.judge

    # ------------------------------------------------------------------ keys

    def new_key(self, entity: str) -> str:
        """The next business key of ``entity`` (``ACC-00001``...), unique in the run."""
        n = self._key_counters.get(entity, 0) + 1
        self._key_counters[entity] = n
        return f"{self.catalogue[entity].key_prefix}-{n:05d}"

    # ----------------------------------------------------------------- saves

    def has_record(self, system: str, entity: str, key: str) -> bool:
        """``system`` holds a record of ``entity`` with business key ``key``."""
        return self.replicas[system].row(entity, key) is not None

    def open_form(self, system: str, entity: str, key: str, fields) -> tuple[dict, int]:
        """What a user sees when opening a form: base per field and the row version."""
        row = self.replicas[system].tables[entity].get(key)
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
        row = replica.tables[entity].get(key)
        if base is None:
            # A new record's form shows nothing: an empty base (no field's write seen).
            base = row.snapshot_base(tuple(fields)) if row is not None else {}
        write = self._record_write(
            now_s,
            actor,
            role,
            system,
            entity,
            key,
            row,
            fields,
            base,
            opened_s,
            None if lease is None else lease.token,
        )
        reason = self._save_refusal(
            write, row, opened_row_version, lease, live_delay_s, transaction_records
        )
        self.last_refusal = reason
        if reason is not None:
            rejected: ev.RejectEvent = {
                "t": now_s,
                "kind": ev.REJECT,
                "write_id": write.write_id,
                "system": system,
                "entity": entity,
                "key": key,
                "reason": reason,
            }
            self.emit(rejected)
            return None
        write_id = write.write_id
        if self._rule_saved is not None:
            self._rule_saved(write_id, system, now_s)
        versions = {f: (v, write_id) for f, v in fields.items()}
        outcome = replica.apply(entity, key, versions, self.writelog, owned=True)
        self._emit_apply(now_s, system, entity, key, "user", outcome)
        if outcome.changed and (system, entity) in self.links:
            self._propagate(
                system,
                entity,
                key,
                now_s,
                write.write_id,
                hops=0,
                came_from=None,
                changed=outcome.changed,
            )
        return write

    def _record_write(
        self,
        now_s: float,
        actor: str,
        role: str,
        system: str,
        entity: str,
        key: str,
        row: Row | None,
        fields: Mapping[str, Any],
        base: Base,
        opened_s: float | None,
        lease_token: int | None = None,
    ) -> Write:
        """Log the attempted save as a write (accepted or not) and emit its ``write``
        (with the ``lease_token`` it was saved under, when it holds one)."""
        writelog = self.writelog
        write_id = writelog.next_id(system)
        op = "create" if row is None else "update"
        opened_t = now_s if opened_s is None else opened_s
        # One copy of the fields, shared by the write and its event (nothing changes
        # either afterwards); the base as tuples in the write, as lists in the event.
        saved = dict(fields)
        if base:
            seen = {f: tuple(base.get(f, ())) for f in saved}
            event_base = {f: list(b) for f, b in seen.items()}
        else:  # nothing seen (a new record): () for every field, [] in the event
            seen = dict.fromkeys(saved, ())
            event_base = {f: [] for f in saved}
        write = Write(write_id, entity, key, op, saved, seen, actor, role, system, now_s, opened_t)
        writelog.add(write)
        event: ev.WriteEvent = {
            "t": now_s,
            "kind": ev.WRITE,
            "write_id": write_id,
            "actor": actor,
            "role": role,
            "system": system,
            "entity": entity,
            "key": key,
            "op": op,
            "fields": saved,
            "base": event_base,
            "opened_t": opened_t,
        }
        if lease_token is not None:
            event["lease_token"] = lease_token
        self.emit(event)
        return write

    def _save_refusal(
        self,
        write: Write,
        row: Row | None,
        opened_row_version: int | None,
        lease: Lease | None,
        live_delay_s: float,
        transaction_records: int,
    ) -> str | None:
        """Why ``write`` is refused, or None: who may edit, an outage, the system's own
        row-version check, the concurrency rule, a live map's transaction."""
        system, entity = write.system, write.entity
        pair = (entity, system)
        reason = None
        if pair not in self._free_edit:
            current = None
            if pair in self._conditional:
                current = dict(write.fields) if row is None else row.values()
            reason = self.design.edit_refusal(entity, system, current)
        if system in self.down:
            reason = f"{system} is unavailable (outage): the save failed"
        if (
            reason is None
            and row is not None
            and opened_row_version is not None
            and system in self.local_version_check
        ):
            reason = self._local_version_refusal(write, row, opened_row_version)
        if reason is None and self._rule_refusal is not None:
            reason = self._rule_refusal(lease, entity, write.key, write.actor, write.time_s)
        if reason is None and (system, entity) in self.links:
            reason = self._live_refusal(system, entity, live_delay_s, transaction_records)
        return reason

    def _local_version_refusal(self, write: Write, row: Row, opened_row_version: int) -> str | None:
        """Operations checks RecVersion: a form saved after the row changed fails."""
        system, entity, key = write.system, write.entity, write.key
        if system not in self.local_version_check or row.row_version == opened_row_version:
            return None
        if self.design.local_check_level == "row":
            return (
                f"UpdateConflict: {entity} {key} changed in {system} since the form "
                f"was opened (row version {opened_row_version} -> {row.row_version})"
            )
        moved = [
            f
            for f in write.fields
            if f in row.fields and (row.fields[f][1],) != tuple(write.base.get(f, ()))
        ]
        if moved:
            return (
                f"UpdateConflict: {', '.join(moved)} of {entity} {key} changed in "
                f"{system} since the form was opened"
            )
        return None

    # ------------------------------------------------- live and queued maps

    def _live_refusal(
        self, system: str, entity: str, delay_s: float, records: int = 1
    ) -> str | None:
        """dual-write live: the save commits on both sides or on neither. A transaction
        over the time limit (2 min) or the record limit (1,000: a header and all its
        lines save together) rolls back on both sides."""
        for name, spec in self.links.get((system, entity), ()):
            if spec.transport != "live" or name in self.paused:
                continue  # a paused live map queues its changes instead
            if not self.reachable(system, spec.target):
                return (
                    f"Unit of Work can not commit transaction: {spec.target} is "
                    f"unreachable (map {name}); rolled back on both sides"
                )
            if records > self.design.live.max_records:
                return (
                    f"Unit of Work can not commit transaction: {records:,} records exceed "
                    f"the {self.design.live.max_records:,}-record limit (map {name}); "
                    "rolled back on both sides"
                )
            if delay_s > self.design.live.max_transaction_s:
                return (
                    f"Unit of Work can not commit transaction: {delay_s:.0f} s exceeds the "
                    f"{self.design.live.max_transaction_s:.0f} s limit (map {name}); "
                    "rolled back on both sides"
                )
        return None

    def _next(self, prefix: str) -> str:
        n = self._counters.get(prefix, 0) + 1
        self._counters[prefix] = n
        return f"{prefix}-{n}"

    def _propagate(
        self,
        system: str,
        entity: str,
        key: str,
        now_s: float,
        cause: str | None,
        hops: int,
        came_from: str | None,
        changed: dict[str, str] | None = None,
    ) -> None:
        """Send a changed row over every live and queue map leaving ``system``.

        A change that arrived from ``came_from`` is not sent back there when the map has
        echo suppression (loopback control); without it, it is, up to ``max_hops``.
        """
        links = self.links.get((system, entity))
        if not links:
            return
        fields = self.replicas[system].tables[entity][key].fields  # the row just applied
        counters = self._counters
        for name, spec in links:
            target = spec.target
            if target == came_from and spec.echo_suppression:
                continue
            if hops >= spec.max_hops:
                continue
            mapped = spec.fields
            versions = (
                dict(fields) if mapped is None else {f: fields[f] for f in mapped if f in fields}
            )
            live = spec.transport == "live"
            if (
                live
                and changed is not None
                and (name in self.paused or self.design.live.payload == "changed_fields")
            ):
                # A paused dual-write map queues the change itself, to be replayed on
                # resume (catch-up), not a snapshot of the whole row; with payload
                # changed_fields a live write carries only the fields the save set.
                versions = {f: v for f, v in versions.items() if f in changed}
            if spec.when and not all(
                versions.get(f, (None,))[0] in allowed for f, allowed in spec.when.items()
            ):
                continue
            if live and name not in self.paused:
                outcome = self.replicas[target].apply(
                    entity, key, versions, self.writelog, owned=True
                )
                self._emit_apply(now_s, target, entity, key, f"live:{name}", outcome)
                continue
            # self._next("M"), inlined: one message id per send.
            number = counters.get("M", 0) + 1
            counters["M"] = number
            message_id = f"M-{number}"
            message = Message(
                message_id, name, entity, key, system, target, versions, cause, hops + 1, now_s
            )
            self.in_flight += 1
            if self._rule_sent is not None:
                self._rule_sent(message)
            sent: ev.SendEvent = {
                "t": now_s,
                "kind": ev.SEND,
                "message_id": message_id,
                "map": name,
                "entity": entity,
                "key": key,
                "source": system,
                "target": target,
                "cause": cause,
                "hops": hops + 1,
                "write_ids": sorted(set(map(_WRITE_ID, versions.values()))),
            }
            self.emit(sent)
            if self.on_send is not None:
                self.on_send(message)
            else:
                self.outbox.append(message)

    def reachable(self, a: str, b: str) -> bool:
        """Both systems up and no partition between them."""
        down = self.down
        if a in down or b in down:
            return False
        return not self.partitions or frozenset((a, b)) not in self.partitions

    def fail_run(self, batch: Batch, now_s: float, reason: str) -> None:
        """A run that could not load (a system down, a partition): nothing is applied,
        the map's watermark goes back so the next scheduled run retries every row (a
        Data Integrator run in ERROR is retried at the next scheduled run)."""
        state = self.maps[batch.map_name]
        if state.settings.retry_failed_runs:
            state.watermark = min(state.watermark, batch.watermark_before)
        state.running = False
        event: ev.BatchEndEvent = {
            "t": now_s,
            "kind": ev.BATCH_END,
            "run_id": batch.run_id,
            "map": batch.map_name,
            "entity": batch.entity,
            "source": batch.source,
            "target": batch.target,
            "rows_changed": 0,
            "rows_unchanged": 0,
            "rows_failed": len(batch.rows),
            "keys": [key for key, _ in batch.rows],
            "failed": reason,
            "duration_s": now_s - batch.started_s,
        }
        self.emit(event)

    def take_outbox(self) -> list[Message]:
        """Hand the queued messages to the driver (it delivers them later)."""
        messages, self.outbox = self.outbox, []
        return messages

    def dead_letter(self, message: Message, now_s: float, reason: str) -> None:
        """Give up on a message, with a reason (never silently)."""
        self._settle(message)
        event: ev.DeadLetterEvent = {
            "t": now_s,
            "kind": ev.DEAD_LETTER,
            "message_id": message.message_id,
            "map": message.map_name,
            "reason": reason,
        }
        self.emit(event)

    def _settle(self, message: Message) -> None:
        self.in_flight -= 1
        if self._rule_settled is not None:
            self._rule_settled(message)

    def deliver(self, message: Message, now_s: float) -> DeliveryOutcome:
        """Apply a queued message at its target under the design's concurrency rule.

        Returns the outcome (:class:`~models.events.DeliveryOutcome`): ``applied``,
        ``unchanged``, ``stale`` (every version is one the target already superseded:
        skipped, not retried), ``conflict`` (queued for a person, or rejected because the
        target is the primary), ``merged`` (field-merge kept some fields and surfaced the
        rest), ``primary_wins``, or for a redelivery ``duplicate_ignored`` /
        ``inserted_again``.
        """
        spec = self.design.maps[message.map_name]
        first = not message.delivered
        if not first and spec.apply_mode == "upsert":
            # At-least-once transport, idempotent receiver: a redelivery changes nothing.
            return self._emit_redelivery(now_s, message, DeliveryOutcome.DUPLICATE_IGNORED)
        message.delivered = True
        if first:
            self._settle(message)
        target = self.replicas[message.target]
        row = target.tables[message.entity].get(message.key)
        if spec.apply_mode == "insert" and row is not None:
            return self._insert_again(message, now_s, first)
        rule = self.rule
        if self._takes_incoming:  # NoRule.judge's decision, without its arguments built
            versions, result = message.versions, DeliveryOutcome.APPLIED
        else:
            if rule.compares:
                delivery = self._compare(message, row, now_s)
            else:
                delivery = Delivery(message, now_s, row, [], set(), True)
            decision = rule.judge(delivery)
            versions, result = decision.versions, decision.outcome
        changed = False
        if versions:
            outcome = target.apply(message.entity, message.key, versions, self.writelog)
            rewritten: dict[str, str] = {}
            if not spec.echo_suppression and row is not None:
                # Home-made sync without loopback control rewrites every field it gets,
                # which counts as a change and fires the sync again. The fields whose
                # version did not change are a reapply (echo counting), not an apply.
                rewritten = {f: v[1] for f, v in versions.items() if f not in outcome.changed}
            via = f"{message.map_name}/{message.message_id}"
            if outcome.changed:
                self._emit_apply(now_s, message.target, message.entity, message.key, via, outcome)
            if rewritten:
                reapply: ev.ReapplyEvent = {
                    "t": now_s,
                    "kind": ev.REAPPLY,
                    "system": message.target,
                    "entity": message.entity,
                    "key": message.key,
                    "via": via,
                    "fields": rewritten,
                }
                self.emit(reapply)
            changed = bool(outcome.changed or rewritten)
        if not changed and result in _WROTE:
            result = DeliveryOutcome.UNCHANGED
        self._emit_deliver(now_s, message, result)
        if changed:
            self._propagate(
                message.target,
                message.entity,
                message.key,
                now_s,
                message.cause,
                message.hops,
                message.source,
            )
        return result

    def _emit_deliver(self, now_s: float, message: Message, outcome: DeliveryOutcome) -> None:
        event: ev.DeliverEvent = {
            "t": now_s,
            "kind": ev.DELIVER,
            "message_id": message.message_id,
            "map": message.map_name,
            "outcome": _TEXT[outcome],
        }
        self.emit(event)

    def _emit_redelivery(
        self, now_s: float, message: Message, outcome: DeliveryOutcome
    ) -> DeliveryOutcome:
        event: ev.RedeliveryEvent = {
            "t": now_s,
            "kind": ev.REDELIVERY,
            "message_id": message.message_id,
            "map": message.map_name,
            "outcome": _TEXT[outcome],
        }
        self.emit(event)
        return outcome

    def _insert_again(self, message: Message, now_s: float, first: bool) -> DeliveryOutcome:
        """The planted bug: a receiver that inserts instead of upserting makes a second
        record with the same business key on every delivery of an existing one."""
        outcome = self.replicas[message.target].apply(
            message.entity, message.key, message.versions, self.writelog
        )
        outcome.created = True
        outcome.changed.update({f: v[1] for f, v in message.versions.items()})
        self._emit_apply(
            now_s,
            message.target,
            message.entity,
            message.key,
            f"{message.map_name}/{message.message_id}",
            outcome,
        )
        if not first:
            return self._emit_redelivery(now_s, message, DeliveryOutcome.INSERTED_AGAIN)
        self._emit_deliver(now_s, message, DeliveryOutcome.APPLIED)
        return DeliveryOutcome.APPLIED

    def _compare(self, message: Message, row: Row | None, now_s: float) -> Delivery:
        """Each incoming version against the target's, by ancestry (see :class:`Delivery`)."""
        unseen: list[tuple[str, str, str]] = []
        superseded: set[str] = set()
        newer_anywhere = row is None
        if row is not None:
            is_ancestor = self.writelog.is_ancestor
            for name, version in message.versions.items():
                current = row.fields.get(name)
                if current is None:
                    newer_anywhere = True
                    continue
                if current[1] == version[1]:
                    continue
                if is_ancestor(current[1], version[1], name):
                    newer_anywhere = True
                elif is_ancestor(version[1], current[1], name):
                    superseded.add(name)  # the target holds a descendant of this version
                else:
                    newer_anywhere = True
                    unseen.append((name, current[1], version[1]))
        return Delivery(message, now_s, row, unseen, superseded, newer_anywhere)

    # ------------------------------------------------------------ conflicts

    def record_conflict(
        self, delivery: Delivery, resolution: ConflictResolution, conflict_id: str | None = None
    ) -> None:
        """Record detected concurrent versions. Both sides of a crossing pair detect the
        same conflict; it keeps one id (from its pair of writes) so it counts once."""
        message = delivery.message
        for field, theirs, ours in delivery.unseen:
            pair = (message.entity, message.key, field, frozenset((theirs, ours)))
            cid = conflict_id or self._pair_ids.get(pair)
            if cid is None:
                cid = self._pair_ids[pair] = self._next("C")
            event: ev.ConflictEvent = {
                "t": delivery.now_s,
                "kind": ev.CONFLICT,
                "conflict_id": cid,
                "system": message.target,
                "entity": message.entity,
                "key": message.key,
                "field": field,
                "write_ids": [theirs, ours],
                "resolution": resolution.value,
                "message_id": message.message_id,
            }
            self.emit(event)

    def has_open_conflict(self, entity: str, key: str) -> bool:
        return (entity, key) in self._open_conflicts

    def queue_conflict(self, delivery: Delivery) -> Conflict:
        """The record's open conflict, opened (and handed to ``on_conflict``) if none."""
        message = delivery.message
        conflict = self._open_conflicts.get((message.entity, message.key))
        if conflict is None:
            conflict = Conflict(
                self._next("C"),
                message.target,
                message.entity,
                message.key,
                {},
                delivery.now_s,
                message.message_id,
            )
            self._open_conflicts[(message.entity, message.key)] = conflict
            self.conflicts.append(conflict)
            if self.on_conflict is not None:
                self.on_conflict(conflict)
        return conflict

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
            heads = [
                w
                for w in versions
                if not any(o != w and writelog.is_ancestor(w, o, name) for o in versions)
            ]
            if len(heads) < 2 and row.fields.get(name, (None, None))[1] in heads:
                continue  # one head, already held here: nothing to merge for this field
            heads.sort(key=lambda w: (writelog[w].time_s if w in writelog else 0.0, w))
            fields[name] = versions[heads[-1]]
            base[name] = tuple(heads)
        if not fields:
            return None
        return self.save(
            now_s=now_s,
            actor=actor,
            role=role,
            system=conflict.system,
            entity=conflict.entity,
            key=conflict.key,
            fields=fields,
            base=base,
        )

    # ------------------------------------------------------------------ leases

    def acquire_lease(
        self, system: str, entity: str, key: str, actor: str, now_s: float
    ) -> Lease | None:
        """Ask the hub for the right to edit a record; None when denied."""
        if "hub" in self.down:
            return None
        lease = self.leases.acquire(entity, key, actor, system, now_s, self.concurrency.lease_s)
        if lease is None:
            denied: ev.LockDenyEvent = {
                "t": now_s,
                "kind": ev.LOCK_DENY,
                "system": system,
                "entity": entity,
                "key": key,
                "actor": actor,
                "token": None,
                "expires_t": None,
            }
            self.emit(denied)
        else:
            granted: ev.LockGrantEvent = {
                "t": now_s,
                "kind": ev.LOCK_GRANT,
                "system": system,
                "entity": entity,
                "key": key,
                "actor": actor,
                "token": lease.token,
                "expires_t": lease.expires_s,
            }
            self.emit(granted)
        return lease

    def release_lease(self, lease: Lease, now_s: float) -> None:
        self.leases.release(lease)
        event: ev.LockReleaseEvent = {
            "t": now_s,
            "kind": ev.LOCK_RELEASE,
            "entity": lease.entity,
            "key": lease.key,
            "actor": lease.holder,
            "token": lease.token,
        }
        self.emit(event)

    # ----------------------------------------------------------- batch runs

    def pending(self, map_name: str) -> bool:
        state = self.maps[map_name]
        return pending(state, self.replicas[state.spec.source])

    def start_run(self, map_name: str, now_s: float) -> Batch:
        """A scheduled run fires: extract its rows now (the snapshot it will load)."""
        state = self.maps[map_name]
        state.running = True
        batch = extract(state, self.replicas[state.spec.source], now_s)
        event: ev.BatchStartEvent = {
            "t": now_s,
            "kind": ev.BATCH_START,
            "run_id": batch.run_id,
            "map": map_name,
            "entity": batch.entity,
            "source": batch.source,
            "target": batch.target,
            "rows": len(batch.rows),
            "skipped_ticks": state.skipped_ticks,
        }
        self.emit(event)
        state.skipped_ticks = 0  # counted afresh until the next run
        return batch

    def run_duration_s(self, batch: Batch) -> float:
        return run_duration_s(self.maps[batch.map_name].settings, len(batch.rows))

    def finish_run(self, batch: Batch, now_s: float) -> int:
        """The run loads its rows into the target; returns the number of rows changed."""
        state = self.maps[batch.map_name]
        target, entity, run_id = batch.target, batch.entity, batch.run_id
        # Each changed row's apply is emitted as it is loaded (not after every row is):
        # the same events in the same order, since nothing an event goes to reads the
        # replicas, and no list of (key, outcome) pairs per run.
        emit_apply = self._emit_apply
        rows = batch.rows
        changed = 0
        for key, outcome in load(batch, self.replicas[target], self.writelog):
            if outcome.changed:
                changed += 1
                emit_apply(now_s, target, entity, key, run_id, outcome)
        state.running = False
        state.rows_moved += changed
        event: ev.BatchEndEvent = {
            "t": now_s,
            "kind": ev.BATCH_END,
            "run_id": batch.run_id,
            "map": batch.map_name,
            "entity": batch.entity,
            "source": batch.source,
            "target": batch.target,
            "rows_changed": changed,
            "rows_unchanged": len(rows) - changed,
            "duration_s": now_s - batch.started_s,
            "keys": [key for key, _ in rows],
        }
        self.emit(event)
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
        event: ev.ApplyEvent = {
            "t": now_s,
            "kind": ev.APPLY,
            "system": system,
            "entity": entity,
            "key": key,
            "via": via,
            "fields": outcome.changed,
            "row_version": outcome.row_version,
            "created": outcome.created,
        }
        emit(event)
        for field, lost, by in outcome.overwrites:
            overwrite: ev.OverwriteEvent = {
                "t": now_s,
                "kind": ev.OVERWRITE,
                "system": system,
                "entity": entity,
                "key": key,
                "field": field,
                "lost_write": lost,
                "by_write": by,
                "via": via,
            }
            emit(overwrite)

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
                e.name: {
                    "key": e.key_field,
                    "fields": list(e.field_names),
                    "references": e.references,
                    "status_order": list(e.status_order) if e.status_order else None,
                }
                for e in self.catalogue
            },
            "synced": synced,
            "editable": {
                e: {s: (c or {}) for s, c in w.items()} for e, w in design.editable.items()
            },
            "promises": list(design.promises),
            "sanctioned": list(design.sanctioned),
            "echo_bound": design.echo_bound,
            "staleness_p99_s": dict(staleness_p99_s or {}),
            "local_version_check": sorted(self.local_version_check),
        }
