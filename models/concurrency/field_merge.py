"""``field_merge``: per-field hybrid logical clocks. Each field keeps the version with
the highest (clock, system) stamp; concurrent edits of different fields both survive;
the same field gets a deterministic winner and a conflict record (``merged_by_stamp``).
A message older than what the target holds is skipped as stale."""

from __future__ import annotations

from models.concurrency.base import STALE, Decision, Delivery, Rule
from models.events import ConflictResolution, DeliveryOutcome

Stamp = tuple[float, int, str]
_ZERO: Stamp = (0, 0, "")


class FieldMerge(Rule):
    name = "field_merge"

    def __init__(self, design, host) -> None:
        super().__init__(design, host)
        self.stamps: dict[str, Stamp] = {}  # write id -> HLC stamp of its save
        self._clocks: dict[str, tuple[float, int]] = {}  # system -> (wall, logical)

    def tick(self, system: str, now_s: float, seen: tuple[float, int] | None = None) -> Stamp:
        """Hybrid logical clock of ``system``: physical time with skew, logical counter."""
        physical = now_s + self.design.clock_skew_s.get(system, 0.0)
        wall, logical = self._clocks.get(system, (float("-inf"), 0))
        candidates = [(physical, -1), (wall, logical)]
        if seen is not None:
            candidates.append(seen)
        top = max(c[0] for c in candidates)
        logical = max((c[1] for c in candidates if c[0] == top), default=-1) + 1
        self._clocks[system] = (top, logical)
        return (top, logical, system)

    def saved(self, write_id: str, system: str, now_s: float) -> None:
        self.stamps[write_id] = self.tick(system, now_s)

    def judge(self, delivery: Delivery) -> Decision:
        if not delivery.newer_anywhere:
            return STALE
        row = delivery.row
        if row is None:
            return Decision(DeliveryOutcome.APPLIED, delivery.fresh)
        stamps = self.stamps
        is_ancestor = self.host.writelog.is_ancestor
        clashing = delivery.clashing
        versions = {}
        for name, version in delivery.incoming.items():
            current = row.fields.get(name)
            if current is None or is_ancestor(current[1], version[1], name):
                versions[name] = version
            elif name in clashing and (
                stamps.get(version[1], _ZERO) > stamps.get(current[1], _ZERO)
            ):
                versions[name] = version
        outcome = DeliveryOutcome.APPLIED
        if delivery.unseen:
            self.host.record_conflict(delivery, ConflictResolution.MERGED_BY_STAMP)
            outcome = DeliveryOutcome.MERGED
        seen = [stamps[v[1]][:2] for v in delivery.incoming.values() if v[1] in stamps]
        if seen:
            self.tick(delivery.message.target, delivery.now_s, max(seen))
        return Decision(outcome, versions)
