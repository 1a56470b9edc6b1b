"""Hand-written histories for the checker's tests, built event by event.

``History`` writes the events a run would record, with the bookkeeping done for you
(row versions, whether an apply creates the row), so a test reads like the story it
tells::

    h = History()
    h.save("W-sales-1", at("day 1 09:00"), "sales", "account", "ACC-1", {"phone": "1"})
    h.copy(at("day 1 09:15"), "accounts_sales_to_hub#1", "hub", "account", "ACC-1",
           {"phone": "W-sales-1"})
    h.quiesce(at("day 1 10:00"))
    verdict = no_lost_update(h.events)

The default contract is the prospect-to-cash catalogue in miniature: three systems,
accounts editable on both sides, contacts referencing accounts, orders with a lifecycle,
order lines, invoices and invoice lines, everything synced to all three systems.
"""

from __future__ import annotations

import copy
from typing import Any

from models.clock import parse_when

SYSTEMS = ["sales", "hub", "operations"]
ORDER_STATUSES = [
    "Draft",
    "Active",
    "Confirmed",
    "Picked",
    "Packed",
    "Shipped",
    "Invoiced",
    "Cancelled",
]

ENTITIES: dict[str, dict[str, Any]] = {
    "account": {
        "key": "account_number",
        "fields": ["name", "phone", "credit_limit"],
        "references": {},
        "status_order": None,
    },
    "contact": {
        "key": "contact_id",
        "fields": ["account", "email"],
        "references": {"account": "account"},
        "status_order": None,
    },
    "order": {
        "key": "order_number",
        "fields": ["account", "description", "status"],
        "references": {"account": "account"},
        "status_order": ORDER_STATUSES,
    },
    "order_line": {
        "key": "order_line_id",
        "fields": ["order", "quantity", "unit_price"],
        "references": {"order": "order"},
        "status_order": None,
    },
    "invoice": {
        "key": "invoice_number",
        "fields": ["order", "total_amount"],
        "references": {"order": "order"},
        "status_order": None,
    },
    "invoice_line": {
        "key": "invoice_line_id",
        "fields": ["invoice", "amount"],
        "references": {"invoice": "invoice"},
        "status_order": None,
    },
}

ALL_INVARIANTS = [
    "convergence",
    "no_lost_update",
    "ownership",
    "referential_integrity",
    "no_duplicate_keys",
    "monotone_lifecycle",
    "invoice_totals",
    "bounded_echo",
    "accounted_for",
    "staleness",
    "no_retired_in_bundles",
    "lock_safety",
]


def at(when: str | float) -> float:
    """``"day 1 10:14"`` -> simulated seconds."""
    return parse_when(when)


def contract(**overrides: Any) -> dict[str, Any]:
    """The default contract, with top-level keys replaced by ``overrides``."""
    base = {
        "systems": list(SYSTEMS),
        "entities": copy.deepcopy(ENTITIES),
        "synced": {
            name: {"fields": list(spec["fields"]), "systems": list(SYSTEMS)}
            for name, spec in ENTITIES.items()
        },
        "editable": {
            "account": {"sales": {}, "operations": {}},
            "contact": {"sales": {}},
            "order": {"sales": {"status": ["Draft"]}, "operations": {}},
            "order_line": {"sales": {}, "operations": {}},
            "invoice": {"operations": {}},
            "invoice_line": {"operations": {}},
        },
        "promises": [name for name in ALL_INVARIANTS if name != "no_lost_update"],
        "sanctioned": [],
        "echo_bound": 2,
        "staleness_p99_s": {},
    }
    base.update(overrides)
    return base


