"""``version_check`` (If-Match): a message that meets a concurrent edit at its target
is not applied but held as a conflict in a queue, resolved by a person with a merge
write (``resolver_role``, after ``resolution``). A message older than what the target
holds is skipped as stale.

One conflict per record at a time: a message for a record that already has an open
conflict joins it, so the resolver merges every version at once.
"""

from __future__ import annotations

from models.concurrency.base import STALE, Decision, Delivery, Rule
from models.events import ConflictResolution, DeliveryOutcome


class VersionCheck(Rule):
    name = "version_check"

    def judge(self, delivery: Delivery) -> Decision:
        if not delivery.newer_anywhere:
            return STALE
        message = delivery.message
        if not delivery.unseen and not self.host.has_open_conflict(message.entity,
                                                                   message.key):
            return Decision(DeliveryOutcome.APPLIED, delivery.fresh)
        conflict = self.host.queue_conflict(delivery)
        conflict.joined.append(dict(delivery.incoming))
        self.host.record_conflict(delivery, ConflictResolution.QUEUED, conflict.conflict_id)
        return Decision(DeliveryOutcome.CONFLICT, {})
