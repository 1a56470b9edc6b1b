"""The business actions and their rules: what a user of each role may do next.

Each action (:data:`ACTIONS`) plans the saves of one form session from what the system
the user works in shows now: create or edit an account, convert one of my quotes to an
order with its lines, activate or cancel my Draft orders, confirm, pick, pack and ship
orders, invoice a shipped order with lines that add up to its total, retire a product
while bundles in Sales still point at it. A rep works the records on their own
:class:`Desk` (a Dynamics 365 Sales owner), so two reps never convert the same quote.

Plans are plain Python over the :class:`~models.integration.Integration` (no clock,
no simpy); ``sim/engine/workload.py`` decides *when* each user acts and asks these
plans *what* they do. Every random draw comes from the generator passed in (the
user's own named stream). :func:`seed_initial_data` creates the master data a company
starts with.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

from models.entities import ORDER_STATUSES
from models.generators import ValueGen
from models.integration import Integration

OPERATIONS = "operations"
SALES = "sales"

CITIES = ("Oslo", "Lyon", "Leeds", "Porto", "Graz", "Turku", "Gent", "Brno", "Cork", "Pisa")
PAYMENT_TERMS = ("Net10", "Net30", "Net45", "Net60")
CUSTOMER_GROUPS = ("Retail", "Wholesale", "Intercompany", "Export")
UNITS = ("pcs", "box", "kg", "h")


@dataclass(slots=True)
class Save:
    """One record a user will save when the form closes."""

    entity: str
    key: str
    fields: dict[str, Any]
    base: dict[str, tuple[str, ...]] | None  # None: a new record (nothing seen)
    opened_row_version: int | None = None


Plan = list[Save]
PlanFn = Callable[[Integration, str, np.random.Generator, "Desk"], Plan | None]


@dataclass(frozen=True, slots=True)
class ActionDef:
    """A business action: the systems it can run in, what it writes and reads, its plan.

    ``writes`` and ``reads`` are the entities a user needs rights on to perform it (the
    licensing model turns them into required rights per role).
    """

    name: str
    systems: tuple[str, ...]
    entity: str
    description: str
    plan: PlanFn
    writes: tuple[str, ...] = ()
    reads: tuple[str, ...] = ()


# --------------------------------------------------------------- helpers


def _pick(rng: np.random.Generator, keys: list[str]) -> str | None:
    if not keys:
        return None
    return keys[int(rng.random() * len(keys))]


def _money(rng: np.random.Generator, low: float, high: float, step: float) -> float:
    return float(round(low + step * int(rng.random() * ((high - low) / step + 1)), 2))


def _choice(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    return options[int(rng.random() * len(options))]


def _edit(integ: Integration, system: str, entity: str, key: str, fields: dict) -> Save:
    base, row_version = integ.open_form(system, entity, key, tuple(fields))
    return Save(entity, key, fields, base, row_version)


def _status_keys(integ: Integration, system: str, entity: str, status: str) -> list[str]:
    return integ.replicas[system].by_status[entity][status].keys


@dataclass(slots=True)
class Desk:
    """What one user keeps on their desk: the Sales records they created, which they work
    themselves. A rep converts the quotes they made and edits, activates or cancels the
    orders won from them, as a Dynamics 365 Sales owner does, so two reps never convert
    the same quote. (The documents are silent on team selling; this model has none.)"""

    actor: str
    own: dict[str, list[str]] = field(default_factory=dict)

    def made(self, entity: str, key: str) -> None:
        self.own.setdefault(entity, []).append(key)

    def keys(self, integ: Integration, system: str, entity: str, status: str) -> list[str]:
        """My records of ``entity`` that are in ``status`` in ``system`` now, oldest first
        (records no longer in a workable status are dropped from the desk)."""
        mine = self.own.get(entity)
        if not mine:
            return []
        table = integ.replicas[system].tables[entity]
        found, kept = [], []
        for key in mine:
            row = table.get(key)
            if row is None:  # not saved yet (a form still open) or refused
                kept.append(key)
                continue
            status_version = row.fields.get("status")  # row.value("status"), inlined
            current = None if status_version is None else status_version[0]
            if current == status:
                found.append(key)
            if current in _WORKABLE[entity]:
                kept.append(key)
        self.own[entity] = kept
        return found


#: The statuses in which a record stays on its owner's desk.
_WORKABLE: dict[str, frozenset[str]] = {
    "quote": frozenset({"Active"}),
    "order": frozenset({"Draft"}),
}


def _new_account_fields(rng: np.random.Generator, key: str) -> dict[str, Any]:
    return {
        "name": f"Customer {key[4:]}",
        "phone": f"+1-555-{int(rng.random() * 1e6):06d}",
        "city": _choice(rng, CITIES),
        "credit_limit": _money(rng, 1000, 50000, 500),
        "payment_terms": "Net30",
        "customer_group": _choice(rng, CUSTOMER_GROUPS),
    }


def _new_contact_fields(rng: np.random.Generator, account: str) -> dict[str, Any]:
    n = int(rng.random() * 1e5)
    return {
        "account": account,
        "first_name": f"First{n % 97}",
        "last_name": f"Last{n}",
        "email": f"c{n}@example.com",
        "phone": f"+1-556-{n:06d}",
    }


def _new_product_fields(rng: np.random.Generator, key: str) -> dict[str, Any]:
    return {
        "name": f"Product {key[4:]}",
        "list_price": _money(rng, 5, 2000, 5),
        "unit": _choice(rng, UNITS),
        "status": "Active",
    }


# ---------------------------------------------------------- Sales actions


def plan_create_account(
    integ: Integration, system: str, rng: np.random.Generator, desk: Desk
) -> Plan:
    key = integ.new_key("account")
    return [Save("account", key, _new_account_fields(rng, key), None)]


def plan_edit_account(
    integ: Integration, system: str, rng: np.random.Generator, desk: Desk
) -> Plan | None:
    """Edit a customer's contact details: phone, city or name (a sales user's edit)."""
    key = _pick(rng, integ.replicas[system].keys["account"])
    if key is None:
        return None
    roll = rng.random()
    if roll < 0.6:
        fields: dict[str, Any] = {"phone": f"+1-555-{int(rng.random() * 1e6):06d}"}
    elif roll < 0.9:
        fields = {"city": _choice(rng, CITIES)}
    else:
        fields = {"name": f"Customer {key[4:]} {_choice(rng, ('Ltd', 'AG', 'SA', 'Inc'))}"}
    return [_edit(integ, system, "account", key, fields)]


def plan_edit_credit(
    integ: Integration, system: str, rng: np.random.Generator, desk: Desk
) -> Plan | None:
    """Edit a customer's credit data: credit limit, payment terms or customer group.

    Credit management, what finance users change on a customer, in whichever system
    their role works in: a controller moved to Sales still edits credit data there.
    """
    key = _pick(rng, integ.replicas[system].keys["account"])
    if key is None:
        return None
    roll = rng.random()
    if roll < 0.6:
        fields: dict[str, Any] = {"credit_limit": _money(rng, 1000, 80000, 500)}
    elif roll < 0.8:
        fields = {"payment_terms": _choice(rng, PAYMENT_TERMS)}
    else:
        fields = {"customer_group": _choice(rng, CUSTOMER_GROUPS)}
    return [_edit(integ, system, "account", key, fields)]


def plan_create_contact(
    integ: Integration, system: str, rng: np.random.Generator, desk: Desk
) -> Plan | None:
    account = _pick(rng, integ.replicas[system].keys["account"])
    if account is None:
        return None
    return [Save("contact", integ.new_key("contact"), _new_contact_fields(rng, account), None)]


def plan_edit_contact(
    integ: Integration, system: str, rng: np.random.Generator, desk: Desk
) -> Plan | None:
    key = _pick(rng, integ.replicas[system].keys["contact"])
    if key is None:
        return None
    n = int(rng.random() * 1e6)
    fields = {"email": f"c{n}@example.com"} if rng.random() < 0.5 else {"phone": f"+1-557-{n:06d}"}
    return [_edit(integ, system, "contact", key, fields)]


def _product_lines(
    integ: Integration,
    system: str,
    rng: np.random.Generator,
    parent_entity: str,
    line_entity: str,
    parent_key: str,
    max_lines: int,
) -> Plan:
    active = _status_keys(integ, system, "product", "Active")
    products = integ.replicas[system].tables["product"]
    lines: Plan = []
    for _ in range(1 + int(rng.random() * max_lines)):
        product = _pick(rng, active)
        if product is None:
            break
        fields: dict[str, Any] = {
            parent_entity: parent_key,
            "product": product,
            "quantity": 1 + int(rng.random() * 10),
        }
        if line_entity != "bundle_line":
            fields["unit_price"] = products[product].value("list_price", 0.0)
        lines.append(Save(line_entity, integ.new_key(line_entity), fields, None))
    return lines


def plan_create_quote(
    integ: Integration, system: str, rng: np.random.Generator, desk: Desk
) -> Plan | None:
    account = _pick(rng, integ.replicas[system].keys["account"])
    if account is None or not _status_keys(integ, system, "product", "Active"):
        return None
    key = integ.new_key("quote")
    desk.made("quote", key)
    header = Save(
        "quote", key, {"account": account, "name": f"Quote for {account}", "status": "Active"}, None
    )
    return [header, *_product_lines(integ, system, rng, "quote", "quote_line", key, 4)]


def plan_convert_quote(
    integ: Integration, system: str, rng: np.random.Generator, desk: Desk
) -> Plan | None:
    """Win one of my quotes: a Draft order with its lines, and the quote marked Won."""
    replica = integ.replicas[system]
    quote = _pick(rng, desk.keys(integ, system, "quote", "Active"))
    if quote is None:
        return None
    quote_row = replica.tables["quote"][quote]
    order = integ.new_key("order")
    desk.made("order", order)
    plan: Plan = [
        Save(
            "order",
            order,
            {
                "account": quote_row.value("account"),
                "quote": quote,
                "description": f"Order from {quote}",
                "requested_ship_day": 1 + int(rng.random() * 20),
                "status": "Draft",
            },
            None,
        )
    ]
    for line_key in replica.lines_of("quote_line", quote):
        line = replica.tables["quote_line"][line_key]
        plan.append(
            Save(
                "order_line",
                integ.new_key("order_line"),
                {
                    "order": order,
                    "product": line.value("product"),
                    "quantity": line.value("quantity"),
                    "unit_price": line.value("unit_price"),
                },
                None,
            )
        )
    plan.append(_edit(integ, system, "quote", quote, {"status": "Won"}))
    return plan


def _order_status_step(
    integ: Integration,
    system: str,
    rng: np.random.Generator,
    from_status: str,
    to_status: str,
    desk: Desk | None = None,
) -> Plan | None:
    """Move an order (one on ``desk``, when given) from one status to the next."""
    keys = (
        _status_keys(integ, system, "order", from_status)
        if desk is None
        else desk.keys(integ, system, "order", from_status)
    )
    order = _pick(rng, keys)
    if order is None:
        return None
    return [_edit(integ, system, "order", order, {"status": to_status})]


def plan_edit_order(
    integ: Integration, system: str, rng: np.random.Generator, desk: Desk
) -> Plan | None:
    """Revise one of my Draft orders: its requested ship day or description."""
    order = _pick(rng, desk.keys(integ, system, "order", "Draft"))
    if order is None:
        return None
    fields = (
        {"requested_ship_day": 1 + int(rng.random() * 20)}
        if rng.random() < 0.5
        else {"description": f"Revised {int(rng.random() * 1e4)}"}
    )
    return [_edit(integ, system, "order", order, fields)]


def plan_activate_order(
    integ: Integration, system: str, rng: np.random.Generator, desk: Desk
) -> Plan | None:
    """Activate one of my Draft orders (it then belongs to Operations)."""
    return _order_status_step(integ, system, rng, "Draft", "Active", desk=desk)


def plan_cancel_order(
    integ: Integration, system: str, rng: np.random.Generator, desk: Desk
) -> Plan | None:
    """Cancel one of my Draft orders."""
    return _order_status_step(integ, system, rng, "Draft", "Cancelled", desk=desk)


def plan_create_bundle(
    integ: Integration, system: str, rng: np.random.Generator, desk: Desk
) -> Plan | None:
    if not _status_keys(integ, system, "product", "Active"):
        return None
    key = integ.new_key("bundle")
    header = Save(
        "bundle", key, {"name": f"Bundle {key[4:]}", "discount_pct": _money(rng, 0, 20, 2.5)}, None
    )
    return [header, *_product_lines(integ, system, rng, "bundle", "bundle_line", key, 3)]


def plan_edit_bundle(
    integ: Integration, system: str, rng: np.random.Generator, desk: Desk
) -> Plan | None:
    bundle = _pick(rng, integ.replicas[system].keys["bundle"])
    if bundle is None:
        return None
    if rng.random() < 0.5:
        return [_edit(integ, system, "bundle", bundle, {"discount_pct": _money(rng, 0, 20, 2.5)})]
    return _product_lines(integ, system, rng, "bundle", "bundle_line", bundle, 1) or None


# ----------------------------------------------------- Operations actions


def plan_confirm_order(
    integ: Integration, system: str, rng: np.random.Generator, desk: Desk
) -> Plan | None:
    return _order_status_step(integ, system, rng, "Active", "Confirmed")


def plan_advance_order(
    integ: Integration, system: str, rng: np.random.Generator, desk: Desk
) -> Plan | None:
    """One warehouse step on an order: Confirmed -> Picked -> Packed -> Shipped."""
    steps = ("Confirmed", "Picked", "Packed")
    lists = [_status_keys(integ, system, "order", s) for s in steps]
    total = sum(len(k) for k in lists)
    if total == 0:
        return None
    index = int(rng.random() * total)
    for status, keys in zip(steps, lists, strict=True):
        if index < len(keys):
            following = ORDER_STATUSES[ORDER_STATUSES.index(status) + 1]
            return [_edit(integ, system, "order", keys[index], {"status": following})]
        index -= len(keys)
    return None  # pragma: no cover - index is always in range


def plan_invoice_order(
    integ: Integration, system: str, rng: np.random.Generator, desk: Desk
) -> Plan | None:
    """Invoice a shipped order: invoice lines from the order lines, total from the lines."""
    replica = integ.replicas[system]
    order = _pick(rng, _status_keys(integ, system, "order", "Shipped"))
    if order is None:
        return None
    invoice = integ.new_key("invoice")
    lines: Plan = []
    total = 0.0
    for line_key in replica.lines_of("order_line", order):
        line = replica.tables["order_line"][line_key]
        quantity = line.value("quantity", 0)
        price = line.value("unit_price", 0.0)
        amount = round(quantity * price, 2)
        total += amount
        lines.append(
            Save(
                "invoice_line",
                integ.new_key("invoice_line"),
                {
                    "invoice": invoice,
                    "product": line.value("product"),
                    "quantity": quantity,
                    "unit_price": price,
                    "amount": amount,
                },
                None,
            )
        )
    header = Save(
        "invoice",
        invoice,
        {
            "order": order,
            "account": replica.tables["order"][order].value("account"),
            "total_amount": round(total, 2),
        },
        None,
    )
    return [header, *lines, _edit(integ, system, "order", order, {"status": "Invoiced"})]


def plan_create_product(
    integ: Integration, system: str, rng: np.random.Generator, desk: Desk
) -> Plan:
    key = integ.new_key("product")
    return [Save("product", key, _new_product_fields(rng, key), None)]


def plan_edit_product(
    integ: Integration, system: str, rng: np.random.Generator, desk: Desk
) -> Plan | None:
    product = _pick(rng, _status_keys(integ, system, "product", "Active"))
    if product is None:
        return None
    return [_edit(integ, system, "product", product, {"list_price": _money(rng, 5, 2000, 5)})]


def plan_retire_product(
    integ: Integration, system: str, rng: np.random.Generator, desk: Desk
) -> Plan | None:
    product = _pick(rng, _status_keys(integ, system, "product", "Active"))
    if product is None:
        return None
    return [_edit(integ, system, "product", product, {"status": "Retired"})]


def _action(
    name: str,
    systems: tuple[str, ...],
    entity: str,
    plan: PlanFn,
    writes: tuple[str, ...] = (),
    reads: tuple[str, ...] = (),
) -> ActionDef:
    doc = (plan.__doc__ or name.replace("_", " ")).strip().splitlines()[0]
    return ActionDef(name, systems, entity, doc, plan, writes or (entity,), reads)


#: Every action a role may list under ``actions:``, with the systems it runs in.
ACTIONS: dict[str, ActionDef] = {
    a.name: a
    for a in (
        _action("create_account", (SALES,), "account", plan_create_account),
        _action("edit_account", (SALES, OPERATIONS), "account", plan_edit_account),
        _action("edit_credit", (OPERATIONS, SALES), "account", plan_edit_credit),
        _action("create_contact", (SALES,), "contact", plan_create_contact, reads=("account",)),
        _action("edit_contact", (SALES, OPERATIONS), "contact", plan_edit_contact),
        _action(
            "create_quote",
            (SALES,),
            "quote",
            plan_create_quote,
            ("quote", "quote_line"),
            ("account", "product"),
        ),
        _action(
            "convert_quote",
            (SALES,),
            "order",
            plan_convert_quote,
            ("order", "order_line", "quote"),
            ("quote_line",),
        ),
        _action("edit_order", (SALES,), "order", plan_edit_order),
        _action("activate_order", (SALES,), "order", plan_activate_order),
        _action("cancel_order", (SALES,), "order", plan_cancel_order),
        _action(
            "create_bundle",
            (SALES,),
            "bundle",
            plan_create_bundle,
            ("bundle", "bundle_line"),
            ("product",),
        ),
        _action(
            "edit_bundle",
            (SALES,),
            "bundle",
            plan_edit_bundle,
            ("bundle", "bundle_line"),
            ("product",),
        ),
        _action("confirm_order", (OPERATIONS,), "order", plan_confirm_order),
        _action("advance_order", (OPERATIONS,), "order", plan_advance_order),
        _action(
            "invoice_order",
            (OPERATIONS,),
            "invoice",
            plan_invoice_order,
            ("invoice", "invoice_line", "order"),
            ("order_line",),
        ),
        _action("create_product", (OPERATIONS,), "product", plan_create_product),
        _action("edit_product", (OPERATIONS,), "product", plan_edit_product),
        _action("retire_product", (OPERATIONS,), "product", plan_retire_product),
    )
}


# ------------------------------------------- custom entities: generic actions


def _custom_fields(
    integ: Integration, system: str, rng: np.random.Generator, entity: str, names
) -> dict[str, Any] | None:
    """Values for ``names`` of a custom entity; None when a reference has no target."""
    entity_def = integ.catalogue[entity]
    keys = integ.replicas[system].keys

    def pick_key(target: str) -> str | None:
        return _pick(rng, keys[target])

    fields: dict[str, Any] = {}
    for name in names:
        value = cast(Mapping[str, ValueGen], entity_def.generators)[name].value(rng, name, pick_key)
        if value is None:
            return None
        fields[name] = value
    return fields


def custom_create_plan(entity: str) -> PlanFn:
    """``create:<entity>``: a new record, every field from its generator."""

    def plan(integ: Integration, system: str, rng: np.random.Generator, desk: Desk) -> Plan | None:
        fields = _custom_fields(integ, system, rng, entity, integ.catalogue[entity].field_names)
        if fields is None:
            return None
        return [Save(entity, integ.new_key(entity), fields, None)]

    plan.__doc__ = f"Create a {entity} (custom entity), every field from its generator."
    return plan


def custom_edit_plan(entity: str, names: tuple[str, ...] | None) -> PlanFn:
    """``edit:<entity>[:f1,f2]``: change one of ``names`` (default: every field) of an
    existing record, chosen evenly, to a newly generated value."""

    def plan(integ: Integration, system: str, rng: np.random.Generator, desk: Desk) -> Plan | None:
        key = _pick(rng, integ.replicas[system].keys[entity])
        if key is None:
            return None
        choices = names or integ.catalogue[entity].field_names
        name = choices[int(rng.random() * len(choices))]
        fields = _custom_fields(integ, system, rng, entity, (name,))
        if fields is None:
            return None
        return [_edit(integ, system, entity, key, fields)]

    plan.__doc__ = f"Edit a {entity} (custom entity): {', '.join(names or ('any field',))}."
    return plan


#: Systems a generic action may run in: wherever the role works (the design decides
#: whether the save is accepted there).
_ANY_SYSTEM = (SALES, OPERATIONS, "hub")


def resolve_action(name: str, catalogue=None) -> ActionDef:
    """The action a role lists: a named one (:data:`ACTIONS`) or a generic action on a
    custom entity, ``create:<entity>``, ``edit:<entity>`` or ``edit:<entity>:<f>,<f>``.
    Raises ValueError naming what is wrong. Without ``catalogue`` a generic action is
    resolved by its name only (no reads of referenced entities, no field check)."""
    action = ACTIONS.get(name)
    if action is not None:
        return action
    verb, _, rest = name.partition(":")
    if verb not in ("create", "edit") or not rest:
        raise ValueError(
            f"unknown action (known: {', '.join(sorted(ACTIONS))}, or "
            "create:<entity>, edit:<entity>[:<field>,...] on a custom entity)"
        )
    entity, _, field_list = rest.partition(":")
    if verb == "create" and field_list:
        raise ValueError("create:<entity> sets every field; it takes no field list")
    names = tuple(f.strip() for f in field_list.split(",")) if field_list else None
    reads: tuple[str, ...] = ()
    if catalogue is not None:
        if entity not in catalogue:
            raise ValueError(f"unknown entity {entity!r} (known: {', '.join(catalogue.names())})")
        entity_def = catalogue[entity]
        if entity_def.generators is None:
            raise ValueError(
                f"{entity} is a standard entity: its actions are named "
                f"(create_{entity}, edit_{entity}, ...); create:/edit: are for "
                "custom entities"
            )
        for field_name in names or ():
            if field_name not in entity_def.field_names:
                raise ValueError(
                    f"{entity} has no field {field_name!r} "
                    f"(fields: {', '.join(entity_def.field_names)})"
                )
        reads = tuple(
            dict.fromkeys(
                entity_def.references[f]
                for f in (
                    entity_def.field_names if verb == "create" else names or entity_def.field_names
                )
                if f in entity_def.references
            )
        )
    plan = custom_create_plan(entity) if verb == "create" else custom_edit_plan(entity, names)
    return ActionDef(name, _ANY_SYSTEM, entity, (plan.__doc__ or name), plan, (entity,), reads)


def seed_custom_data(integ: Integration, streams, counts: dict[str, int], master) -> int:
    """Initial records of custom entities, in the catalogue's reference order (after the
    standard ones, which they may reference), each saved by ``migration`` in the system
    ``master(entity)`` names, from its own stream ``initial-data:<entity>``. References
    pick among the keys already made, in whichever system holds them (the migration
    reads the source lists directly, as it does for bundles). Returns saves made."""
    saves = 0
    for entity in integ.catalogue.load_order:
        count = counts.get(entity, 0)
        if not count:
            continue
        rng = streams.get(f"initial-data:{entity}")
        system = master(entity)
        entity_def = integ.catalogue[entity]

        def pick_key(target: str, rng=rng) -> str | None:
            for replica in integ.replicas.values():
                if replica.keys[target]:
                    return _pick(rng, replica.keys[target])
            return None

        for _ in range(count):
            key = integ.new_key(entity)
            generators = cast(Mapping[str, ValueGen], entity_def.generators)  # custom: set
            fields = {
                name: generators[name].value(rng, name, pick_key) for name in entity_def.field_names
            }
            integ.save(
                now_s=0.0,
                actor="migration",
                role="migration",
                system=system,
                entity=entity,
                key=key,
                fields={k: v for k, v in fields.items() if v is not None},
            )
            saves += 1
    return saves


def seed_initial_data(
    integ: Integration,
    rng: np.random.Generator,
    *,
    accounts: int,
    contacts_per_account: float,
    products: int,
    bundles: int,
    bundle_lines_per_bundle: int,
    now_s: float = 0.0,
) -> int:
    """Create the master data a company starts with, each record in its master system.

    Products in Operations; accounts, contacts and bundles in Sales. Saved by the
    ``migration`` actor; the initial load then copies them across. Returns saves made.
    """
    saves = 0

    def save(system: str, entity: str, key: str, fields: dict[str, Any]) -> None:
        nonlocal saves
        integ.save(
            now_s=now_s,
            actor="migration",
            role="migration",
            system=system,
            entity=entity,
            key=key,
            fields=fields,
        )
        saves += 1

    for _ in range(products):
        key = integ.new_key("product")
        save(OPERATIONS, "product", key, _new_product_fields(rng, key))
    account_keys = []
    for _ in range(accounts):
        key = integ.new_key("account")
        account_keys.append(key)
        save(SALES, "account", key, _new_account_fields(rng, key))
    contacts = int(round(accounts * contacts_per_account))
    for i in range(contacts):
        account = account_keys[i % len(account_keys)] if account_keys else None
        if account is None:
            break
        save(SALES, "contact", integ.new_key("contact"), _new_contact_fields(rng, account))
    # Bundles reference products, which live in Operations until the initial load: the
    # migration builds them from the product list directly.
    product_keys = list(integ.replicas[OPERATIONS].keys["product"])
    for _ in range(bundles):
        key = integ.new_key("bundle")
        save(
            SALES,
            "bundle",
            key,
            {"name": f"Bundle {key[4:]}", "discount_pct": _money(rng, 0, 20, 2.5)},
        )
        for _ in range(bundle_lines_per_bundle if product_keys else 0):
            save(
                SALES,
                "bundle_line",
                integ.new_key("bundle_line"),
                {
                    "bundle": key,
                    "product": _pick(rng, product_keys),
                    "quantity": 1 + int(rng.random() * 5),
                },
            )
    return saves
