"""Lock safety: one valid lease per record at a time, and no save on a lost lease.

Under cross-system locking a user takes a lease through the hub before editing a record
(``lock_grant``, with a fencing ``token`` that grows with every grant, and ``expires_t``)
and gives it back after saving (``lock_release``). A save made under a lease names it
(``lease_token`` on its ``write``). The invariant holds when:

1. at most one valid lease exists per record at any moment: a grant while another
   holder's lease on the record is unexpired and unreleased is a violation
   (``two-holders``);
2. no save is *accepted* under a lease that had expired (``expired-lease``) or had been
   superseded by a newer grant on the record (``superseded-lease``) when it was saved.
   With fencing the design refuses such saves (a ``reject``, which the user sees): they
   are not violations. Without fencing a holder whose lease expired while its client was
   stalled saves anyway, over whatever the next holder did: two people edited the record
   each believing they held the lock.

A history without leases holds vacuously.
"""

from __future__ import annotations

from typing import cast

from sim.checker.contract import Contract
from sim.checker.invariant import Invariant
from sim.checker.ledger import APPLIED, Event, Ledger
from sim.checker.verdicts import Anomaly, AnomalyList, Verdict, make_verdict
from sim.checker.wording import describe_write, plural, when


class LockSafety(Invariant):
    name = "lock_safety"

    def __init__(self, ledger: Ledger) -> None:
        super().__init__(ledger)
        # token -> [actor, entity, key, granted t, expires t, released t or None]
        self.grants: dict[int, list] = {}
        self.latest: dict[tuple[str, str], list[int]] = {}  # record -> tokens granted
        self.saves: list[tuple[str, float, int]] = []  # (write id, t, token)
        self.found = AnomalyList()
        ledger.add_event_hook("lock_grant", self.on_grant)
        ledger.add_event_hook("lock_release", self.on_release)
        self._bound: set[str | None] = set()
        ledger.when_contract(self._bind)

    def _bind(self, contract: Contract) -> None:
        # Write hooks by entity replace the catch-all for that entity: register both.
        for entity in (None, *contract.entities):
            if entity not in self._bound:
                self._bound.add(entity)
                self.ledger.add_write_hook(self.on_write, entity)

    def on_write(self, event: Event) -> None:
        token = event.get("lease_token")
        if token is not None:
            self.saves.append((event["write_id"], event["t"], token))

    def on_grant(self, event: Event) -> None:
        token = event.get("token")
        if token is None:
            return
        record = (event["entity"], event["key"])
        t = event["t"]
        for other in self.latest.get(record, ()):
            actor, _e, _k, granted, expires, released = self.grants[other]
            if released is None and expires > t and actor != event["actor"]:
                self.found.add(
                    Anomaly(
                        self.name,
                        "two-holders",
                        f"{event['actor']} was granted lease token {token} on {record[0]} "
                        f"{record[1]} at {when(t)} while {actor} still held token {other} "
                        f"(granted {when(granted)}, valid until {when(expires)}): two valid "
                        "leases on one record.",
                        entity=record[0],
                        key=record[1],
                        t=t,
                    )
                )
                break
        self.grants[token] = [
            event["actor"],
            record[0],
            record[1],
            t,
            event.get("expires_t") or t,
            None,
        ]
        self.latest.setdefault(record, []).append(token)

    def on_release(self, event: Event) -> None:
        grant = self.grants.get(cast(int, event.get("token")))  # no token: no grant
        if grant is not None and grant[5] is None:
            grant[5] = event["t"]

    def verdict(self) -> Verdict:
        ledger = self.ledger
        judged = 0
        for write_id, t, token in self.saves:
            i = ledger.index.get(write_id)
            if i is None or ledger.status[i] != APPLIED:
                continue  # refused (fenced): the user was told
            grant = self.grants.get(token)
            if grant is None:
                continue
            judged += 1
            actor, entity, key, granted, expires, _released = grant
            newer = [
                n
                for n in self.latest.get((entity, key), ())
                if n > token and self.grants[n][3] <= t
            ]
            if newer:
                other = self.grants[newer[0]]
                self.found.add(
                    Anomaly(
                        self.name,
                        "superseded-lease",
                        f"{describe_write(ledger, i)} was accepted under lease token {token} "
                        f"(granted {when(granted)}), although {other[0]} had been granted token "
                        f"{newer[0]} on {entity} {key} at {when(other[3])}: the design did not "
                        "fence the older lease, so both edited the record believing they held "
                        "the lock.",
                        write_ids=(write_id,),
                        entity=entity,
                        key=key,
                        t=t,
                    )
                )
            elif t >= expires:
                self.found.add(
                    Anomaly(
                        self.name,
                        "expired-lease",
                        f"{describe_write(ledger, i)} was accepted under lease token {token}, "
                        f"which had expired at {when(expires)} (the holder was stalled past "
                        "its lease): without fencing the late save went through.",
                        write_ids=(write_id,),
                        entity=entity,
                        key=key,
                        t=t,
                    )
                )
        metrics = {"leases_granted": float(len(self.grants)), "saves_under_lease": float(judged)}
        if not self.grants:
            note = "no leases in this history"
        elif self.found.count:
            note = f"{plural(self.found.count, 'lock safety violation')}"
        else:
            note = (
                f"{plural(len(self.grants), 'lease')}, never two valid at once; "
                f"{plural(judged, 'accepted save')} under a valid lease"
            )
        return make_verdict(
            self.name,
            self.found.items,
            self.found.count,
            sanctioned=self.is_sanctioned,
            metrics=metrics,
            note=note,
        )
