"""The organisation at work: users following the prospect-to-cash business flow.

Each user is one SimPy process (a generator taking ``env`` first, STYLE.md 2): during
their role's working hours they start actions at the role's rates (a Poisson process
per user, independent of how long forms stay open: a user may have several forms open),
open a form (which fixes the *base* of their save: the versions they saw), keep it open
for a drawn time, then save. The business flow runs through the actions:

    Sales:       create/edit accounts and contacts, create quotes, convert a quote to an
                 order, edit and activate Draft orders, cancel Draft orders, bundles
    Operations:  edit customers (credit data), confirm Active orders, pick/pack/ship,
                 invoice shipped orders, create/edit/retire products

Products are retired in Operations while bundles that point at them live on in Sales:
the seed post's bundle question shows up as bundle lines referencing retired products.

Scripted actions (exact who, when, what) replay an incident and mix with random work.
Every random draw comes from the user's own named stream, so adding a role does not
change what the others do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from models.entities import ORDER_STATUSES
from models.integration import Integration
from sim.scenario.yamlio import InputError

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
            current = row.value("status")
            if current == status:
                found.append(key)
            if current in _WORKABLE[entity]:
                kept.append(key)
        self.own[entity] = kept
        return found


#: The statuses in which a record stays on its owner's desk.
_WORKABLE: dict[str, frozenset[str]] = {"quote": frozenset({"Active"}),
                                        "order": frozenset({"Draft"})}


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
    return {"account": account, "first_name": f"First{n % 97}", "last_name": f"Last{n}",
            "email": f"c{n}@example.com", "phone": f"+1-556-{n:06d}"}


def _new_product_fields(rng: np.random.Generator, key: str) -> dict[str, Any]:
    return {"name": f"Product {key[4:]}", "list_price": _money(rng, 5, 2000, 5),
            "unit": _choice(rng, UNITS), "status": "Active"}


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
    integ: Integration, system: str, rng: np.random.Generator, parent_entity: str,
    line_entity: str, parent_key: str, max_lines: int,
) -> Plan:
    active = _status_keys(integ, system, "product", "Active")
    products = integ.replicas[system].tables["product"]
    lines: Plan = []
    for _ in range(1 + int(rng.random() * max_lines)):
        product = _pick(rng, active)
        if product is None:
            break
        fields: dict[str, Any] = {parent_entity: parent_key, "product": product,
                                  "quantity": 1 + int(rng.random() * 10)}
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
    header = Save("quote", key, {"account": account, "name": f"Quote for {account}",
                                 "status": "Active"}, None)
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
    plan: Plan = [Save("order", order, {
        "account": quote_row.value("account"), "quote": quote,
        "description": f"Order from {quote}", "requested_ship_day": 1 + int(rng.random() * 20),
        "status": "Draft"}, None)]
    for line_key in replica.lines_of("quote_line", quote):
        line = replica.tables["quote_line"][line_key]
        plan.append(Save("order_line", integ.new_key("order_line"), {
            "order": order, "product": line.value("product"),
            "quantity": line.value("quantity"), "unit_price": line.value("unit_price")}, None))
    plan.append(_edit(integ, system, "quote", quote, {"status": "Won"}))
    return plan


def _order_status_step(
    integ: Integration, system: str, rng: np.random.Generator, from_status: str, to_status: str,
    desk: Desk | None = None,
) -> Plan | None:
    """Move an order (one on ``desk``, when given) from one status to the next."""
    keys = (_status_keys(integ, system, "order", from_status) if desk is None
            else desk.keys(integ, system, "order", from_status))
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
    fields = ({"requested_ship_day": 1 + int(rng.random() * 20)} if rng.random() < 0.5
              else {"description": f"Revised {int(rng.random() * 1e4)}"})
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
    header = Save("bundle", key, {"name": f"Bundle {key[4:]}",
                                  "discount_pct": _money(rng, 0, 20, 2.5)}, None)
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
        lines.append(Save("invoice_line", integ.new_key("invoice_line"), {
            "invoice": invoice, "product": line.value("product"), "quantity": quantity,
            "unit_price": price, "amount": amount}, None))
    header = Save("invoice", invoice, {
        "order": order, "account": replica.tables["order"][order].value("account"),
        "total_amount": round(total, 2)}, None)
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


def _action(name: str, systems: tuple[str, ...], entity: str, plan: PlanFn,
            writes: tuple[str, ...] = (), reads: tuple[str, ...] = ()) -> ActionDef:
    doc = (plan.__doc__ or name.replace("_", " ")).strip().splitlines()[0]
    return ActionDef(name, systems, entity, doc, plan, writes or (entity,), reads)


#: Every action a role may list under ``actions:``, with the systems it runs in.
ACTIONS: dict[str, ActionDef] = {a.name: a for a in (
    _action("create_account", (SALES,), "account", plan_create_account),
    _action("edit_account", (SALES, OPERATIONS), "account", plan_edit_account),
    _action("edit_credit", (OPERATIONS, SALES), "account", plan_edit_credit),
    _action("create_contact", (SALES,), "contact", plan_create_contact, reads=("account",)),
    _action("edit_contact", (SALES, OPERATIONS), "contact", plan_edit_contact),
    _action("create_quote", (SALES,), "quote", plan_create_quote, ("quote", "quote_line"),
            ("account", "product")),
    _action("convert_quote", (SALES,), "order", plan_convert_quote,
            ("order", "order_line", "quote"), ("quote_line",)),
    _action("edit_order", (SALES,), "order", plan_edit_order),
    _action("activate_order", (SALES,), "order", plan_activate_order),
    _action("cancel_order", (SALES,), "order", plan_cancel_order),
    _action("create_bundle", (SALES,), "bundle", plan_create_bundle, ("bundle", "bundle_line"),
            ("product",)),
    _action("edit_bundle", (SALES,), "bundle", plan_edit_bundle, ("bundle", "bundle_line"),
            ("product",)),
    _action("confirm_order", (OPERATIONS,), "order", plan_confirm_order),
    _action("advance_order", (OPERATIONS,), "order", plan_advance_order),
    _action("invoice_order", (OPERATIONS,), "invoice", plan_invoice_order,
            ("invoice", "invoice_line", "order"), ("order_line",)),
    _action("create_product", (OPERATIONS,), "product", plan_create_product),
    _action("edit_product", (OPERATIONS,), "product", plan_edit_product),
    _action("retire_product", (OPERATIONS,), "product", plan_retire_product),
)}


# ------------------------------------------- custom entities: generic actions


def _custom_fields(integ: Integration, system: str, rng: np.random.Generator, entity: str,
                   names) -> dict[str, Any] | None:
    """Values for ``names`` of a custom entity; None when a reference has no target."""
    entity_def = integ.catalogue[entity]
    keys = integ.replicas[system].keys

    def pick_key(target: str) -> str | None:
        return _pick(rng, keys[target])

    fields: dict[str, Any] = {}
    for name in names:
        value = entity_def.generators[name].value(rng, name, pick_key)
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
        raise ValueError(f"unknown action (known: {', '.join(sorted(ACTIONS))}, or "
                         "create:<entity>, edit:<entity>[:<field>,...] on a custom entity)")
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
            raise ValueError(f"{entity} is a standard entity: its actions are named "
                             f"(create_{entity}, edit_{entity}, ...); create:/edit: are for "
                             "custom entities")
        for field_name in names or ():
            if field_name not in entity_def.field_names:
                raise ValueError(f"{entity} has no field {field_name!r} "
                                 f"(fields: {', '.join(entity_def.field_names)})")
        reads = tuple(dict.fromkeys(
            entity_def.references[f] for f in (entity_def.field_names if verb == "create"
                                               else names or entity_def.field_names)
            if f in entity_def.references))
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
            fields = {name: entity_def.generators[name].value(rng, name, pick_key)
                      for name in entity_def.field_names}
            integ.save(now_s=0.0, actor="migration", role="migration", system=system,
                       entity=entity, key=key,
                       fields={k: v for k, v in fields.items() if v is not None})
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
        integ.save(now_s=now_s, actor="migration", role="migration", system=system,
                   entity=entity, key=key, fields=fields)
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
        save(SALES, "bundle", key, {"name": f"Bundle {key[4:]}",
                                    "discount_pct": _money(rng, 0, 20, 2.5)})
        for _ in range(bundle_lines_per_bundle if product_keys else 0):
            save(SALES, "bundle_line", integ.new_key("bundle_line"), {
                "bundle": key, "product": _pick(rng, product_keys),
                "quantity": 1 + int(rng.random() * 5)})
    return saves


# ------------------------------------------------------------ the users


class WorkCalendar:
    """Working time of one role: which weekdays, which hours; run starts Monday 00:00."""

    def __init__(self, workdays: tuple[int, ...], start_s: float, end_s: float) -> None:
        self.workdays = frozenset(workdays)
        self.start_s = start_s
        self.end_s = end_s

    def advance(self, now_s: float, work_s: float) -> float:
        """The instant ``work_s`` seconds of working time after ``now_s``."""
        if not self.workdays:
            return float("inf")
        t = now_s
        remaining = work_s
        while True:
            day = int(t // 86_400)
            midnight = day * 86_400.0
            if day % 7 in self.workdays:
                open_s = midnight + self.start_s
                close_s = midnight + self.end_s
                if t < open_s:
                    t = open_s
                if t < close_s:
                    available = close_s - t
                    if remaining <= available:
                        return t + remaining
                    remaining -= available
            t = midnight + 86_400.0


@dataclass(slots=True)
class User:
    """One person: identity, role, where they work, and their own random stream."""

    actor: str
    role: str
    system: str
    rng: np.random.Generator
    calendar: WorkCalendar
    rate_per_s: float
    cumulative: np.ndarray  # cumulative action probabilities
    actions: tuple[ActionDef, ...]
    action_systems: tuple[str, ...]
    form_median_s: float
    form_sigma: float
    desk: Desk | None = None  # the records this user works; a fresh one by default

    def __post_init__(self) -> None:
        if self.desk is None:
            self.desk = Desk(self.actor)


def draw_s(latency, rng: np.random.Generator) -> float:
    """One delay from a design's :class:`~models.design.Latency`."""
    if latency.distribution == "fixed" or latency.median_s == 0:
        return float(latency.median_s)
    if latency.distribution == "exponential":
        return float(rng.exponential(latency.median_s))
    return float(latency.median_s * np.exp(latency.sigma * rng.standard_normal()))


