"""No duplicate business keys: a replica never holds two records with the same key.

Records are identified by ``(entity, business key)``, and syncs are upserts matched on
that key, so a second record can only appear when an ``apply`` says it *created* a row
(``created: true``) that the replica already held: a non-idempotent insert, the classic
"duplicate customers after cutover" (FACTS.md section 6). Code ``duplicate-record``.

A duplicate *delivery* is harmless under upsert: the second apply finds the row and
either changes nothing or updates it with ``created: false``. That is not a duplicate.
"""

from __future__ import annotations

from sim.checker.invariant import Invariant
from sim.checker.verdicts import Anomaly, Verdict, make_verdict
from sim.checker.wording import describe_via, plural, when


class NoDuplicateKeys(Invariant):
    name = "no_duplicate_keys"

    def verdict(self) -> Verdict:
        ledger = self.ledger
        entities = ledger.contract.entities
        anomalies = []
        for event in ledger.duplicates:
            entity, key, system = event["entity"], event["key"], event["system"]
            spec = entities.get(entity)
            key_field = spec.key_field if spec is not None else "business key"
            carried = sorted(set(event["fields"].values()))
            carrying = f" carrying {', '.join(carried)}" if carried else ""
            text = (
                f"{entity} {key} was created a second time in {system} at "
                f"{when(event['t'])} by {describe_via(event['via'])}{carrying}: the replica "
                f"already held a record with {key_field} {key}, so it now holds two."
            )
            anomalies.append(
                Anomaly(
                    self.name,
                    "duplicate-record",
                    text,
                    write_ids=tuple(carried),
                    system=system,
                    entity=entity,
                    key=key,
                    t=event["t"],
                    via=event["via"],
                )
            )
        count = ledger.duplicate_count
        note = (
            f"{plural(count, 'duplicate record')} created"
            if count
            else f"no replica created a record twice ({ledger.applies} applies)"
        )
        return make_verdict(
            self.name,
            anomalies,
            count,
            sanctioned=self.is_sanctioned,
            metrics={"duplicate_records": count, "applies": ledger.applies},
            note=note,
        )
