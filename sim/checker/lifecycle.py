"""Monotone lifecycle: a record's status never moves backwards, in any replica.

Entities with a ``status_order`` in the contract (orders: Draft, Active, Confirmed,
Picked, Packed, Shipped, Invoiced) move forward along it. ``Cancelled`` is terminal: it
may be entered from any state and never left. Every apply that changes the status field
of such a record in some replica is compared with the status it replaces there; a move
to an earlier status, or out of Cancelled, is a violation (code ``status-backwards``).
This catches a stale copy overwriting a newer status, e.g. a Sales snapshot of a
Confirmed order arriving in Operations after the order shipped.

Statuses are values, read from the writes that produced the versions; a version without
a ``write`` event or a value outside the order cannot be judged and is counted under
``changes_unjudged``.
"""

from __future__ import annotations

from sim.checker.contract import TERMINAL_STATUSES, Contract
from sim.checker.invariant import Invariant
from sim.checker.ledger import C_FIELDS, UNKNOWN, Event, Ledger, Row
from sim.checker.verdicts import Anomaly, AnomalyList, Verdict, make_verdict
from sim.checker.wording import describe_via, describe_write, plural, value_words, when


class MonotoneLifecycle(Invariant):
    name = "monotone_lifecycle"

    def __init__(self, ledger: Ledger) -> None:
        super().__init__(ledger)
        self.found = AnomalyList()
        self.changes = 0
        self.unjudged = 0
        # entity -> (status field, rank of each status, terminal statuses)
        self._lifecycle: dict[str, tuple[str, dict[str, int], frozenset[str]]] = {}
        ledger.when_contract(self._bind)

    def _bind(self, contract: Contract) -> None:
        for name, spec in contract.entities.items():
            if not spec.status_order or name in self._lifecycle:
                continue
            field = spec.status_field or "status"
            self._lifecycle[name] = (
                field,
                {status: i for i, status in enumerate(spec.status_order)},
                TERMINAL_STATUSES & frozenset(spec.status_order),
            )
            self.ledger.add_apply_hook(name, self.on_apply, fields=(field,))

    def on_apply(self, event: Event, row: Row | None) -> None:
        """An apply lists the status field: compare the new status with the one it replaces."""
        if row is None:
            return
        entity = event["entity"]
        field, rank, terminal = self._lifecycle[entity]
        new_id = event["fields"][field]
        old = row.get(field)
        if old is None:
            return
        ledger = self.ledger
        new = ledger.index.get(new_id)
        if old == new:
            return
        cold = ledger.cold
        old_status = cold[old][C_FIELDS].get(field, UNKNOWN)
        new_status = UNKNOWN if new is None else cold[new][C_FIELDS].get(field, UNKNOWN)
        if old_status == new_status:
            return
        self.changes += 1
        if old_status in terminal:
            backwards = True
        elif new_status in terminal:
            backwards = False
        else:
            old_rank = rank.get(old_status) if old_status is not UNKNOWN else None
            new_rank = rank.get(new_status) if new_status is not UNKNOWN else None
            if old_rank is None or new_rank is None:
                self.unjudged += 1
                return
            backwards = new_rank < old_rank
        if not backwards:
            return
        if not self.found.room():
            self.found.count += 1
            return
        system = event["system"]
        via = event["via"]
        carrier = (
            describe_write(self.ledger, new_id, field)
            if via == "user"
            else f"{describe_via(via)} carrying {describe_write(self.ledger, new_id, field)}"
        )
        text = (
            f"{entity} {event['key']} in {system} moved backwards from "
            f"{value_words(old_status)} ({ledger.ids[old]}) to {value_words(new_status)} at "
            f"{when(event['t'])} by {carrier}."
        )
        self.found.add(
            Anomaly(
                self.name,
                "status-backwards",
                text,
                write_ids=(new_id, ledger.ids[old]),
                system=system,
                entity=entity,
                key=event["key"],
                field=field,
                t=event["t"],
                via=via,
            )
        )

    def verdict(self) -> Verdict:
        found = self.found
        metrics = {
            "status_changes": self.changes,
            "backwards_moves": found.count,
            "changes_unjudged": self.unjudged,
        }
        note = (
            f"{plural(found.count, 'status change')} went backwards"
            if found.count
            else f"all {plural(self.changes, 'status change')} moved forward"
            if self.changes
            else "no status changed"
        )
        return make_verdict(
            self.name,
            found.items,
            found.count,
            sanctioned=self.is_sanctioned,
            metrics=metrics,
            note=note,
        )