def _reopen(integ: Integration, system: str, plan: Plan) -> None:
    """Read the forms again (after a wait): fresh bases and row versions."""
    for save in plan:
        if save.base is not None:
            save.base, save.opened_row_version = integ.open_form(
                system, save.entity, save.key, tuple(save.fields))


def acquire_leases(env, world, actor: str, system: str, plan: Plan, rng, replan=None):
    """cross-system-lock: lease every record the plan updates, waiting and retrying.

    After a wait the user looks again: ``replan()`` (when given) decides anew what to do
    with what the system shows now (another clerk may have shipped the order meanwhile),
    else the same forms are re-read. Returns ``(leases, plan)``, or ``(None, plan)`` when
    the user gave up after the design's retries or found nothing left to do.
    """
    integ = world.integration
    rules = integ.concurrency
    counts = world.metrics.counts
    for attempt in range(rules.max_retries + 1):
        if attempt:
            if replan is not None:
                plan = replan()
                if not plan:
                    return None, plan
            else:
                _reopen(integ, system, plan)
        leases = []
        for save in plan:
            if save.base is None:
                continue
            lease = integ.acquire_lease(system, save.entity, save.key, actor, env.now)
            if lease is None:
                break
            leases.append(lease)
        else:
            return leases, plan
        for lease in leases:
            integ.release_lease(lease, env.now)
        if attempt == rules.max_retries:
            break
        counts["lock_waits"] += 1
        counts["blocked_user_s"] += rules.retry_s
        yield env.timeout(rules.retry_s)
    counts["lock_abandoned"] += 1
    return None, plan


