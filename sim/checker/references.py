"""Referential integrity: every reference points at a record the replica holds.

A reference is a field holding another entity's business key (``contract.entities[e]
.references``: ``field -> target entity``), e.g. a contact's ``account``. In a replica,
a reference *dangles* while the target key does not exist in that replica's table of
the target entity: the contact arrived in Operations before its account did. An empty
value is no reference.

Dangling for a while is normal in a design that copies entities in separate runs; it
is measured, not judged: ``dangling_reference_s`` integrates the number of dangling
references over time (reference-seconds, summed over replicas) and ``max_dangling`` is
the most dangling at once. The *invariant* is judged at quiescence: a reference still
dangling then is a violation (code ``dangling-reference``). Without quiescence the
verdict is ``unknown``, with the references dangling at the end kept as evidence.

The state kept is proportional to the references dangling now, not to the history: per
replica, the dangling references and, per missing target, the references waiting for
it, so creating the target resolves them in one step.
"""

from __future__ import annotations

from sim.checker.contract import Contract
from sim.checker.invariant import Invariant
from sim.checker.ledger import C_FIELDS, UNKNOWN, ApplyHook, Event, Ledger, Row
from sim.checker.verdicts import Anomaly, AnomalyList, Verdict, make_verdict
from sim.checker.wording import plural, when

# A dangling reference, keyed by its source: (entity, key, field) -> (target entity,
# target key, since t).
Source = tuple[str, str, str]


class ReferentialIntegrity(Invariant):
    name = "referential_integrity"

    def __init__(self, ledger: Ledger) -> None:
        super().__init__(ledger)
        self.dangling: dict[str, dict[Source, tuple[str, str, float]]] = {}
        self.waiting: dict[str, dict[tuple[str, str], set[Source]]] = {}
        self.count = 0
        self.max_count = 0
        self.area_s = 0.0
        self.last_t: float | None = None
        self.unjudged = 0
        self._refs: dict[str, dict[str, str]] = {}
        self._targets: set[str] = set()
        self._hooked: set[tuple[str, str]] = set()
        # entity -> [(reference field, target entity)], read by its apply hook.
        self._ref_items: dict[str, list[tuple[str, str]]] = {}
        ledger.when_contract(self._bind)
        ledger.finish_hooks.append(self._finish)

    def _bind(self, contract: Contract) -> None:
        self._refs = {
            name: dict(spec.references)
            for name, spec in contract.entities.items()
            if spec.references
        }
        self._targets = set(contract.referenced_by())
        # A hook registered under an earlier contract reads its entity's list, updated
        # in place.
        for entity, items in self._ref_items.items():
            items[:] = self._refs.get(entity, {}).items()
        for entity, refs in sorted(self._refs.items()):
            if ("refs", entity) not in self._hooked:
                self._hooked.add(("refs", entity))
                items = self._ref_items[entity] = list(refs.items())
                self.ledger.add_apply_hook(
                    entity, self._references_hook(entity, items), fields=tuple(refs)
                )
        for entity in sorted(self._targets):
            if ("target", entity) not in self._hooked:
                self._hooked.add(("target", entity))
                self.ledger.add_apply_hook(entity, self.on_create, on_create=True)

    def _tick(self, t: float) -> None:
        if self.last_t is not None and t > self.last_t:
            self.area_s += self.count * (t - self.last_t)
        if self.last_t is None or t > self.last_t:
            self.last_t = t

    def _state(self, system: str):
        dangling = self.dangling.get(system)
        if dangling is None:
            dangling = self.dangling[system] = {}
            self.waiting[system] = {}
        return dangling, self.waiting[system]

    def _references_hook(self, entity: str, items: list[tuple[str, str]]) -> ApplyHook:
        """The apply hook of ``entity``'s references (``items``: ``(field, target)``).

        An apply sets reference fields: each new target either exists or dangles. It
        runs on most applies of a referencing entity, so the ledger's and this
        invariant's state are bound once, here, rather than looked up per call.
        """
        ledger = self.ledger
        tables_of = ledger.tables
        index_get = ledger.index.get
        cold = ledger.cold
        dangling_of = self.dangling
        waiting_of = self.waiting

        def on_references(event: Event, row: Row | None) -> None:
            system = event["system"]
            dangling = dangling_of.get(system)
            if dangling is None:
                dangling, _ = self._state(system)
            fields = event["fields"]
            tables = tables_of[system]
            key = event["key"]
            for field, target in items:
                write_id = fields.get(field)
                if write_id is None:
                    continue
                if dangling:
                    # The reference from this field is replaced: it no longer dangles.
                    old = dangling.pop((entity, key, field), None)
                    if old is not None:
                        self._tick(event["t"])
                        self.count -= 1
                        waiting = waiting_of[system]
                        sources = waiting[(old[0], old[1])]
                        sources.discard((entity, key, field))
                        if not sources:
                            del waiting[(old[0], old[1])]
                i = index_get(write_id)
                value = UNKNOWN if i is None else cold[i][C_FIELDS].get(field, UNKNOWN)
                if value is UNKNOWN:
                    self.unjudged += 1
                    continue
                if value is None or value == "":
                    continue
                target_table = tables.get(target)
                if target_table is not None and value in target_table:
                    continue
                if target == entity and value == key:
                    continue  # a record referencing itself exists as soon as it is created
                t = event["t"]
                self._tick(t)
                self.count += 1
                if self.count > self.max_count:
                    self.max_count = self.count
                source = (entity, key, field)
                dangling[source] = (target, value, t)
                waiting_of[system].setdefault((target, value), set()).add(source)

        return on_references

    def on_create(self, event: Event, row: Row | None) -> None:
        """A record appears in a replica: references waiting for it resolve."""
        waiting = self.waiting.get(event["system"])
        if not waiting:
            return
        sources = waiting.pop((event["entity"], event["key"]), None)
        if sources:
            self._tick(event["t"])
            self.count -= len(sources)
            dangling = self.dangling[event["system"]]
            for source in sources:
                del dangling[source]

    def _finish(self) -> None:
        if self.ledger.last_t is not None:
            self._tick(self.ledger.last_t)

    def verdict(self) -> Verdict:
        ledger = self.ledger
        found = AnomalyList()
        for system, dangling in self.dangling.items():
            for (entity, key, field), (target, target_key, since) in dangling.items():
                if not found.room():
                    found.count += 1
                    continue
                text = (
                    f"{entity} {key} in {system} references {target} {target_key} "
                    f"(field {field}), which does not exist in {system}; dangling since "
                    f"{when(since)}."
                )
                found.add(
                    Anomaly(
                        self.name,
                        "dangling-reference",
                        text,
                        system=system,
                        entity=entity,
                        key=key,
                        field=field,
                        t=since,
                    )
                )
        metrics = {
            "dangling_reference_s": round(self.area_s, 3),
            "max_dangling": self.max_count,
            "dangling_at_end": self.count,
            "references_unjudged": self.unjudged,
        }
        if not ledger.quiescent:
            note = (
                f"not judged: {ledger.quiescence_words()}; "
                f"{plural(self.count, 'reference')} dangling at the end"
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
        note = (
            f"{plural(found.count, 'reference')} still dangling after quiescence"
            if found.count
            else f"every reference resolves; {self.area_s:.0f} dangling reference-seconds "
            f"during the run, at most {self.max_count} at once"
        )
        return make_verdict(
            self.name,
            found.items,
            found.count,
            sanctioned=self.is_sanctioned,
            metrics=metrics,
            note=note,
        )
