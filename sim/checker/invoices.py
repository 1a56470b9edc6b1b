"""Invoice totals: what the customer is billed adds up, in every replica.

For every invoice held by a replica, judged at quiescence on the final values there:

1. its ``total_amount`` equals the sum of ``amount`` over its invoice lines (lines
   reference the invoice), code ``lines-mismatch``; and
2. it equals the total of the order it bills (the invoice's reference to the order):
   the sum of ``quantity * unit_price`` over that order's lines, code
   ``order-mismatch``.

Sums agree within :data:`TOLERANCE` (half a cent). The second comparison is made only
where the replica holds the order and holds order lines at all; a missing order is a
dangling reference, reported by ``referential_integrity`` instead. Which entities play
invoice, invoice line, order and order line is read from the contract's reference graph
(see :class:`~sim.checker.contract.InvoiceSpec`), so renamed or custom entities work.
Values that are unknown (a version with no ``write`` event) leave that invoice unjudged.
"""

from __future__ import annotations

from typing import cast

from sim.checker.contract import InvoiceSpec
from sim.checker.invariant import Invariant
from sim.checker.ledger import UNKNOWN, Ledger
from sim.checker.verdicts import Anomaly, AnomalyList, Verdict, make_verdict
from sim.checker.wording import plural

#: Largest difference between totals still counted as equal (currency units).
TOLERANCE = 0.005


def _number(value) -> float | None:
    if value is UNKNOWN or value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _ids(ledger: Ledger, *versions: int | None) -> tuple[str, ...]:
    return tuple(ledger.ids[i] for i in versions if i is not None)


def _sum_lines(
    ledger: Ledger, system: str, lines: tuple[tuple[str, str], ...], amount
) -> tuple[dict[str, float], dict[str, int], set[str]]:
    """Per parent key: sum of ``amount(row)`` over line rows, line counts, unjudged parents."""
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    unjudged: set[str] = set()
    for entity, parent_field in lines:
        for row in ledger.table(system, entity).values():
            parent = ledger.value(row.get(parent_field), parent_field)
            if parent is UNKNOWN or parent is None:
                continue
            value = amount(row)
            if value is None:
                unjudged.add(parent)
                continue
            sums[parent] = sums.get(parent, 0.0) + value
            counts[parent] = counts.get(parent, 0) + 1
    return sums, counts, unjudged


class InvoiceTotals(Invariant):
    name = "invoice_totals"

    def verdict(self) -> Verdict:
        ledger = self.ledger
        specs = ledger.contract.invoice_specs()
        found = AnomalyList()
        invoices = unjudged = 0
        for spec in specs:
            for system in ledger.tables:
                table = ledger.table(system, spec.invoice)
                if not table:
                    continue
                checked, skipped = self._judge(spec, system, table, found)
                invoices += checked
                unjudged += skipped
        metrics = {"invoices_checked": invoices, "invoices_unjudged": unjudged}
        if not ledger.quiescent:
            return make_verdict(
                self.name,
                found.items,
                found.count,
                sanctioned=False,
                unknown=True,
                metrics=metrics,
                note=f"not judged: {ledger.quiescence_words()}; "
                f"{plural(found.count, 'mismatch', 'es')} at the end",
            )
        if not specs:
            note = "the contract has no invoice entity (no entity with total_amount)"
        elif found.count:
            note = f"{plural(found.count, 'invoice total')} disagree with their lines or order"
        else:
            note = (
                f"all {plural(invoices, 'invoice')} add up in every replica"
                if invoices
                else "no invoice to check"
            )
        return make_verdict(
            self.name,
            found.items,
            found.count,
            sanctioned=self.is_sanctioned,
            metrics=metrics,
            note=note,
        )

    def _judge(self, spec: InvoiceSpec, system, table, found: AnomalyList) -> tuple[int, int]:
        ledger = self.ledger
        value = ledger.value

        def line_amount(row):
            return _number(value(row.get("amount"), "amount"))

        def order_line_amount(row):
            quantity = _number(value(row.get("quantity"), "quantity"))
            price = _number(value(row.get("unit_price"), "unit_price"))
            return None if quantity is None or price is None else quantity * price

        line_sums, line_counts, lines_unjudged = _sum_lines(ledger, system, spec.lines, line_amount)
        holds_order_lines = spec.order is not None and any(
            ledger.table(system, entity) or ledger.contract.holds_entity(system, entity)
            for entity, _ in spec.order_lines
        )
        if holds_order_lines:
            order_sums, order_counts, orders_unjudged = _sum_lines(
                ledger, system, spec.order_lines, order_line_amount
            )
            orders = ledger.table(system, cast(str, spec.order))
        checked = skipped = 0
        for key, row in table.items():
            total = _number(value(row.get("total_amount"), "total_amount"))
            if total is None or key in lines_unjudged:
                skipped += 1
                continue
            checked += 1
            lines_total = line_sums.get(key, 0.0)
            if abs(total - lines_total) > TOLERANCE:
                text = (
                    f"{spec.invoice} {key} in {system} has total_amount {total:.2f} but its "
                    f"{plural(line_counts.get(key, 0), 'line')} sum to {lines_total:.2f}."
                )
                found.add(
                    Anomaly(
                        self.name,
                        "lines-mismatch",
                        text,
                        write_ids=_ids(ledger, row.get("total_amount")),
                        system=system,
                        entity=spec.invoice,
                        key=key,
                        field="total_amount",
                    )
                )
            if not holds_order_lines:
                continue
            order_field = cast(str, spec.order_field)  # set whenever holds_order_lines is
            order_key = value(row.get(order_field), order_field)
            if order_key is UNKNOWN or order_key is None or order_key not in orders:
                continue
            if order_key in orders_unjudged:
                skipped += 1
                continue
            order_total = order_sums.get(order_key, 0.0)
            if abs(total - order_total) > TOLERANCE:
                text = (
                    f"{spec.invoice} {key} in {system} has total_amount {total:.2f} but "
                    f"{spec.order} {order_key} it bills totals {order_total:.2f} over "
                    f"{plural(order_counts.get(order_key, 0), 'line')} "
                    "(quantity x unit_price)."
                )
                found.add(
                    Anomaly(
                        self.name,
                        "order-mismatch",
                        text,
                        write_ids=_ids(ledger, row.get("total_amount")),
                        system=system,
                        entity=spec.invoice,
                        key=key,
                        field="total_amount",
                    )
                )
        return checked, skipped
