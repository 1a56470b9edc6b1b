"""No retired bundle lines: bundles do not go on selling products that were retired.

The seed post's bundle question: products are mastered in Operations, bundles live in
Sales (never synced). When the product team retires a product, bundle lines in Sales
that point at it keep offering it until someone notices. This invariant measures that
exposure and judges the end state:

- a product is *retired* from the first apply of a ``status: Retired`` version of it in
  any replica (the product team's save in Operations), by the write that set it;
- a *retired bundle line* is a ``bundle_line`` in a system where bundles are edited
  (Sales) whose ``product`` is a retired product;
- ``bundle_lines_retired``: how many there are at the end (quiescence); each is an
  anomaly naming the bundle, the line, the product and when and by whom it was retired;
- ``bundle_line_retired_hours``: line-hours during the run, the sum over such lines of
  the time from when both the line existed and its product was retired to the end.

No catalogue design keeps bundles in step with the product master, so none promises
this: it is reported as observed. A design (or a customisation) that does may promise
``no_retired_in_bundles``; a line left at the end is then a violation. Judged only at
quiescence (the end state), else unknown.
"""

from __future__ import annotations

from sim.checker.contract import Contract
from sim.checker.invariant import Invariant
from sim.checker.ledger import C_FIELDS, UNKNOWN, Event, Ledger, Row
from sim.checker.verdicts import Anomaly, AnomalyList, Verdict, make_verdict
from sim.checker.wording import describe_write, plural, when

PRODUCT, LINE, BUNDLE = "product", "bundle_line", "bundle"
RETIRED = "Retired"


class NoRetiredBundleLines(Invariant):
    name = "no_retired_in_bundles"

    def __init__(self, ledger: Ledger) -> None:
        super().__init__(ledger)
        self.retired: dict[str, tuple[float, int]] = {}  # product -> (t, write index)
        self.created: dict[tuple[str, str], float] = {}  # (system, line) -> t
        self._bound = False
        ledger.when_contract(self._bind)

    def _bind(self, contract: Contract) -> None:
        if self._bound or PRODUCT not in contract.entities or LINE not in contract.entities:
            return
        self._bound = True
        self.ledger.add_apply_hook(PRODUCT, self.on_product, fields=("status",))
        self.ledger.add_apply_hook(LINE, self.on_line, on_create=True)

    def on_product(self, event: Event, row: Row | None) -> None:
        key = event["key"]
        if key in self.retired:
            return
        i = self.ledger.index.get(event["fields"]["status"])
        if i is not None and self.ledger.cold[i][C_FIELDS].get("status") == RETIRED:
            self.retired[key] = (event["t"], i)

    def on_line(self, event: Event, row: Row | None) -> None:
        self.created.setdefault((event["system"], event["key"]), event["t"])

    def _systems(self) -> list[str]:
        editable = self.ledger.contract.editable or {}
        return sorted((editable.get(BUNDLE) or {"sales": {}}).keys())

    def _value(self, row: Row, field: str):
        i = row.get(field)
        return UNKNOWN if i is None else self.ledger.cold[i][C_FIELDS].get(field, UNKNOWN)

    def verdict(self) -> Verdict:
        ledger = self.ledger
        end = ledger.last_t or 0.0
        found = AnomalyList()
        hours = 0.0
        lines = 0
        for system in self._systems():
            table = ledger.tables.get(system, {}).get(LINE, {})
            for key, row in table.items():
                product = self._value(row, PRODUCT)
                if product not in self.retired:
                    continue
                retired_t, by = self.retired[product]
                since = max(retired_t, self.created.get((system, key), 0.0))
                exposure_h = max(0.0, end - since) / 3600.0
                hours += exposure_h
                lines += 1
                bundle = self._value(row, BUNDLE)
                found.add(
                    Anomaly(
                        self.name,
                        "retired-product-in-bundle",
                        f"bundle {bundle} line {key} in {system} still sells product {product}, "
                        f"retired at {when(retired_t)} by {describe_write(ledger, by, 'status')}: "
                        f"{exposure_h:.1f} line-hours on offer after its retirement.",
                        write_ids=(ledger.ids[by],),
                        system=system,
                        entity=LINE,
                        key=key,
                        field=PRODUCT,
                        t=retired_t,
                    )
                )
        metrics = {
            "bundle_lines_retired": float(lines),
            "bundle_line_retired_hours": round(hours, 3),
            "products_retired": float(len(self.retired)),
        }
        if not ledger.quiescent:
            return make_verdict(
                self.name,
                [],
                0,
                sanctioned=self.is_sanctioned,
                unknown=True,
                metrics=metrics,
                note=f"not judged: {ledger.quiescence_words()}",
            )
        note = (
            f"{plural(lines, 'bundle line')} still sell a retired product "
            f"({hours:.1f} line-hours since retirement)"
            if lines
            else f"no bundle line sells any of the {plural(len(self.retired), 'retired product')}"
        )
        return make_verdict(
            self.name,
            found.items,
            found.count,
            sanctioned=self.is_sanctioned,
            metrics=metrics,
            note=note,
        )