def carry_out(env, world, actor: str, role: str, system: str, plan: Plan,
              opened_s: float, rng: np.random.Generator, leases=None):
    """Save every record of a plan: live writes wait for the other side, refusals may
    be handed off (readonly-workaround), leases are used and released."""
    integ = world.integration
    counts = world.metrics.counts
    design = integ.design
    lease_of = {(lease.entity, lease.key): lease for lease in leases or ()}
    for save in plan:
        live_delay_s = 0.0
        for name, spec in integ.links.get((system, save.entity), ()):
            if spec.transport == "live":
                live_delay_s += draw_s(design.map_latency(spec),
                                       world.streams.get(f"link:{name}"))
        if live_delay_s > 0:
            # The user waits while the other side commits in the same transaction.
            counts["blocked_user_s"] += live_delay_s
            yield env.timeout(live_delay_s)
        gate = world.licences
        if gate is not None and not gate.allows(role, system, save.entity):
            # The user's licences do not cover this save: a licensed colleague does it
            # later, or nobody does.
            env.process(licence_handoff(env, world, role, system, save, rng))
            continue
        write = integ.save(now_s=env.now, actor=actor, role=role, system=system,
                           entity=save.entity, key=save.key, fields=save.fields,
                           base=save.base, opened_s=opened_s,
                           opened_row_version=save.opened_row_version,
                           lease=lease_of.get((save.entity, save.key)),
                           live_delay_s=live_delay_s, transaction_records=len(plan))
        refusal = integ.last_refusal
        if write is None and design.handoff is not None and refusal and "read-only" in refusal:
            env.process(handoff_process(env, world, actor, save, rng, role))
    for lease in lease_of.values():
        integ.release_lease(lease, env.now)


