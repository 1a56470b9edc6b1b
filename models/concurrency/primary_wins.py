"""``primary_wins`` (dual-write async): a change arriving at the ``primary`` side for a
record that changed there since the sender's snapshot is rejected as a conflict
(recorded); a message older than what the target already holds is skipped as stale.

The primary keeps its own version of every field edited on both sides; the rest of the
update still applies. (The FAQ says "the other side's update is rejected"; whether its
other fields are kept is not documented. Rejecting them too would leave the sides
diverged, since nothing re-sends them: the model keeps them, and says so here.)
"""

from __future__ import annotations

from models.concurrency.base import STALE, Decision, Delivery, Rule
from models.events import ConflictResolution, DeliveryOutcome


class PrimaryWins(Rule):
    name = "primary_wins"

    def judge(self, delivery: Delivery) -> Decision:
        if not delivery.newer_anywhere:
            return STALE
        versions = delivery.fresh
        if not delivery.unseen:
            return Decision(DeliveryOutcome.APPLIED, versions)
        if delivery.message.target == self.settings.primary:
            self.host.record_conflict(delivery, ConflictResolution.PRIMARY_WINS)
            clashing = delivery.clashing
            return Decision(
                DeliveryOutcome.CONFLICT, {n: v for n, v in versions.items() if n not in clashing}
            )
        # The non-primary side takes the primary's fields.
        return Decision(DeliveryOutcome.PRIMARY_WINS, versions)
