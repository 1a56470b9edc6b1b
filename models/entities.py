"""The entity catalogue of prospect to cash, and the reference graph between entities.

Headers and lines are separate entities, as they are separate maps in the Data
Integrator templates ("quotation headers and lines"). Every record is identified by its
business key (``account_number``, ``order_number``, ...): the integration key that
upserts match on. References are fields holding another entity's key; together they form
a directed graph (networkx) whose topological order is the order of initial loads: an
order line is loaded after its order, which is loaded after its account.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from models.generators import ValueGen, default_gen

if TYPE_CHECKING:
    import networkx as nx

#: The order lifecycle (FACTS.md section 1). Cancelled is terminal and reachable from
#: any state before Invoiced; every other move goes forward along this tuple.
ORDER_STATUSES = (
    "Draft",
    "Active",
    "Confirmed",
    "Picked",
    "Packed",
    "Shipped",
    "Invoiced",
    "Cancelled",
)
QUOTE_STATUSES = ("Draft", "Active", "Won", "Closed")
PRODUCT_STATUSES = ("Active", "Retired")


@dataclass(frozen=True)
class FieldDef:
    """One field: its value type and, for references, the entity it points to."""

    name: str
    type: str  # "str" | "int" | "float" | "status"
    references: str | None = None


@dataclass(frozen=True)
class EntityDef:
    """One entity: business key, fields, references, and its status lifecycle if any."""

    name: str
    key_field: str
    key_prefix: str
    fields: tuple[FieldDef, ...]
    status_order: tuple[str, ...] | None = None
    parent: str | None = None  # the header a line belongs to
    description: str = ""
    #: Custom entities only: how a user makes up each field's value (models.generators).
    generators: Mapping[str, ValueGen] | None = None
    field_names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "field_names", tuple(f.name for f in self.fields))

    @property
    def references(self) -> dict[str, str]:
        return {f.name: f.references for f in self.fields if f.references}

    def field(self, name: str) -> FieldDef:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.name} has no field {name!r}")


def _f(name: str, type_: str = "str", ref: str | None = None) -> FieldDef:
    return FieldDef(name, type_, ref)


STANDARD_ENTITIES: tuple[EntityDef, ...] = (
    EntityDef(
        "account",
        "account_number",
        "ACC",
        (
            _f("name"),
            _f("phone"),
            _f("city"),
            _f("credit_limit", "float"),
            _f("payment_terms"),
            _f("customer_group"),
        ),
        description="A customer. Created in Sales; becomes a customer in Operations.",
    ),
    EntityDef(
        "contact",
        "contact_id",
        "CON",
        (_f("account", ref="account"), _f("first_name"), _f("last_name"), _f("email"), _f("phone")),
        description="A person at an account.",
    ),
    EntityDef(
        "product",
        "product_number",
        "PRD",
        (_f("name"), _f("list_price", "float"), _f("unit"), _f("status", "status")),
        status_order=PRODUCT_STATUSES,
        description="A released product, mastered in Operations.",
    ),
    EntityDef(
        "bundle",
        "bundle_id",
        "BUN",
        (_f("name"), _f("discount_pct", "float")),
        description="A Sales-side grouping of products for up-sell (never synced).",
    ),
    EntityDef(
        "bundle_line",
        "bundle_line_id",
        "BUL",
        (_f("bundle", ref="bundle"), _f("product", ref="product"), _f("quantity", "int")),
        parent="bundle",
        description="One product in a bundle.",
    ),
    EntityDef(
        "quote",
        "quote_number",
        "QUO",
        (_f("account", ref="account"), _f("name"), _f("status", "status")),
        status_order=QUOTE_STATUSES,
        description="A sales quotation, owned by Sales.",
    ),
    EntityDef(
        "quote_line",
        "quote_line_id",
        "QUL",
        (
            _f("quote", ref="quote"),
            _f("product", ref="product"),
            _f("quantity", "int"),
            _f("unit_price", "float"),
        ),
        parent="quote",
        description="One line of a quotation.",
    ),
    EntityDef(
        "order",
        "order_number",
        "ORD",
        (
            _f("account", ref="account"),
            _f("quote", ref="quote"),
            _f("description"),
            _f("requested_ship_day", "int"),
            _f("status", "status"),
        ),
        status_order=ORDER_STATUSES,
        description="A sales order: Sales owns it until activation, Operations after.",
    ),
    EntityDef(
        "order_line",
        "order_line_id",
        "ORL",
        (
            _f("order", ref="order"),
            _f("product", ref="product"),
            _f("quantity", "int"),
            _f("unit_price", "float"),
        ),
        parent="order",
        description="One line of a sales order.",
    ),
    EntityDef(
        "invoice",
        "invoice_number",
        "INV",
        (_f("order", ref="order"), _f("account", ref="account"), _f("total_amount", "float")),
        description="A customer invoice, produced by Operations from a shipped order.",
    ),
    EntityDef(
        "invoice_line",
        "invoice_line_id",
        "INL",
        (
            _f("invoice", ref="invoice"),
            _f("product", ref="product"),
            _f("quantity", "int"),
            _f("unit_price", "float"),
            _f("amount", "float"),
        ),
        parent="invoice",
        description="One line of an invoice; amount = quantity x price.",
    ),
)


class Catalogue:
    """The entities of a run, by name, with their reference graph."""

    def __init__(self, entities: Iterable[EntityDef] = STANDARD_ENTITIES) -> None:
        self.entities: dict[str, EntityDef] = {}
        for entity in entities:
            if entity.name in self.entities:
                raise ValueError(f"entity {entity.name!r} defined twice")
            self.entities[entity.name] = entity
        # Deterministic topological order: ties broken by catalogue position. Computed
        # here without networkx (a third of `p2c run`'s imports); the graph itself is
        # built on first use of :attr:`graph`.
        self.load_order: tuple[str, ...] = load_order(self.entities.values())
        self._graph: nx.DiGraph | None = None

    @property
    def graph(self) -> nx.DiGraph:
        """The reference graph (:func:`reference_graph`), built on first use."""
        if self._graph is None:
            self._graph = reference_graph(self.entities.values())
        return self._graph

    def __getitem__(self, name: str) -> EntityDef:
        return self.entities[name]

    def __contains__(self, name: str) -> bool:
        return name in self.entities

    def __iter__(self):
        return iter(self.entities.values())

    def names(self) -> tuple[str, ...]:
        return tuple(self.entities)


def _edges(entities: list[EntityDef]) -> dict[str, set[str]]:
    """``referenced entity -> entities referencing it``; an unknown target is an error."""
    names = {e.name for e in entities}
    edges: dict[str, set[str]] = {e.name: set() for e in entities}
    for entity in entities:
        for field_name, target in entity.references.items():
            if target not in names:
                raise ValueError(f"{entity.name}.{field_name} references unknown entity {target!r}")
            if target != entity.name:
                edges[target].add(entity.name)
    return edges


def load_order(entities: Iterable[EntityDef]) -> tuple[str, ...]:
    """The initial load order: referenced entities first, ties by position in ``entities``.

    The lexicographical topological order of :func:`reference_graph` keyed by position
    (networkx's ``lexicographical_topological_sort``), computed with a heap; a cycle is
    reported as :func:`reference_graph` reports it.
    """
    entities = list(entities)
    edges = _edges(entities)
    position = {e.name: i for i, e in enumerate(entities)}
    waiting = dict.fromkeys(position, 0)
    for followers in edges.values():
        for name in followers:
            waiting[name] += 1
    ready = [(position[name], name) for name, n in waiting.items() if n == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        _, name = heapq.heappop(ready)
        order.append(name)
        for follower in edges[name]:
            waiting[follower] -= 1
            if waiting[follower] == 0:
                heapq.heappush(ready, (position[follower], follower))
    if len(order) < len(entities):
        reference_graph(entities)  # raises, naming the cycle
    return tuple(order)


def reference_graph(entities: Iterable[EntityDef]) -> nx.DiGraph:
    """Edges point from a referenced entity to the entity referencing it (load order).

    ``account -> contact`` reads "accounts must exist before contacts". A cycle is an
    error: no initial load order could satisfy it.
    """
    # Imported only when a graph is asked for: the load order does without networkx.
    import networkx as nx

    graph = nx.DiGraph()
    entities = list(entities)
    _edges(entities)  # an unknown target is an error
    for entity in entities:
        graph.add_node(entity.name)
    for entity in entities:
        for field_name, target in entity.references.items():
            if target != entity.name:
                graph.add_edge(target, entity.name, field=field_name)
    if not nx.is_directed_acyclic_graph(graph):
        cycle = nx.find_cycle(graph)
        raise ValueError(f"entity references form a cycle: {cycle}")
    return graph


def custom_entity(
    name: str,
    key_prefix: str,
    fields: Mapping[str, str],
    references: Mapping[str, str],
    generators: Mapping[str, ValueGen] | None = None,
) -> EntityDef:
    """An entity declared in a scenario file (real templates always need extending).

    ``generators`` gives a field's value generator; fields without one get their type's
    default (:func:`models.generators.default_gen`)."""
    defs = tuple(FieldDef(f, t, references.get(f)) for f, t in fields.items())
    given = dict(generators or {})
    gens = {f.name: given.get(f.name) or default_gen(f.type, f.references) for f in defs}
    return EntityDef(
        name, f"{name}_id", key_prefix, defs, description="custom entity", generators=gens
    )
