"""Metrics of a run, computed from its events as they happen (one pass, no re-reading).

The collector sees every history event. It counts writes by system and entity, batch
runs and rows moved per map, overwritten writes, and measures propagation delay per
*flow*: ``entity:origin->destination``, from a write's save in its origin system to the
first time that write's version is applied in the destination system.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from models import events as ev

#: The systems behind Dataverse, whose sync applies are counted per day (entitlements).
_DATAVERSE = frozenset(("sales", "hub"))


class MetricsCollector:
    """Streaming counters and delay samples; :meth:`result` gives flat name -> number."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        # write id -> (t, system) of user writes; the migration's initial data is loaded
        # at t=0 and would only dilute the steady-state delays, so it is left out.
        self._write_origin: dict[str, tuple[float, str]] = {}
        self._reached: set[tuple[str, str]] = set()  # (write id, system) already applied
        self.delays: dict[str, list[float]] = {}
        self._lost: set[str] = set()
        self._lost_fields: set[tuple[str, str]] = set()
        self.overwrites_by: Counter[str] = Counter()
        self._last_role = ""
        self._conflict_ids: set[str] = set()
        self.role_day: dict[tuple[str, int], int] = {}  # save attempts per role per day
        self.integration_day: dict[int, int] = {}  # sync applies into Dataverse per day

    def observe(self, event: dict[str, Any]) -> None:
        kind = event["kind"]
        counts = self.counts
        if kind == ev.APPLY:
            system = event["system"]
            if event["via"] == "user":
                # The apply of an accepted save follows its write event directly.
                if self._last_role != "migration":
                    counts["writes"] += 1
                    counts[f"writes.{system}.{event['entity']}"] += 1
                return
            t = event["t"]
            if t > 0 and system in _DATAVERSE:
                day = int(t // 86_400)
                self.integration_day[day] = self.integration_day.get(day, 0) + 1
            reached = self._reached
            origin = self._write_origin
            for write_id in set(event["fields"].values()):
                # Only user writes arriving outside their origin are delays; a write
                # has its origin from its write event on, before any apply of it.
                source = origin.get(write_id)
                if source is None or source[1] == system:
                    continue
                mark = (write_id, system)
                if mark in reached:
                    continue
                reached.add(mark)
                flow = f"{event['entity']}:{source[1]}->{system}"
                self.delays.setdefault(flow, []).append(t - source[0])
        elif kind == ev.WRITE:
            role = event["role"]
            self._last_role = role
            counts["writes_attempted"] += 1
            if role == "migration":
                counts["writes_migration"] += 1
            else:
                t = event["t"]
                mark = (role, int(t // 86_400))
                self.role_day[mark] = self.role_day.get(mark, 0) + 1
                self._write_origin[event["write_id"]] = (t, event["system"])
        elif kind == ev.REJECT:
            counts["saves_rejected"] += 1
            if event["reason"].startswith("Unit of Work"):
                counts["saves_failed_by_rollback"] += 1
            counts[f"saves_rejected.{event['system']}.{event['entity']}"] += 1
        elif kind == ev.BATCH_END:
            counts["batch_runs"] += 1
            counts[f"batch_runs.{event['map']}"] += 1
            counts["rows_moved"] += event["rows_changed"]
            counts[f"rows_moved.{event['map']}"] += event["rows_changed"]
        elif kind == ev.BATCH_START:
            counts["rows_extracted"] += event["rows"]
        elif kind == ev.SEND:
            counts["messages_sent"] += 1
        elif kind == ev.DELIVER:
            counts[f"deliveries.{event['outcome']}"] += 1
        elif kind == ev.DEAD_LETTER:
            counts["dead_letters"] += 1
        elif kind == ev.CONFLICT:
            if event["conflict_id"] not in self._conflict_ids:
                self._conflict_ids.add(event["conflict_id"])
                counts["conflicts"] += 1
        elif kind == ev.LOCK_DENY:
            counts["lock_denials"] += 1
        elif kind == ev.OVERWRITE:
            # Words as in the README's glossary: an overwritten write is a save one of
            # whose field versions a replica replaced by one that never saw it.
            lost = event["lost_write"]
            pair = (lost, event["field"])
            if pair not in self._lost_fields:
                self._lost_fields.add(pair)
                counts["overwritten_write_fields"] += 1
            if lost not in self._lost:
                self._lost.add(lost)
                counts["overwritten_writes"] += 1
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