def licence_handoff(env, world, role: str, system: str, save: Save,
                    rng: np.random.Generator):
    """A save outside the user's licences: handed to a licensed colleague, or refused."""
    counts = world.metrics.counts
    rules = world.scenario.spec.licensing.handoff
    colleague = world.licences.colleague(system, save.entity, exclude=role)
    if colleague is None or rng.random() < rules.give_up_probability:
        counts["licence_refusals"] += 1
        counts[f"licence_refusals.{role}.{save.entity}"] += 1
        return
    counts["licence_handoffs"] += 1
    counts[f"licence_handoffs.{role}.{save.entity}"] += 1
    delay_s = float(rules.median_delay_s * np.exp(rules.sigma * rng.standard_normal()))
    counts["licence_handoff_delay_s"] += delay_s
    yield env.timeout(delay_s)
    integ = world.integration
    base, row_version = integ.open_form(system, save.entity, save.key, tuple(save.fields))
    integ.save(now_s=env.now, actor=f"{colleague}-licence-handoff", role=colleague,
               system=system, entity=save.entity, key=save.key, fields=save.fields,
               base=base if integ.replicas[system].row(save.entity, save.key) else None,
               opened_row_version=row_version)


def handoff_process(env, world, actor: str, save: Save, rng: np.random.Generator,
                    role: str = "unknown"):
    """readonly-workaround: the refused user asks a colleague who may edit it there.
    Counted in total and per requesting role and entity (``handoffs.<role>.<entity>``)."""
    integ = world.integration
    handoff = integ.design.handoff
    counts = world.metrics.counts
    if rng.random() < handoff.give_up_probability:
        counts["handoffs_abandoned"] += 1
        counts[f"handoffs_abandoned.{role}.{save.entity}"] += 1
        return
    counts["handoffs"] += 1
    counts[f"handoffs.{role}.{save.entity}"] += 1
    delay_s = draw_s(handoff.delay, rng)
    counts["handoff_delay_s"] += delay_s
    yield env.timeout(delay_s)
    where = integ.design.editable.get(save.entity, {})
    system = next(iter(where), None)
    if system is None:
        return
    colleague = f"{handoff.to_role}-handoff"
    base, row_version = integ.open_form(system, save.entity, save.key, tuple(save.fields))
    integ.save(now_s=env.now, actor=colleague, role=handoff.to_role, system=system,
               entity=save.entity, key=save.key, fields=save.fields, base=base,
               opened_row_version=row_version)
    counts["handoffs_done"] += 1


def user_process(env, world, user: User):
    """One user's working week: actions arrive at the role's rates, in working hours.

    Arrivals are a Poisson process in working time at the sum of the role's rates (an
    exponential gap of working time after each arrival, so a gap that runs past the end
    of the day goes on the next working morning), independent of how long forms stay
    open: each arrival opens its form at once and runs as its own session
    (:func:`form_session`), so a user may have several forms open at a time, as with
    several browser tabs. The number of actions started is then Poisson with mean
    ``rate x users x working hours`` whatever the form times (a user who waited for
    each form to close before drawing the next gap would deliver fewer: the form time
    would be lost from every gap).
    """
    integ = world.integration
    rng = user.rng
    end_s = world.workload_end_s
    counts = world.metrics.counts
    mean_gap_s = 1.0 / user.rate_per_s
    while True:
        start = user.calendar.advance(env.now, float(rng.exponential(mean_gap_s)))
        if start >= end_s:
            return
        yield env.timeout(start - env.now)
        index = int(np.searchsorted(user.cumulative, rng.random(), side="right"))
        index = min(index, len(user.actions) - 1)
        action = user.actions[index]
        system = user.action_systems[index]
        plan = action.plan(integ, system, rng, user.desk)
        counts[f"actions.{action.name}"] += 1
        counts[f"actions_started.{user.role}"] += 1
        if not plan:
            counts["actions_idle"] += 1  # nothing to do (e.g. no Shipped order to invoice)
            continue
        env.process(form_session(env, world, user, action, system, plan))


