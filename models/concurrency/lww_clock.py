"""``lww_clock``: per field, the version with the later wall-clock stamp of its origin
system wins, ancestry ignored, and no conflict is recorded. A skewed clock
(``clock_skew_s``) can let an older edit win."""

from __future__ import annotations

from models.concurrency.base import Decision, Delivery, Rule
from models.events import DeliveryOutcome

Stamp = tuple[float, int, str]
_NEVER: Stamp = (float("-inf"), 0, "")


class LastClockWins(Rule):
    name = "lww_clock"

    def __init__(self, design, host) -> None:
        super().__init__(design, host)
        self.stamps: dict[str, Stamp] = {}  # write id -> (skewed save time, 0, system)

    def saved(self, write_id: str, system: str, now_s: float) -> None:
        self.stamps[write_id] = (now_s + self.design.clock_skew_s.get(system, 0.0), 0, system)

    def judge(self, delivery: Delivery) -> Decision:
        row = delivery.row
        if row is None:
            return Decision(DeliveryOutcome.APPLIED, delivery.fresh)
        stamps = self.stamps
        current = row.fields
        return Decision(
            DeliveryOutcome.APPLIED,
            {
                name: version
                for name, version in delivery.incoming.items()
                if name not in current
                or stamps.get(version[1], _NEVER) > stamps.get(current[name][1], _NEVER)
            },
        )