class History:
    """A history under construction; ``events`` is the list so far."""

    def __init__(self, **contract_overrides: Any) -> None:
        self.events: list[dict[str, Any]] = [
            {
                "kind": "run_start",
                "t": 0.0,
                "scenario": "hand-written",
                "seed": 0,
                "design": "test",
                "contract": contract(**contract_overrides),
            }
        ]
        self._row_versions: dict[tuple[str, str, str], int] = {}

    def add(self, event: dict[str, Any]) -> History:
        self.events.append(event)
        return self

    def save(
        self,
        write_id: str,
        t: float,
        system: str,
        entity: str,
        key: str,
        fields: dict[str, Any],
        base: dict[str, list[str]] | None = None,
        actor: str = "user-1",
        *,
        applied: bool = True,
    ) -> History:
        """A user save: the ``write`` event and its ``user`` apply (unless not applied)."""
        row = (system, entity, key)
        op = "update" if row in self._row_versions else "create"
        self.add(
            {
                "kind": "write",
                "t": t,
                "write_id": write_id,
                "actor": actor,
                "role": actor.split("-")[0],
                "system": system,
                "entity": entity,
                "key": key,
                "op": op,
                "fields": dict(fields),
                "base": base if base is not None else {f: [] for f in fields},
                "opened_t": t - 60.0,
            }
        )
        if applied:
            self.apply(t, system, entity, key, dict.fromkeys(fields, write_id), via="user")
        return self

    def apply(
        self,
        t: float,
        system: str,
        entity: str,
        key: str,
        versions: dict[str, str],
        via: str,
        created: bool | None = None,
    ) -> History:
        """A replica change: ``versions`` maps field -> write id now held."""
        row = (system, entity, key)
        if created is None:
            created = row not in self._row_versions
        self._row_versions[row] = self._row_versions.get(row, 0) + 1
        return self.add(
            {
                "kind": "apply",
                "t": t,
                "system": system,
                "entity": entity,
                "key": key,
                "via": via,
                "fields": dict(versions),
                "row_version": self._row_versions[row],
                "created": created,
            }
        )

    def copy(
        self,
        t: float,
        run_id: str,
        target: str,
        entity: str,
        key: str,
        versions: dict[str, str],
    ) -> History:
        """One batch run copying one row's versions (``batch_start``, apply, ``batch_end``)."""
        name = run_id.split("#")[0]
        head = {"run_id": run_id, "map": name, "entity": entity, "source": "?", "target": target}
        self.add({"kind": "batch_start", "t": t, **head, "rows": 1, "skipped_ticks": 0})
        self.apply(t, target, entity, key, versions, via=run_id)
        return self.add(
            {
                "kind": "batch_end",
                "t": t,
                **head,
                "rows_changed": 1,
                "rows_unchanged": 0,
                "duration_s": 0.0,
            }
        )

    def reject(
        self,
        write_id: str,
        t: float,
        system: str,
        entity: str,
        key: str,
        reason: str | None = "read-only here",
    ) -> History:
        return self.add(
            {
                "kind": "reject",
                "t": t,
                "write_id": write_id,
                "system": system,
                "entity": entity,
                "key": key,
                "reason": reason,
            }
        )

    def conflict(
        self,
        t: float,
        write_ids: list[str],
        system: str,
        entity: str,
        key: str,
        field: str,
    ) -> History:
        return self.add(
            {
                "kind": "conflict",
                "t": t,
                "write_ids": list(write_ids),
                "system": system,
                "entity": entity,
                "key": key,
                "field": field,
            }
        )

    def quiesce(self, t: float, reached: bool = True) -> History:
        return self.add(
            {
                "kind": "quiescence",
                "t": t,
                "reached": reached,
                "workload_end_t": t,
                "deadline_t": t + 3600.0,
            }
        )

    def everywhere(
        self,
        t: float,
        entity: str,
        key: str,
        versions: dict[str, str],
        systems: tuple[str, ...] = ("hub", "operations"),
        via: str = "initial-load",
    ) -> History:
        """Copy a row's versions to other replicas at once (an initial load, say)."""
        for system in systems:
            self.apply(t, system, entity, key, versions, via=via)
        return self


def seed_story(**contract_overrides: Any) -> History:
    """The seed post's worry as a history: an Operations edit overwritten by a batch.

    Sales creates account ACC-0001 (W-sales-0), loaded into the hub and Operations. At
    day 1 10:14 ops_clerk-3 raises its credit_limit to 5000 in Operations
    (W-operations-1, base W-sales-0); at 10:20 sales_rep-7 changes its phone in Sales
    (W-sales-2). At 10:30 accounts_sales_to_hub#1 copies the Sales row to the hub and
    accounts_hub_to_operations#1 copies the hub row to Operations: every field that
    differs, so credit_limit becomes W-sales-0 again and W-operations-1 is gone.
    """
    h = History(**contract_overrides)
    row = {"name": "Contoso", "phone": "555-0100", "credit_limit": 1000.0}
    h.save("W-sales-0", at("day 1 08:00"), "sales", "account", "ACC-0001", row, actor="sales_rep-7")
    h.everywhere(at("day 1 08:00"), "account", "ACC-0001", dict.fromkeys(row, "W-sales-0"))
    h.save(
        "W-operations-1",
        at("day 1 10:14"),
        "operations",
        "account",
        "ACC-0001",
        {"credit_limit": 5000.0},
        base={"credit_limit": ["W-sales-0"]},
        actor="ops_clerk-3",
    )
    h.save(
        "W-sales-2",
        at("day 1 10:20"),
        "sales",
        "account",
        "ACC-0001",
        {"phone": "555-0199"},
        base={"phone": ["W-sales-0"]},
        actor="sales_rep-7",
    )
    h.copy(
        at("day 1 10:30"),
        "accounts_sales_to_hub#1",
        "hub",
        "account",
        "ACC-0001",
        {"phone": "W-sales-2"},
    )
    h.copy(
        at("day 1 10:30"),
        "accounts_hub_to_operations#1",
        "operations",
        "account",
        "ACC-0001",
        {"phone": "W-sales-2", "credit_limit": "W-sales-0"},
    )
    h.quiesce(at("day 1 11:00"))
    return h
