"""Convergence: once the run is quiet, every copy of a record says the same thing.

Judged at quiescence only. For each entity the contract lists under ``synced``, with
its synced ``fields`` and the ``systems`` holding copies, and for every record (business
key) that exists in *any* of those systems:

- the record must exist in *every* one of them (a record missing from a replica that
  should hold a copy is divergence, code ``missing-record``); and
- every synced field must hold the same *version*, i.e. the same write id, in every
  replica that has the record (code ``diverged-field``). Comparing write ids rather than
  values is stricter and exact: two users typing the same value are still two versions.

If the history has no ``quiescence`` event or it says ``reached: false``, the run
*did not converge* in the time it had: the verdict is ``unknown``, with the differences
still present at the end kept as evidence. Only a difference after quiescence is
*diverged* (``violated``).
"""

from __future__ import annotations

from sim.checker.invariant import Invariant
from sim.checker.verdicts import Anomaly, AnomalyList, Verdict, make_verdict
from sim.checker.wording import describe_write, plural


class Convergence(Invariant):
    name = "convergence"

    def verdict(self) -> Verdict:
        ledger = self.ledger
        contract = ledger.contract
        found = AnomalyList()
        records = records_missing = records_differing = fields_differing = 0
        for entity, sync in contract.synced.items():
            systems = sync.systems
            if len(systems) < 2:
                continue
            tables = [ledger.table(system, entity) for system in systems]
            # Every key, in the order first seen (the values are not read).
            keys = dict(tables[0])
            for table in tables[1:]:
                keys.update(table)
            gets = [table.get for table in tables]
            copies = len(tables)
            records += len(keys)
            for key in keys:
                rows = [get(key) for get in gets]
                first = rows[0]
                if first is not None and rows.count(first) == copies:
                    continue  # every copy holds the same versions of every field
                present = [
                    (system, row)
                    for system, row in zip(systems, rows, strict=True)
                    if row is not None
                ]
                if len(present) < len(systems):
                    records_missing += 1
                    if found.room():
                        found.add(self._missing(entity, key, systems, rows))
                    else:
                        found.count += 1
                differs = False
                first = present[0][1]
                for field in sync.fields:
                    version = first.get(field)
                    if all(row.get(field) == version for _, row in present):
                        continue
                    differs = True
                    fields_differing += 1
                    if found.room():
                        found.add(self._diverged(entity, key, field, present))
                    else:
                        found.count += 1
                if differs:
                    records_differing += 1
        metrics = {
            "records_compared": records,
            "records_missing": records_missing,
            "records_differing": records_differing,
            "fields_differing": fields_differing,
        }
        if not contract.synced:
            note = "the contract lists no synced entities: nothing to compare"
        elif not ledger.quiescent:
            note = (
                f"did not converge: {ledger.quiescence_words()}; "
                f"{plural(found.count, 'difference')} at the end, not judged"
            )
            return make_verdict(
                self.name,
                found.items,
                found.count,
                sanctioned=False,
                unknown=True,
                metrics=metrics,
                note=note,
            )
        elif found.count:
            note = (
                f"diverged: after quiescence {plural(records_missing, 'record')} missing "
                f"from some replica and {plural(fields_differing, 'field')} differing"
            )
        else:
            note = f"each of {plural(records, 'record')} agrees in every replica holding it"
        return make_verdict(
            self.name,
            found.items,
            found.count,
            sanctioned=self.is_sanctioned,
            metrics=metrics,
            note=note,
        )

    def _missing(self, entity, key, systems, rows) -> Anomaly:
        have = [s for s, row in zip(systems, rows, strict=True) if row is not None]
        lack = [s for s, row in zip(systems, rows, strict=True) if row is None]
        text = (
            f"{entity} {key} exists in {' and '.join(have)} but is missing in "
            f"{' and '.join(lack)}, which should hold a copy."
        )
        return Anomaly(
            self.name,
            "missing-record",
            text,
            system=lack[0],
            entity=entity,
            key=key,
        )

    def _diverged(self, entity, key, field, present) -> Anomaly:
        by_version: dict[int | None, list[str]] = {}
        for system, row in present:
            by_version.setdefault(row.get(field), []).append(system)
        parts = []
        for version, systems in by_version.items():
            holds = "holds" if len(systems) == 1 else "hold"
            what = "no version" if version is None else describe_write(self.ledger, version, field)
            parts.append(f"{' and '.join(systems)} {holds} {what}")
        text = f"{entity} {key} {field} differs between replicas: " + "; ".join(parts) + "."
        versions = tuple(self.ledger.ids[v] for v in by_version if v is not None)
        return Anomaly(
            self.name,
            "diverged-field",
            text,
            write_ids=versions,
            system=present[0][0],
            entity=entity,
            key=key,
            field=field,
        )
