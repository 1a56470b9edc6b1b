"""``version_check`` (If-Match): a message that meets a concurrent edit at its target
is not applied but held as a conflict in a queue, resolved by a person with a merge
write (``resolver_role``, after ``resolution``). A message older than what the target
holds is skipped as stale.

One conflict per record at a time: a message for a record that already has an open
conflict joins it, so the resolver merges every version at once.

Granularity (``concurrency.version_check``): ``row`` checks the row as the writer read
it, as Dataverse's If-Match (ETag) and Operations' RecVersion do (FACTS.md section 3): a
message whose row the target has changed since, in any field, is a conflict, even when
the change touched a field the writer did not edit (a credit limit raised in Operations
against a phone edit from Sales). ``field`` checks only the fields themselves: a
concurrent change of another field is kept without a conflict.
"""

from __future__ import annotations

from dataclasses import replace

from models.concurrency.base import STALE, Decision, Delivery, Rule
from models.events import ConflictResolution, DeliveryOutcome


class VersionCheck(Rule):
    name = "version_check"
    delays = ("resolution",)

    def judge(self, delivery: Delivery) -> Decision:
        if not delivery.newer_anywhere:
            return STALE
        message = delivery.message
        if self.settings.version_check == "row" and delivery.superseded and delivery.row:
            # If-Match on the row: the target changed fields since the writer read the
            # row. Each such field is named with the target's version and the write
            # that caused the message (what the writer was saving).
            cause = message.cause
            if cause is None:  # a forwarded change: its newest version
                log = self.host.writelog
                cause = max(
                    (v[1] for v in message.versions.values()),
                    key=lambda w: (log[w].time_s if w in log else 0.0, w),
                )
            moved = [
                (name, delivery.row.fields[name][1], cause) for name in sorted(delivery.superseded)
            ]
            delivery = replace(delivery, unseen=[*delivery.unseen, *moved])
        if not delivery.unseen and not self.host.has_open_conflict(message.entity, message.key):
            return Decision(DeliveryOutcome.APPLIED, delivery.fresh)
        conflict = self.host.queue_conflict(delivery)
        conflict.joined.append(dict(delivery.incoming))
        self.host.record_conflict(delivery, ConflictResolution.QUEUED, conflict.conflict_id)
        return Decision(DeliveryOutcome.CONFLICT, {})
