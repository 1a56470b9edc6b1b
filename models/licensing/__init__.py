"""Licences: what each Dynamics 365 licence lets a person do, and the cheapest set per role.

Why a simulation testbed needs this
-----------------------------------
The prospect-to-cash integration copies accounts, products, quotes, orders and invoices
between Sales and Operations. The usual way to avoid conflicting edits is to make one side
read-only, which moves work: the person who used to fix a customer address in Operations
now has to do it in Sales, and needs a licence that allows it. This module answers "which
licences, at what cost" for a role described by the rights its work needs.

Four ideas
----------
**A right** is one thing a user must be allowed to do: ``Right(system, entity, access)``,
for example ``Right("sales", "account", "write")``. Rights are what a role *needs*; the
optimiser turns needs into licences. Access levels (``ACCESS_LEVELS``):

- ``read``: see records of the entity;
- ``write``: create, update or delete them (Microsoft's rules never separate the three, so
  neither do we);
- ``approve``: approve workflow items (purchase requisitions, expenses, timesheets);
- ``self_service``: own time, expenses and HR record;
- ``light_task``: light warehouse, shop-floor or point-of-sale work (pick, pack, receive),
  done by a named Operations Activity user or anonymously on a licensed shared device.

Entities are the testbed's standard ones (``STANDARD_ENTITIES``) and custom entities,
written ``"custom:<name>"`` (``custom_entity("delivery_slot")``). The three task accesses
may name any subject (``Right("operations", "expense", "self_service")``): licences grant
them regardless of the entity, but the name keeps role descriptions readable.

**A price book** (``PriceBook``, built from validated data by ``build_price_book``; the
YAML files are read by ``sim.scenario.pricebooks.load_price_book``) lists the licences
(SKUs) on sale in one era, each with its list price, the confidence and source of that
price, minimum seats, whether it is a user or a device licence, its product line and
edition, how it may be held (base, attach) and the rights it grants. Rights are
*grants*: a system, an entity selector (``all``, ``standard``, ``custom`` or a list),
access levels, and optionally ``max_entities`` (Team Members may write at most 15 custom entities).

**How licences combine** depends on the era (``PriceBook.licensing_model``):

- ``standalone`` (2016 - September 2019): a user may hold several licences side by side,
  each at its full price; the Plans (Plan 1 for all customer engagement apps, Plan 2 for
  everything) are how one licence covered several apps.
- ``base_attach`` (from October 2019): a full user holds exactly one *base* licence, which
  must be the highest list-priced app they hold; every further app is an *attach* licence
  on the same user at a reduced price, and only apps with an attach offer can be attached,
  to a base that accepts attaches. Device licences are never attaches. In every era,
  Enterprise and Professional apps never mix on one user.

A *device* licence belongs to a shared device (a warehouse scanner, a point of sale), not
to a person: anyone working at a licensed device may do what the device licence allows.

**The cheapest compliant assignment** (``cheapest_assignment``) is the least monthly cost
set of licences for one user that is valid under those rules and grants every required
right. It is an exact branch-and-bound search; ``exhaustive_cheapest`` tries every
combination and exists so tests can prove the search optimal. ``cost_roles`` prices a
whole organisation, where minimum seats (Plan 2: 20 users) couple the roles together.

Prices are list prices in US dollars per user (or device) per month on an annual
commitment; every figure is overridable (negotiated discounts are the norm) and the book
remembers which ones were overridden.

Modules (each imports only those above it; nothing here reads files, imports ``sim`` or
simpy):

- ``rights``: ``Right``, the systems, entities and access levels;
- ``pricebook``: the price-book schema (pydantic), ``PriceBook``, ``build_price_book``;
- ``coverage``: which held licence grants which right (``coverage``, ``missing_rights``);
- ``assignment``: one user's licence set (``Assignment``, ``licence_set_problems``);
- ``optimiser``: ``cheapest_assignment`` and its brute-force reference;
- ``costing``: ``cost_roles``, an organisation's bill with minimum seats.
"""

from models.licensing.assignment import Assignment, HeldAs, LicenceLine, licence_set_problems
from models.licensing.costing import (
    CostReport,
    MinSeatsPolicy,
    RoleCost,
    RoleNeed,
    SeatLine,
    cost_roles,
)
from models.licensing.coverage import coverage, missing_rights
from models.licensing.optimiser import (
    NoCompliantAssignment,
    cheapest_assignment,
    compliant_assignments,
    exhaustive_cheapest,
)
from models.licensing.pricebook import (
    AttachOffer,
    BillingUplift,
    Confidence,
    Grant,
    PriceBook,
    PriceBookError,
    PriceBookFile,
    PriceEntry,
    RequestLimits,
    Sku,
    TenantPool,
    build_price_book,
)
from models.licensing.rights import (
    ACCESS_LEVELS,
    CUSTOM_PREFIX,
    RECORD_ACCESS,
    STANDARD_ENTITIES,
    SYSTEMS,
    TASK_ACCESS,
    Right,
    custom_entity,
    is_custom_entity,
    required_rights,
    rights,
)

__all__ = [
    "ACCESS_LEVELS",
    "CUSTOM_PREFIX",
    "RECORD_ACCESS",
    "STANDARD_ENTITIES",
    "SYSTEMS",
    "TASK_ACCESS",
    "Assignment",
    "AttachOffer",
    "BillingUplift",
    "Confidence",
    "CostReport",
    "Grant",
    "HeldAs",
    "LicenceLine",
    "MinSeatsPolicy",
    "NoCompliantAssignment",
    "PriceBook",
    "PriceBookError",
    "PriceBookFile",
    "PriceEntry",
    "RequestLimits",
    "Right",
    "RoleCost",
    "RoleNeed",
    "SeatLine",
    "Sku",
    "TenantPool",
    "build_price_book",
    "cheapest_assignment",
    "compliant_assignments",
    "cost_roles",
    "coverage",
    "custom_entity",
    "exhaustive_cheapest",
    "is_custom_entity",
    "licence_set_problems",
    "missing_rights",
    "required_rights",
    "rights",
]
