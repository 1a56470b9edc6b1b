"""Ownership: no save is accepted where the design says the record is read-only.

The contract's ``editable`` maps ``entity -> system -> condition``. A save of an entity
is allowed in a system only when that system is listed for the entity; a non-empty
condition ``{field: [allowed values]}`` must moreover hold for the row's values *at the
moment of the save, in that system* (an order may be edited in Sales only while its
status is Draft). An *applied* write (saved in its own system, not rejected) that breaks
either rule is a violation: code ``read-only-system`` or ``condition-failed``. A refused
save (``reject``) is the design doing its job and is never a violation.

The value a condition reads is the row's current version of the field in that system;
for a field the row does not hold yet (a create), the value the write itself sets. If
neither is known (a version with no ``write`` event), the condition cannot be judged and
is counted under ``conditions_unjudged`` instead of guessed. A contract with no
``editable`` at all leaves the invariant ``unknown``.
"""

from __future__ import annotations

from sim.checker.contract import Contract
from sim.checker.invariant import Invariant
from sim.checker.ledger import C_ENTITY, C_FIELDS, C_KEY, UNKNOWN, Event, Ledger
from sim.checker.verdicts import Anomaly, AnomalyList, Verdict, make_verdict
from sim.checker.wording import describe_write, plural, value_words, when


class Ownership(Invariant):
    name = "ownership"

    def __init__(self, ledger: Ledger) -> None:
        super().__init__(ledger)
        # write_id -> (code, detail words) for saves that broke the rules; judged at the
        # end because the write may still be rejected after it was recorded.
        self.suspects: dict[str, tuple[str, str]] = {}
        self.unjudged = 0
        self.checked = 0
        self._bound = False
        ledger.when_contract(self._bind)

    def _bind(self, contract: Contract) -> None:
        # Saves where an entity is editable without a condition need no look: skip them.
        if contract.editable is None or self._bound:
            return
        self._bound = True
        self.ledger.add_write_hook(self.on_write)  # entities the contract does not list
        for entity, by_system in contract.editable.items():
            free = [system for system, condition in by_system.items() if not condition]
            self.ledger.add_write_hook(self.on_write, entity, skip=free)

    def on_write(self, event: Event) -> None:
        """A save that may break the rules: note it, to be judged once we know its fate."""
        editable = self.ledger.contract.editable
        if editable is None:
            return
        self.checked += 1
        entity = event["entity"]
        system = event["system"]
        by_system = editable.get(entity)
        if by_system is None or system not in by_system:
            systems = sorted(by_system) if by_system else []
            where = f"editable only in {' and '.join(systems)}" if systems else "editable nowhere"
            self.suspects[event["write_id"]] = (
                "read-only-system",
                f"{entity} is read-only in {system} ({where})",
            )
            return
        condition = by_system[system]
        if not condition:
            return
        # The row and the versions' values are read from the ledger's containers here
        # rather than through Ledger.row and Ledger.value: this runs on every save of an
        # entity with a condition (every order save of a synthetic history).
        ledger = self.ledger
        row = ledger.tables.get(system, {}).get(entity, {}).get(event["key"])
        cold = ledger.cold
        sets = event.get("fields") or {}
        for field, allowed in condition.items():
            # The row's current version of the field, else the value the save sets.
            if row is not None and field in row:
                value = cold[row[field]][C_FIELDS].get(field, UNKNOWN)
            else:
                value = sets.get(field, UNKNOWN)
            if value is UNKNOWN:
                self.unjudged += 1
                continue
            if value not in allowed:
                options = " or ".join(value_words(v) for v in allowed)
                self.suspects[event["write_id"]] = (
                    "condition-failed",
                    f"{entity} {event['key']} {field} was {value_words(value)}; {system} may "
                    f"edit {entity} only when {field} is {options}",
                )
                return

    def verdict(self) -> Verdict:
        ledger = self.ledger
        metrics = {
            "writes": ledger.writes,
            "writes_looked_at": self.checked,
            "conditions_unjudged": self.unjudged,
        }
        if ledger.contract.editable is None:
            return make_verdict(
                self.name,
                [],
                0,
                sanctioned=False,
                unknown=True,
                metrics=metrics,
                note="the contract has no 'editable' section: ownership cannot be judged",
            )
        found = AnomalyList()
        for write_id, (code, detail) in self.suspects.items():
            if not ledger.applied(write_id):
                continue
            if not found.room():
                found.count += 1
                continue
            i = ledger.index[write_id]
            cold = ledger.cold[i]
            home = ledger.home_system(i)
            text = f"{describe_write(ledger, i)} was accepted in {home} although {detail}."
            found.add(
                Anomaly(
                    self.name,
                    code,
                    text,
                    write_ids=(write_id,),
                    system=home,
                    entity=cold[C_ENTITY],
                    key=cold[C_KEY],
                    t=ledger.write_time(i),
                    via="user",
                )
            )
        metrics["violations"] = found.count
        note = (
            f"{plural(found.count, 'save')} accepted where the design forbids it"
            if found.count
            else f"no accepted save broke the editable rules ({plural(ledger.writes, 'save')})"
        )
        if found.count and found.items:
            note += f" (first at {when(found.items[0].t)})"
        return make_verdict(
            self.name,
            found.items,
            found.count,
            sanctioned=self.is_sanctioned,
            metrics=metrics,
            note=note,
        )