def form_session(env, world, user: User, action: ActionDef, system: str, plan: Plan):
    """One form of one user, from opening (after any lease wait) to its saves."""
    integ = world.integration
    rng = user.rng
    world.open_forms += 1
    leases = None
    if integ.rule.uses_leases:
        leases, plan = yield from acquire_leases(
            env, world, user.actor, system, plan, rng,
            replan=lambda: action.plan(integ, system, rng, user.desk))
        if leases is None:
            world.open_forms -= 1
            return
    opened_s = env.now
    hold_s = float(np.exp(np.log(user.form_median_s) + user.form_sigma * rng.standard_normal()))
    yield env.timeout(hold_s)
    yield from carry_out(env, world, user.actor, user.role, system, plan, opened_s, rng,
                         leases)
    world.open_forms -= 1


def scripted_process(env, world, action, actor: str):
    """One scripted save: open the form at ``opened_at`` (fixing its base), save at ``at``."""
    integ = world.integration
    opened_s = action.opened_s
    if opened_s > env.now:
        yield env.timeout(opened_s - env.now)
    if not action.create and integ.replicas[action.system].row(action.entity,
                                                               action.key) is None:
        raise InputError(
            f"scripted save at {action.at} ({actor}): {action.system} has no "
            f"{action.entity} {action.key} when the form is opened; a save that creates "
            "the record says create: true")
    world.open_forms += 1
    base, row_version = integ.open_form(action.system, action.entity, action.key,
                                        tuple(action.fields))
    plan = [Save(action.entity, action.key, dict(action.fields),
                 base if integ.replicas[action.system].row(action.entity, action.key)
                 else None, row_version)]
    rng = world.streams.get(f"script:{actor}")
    leases = None
    if integ.rule.uses_leases:
        leases, plan = yield from acquire_leases(env, world, actor, action.system, plan, rng)
        if leases is None:
            world.open_forms -= 1
            return
    if action.at_s > env.now:
        yield env.timeout(action.at_s - env.now)
    world.metrics.counts["actions.scripted"] += 1
    yield from carry_out(env, world, actor, action.role, action.system, plan, opened_s, rng,
                         leases)
    world.open_forms -= 1


def resolver_process(env, world, conflict):
    """optimistic-version-check: a person resolves a queued conflict after a while."""
    integ = world.integration
    rules = integ.concurrency
    role = rules.resolver_role or "resolver"
    rng = world.streams.get(f"resolver:{role}")
    delay_s = draw_s(rules.resolution, rng)
    world.metrics.counts["conflict_resolution_s"] += delay_s
    yield env.timeout(delay_s)
    integ.resolve(conflict, env.now, actor=f"{role}-1", role=role)
    world.metrics.counts["conflicts_resolved"] += 1


def role_calendar(spec, role):
    """A role's working time: a flat UTC day (:class:`WorkCalendar`), or its rhythm
    (:class:`sim.engine.rhythm.RhythmCalendar`: time zone, hourly profile, month end)."""
    from sim.engine.rhythm import RhythmCalendar
    from sim.scenario.spec import WEEKDAY_NAMES, hours_range

    start_s, end_s = hours_range(role.working_hours)
    workdays = tuple(WEEKDAY_NAMES.index(d) for d in role.workdays)
    if not role.has_rhythm:
        return WorkCalendar(workdays, start_s, end_s)
    return RhythmCalendar(start_date=spec.start_date, horizon_days=spec.duration_days,
                          workdays=workdays, start_s=start_s, end_s=end_s,
                          zone=role.timezone, profile=role.hourly_profile,
                          month_end=role.month_end)


def build_users(world) -> list[User]:
    """Every user of every role, in scenario order, each with a named stream."""

    users = []
    for role_name, role in world.scenario.spec.roles.items():
        rates = [(name, rate) for name, rate in role.actions.items() if rate > 0]
        total_per_h = sum(rate for _, rate in rates)
        if role.headcount == 0 or total_per_h == 0:
            continue
        calendar = role_calendar(world.scenario.spec, role)
        cumulative = np.cumsum([rate / total_per_h for _, rate in rates])
        actions = tuple(resolve_action(name, world.scenario.catalogue) for name, _ in rates)
        # An action runs in the role's home system when it can, else its other system.
        systems = tuple(next(s for s in role.systems if s in a.systems) for a in actions)
        for i in range(role.headcount):
            actor = f"{role_name}-{i + 1}"
            users.append(User(
                actor=actor, role=role_name, system=role.home_system,
                rng=world.streams.get(f"user:{actor}"), calendar=calendar,
                rate_per_s=total_per_h / 3600.0, cumulative=cumulative, actions=actions,
                action_systems=systems, form_median_s=role.form_open.median_s,
                form_sigma=role.form_open.sigma,
            ))
    return users
