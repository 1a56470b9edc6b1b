"""``lease_lock``: opening a form takes a lease through the hub that makes the record
read-only elsewhere. Leases expire after ``lease_s``; with ``fencing`` a save under an
expired or superseded lease is refused. While changes saved under a lease are still
replicating, the record stays locked (unless ``hold_until_replicated`` is off, a
planted bug). Deliveries apply as under any rule that trusts ancestry."""

from __future__ import annotations

from models.concurrency.base import Rule
from models.messages import Lease, Message


class LeaseLock(Rule):
    name = "lease_lock"
    uses_leases = True

    def refusal(
        self, lease: Lease | None, entity: str, key: str, actor: str, now_s: float
    ) -> str | None:
        return self.host.leases.refusal(lease, entity, key, actor, now_s, self.settings.fencing)

    def sent(self, message: Message) -> None:
        in_flight = self.host.leases.in_flight
        mark = (message.entity, message.key)
        in_flight[mark] = in_flight.get(mark, 0) + 1

    def settled(self, message: Message) -> None:
        in_flight = self.host.leases.in_flight
        mark = (message.entity, message.key)
        left = in_flight.get(mark, 0) - 1
        if left > 0:
            in_flight[mark] = left
        else:
            in_flight.pop(mark, None)
