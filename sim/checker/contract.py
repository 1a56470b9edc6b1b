"""The contract: what a run promises, read from the history's ``run_start`` event.

A checker must judge a run without the scenario file, so the first event of every
history carries the part of the design the invariants are judged against: which systems
exist, which entities they hold and how those reference each other, which fields are
copied to which replicas, where users may save, what the design promises and which
violations it accepts by construction. :class:`Contract` is that event's ``contract``
object parsed once into lookups the invariants use on every event.

Two derived views save the invariants from re-reading the raw dicts:

- *reference targets*: for each entity, the entities that reference it, so creating an
  account can resolve every contact that was waiting for it;
- *invoice structure*: which entity is an invoice (it has ``total_amount``), which are its
  lines (they reference it and have ``amount``), which entity it bills through which
  reference field (an order, whose lines have ``quantity`` and ``unit_price``). This is
  found from the reference graph, not from entity names, so custom entities work too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

#: The field that holds an entity's lifecycle status when it has a ``status_order``.
DEFAULT_STATUS_FIELD = "status"

#: Statuses that can be entered from any state and never left (FACTS.md section 1).
TERMINAL_STATUSES = frozenset({"Cancelled"})


@dataclass(frozen=True)
class EntitySpec:
    """One entity of the contract: its key field, fields, references and lifecycle."""

    name: str
    key_field: str
    fields: tuple[str, ...]
    references: Mapping[str, str]
    status_order: tuple[str, ...] | None = None
    status_field: str | None = None


@dataclass(frozen=True)
class SyncSpec:
    """The fields some map copies for an entity, and every system holding a copy."""

    fields: tuple[str, ...]
    systems: tuple[str, ...]


@dataclass(frozen=True)
class InvoiceSpec:
    """How invoice totals are checked: invoice, its lines, and the order it bills.

    ``order_field`` is the invoice's reference to the billed entity, ``order_lines`` the
    entities whose rows reference that order through ``order_line_field`` and carry
    ``quantity`` and ``unit_price``. Both are ``None`` when the contract has no such path.
    """

    invoice: str
    lines: tuple[tuple[str, str], ...]  # (line entity, field referencing the invoice)
    order: str | None = None
    order_field: str | None = None
    order_lines: tuple[tuple[str, str], ...] = ()  # (order line entity, field -> order)


@dataclass(frozen=True)
class Contract:
    """The ``run_start.contract`` of a history, parsed; see ``sim/history.py``.

    An empty contract (a history without ``run_start``) is allowed: invariants that need
    a part it lacks say so in their verdict instead of guessing.
    """

    systems: tuple[str, ...] = ()
    entities: Mapping[str, EntitySpec] = field(default_factory=dict)
    synced: Mapping[str, SyncSpec] = field(default_factory=dict)
    editable: Mapping[str, Mapping[str, Mapping[str, tuple[Any, ...]]]] | None = None
    promises: tuple[str, ...] = ()
    sanctioned: frozenset[str] = frozenset()
    echo_bound: int | None = None
    staleness_p99_s: Mapping[str, float] = field(default_factory=dict)
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_dict(cls, contract: Mapping[str, Any] | None) -> Contract:
        """Parse the ``contract`` object of a ``run_start`` event (tolerating omissions).

        Read with its keys sorted at every level, as the history file holds it: the
        order of entities, systems and flows is then the file's whether the events come
        from a file or from the run that recorded them (whose dicts keep the order the
        model built them in), so verdicts list their anomalies in the same order either
        way (``tests/test_verdict_paths.py``).
        """
        contract = orjson.loads(orjson.dumps(contract or {}, option=orjson.OPT_SORT_KEYS))
        entities: dict[str, EntitySpec] = {}
        for name, spec in (contract.get("entities") or {}).items():
            fields = tuple(spec.get("fields") or ())
            order = spec.get("status_order")
            status_field = spec.get("status_field")
            if order and status_field is None:
                status_field = DEFAULT_STATUS_FIELD
            entities[name] = EntitySpec(
                name=name,
                key_field=spec.get("key", "key"),
                fields=fields,
                references=dict(spec.get("references") or {}),
                status_order=tuple(order) if order else None,
                status_field=status_field if order else None,
            )
        synced = {
            name: SyncSpec(tuple(spec.get("fields") or ()), tuple(spec.get("systems") or ()))
            for name, spec in (contract.get("synced") or {}).items()
        }
        editable_raw = contract.get("editable")
        editable = None
        if editable_raw is not None:
            editable = {
                entity: {
                    system: {f: tuple(allowed) for f, allowed in (cond or {}).items()}
                    for system, cond in by_system.items()
                }
                for entity, by_system in editable_raw.items()
            }
        bound = contract.get("echo_bound")
        return cls(
            systems=tuple(contract.get("systems") or ()),
            entities=entities,
            synced=synced,
            editable=editable,
            promises=tuple(contract.get("promises") or ()),
            sanctioned=frozenset(contract.get("sanctioned") or ()),
            echo_bound=int(bound) if bound is not None else None,
            staleness_p99_s={
                flow: float(seconds)
                for flow, seconds in (contract.get("staleness_p99_s") or {}).items()
            },
            raw=dict(contract),
        )

    def referenced_by(self) -> dict[str, list[tuple[str, str]]]:
        """For each target entity, the ``(entity, field)`` pairs that reference it."""
        result: dict[str, list[tuple[str, str]]] = {}
        for spec in self.entities.values():
            for field_name, target in spec.references.items():
                result.setdefault(target, []).append((spec.name, field_name))
        return result

    def invoice_specs(self) -> list[InvoiceSpec]:
        """Every invoice-like entity with its lines and, when found, the order it bills."""
        specs = []
        referenced_by = self.referenced_by()
        for invoice in self.entities.values():
            if "total_amount" not in invoice.fields:
                continue
            lines = tuple(
                (entity, field_name)
                for entity, field_name in referenced_by.get(invoice.name, ())
                if "amount" in self.entities[entity].fields
            )
            order = order_field = None
            order_lines: tuple[tuple[str, str], ...] = ()
            # Prefer a reference field literally named "order", then any other whose
            # target has priced lines.
            candidates = sorted(invoice.references.items(), key=lambda kv: kv[0] != "order")
            for field_name, target in candidates:
                priced = tuple(
                    (entity, ref_field)
                    for entity, ref_field in referenced_by.get(target, ())
                    if {"quantity", "unit_price"} <= set(self.entities[entity].fields)
                    and entity != invoice.name
                    and (entity, ref_field) not in lines
                )
                if priced:
                    order, order_field, order_lines = target, field_name, priced
                    break
            specs.append(InvoiceSpec(invoice.name, lines, order, order_field, order_lines))
        return specs

    def holds_entity(self, system: str, entity: str) -> bool:
        """True when the contract says ``system`` holds copies of ``entity``."""
        sync = self.synced.get(entity)
        return sync is not None and system in sync.systems
