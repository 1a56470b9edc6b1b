"""Messages, conflicts and leases: the moving parts of live and queued designs.

A :class:`Message` is one change on its way over a ``queue`` map: the mapped field
versions of one row as the source held them when it sent, plus the write that caused
it. Whoever drives the model decides when (and whether, and how often) a message is
delivered: SimPy after a drawn latency, Hypothesis in any order, a fault injector twice
or never. Every message ends delivered (applied, unchanged, skipped as stale, or turned
into a conflict) or dead-lettered with a reason; the checker's *accounted for* invariant
holds the model to that.

A :class:`Conflict` is a concurrent edit the design detected instead of overwriting;
a :class:`Lease` is a time-limited right to edit one record, with a fencing token.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from models.records import FieldVersion


@dataclass(slots=True)
class Message:
    """One row change travelling over one queue map."""

    message_id: str
    map_name: str
    entity: str
    key: str
    source: str
    target: str
    versions: dict[str, FieldVersion]
    cause: str | None  # the write that caused the send (None for a forwarded echo)
    hops: int
    sent_s: float
    delivered: bool = False  # applied at its target once (a redelivery is idempotent)


@dataclass(slots=True)
class Conflict:
    """A detected concurrent edit waiting for a person (version-check designs)."""

    conflict_id: str
    system: str
    entity: str
    key: str
    incoming: dict[str, FieldVersion]
    detected_s: float
    message_id: str | None = None
    resolved: bool = False
    joined: list[dict[str, FieldVersion]] = field(default_factory=list)  # held-back changes


@dataclass(slots=True)
class Lease:
    """The right of ``holder`` to edit one record until ``expires_s``; ``token`` fences."""

    entity: str
    key: str
    holder: str
    system: str
    token: int
    granted_s: float
    expires_s: float


@dataclass
class LeaseTable:
    """Leases per record, granted by the hub; tokens increase with every grant.

    A record is locked while an unexpired lease exists *or* while changes saved under
    its last lease are still on their way to the other side (``in_flight``): releasing
    before replication would let the next editor open a form that misses them.
    """

    leases: dict[tuple[str, str], Lease] = field(default_factory=dict)
    in_flight: dict[tuple[str, str], int] = field(default_factory=dict)
    next_token: int = 1

    def holder(self, entity: str, key: str, now_s: float) -> Lease | None:
        lease = self.leases.get((entity, key))
        if lease is not None and lease.expires_s > now_s:
            return lease
        return None

    hold_until_replicated: bool = True

    def acquire(
        self, entity: str, key: str, holder: str, system: str, now_s: float, lease_s: float
    ) -> Lease | None:
        """Grant a lease, or None when another holder's lease or replication is pending."""
        current = self.holder(entity, key, now_s)
        if current is not None and current.holder != holder:
            return None
        if self.hold_until_replicated and self.in_flight.get((entity, key), 0) > 0:
            return None
        lease = Lease(entity, key, holder, system, self.next_token, now_s, now_s + lease_s)
        self.next_token += 1
        self.leases[(entity, key)] = lease
        return lease

    def refusal(
        self, lease: Lease | None, entity: str, key: str, actor: str, now_s: float, fencing: bool
    ) -> str | None:
        """Why a save under ``lease`` must be refused, or None when it may go ahead."""
        current = self.leases.get((entity, key))
        if lease is None:
            held = self.holder(entity, key, now_s)
            if held is not None and held.holder != actor:
                return (
                    f"{entity} {key} is locked by {held.holder} in {held.system} "
                    f"until {held.expires_s:.0f} s"
                )
            if self.hold_until_replicated and self.in_flight.get((entity, key), 0) > 0:
                return (
                    f"{entity} {key} is locked: a change made under the last lease is "
                    "still replicating"
                )
            return None
        if not fencing:
            return None  # a design without fencing trusts any lease it once granted
        if current is None or current.token != lease.token:
            newer = current.token if current is not None else "none"
            return f"fenced: lease token {lease.token} superseded by token {newer}"
        if lease.expires_s <= now_s:
            return f"fenced: lease token {lease.token} expired at {lease.expires_s:.0f} s"
        return None

    def release(self, lease: Lease) -> None:
        current = self.leases.get((lease.entity, lease.key))
        if current is not None and current.token == lease.token:
            del self.leases[(lease.entity, lease.key)]
