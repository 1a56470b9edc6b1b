"""``none`` and ``lww_arrival``: an apply overwrites the mapped fields; the last to
arrive wins, even a version the target already superseded (reordered messages can move
a field backwards). ``lww_arrival`` is the same behaviour stated as the design's rule
(dual-write live)."""

from __future__ import annotations

from models.concurrency.base import Decision, Delivery, Rule
from models.events import DeliveryOutcome


class NoRule(Rule):
    name = "none"
    compares = False  # judge takes the incoming versions as they are

    def judge(self, delivery: Delivery) -> Decision:
        return Decision(DeliveryOutcome.APPLIED, delivery.incoming)


class LastArrivalWins(NoRule):
    name = "lww_arrival"
