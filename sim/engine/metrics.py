"""Metrics of a run, computed from its events as they happen (one pass, no re-reading).

The collector sees every history event. It counts writes by system and entity, batch
runs and rows moved per map, overwritten writes, and measures propagation delay per
*flow*: ``entity:origin->destination``, from a write's save in its origin system to the
first time that write's version is applied in the destination system.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np

from models import events as ev

#: The systems behind Dataverse, whose sync applies are counted per day (entitlements).
_DATAVERSE = frozenset(("sales", "hub"))


class MetricsCollector:
    """Streaming counters and delay samples; :meth:`result` gives flat name -> number."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        # write id -> [t, system, systems reached] of user writes still on their way,
        # the systems as bits of ``_bit`` (the origin's set from the start). The
        # migration's initial data is loaded at t=0 and would only dilute the
        # steady-state delays, so it is left out. A write that has reached every system
        # of the run (``_every``, from ``run_start``) has no delay left to measure and
        # is dropped, so the table holds the writes in flight, not every write of the
        # run (which it did, with a set of every write id per system, until the end).
        self._write_origin: dict[str, list] = {}
        self._bit: dict[str, int] = {}
        self._every = -1  # no bit set: nothing dropped until run_start names the systems
        self.delays: dict[str, list[float]] = {}
        self._lost: set[str] = set()
        self._lost_fields: set[tuple[str, str]] = set()
        self.overwrites_by: Counter[str] = Counter()
        self._last_role = ""
        self._conflict_ids: set[str] = set()
        self.role_day: dict[tuple[str, int], int] = {}  # save attempts per role per day
        self.integration_day: dict[int, int] = {}  # sync applies into Dataverse per day

    def observe(self, event: dict[str, Any]) -> None:
        handler = HANDLERS.get(event["kind"])
        if handler is not None:
            handler(self, event)

    def _apply(self, event: dict[str, Any]) -> None:
        system = event["system"]
        if event["via"] == "user":
            # The apply of an accepted save follows its write event directly.
            if self._last_role != "migration":
                counts = self.counts
                counts["writes"] += 1
                counts[f"writes.{system}.{event['entity']}"] += 1
            return
        t = event["t"]
        if t > 0 and system in _DATAVERSE:
            day = int(t // 86_400)
            self.integration_day[day] = self.integration_day.get(day, 0) + 1
        origin = self._write_origin
        if not origin:
            return  # no user write in flight (the initial load): no delay to measure
        bit = self._bit.get(system) or self._new_bit(system)
        last = None
        for write_id in event["fields"].values():
            # Only user writes arriving outside their origin are delays, the first
            # time they reach each system; a write has its origin from its write
            # event on, before any apply of it. The fields of a row often share one
            # write: a repeat of the write id just seen is skipped at once (any other
            # repeat has reached this system already or has no delay), with no set
            # built per apply. Each flow's delays are the same samples as before;
            # only their order in the list follows the fields now, not a set's
            # (percentiles do not depend on it).
            if write_id is last:
                continue
            last = write_id
            source = origin.get(write_id)
            if source is None:
                continue
            reached = source[2]
            if reached & bit:
                continue  # its origin, or reached before
            reached |= bit
            if reached == self._every:
                del origin[write_id]  # everywhere now: no later apply is a delay
            else:
                source[2] = reached
            flow = f"{event['entity']}:{source[1]}->{system}"
            self.delays.setdefault(flow, []).append(t - source[0])

    def _new_bit(self, system: str) -> int:
        bit = self._bit[system] = 1 << len(self._bit)
        return bit

    def _run_start(self, event: dict[str, Any]) -> None:
        self._every = 0
        for system in event["contract"]["systems"]:
            self._every |= self._bit.get(system) or self._new_bit(system)

    def _write(self, event: dict[str, Any]) -> None:
        role = event["role"]
        self._last_role = role
        counts = self.counts
        counts["writes_attempted"] += 1
        if role == "migration":
            counts["writes_migration"] += 1
        else:
            t = event["t"]
            mark = (role, int(t // 86_400))
            self.role_day[mark] = self.role_day.get(mark, 0) + 1
            system = event["system"]
            bit = self._bit.get(system) or self._new_bit(system)
            self._write_origin[event["write_id"]] = [t, system, bit]

    def _reject(self, event: dict[str, Any]) -> None:
        counts = self.counts
        counts["saves_rejected"] += 1
        if event["reason"].startswith("Unit of Work"):
            counts["saves_failed_by_rollback"] += 1
        counts[f"saves_rejected.{event['system']}.{event['entity']}"] += 1

    def _batch_end(self, event: dict[str, Any]) -> None:
        counts = self.counts
        counts["batch_runs"] += 1
        counts[f"batch_runs.{event['map']}"] += 1
        counts["rows_moved"] += event["rows_changed"]
        counts[f"rows_moved.{event['map']}"] += event["rows_changed"]

    def _batch_start(self, event: dict[str, Any]) -> None:
        self.counts["rows_extracted"] += event["rows"]

    def _send(self, event: dict[str, Any]) -> None:
        self.counts["messages_sent"] += 1

    def _deliver(self, event: dict[str, Any]) -> None:
        self.counts[f"deliveries.{event['outcome']}"] += 1

    def _dead_letter(self, event: dict[str, Any]) -> None:
        self.counts["dead_letters"] += 1

    def _conflict(self, event: dict[str, Any]) -> None:
        if event["conflict_id"] not in self._conflict_ids:
            self._conflict_ids.add(event["conflict_id"])
            self.counts["conflicts"] += 1

    def _lock_deny(self, event: dict[str, Any]) -> None:
        self.counts["lock_denials"] += 1

    def _overwrite(self, event: dict[str, Any]) -> None:
        # Words as in the README's glossary: an overwritten write is a save one of
        # whose field versions a replica replaced by one that never saw it.
        lost = event["lost_write"]
        pair = (lost, event["field"])
        if pair not in self._lost_fields:
            self._lost_fields.add(pair)
            self.counts["overwritten_write_fields"] += 1
        if lost not in self._lost:
            self._lost.add(lost)
            self.counts["overwritten_writes"] += 1
            self.overwrites_by[f"{event['entity']}.{event['field']} in {event['system']}"] += 1

    def result(self) -> dict[str, float]:
        """Flat metrics: counters plus p50/p95/p99 (and count) of delay per flow."""
        metrics: dict[str, float] = {k: float(v) for k, v in sorted(self.counts.items())}
        for flow in sorted(self.delays):
            samples = np.asarray(self.delays[flow])
            p50, p95, p99 = np.percentile(samples, [50, 95, 99])
            metrics[f"propagation_p50_s.{flow}"] = round(float(p50), 3)
            metrics[f"propagation_p95_s.{flow}"] = round(float(p95), 3)
            metrics[f"propagation_p99_s.{flow}"] = round(float(p99), 3)
            metrics[f"propagation_count.{flow}"] = float(samples.size)
        return metrics


#: The handler of each kind of event the collector counts (other kinds have none), as
#: plain functions: an emitter may look one up and call ``handler(collector, event)``
#: itself (one lookup per event), and the collector holds no reference to itself.
HANDLERS: dict[str, Callable[[MetricsCollector, dict[str, Any]], None]] = {
    ev.RUN_START: MetricsCollector._run_start,
    ev.APPLY: MetricsCollector._apply,
    ev.WRITE: MetricsCollector._write,
    ev.REJECT: MetricsCollector._reject,
    ev.BATCH_END: MetricsCollector._batch_end,
    ev.BATCH_START: MetricsCollector._batch_start,
    ev.SEND: MetricsCollector._send,
    ev.DELIVER: MetricsCollector._deliver,
    ev.DEAD_LETTER: MetricsCollector._dead_letter,
    ev.CONFLICT: MetricsCollector._conflict,
    ev.LOCK_DENY: MetricsCollector._lock_deny,
    ev.OVERWRITE: MetricsCollector._overwrite,
}
