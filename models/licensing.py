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

**A price book** (``load_price_book``) lists the licences (SKUs) on sale in one era, each
with its list price, the confidence and source of that price, minimum seats, whether it
is a user or a device licence, its product line and edition, how it may be held (base,
attach) and the rights it grants. Rights are *grants*: a system, an entity selector
(``all``, ``standard``, ``custom`` or a list), access levels, and optionally
``max_entities`` (Team Members may write at most 15 custom entities).

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
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

# ---------------------------------------------------------------------------------------
# Rights
# ---------------------------------------------------------------------------------------

SYSTEMS = ("sales", "operations")
"""``sales``: customer engagement on Dataverse; ``operations``: the former AX (Finance, SCM)."""

STANDARD_ENTITIES = (
    "account",
    "contact",
    "product",
    "bundle",
    "bundle_line",
    "quote",
    "quote_line",
    "order",
    "order_line",
    "invoice",
    "invoice_line",
)
"""The entities the prospect-to-cash flow moves between the systems."""

CUSTOM_PREFIX = "custom:"
RECORD_ACCESS = ("read", "write")
TASK_ACCESS = ("approve", "self_service", "light_task")
ACCESS_LEVELS = RECORD_ACCESS + TASK_ACCESS

_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")
_EPS = 1e-9  # prices are floats; costs closer than this are equal


def custom_entity(name: str) -> str:
    """The entity name of a custom entity: ``custom_entity("delivery_slot")`` is
    ``"custom:delivery_slot"``. The prefix keeps custom entities apart from the standard
    ones, which matters because licences cap how many custom entities a user may write."""
    if not _IDENTIFIER.match(name):
        raise ValueError(f"custom entity name must be lowercase letters, digits, _: {name!r}")
    return CUSTOM_PREFIX + name


def is_custom_entity(entity: str) -> bool:
    return entity.startswith(CUSTOM_PREFIX)


def _valid_entity_name(entity: str) -> bool:
    if is_custom_entity(entity):
        return bool(_IDENTIFIER.match(entity[len(CUSTOM_PREFIX) :]))
    return bool(_IDENTIFIER.match(entity))


@dataclass(frozen=True, order=True)
class Right:
    """One thing a user must be allowed to do: an access level on an entity in a system.

    ``read`` and ``write`` apply to records, so the entity must be a standard testbed
    entity or a ``custom:`` one; the task accesses (``approve``, ``self_service``,
    ``light_task``) accept any lowercase subject name. A role's needs are a frozenset of
    rights; see ``required_rights`` to build one from what the role does.
    """

    system: str
    entity: str
    access: str

    def __post_init__(self) -> None:
        if self.system not in SYSTEMS:
            raise ValueError(f"unknown system {self.system!r}; expected one of {SYSTEMS}")
        if self.access not in ACCESS_LEVELS:
            raise ValueError(f"unknown access {self.access!r}; expected one of {ACCESS_LEVELS}")
        if not isinstance(self.entity, str) or not _valid_entity_name(self.entity):
            raise ValueError(f"bad entity name {self.entity!r}")
        if (
            self.access in RECORD_ACCESS
            and self.entity not in STANDARD_ENTITIES
            and not is_custom_entity(self.entity)
        ):
            raise ValueError(
                f"{self.access} needs a standard entity {STANDARD_ENTITIES} or "
                f"'{CUSTOM_PREFIX}<name>', got {self.entity!r}"
            )

    def __str__(self) -> str:
        return f"{self.access} {self.entity} in {self.system}"


def rights(
    systems: str | Iterable[str],
    entities: Iterable[str] = STANDARD_ENTITIES,
    accesses: str | Iterable[str] = RECORD_ACCESS,
) -> frozenset[Right]:
    """Every combination of the given systems, entities and accesses.

    ``rights("sales")`` is full use of the standard Sales entities (read and write);
    ``rights("operations", accesses="read")`` is a read-only Operations user.
    """
    systems = (systems,) if isinstance(systems, str) else tuple(systems)
    accesses = (accesses,) if isinstance(accesses, str) else tuple(accesses)
    return frozenset(
        Right(system, entity, access)
        for system in systems
        for entity in entities
        for access in accesses
    )


def required_rights(
    actions: Mapping[str, tuple[str, str, str] | Iterable[tuple[str, str, str]]],
) -> frozenset[Right]:
    """The rights a role needs, from what it does.

    ``actions`` maps an action name to the ``(system, entity, access)`` triple it needs,
    or to several triples::

        required_rights({
            "fix customer address": ("sales", "account", "write"),
            "check invoice status": [("operations", "invoice", "read"),
                                     ("operations", "invoice_line", "read")],
        })

    The action names only make error messages point at the culprit.
    """
    needed: set[Right] = set()
    for action, need in actions.items():
        triples = [need] if _is_triple(need) else list(need)
        for triple in triples:
            try:
                system, entity, access = triple
                needed.add(Right(system, entity, access))
            except (TypeError, ValueError) as exc:
                raise ValueError(f"action {action!r}: {exc}") from None
    return frozenset(needed)


def _is_triple(value: object) -> bool:
    return isinstance(value, tuple) and len(value) == 3 and all(isinstance(v, str) for v in value)


# ---------------------------------------------------------------------------------------
# Price-book files (validated with pydantic)
# ---------------------------------------------------------------------------------------

Confidence = Literal["verified", "third_party", "unverified"]
Access = Literal["read", "write", "approve", "self_service", "light_task"]
Price = Annotated[float, Field(ge=0)]
LenientDate = Annotated[date, Field(strict=False)]  # accept quoted "2019-10-01" too


class _Record(BaseModel):
    # strict: a price written "95" (a string) is an error, not silently a number
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Grant(_Record):
    """Rights a licence grants: ``access`` on the selected entities of one system.

    ``entities`` is ``all`` (anything, including custom entities and task subjects),
    ``standard`` (the testbed's entities), ``custom`` (``custom:`` entities) or a list of
    entity names. ``max_entities`` caps how many distinct entities the grant covers for
    one user (the Team Members cap of 15 custom entities); a capped grant has exactly one
    access level so the cap counts entities.
    """

    system: Literal["sales", "operations"]
    entities: Literal["all", "standard", "custom"] | list[str]
    access: Literal["all"] | list[Access] = Field(min_length=1)
    max_entities: int | None = Field(default=None, ge=1)
    note: str = ""

    @field_validator("entities")
    @classmethod
    def _entity_names(cls, value: str | list[str]) -> str | list[str]:
        if isinstance(value, list):
            bad = [name for name in value if not _valid_entity_name(name)]
            if bad:
                raise ValueError(f"bad entity names {bad}")
            if not value:
                raise ValueError("empty entity list")
        return value

    @model_validator(mode="after")
    def _cap_counts_entities(self) -> Grant:
        if self.max_entities is not None and len(self.accesses) != 1:
            raise ValueError("a grant with max_entities must list exactly one access level")
        return self

    @property
    def accesses(self) -> tuple[str, ...]:
        return ACCESS_LEVELS if self.access == "all" else tuple(self.access)

    def covers(self, right: Right) -> bool:
        """Whether this grant, ignoring its cap, allows ``right``."""
        if right.system != self.system or right.access not in self.accesses:
            return False
        if self.entities == "all":
            return True
        if self.entities == "standard":
            return right.entity in STANDARD_ENTITIES
        if self.entities == "custom":
            return is_custom_entity(right.entity)
        return right.entity in self.entities


class AttachOffer(_Record):
    """The reduced price of an app held as an attach on a qualifying base."""

    price_usd_month: Price
    confidence: Confidence
    source: str = Field(min_length=1)


class Sku(_Record):
    """One licence on sale: its price and provenance, how it may be held, what it grants.

    ``base``: may be held at full price as a user's base (in the standalone era: on its
    own). ``attach``: the offer to hold it as an attach, or null if it never can be.
    ``accepts_attaches``: other apps may be attached to it (a qualifying base).
    ``requests_per_day``: Power Platform requests per licence per rolling 24 h; only
    licences held at full price carry it (attaches add nothing).
    ``available_from``/``available_until`` (inclusive) bound when the SKU was on sale
    inside its era; the book's ``as_of`` date picks the SKUs on sale.
    """

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str = Field(min_length=1)
    price_usd_month: Price
    confidence: Confidence
    source: str = Field(min_length=1)
    min_seats: int = Field(default=1, ge=1)
    kind: Literal["user", "device"]
    product_line: Literal["customer_engagement", "operations", "all"]
    edition: Literal["enterprise", "professional", "none"]
    base: bool
    accepts_attaches: bool = False
    attach: AttachOffer | None = None
    requests_per_day: int = Field(ge=0)
    rights: list[Grant]
    available_from: LenientDate | None = None
    available_until: LenientDate | None = None
    notes: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> Sku:
        if self.kind == "device":
            if self.attach is not None:
                raise ValueError(f"{self.id}: device licences cannot be attaches")
            if self.base or self.accepts_attaches:
                raise ValueError(f"{self.id}: a device licence is not a user's base")
        elif not self.base and self.attach is None:
            raise ValueError(f"{self.id}: a user licence must be a base, an attach, or both")
        if self.accepts_attaches and not self.base:
            raise ValueError(f"{self.id}: accepts_attaches needs base: true")
        if (
            self.available_from is not None
            and self.available_until is not None
            and self.available_from > self.available_until
        ):
            raise ValueError(f"{self.id}: available_from is after available_until")
        return self

    def on_sale(self, day: date) -> bool:
        return (self.available_from is None or self.available_from <= day) and (
            self.available_until is None or day <= self.available_until
        )


class TenantPool(_Record):
    """Requests per 24 h shared by application and integration users that hold no
    licence (the sync's own identities): a base, plus an amount per base licence held in
    the tenant, up to a maximum. ``capacity_addon_requests_per_day`` is what one
    purchased capacity add-on adds."""

    base_requests_per_day: int = Field(ge=0)
    per_base_licence_requests_per_day: int = Field(ge=0)
    max_requests_per_day: int | None = Field(ge=0)
    capacity_addon_requests_per_day: int = Field(ge=0)


class RequestLimits(_Record):
    source: str = Field(min_length=1)
    note: str = ""
    tenant_pool: TenantPool


class BillingUplift(_Record):
    """Surcharge on an annual commitment billed monthly instead of paid up front."""

    since: LenientDate
    fraction: float = Field(ge=0, le=1)
    source: str = Field(min_length=1)


class PriceBookFile(_Record):
    """The schema of one ``scenarios/pricebooks/*.yaml`` file."""

    era: str = Field(min_length=1)
    title: str = Field(min_length=1)
    period: str = Field(min_length=1)
    valid_from: LenientDate
    valid_until: LenientDate | None
    as_of: LenientDate
    licensing_model: Literal["standalone", "base_attach"]
    currency: Literal["USD"]
    monthly_billing_uplift: BillingUplift | None = None
    requests: RequestLimits
    skus: list[Sku] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> PriceBookFile:
        ids = [sku.id for sku in self.skus]
        duplicates = sorted({sku_id for sku_id in ids if ids.count(sku_id) > 1})
        if duplicates:
            raise ValueError(f"duplicate SKU ids {duplicates}")
        if self.licensing_model == "standalone":
            attachable = [sku.id for sku in self.skus if sku.attach or sku.accepts_attaches]
            if attachable:
                raise ValueError(
                    f"attach offers exist only under licensing_model base_attach: {attachable}"
                )
        return self


class PriceBookError(ValueError):
    """A price book that cannot be loaded: the message names the file, line and field."""


class NoCompliantAssignment(ValueError):
    """No set of licences in the book grants every required right."""


_YamlLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)



@dataclass(frozen=True)
class PriceBook:
    """The licences on sale on one date (``as_of``) of one era, with prices after overrides.

    ``skus`` holds only the SKUs on sale at ``as_of`` (so a 2017 book as of October 2018
    has the 8 USD Team Members, not the 40 USD launch version). ``overridden`` maps each
    overridden price key (a SKU id, or ``"<id>.attach"`` for an attach price) to its
    ``(old, new)`` prices. ``billing_uplift_fraction`` is the monthly-billing surcharge
    included in every price this book returns (0 unless loaded with
    ``billed_monthly=True`` on a date the surcharge applied).
    """

    era: str
    title: str
    as_of: date
    licensing_model: Literal["standalone", "base_attach"]
    skus: tuple[Sku, ...] = field(repr=False)
    list_prices_usd_month: Mapping[str, float] = field(repr=False)
    overridden: dict[str, tuple[float, float]]
    requests: RequestLimits = field(repr=False)
    billed_monthly: bool = False
    billing_uplift_fraction: float = 0.0
    path: Path | None = None
    _by_id: Mapping[str, Sku] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {sku.id: sku for sku in self.skus})

    def sku(self, sku_id: str) -> Sku:
        try:
            return self._by_id[sku_id]
        except KeyError:
            raise KeyError(
                f"{sku_id!r} is not on sale in price book {self.era} as of {self.as_of}; "
                f"on sale: {sorted(self._by_id)}"
            ) from None

    def has(self, sku_id: str) -> bool:
        return sku_id in self._by_id

    def price_usd_month(self, sku_id: str, held_as: str = "base") -> float:
        """What one seat costs per month when held as ``base``, ``standalone``, ``device``
        or ``attach``, after overrides and any monthly-billing surcharge."""
        sku = self.sku(sku_id)
        if held_as == "attach":
            if sku.attach is None:
                raise ValueError(f"{sku_id} has no attach offer")
            price = sku.attach.price_usd_month
        else:
            price = sku.price_usd_month
        return price * (1.0 + self.billing_uplift_fraction)

    def list_price_usd_month(self, sku_id: str) -> float:
        """The file's price, before overrides. The base + attach rule ("the base is the
        highest-priced app") compares these: a negotiated discount changes what you pay,
        not which licence is the base."""
        return self.list_prices_usd_month[sku_id]

    def with_overrides(self, overrides: Mapping[str, float]) -> PriceBook:
        """A copy with negotiated prices: ``{"finance": 150.0}`` sets a SKU's full price,
        ``{"sales_enterprise.attach": 15.0}`` its attach price. ``overridden`` records each
        change as ``(old, new)``, old being the file's price even after several overrides."""
        skus = dict(self._by_id)
        overridden = dict(self.overridden)
        where = self.path or self.era
        for key, new_price in overrides.items():
            sku_id, _, part = key.partition(".")
            if part not in ("", "attach"):
                raise PriceBookError(f"override {key!r}: write '<sku id>' or '<sku id>.attach'")
            if sku_id not in self.list_prices_usd_month:
                raise PriceBookError(
                    f"override {key!r}: no SKU {sku_id!r} in {where}; "
                    f"SKUs: {sorted(self.list_prices_usd_month)}"
                )
            if sku_id not in skus:
                raise PriceBookError(
                    f"override {key!r}: {sku_id} is not on sale as of {self.as_of}"
                )
            if isinstance(new_price, bool) or not isinstance(new_price, int | float):
                raise PriceBookError(f"override {key!r}: price must be a number, got {new_price!r}")
            if not math.isfinite(new_price) or new_price < 0:
                raise PriceBookError(f"override {key!r}: price must be >= 0, got {new_price!r}")
            sku = skus[sku_id]
            if part == "attach":
                if sku.attach is None:
                    raise PriceBookError(f"override {key!r}: {sku_id} has no attach offer")
                old = sku.attach.price_usd_month
                attach = sku.attach.model_copy(update={"price_usd_month": float(new_price)})
                skus[sku_id] = sku.model_copy(update={"attach": attach})
            else:
                old = sku.price_usd_month
                skus[sku_id] = sku.model_copy(update={"price_usd_month": float(new_price)})
            overridden[key] = (overridden.get(key, (old, old))[0], float(new_price))
        if not overrides:
            return self
        return dataclasses.replace(self, skus=tuple(skus.values()), overridden=overridden)

    @property
    def user_skus(self) -> tuple[Sku, ...]:
        return tuple(sku for sku in self.skus if sku.kind == "user")

    @property
    def device_skus(self) -> tuple[Sku, ...]:
        return tuple(sku for sku in self.skus if sku.kind == "device")


def load_price_book(
    path: str | Path,
    overrides: Mapping[str, float] | None = None,
    *,
    as_of: date | None = None,
    billed_monthly: bool = False,
) -> PriceBook:
    """Load and validate one price-book file (the schema of ``scenarios/pricebooks/``).

    This module knows no file locations: :func:`sim.catalogue.load_price_book` turns an
    era name (``"2017"``, ``"2019"``, ``"current"``) into the file shipped with the package,
    and a scenario's relative path into one beside the scenario, then calls this.

    ``overrides`` replaces prices: ``{"finance": 150.0}`` sets a SKU's full price,
    ``{"sales_enterprise.attach": 15.0}`` its attach price. Every change is recorded in
    ``PriceBook.overridden`` as ``(old, new)``. ``as_of`` (default: the file's) picks the
    SKUs on sale and must lie in the era. ``billed_monthly`` applies the file's
    monthly-billing surcharge if it was in force on ``as_of`` (current era: +5% since
    April 2025); before that date billing monthly cost nothing extra.

    Raises ``PriceBookError`` naming the file, line and field of every problem found.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PriceBookError(f"{path}: cannot read price book: {exc}") from None
    try:
        data = yaml.load(text, Loader=_YamlLoader)
    except yaml.YAMLError as exc:
        raise PriceBookError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise PriceBookError(f"{path}:1: a price book is a mapping (era, skus, ...)")
    try:
        parsed = PriceBookFile.model_validate(data)
    except ValidationError as exc:
        root = yaml.compose(text, Loader=_YamlLoader)  # the node tree knows line numbers
        raise PriceBookError(_describe_errors(exc, path, root, data)) from None
    return _build_price_book(parsed, path, overrides or {}, as_of, billed_monthly)


def _build_price_book(
    parsed: PriceBookFile,
    path: Path,
    overrides: Mapping[str, float],
    as_of: date | None,
    billed_monthly: bool,
) -> PriceBook:
    day = parsed.as_of if as_of is None else as_of
    if day < parsed.valid_from or (parsed.valid_until is not None and day > parsed.valid_until):
        until = parsed.valid_until or "now"
        raise PriceBookError(
            f"{path}: as_of {day} is outside era {parsed.era} ({parsed.valid_from} .. {until})"
        )
    on_sale = tuple(sku for sku in parsed.skus if sku.on_sale(day))
    uplift = parsed.monthly_billing_uplift
    fraction = uplift.fraction if billed_monthly and uplift and day >= uplift.since else 0.0
    return PriceBook(
        era=parsed.era,
        title=parsed.title,
        as_of=day,
        licensing_model=parsed.licensing_model,
        skus=on_sale,
        list_prices_usd_month={sku.id: sku.price_usd_month for sku in parsed.skus},
        overridden={},
        requests=parsed.requests,
        billed_monthly=billed_monthly,
        billing_uplift_fraction=fraction,
        path=path,
    ).with_overrides(overrides)


def _describe_errors(exc: ValidationError, path: Path, root: yaml.Node, data: dict) -> str:
    """Turn pydantic's errors into one line per field: ``file:line: field (sku): problem``."""
    problems: dict[tuple[int, str], list[str]] = {}
    for error in exc.errors():
        walked, line = _locate(root, error["loc"])
        field_name = "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in walked
        ).lstrip(".")
        if len(walked) >= 2 and walked[0] == "skus" and isinstance(walked[1], int):
            skus = data.get("skus")
            sku = skus[walked[1]] if isinstance(skus, list) and walked[1] < len(skus) else None
            if isinstance(sku, dict) and isinstance(sku.get("id"), str):
                field_name += f" (SKU {sku['id']})"
        if error["type"] == "extra_forbidden":
            message = "unknown key"
        elif error["type"] == "missing":
            message = "required key is missing"
        else:
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] not in ("value_error", "assertion_error"):
                message += f" (got {error['input']!r})"
        messages = problems.setdefault((line, field_name or "(top level)"), [])
        if message not in messages:
            messages.append(message)
    lines = [
        f"{path}:{line}: {name}: {' / '.join(msgs)}" for (line, name), msgs in problems.items()
    ]
    return f"invalid price book {path}\n" + "\n".join(lines)


def _locate(root: yaml.Node, loc: Sequence[int | str]) -> tuple[list[int | str], int]:
    """Follow an error location through the YAML node tree: the part of it that exists in
    the file, and the 1-based line where it points (a missing key: its parent's line)."""
    node, line, walked = root, root.start_mark.line + 1, []
    for part in loc:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            walked.append(part)
            for key, value in node.value:
                if key.value == part:
                    node, line = value, key.start_mark.line + 1
                    break
            else:
                break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                break
            walked.append(part)
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break  # pydantic's union-member tags ("list[str]") have no place in the file
    return walked, line


# ---------------------------------------------------------------------------------------
# Coverage: do these licences grant those rights?
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Reach:
    """What one SKU can contribute to one requirement: the required rights it grants
    without a cap, and per capped grant (cap, rights it could take)."""

    sku: Sku
    free: frozenset[Right]
    capped: tuple[tuple[int, frozenset[Right]], ...]
    any: frozenset[Right]


def _reach(sku: Sku, required: frozenset[Right]) -> _Reach:
    free: set[Right] = set()
    capped = []
    for grant in sku.rights:
        granted = frozenset(right for right in required if grant.covers(right))
        if grant.max_entities is None:
            free |= granted
        elif granted:
            capped.append((grant.max_entities, granted))
    free_rights = frozenset(free)
    everything = free_rights.union(*(granted for _, granted in capped))
    return _Reach(sku, free_rights, tuple(capped), everything)


def _match(
    reaches: Sequence[_Reach], required: frozenset[Right]
) -> tuple[dict[Right, str], frozenset[Right]]:
    """Assign every required right to a held SKU: ``(right -> SKU id, rights left over)``.

    A right granted without a cap goes to the first SKU that grants it (so the base is
    credited before its attaches). Rights only capped grants can give are a bipartite
    b-matching problem (each capped grant takes at most ``cap`` rights), solved exactly with
    augmenting paths; whatever the maximum matching leaves over cannot be covered.
    """
    covered: dict[Right, str] = {}
    pending: list[Right] = []
    for right in sorted(required):
        owner = next((reach.sku.id for reach in reaches if right in reach.free), None)
        if owner is None:
            pending.append(right)
        else:
            covered[right] = owner
    if not pending:
        return covered, frozenset()
    slots = [(reach.sku.id, cap, granted) for reach in reaches for cap, granted in reach.capped]
    options = {right: [i for i, slot in enumerate(slots) if right in slot[2]] for right in pending}
    load: list[list[Right]] = [[] for _ in slots]

    def augment(right: Right, seen: set[int]) -> bool:
        for i in options[right]:
            if i in seen:
                continue
            seen.add(i)
            if len(load[i]) < slots[i][1]:
                load[i].append(right)
                return True
            for k, other in enumerate(load[i]):
                if augment(other, seen):  # `other` moved to another slot
                    load[i][k] = right
                    return True
        return False

    left_over = frozenset(right for right in pending if not augment(right, set()))
    for i, taken in enumerate(load):
        for right in taken:
            covered[right] = slots[i][0]
    return covered, left_over


def coverage(
    book: PriceBook, sku_ids: Iterable[str], required: Iterable[Right]
) -> dict[Right, str] | None:
    """Which held SKU grants each required right, or None if some right is not granted.

    This is the compliance question the simulation asks before a user acts ("may a
    Team Members user write this account?"). Base + attach validity is a separate check,
    ``licence_set_problems``.
    """
    required = frozenset(required)
    reaches = [_reach(book.sku(sku_id), required) for sku_id in sku_ids]
    covered, left_over = _match(reaches, required)
    return None if left_over else covered


def missing_rights(
    book: PriceBook, sku_ids: Iterable[str], required: Iterable[Right]
) -> frozenset[Right]:
    """The required rights the held SKUs cannot grant (empty if compliant). When a cap
    overflows (16 custom entities on Team Members), the rights left out are an arbitrary
    but deterministic choice among the capped ones."""
    required = frozenset(required)
    reaches = [_reach(book.sku(sku_id), required) for sku_id in sku_ids]
    return _match(reaches, required)[1]


# ---------------------------------------------------------------------------------------
# Assignments: a valid licence set for one user
# ---------------------------------------------------------------------------------------

HeldAs = Literal["base", "attach", "standalone", "device"]


@dataclass(frozen=True)
class LicenceLine:
    """One licence in an assignment: the SKU, how it is held and its monthly price (per
    user; for a device licence, per device)."""

    sku_id: str
    held_as: HeldAs
    price_usd_month: float


@dataclass(frozen=True)
class Assignment:
    """The licences one user holds, what they cost, and which licence grants which right.

    In the base + attach eras ``base`` and ``attaches`` are set (a Team Members or Activity
    user holds that licence as their base, alone); in the standalone era every licence is
    in ``standalone``. ``device`` is a shared-device licence the user works at, shared by
    ``users_per_device`` people, so the user's share of its price is
    ``price / users_per_device``. ``requests_per_day`` is the user's daily request
    entitlement from their own licences: licences held at full price count, attaches add
    nothing, and licences of one product line count once (the largest).
    """

    base: str | None
    attaches: tuple[str, ...]
    standalone: tuple[str, ...]
    device: str | None
    users_per_device: float | None
    lines: tuple[LicenceLine, ...]
    cost_usd_month: float
    covered_by: Mapping[Right, str] = field(repr=False)
    requests_per_day: int
    device_requests_per_day: int

    @property
    def skus(self) -> tuple[str, ...]:
        """The user licences held (not the device)."""
        return ((self.base,) if self.base else ()) + self.attaches + self.standalone

    @property
    def covers(self) -> dict[str, frozenset[Right]]:
        """For each held SKU, the required rights it is credited with."""
        by_sku: dict[str, set[Right]] = {line.sku_id: set() for line in self.lines}
        for right, sku_id in self.covered_by.items():
            by_sku[sku_id].add(right)
        return {sku_id: frozenset(granted) for sku_id, granted in by_sku.items()}

    def describe(self) -> str:
        """``"finance (base 180) + sales_enterprise (attach 20) = 200/month"``."""
        if not self.lines:
            return "no licence = 0/month"
        parts = []
        for line in self.lines:
            if line.held_as == "device":
                parts.append(
                    f"{line.sku_id} (device {_money(line.price_usd_month)}"
                    f" / {_money(self.users_per_device or 1)} users)"
                )
            else:
                parts.append(f"{line.sku_id} ({line.held_as} {_money(line.price_usd_month)})")
        return " + ".join(parts) + f" = {_money(self.cost_usd_month)}/month"


def _money(value: float) -> str:
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def licence_set_problems(
    book: PriceBook,
    *,
    base: str | None = None,
    attaches: Sequence[str] = (),
    standalone: Sequence[str] = (),
    device: str | None = None,
) -> list[str]:
    """Why this licence set is not valid for one user in this book (empty list: valid).

    Checks the combination rules only, not rights (see ``coverage``): SKUs on sale; device
    licences only as the device, never held by a user nor attached; in base + attach
    eras one base that accepts attaches, attaches that have an attach offer and list no
    higher than the base; in the standalone era no base/attach at all; never Enterprise
    and Professional on one user.
    """
    problems = []
    named = [*([base] if base else []), *attaches, *standalone, *([device] if device else [])]
    unknown = [sku_id for sku_id in named if not book.has(sku_id)]
    if unknown:
        return [f"{sku_id} is not on sale in {book.era} as of {book.as_of}" for sku_id in unknown]
    user_ids = [*([base] if base else []), *attaches, *standalone]
    if len(set(user_ids)) != len(user_ids):
        problems.append(f"a licence is held twice: {user_ids}")
    if device and book.sku(device).kind != "device":
        problems.append(f"{device} is a user licence, not a device licence")
    for sku_id in user_ids:
        if book.sku(sku_id).kind == "device":
            problems.append(f"{sku_id} is a device licence: held by a device, never by a user")
    if book.licensing_model == "base_attach":
        if standalone:
            problems.append("base + attach era: a user holds one base and attaches, no more")
        if base and not book.sku(base).base:
            problems.append(f"{base} cannot be a base licence")
        if attaches and base is None:
            problems.append("attach licences need a base licence on the same user")
        if attaches and base and not book.sku(base).accepts_attaches:
            problems.append(f"{base} accepts no attach licences")
        for sku_id in attaches:
            if book.sku(sku_id).attach is None:
                problems.append(f"{sku_id} has no attach offer")
            if base and book.list_price_usd_month(sku_id) > book.list_price_usd_month(base):
                problems.append(
                    f"the base must be the highest-priced app: {sku_id} lists at "
                    f"{_money(book.list_price_usd_month(sku_id))}, more than base {base} at "
                    f"{_money(book.list_price_usd_month(base))}"
                )
    else:
        if base or attaches:
            problems.append("standalone era: no base/attach, every licence at its full price")
        for sku_id in standalone:
            if not book.sku(sku_id).base:
                problems.append(f"{sku_id} cannot be held on its own")
    editions = {book.sku(sku_id).edition for sku_id in user_ids}
    if {"enterprise", "professional"} <= editions:
        problems.append(f"Enterprise and Professional apps do not mix on one user: {user_ids}")
    return problems


def _assemble(
    book: PriceBook,
    required: frozenset[Right],
    *,
    base: str | None = None,
    attaches: Sequence[str] = (),
    standalone: Sequence[str] = (),
    device: str | None = None,
    users_per_device: float | None = None,
) -> Assignment | None:
    """The assignment for this licence set, or None if it leaves a right uncovered.
    Attaches and standalone licences are sorted by id, whatever order the search found
    them in, so equal sets make equal assignments."""
    attaches, standalone = sorted(attaches), sorted(standalone)
    lines = [
        *([LicenceLine(base, "base", book.price_usd_month(base))] if base else []),
        *(LicenceLine(s, "attach", book.price_usd_month(s, "attach")) for s in attaches),
        *(LicenceLine(s, "standalone", book.price_usd_month(s)) for s in standalone),
        *([LicenceLine(device, "device", book.price_usd_month(device))] if device else []),
    ]
    reaches = [_reach(book.sku(line.sku_id), required) for line in lines]
    covered, left_over = _match(reaches, required)
    if left_over:
        return None
    cost = sum(line.price_usd_month for line in lines if line.held_as != "device")
    if device:
        cost += book.price_usd_month(device) / (users_per_device or 1.0)
    per_line: dict[str, int] = {}
    for line in lines:
        if line.held_as in ("base", "standalone"):
            sku = book.sku(line.sku_id)
            per_line[sku.product_line] = max(
                per_line.get(sku.product_line, 0), sku.requests_per_day
            )
    return Assignment(
        base=base,
        attaches=tuple(attaches),
        standalone=tuple(standalone),
        device=device,
        users_per_device=users_per_device if device else None,
        lines=tuple(lines),
        cost_usd_month=cost,
        covered_by=covered,
        requests_per_day=sum(per_line.values()),
        device_requests_per_day=book.sku(device).requests_per_day if device else 0,
    )


def _preference(assignment: Assignment, book: PriceBook) -> tuple:
    """Order between assignments: cheaper, then fewer licences, then fewer minimum seats
    to fill, then by SKU ids (so ties resolve the same way in every search)."""
    ids = tuple(line.sku_id for line in assignment.lines)
    min_seats = sum(book.sku(sku_id).min_seats for sku_id in ids)
    return (round(assignment.cost_usd_month, 6), len(ids), min_seats, ids)


# ---------------------------------------------------------------------------------------
# The cheapest compliant assignment for one user
# ---------------------------------------------------------------------------------------


def cheapest_assignment(
    required: Iterable[Right],
    book: PriceBook,
    *,
    users_per_device: float | None = None,
) -> Assignment:
    """The least-cost valid licence set for one user that grants every required right.

    Minimum seats are a tenant-wide rule and are ignored here (``cost_roles`` applies
    them). Device licences are considered only if the user works at a shared device:
    ``users_per_device`` people share each one.

    The search is exact. For every possible base (in the standalone era: none) it grows
    a set of licences by depth-first search: if the set does not yet cover the rights,
    some licence that grants one of the still-missing rights must be added (any other
    addition leaves the same gap), so only those are tried, in increasing price order and
    never before a licence already skipped at that depth; a branch stops as soon as its
    cost exceeds the best found. Every least-cost set is reachable this way because in a
    least-cost set with nothing removable each licence, added in that order, grants a
    right still missing at that point. ``exhaustive_cheapest`` checks this claim.

    Raises ``NoCompliantAssignment`` if no licence set in the book covers the rights.
    """
    required = _as_rights(required)
    best = _search(required, book, users_per_device=users_per_device)
    if best is None:
        raise NoCompliantAssignment(_no_assignment_message(required, book))
    return best


def _search(
    required: frozenset[Right],
    book: PriceBook,
    *,
    users_per_device: float | None,
    allowed: frozenset[str] | None = None,
    forced: frozenset[str] = frozenset(),
) -> Assignment | None:
    """Branch and bound over licence sets using only ``allowed`` SKUs and holding every
    SKU in ``forced`` (``cost_roles`` uses both to price minimum-seat choices)."""
    usable = [sku for sku in book.skus if allowed is None or sku.id in allowed]
    reach = {sku.id: _reach(sku, required) for sku in usable}
    devices = [sku for sku in usable if sku.kind == "device"] if users_per_device else []
    device_ids = {sku.id for sku in devices}
    best: list[Assignment] = []

    def record(
        base: str | None, attaches: list[str], standalone: list[str], device: str | None
    ) -> None:
        candidate = _assemble(
            book,
            required,
            base=base,
            attaches=attaches,
            standalone=standalone,
            device=device,
            users_per_device=users_per_device,
        )
        assert candidate is not None  # the caller checked coverage
        if not best or _preference(candidate, book) < _preference(best[0], book):
            best[:] = [candidate]

    def bound_usd_month() -> float:
        return best[0].cost_usd_month + _EPS if best else math.inf

    # An option is (sku id, held as, price for this user); options are tried cheapest first.
    Option = tuple[str, str, float]

    def grow(chosen: list[Option], cost: float, options: list[Option], start: int) -> None:
        reaches = [reach[sku_id] for sku_id, _, _ in chosen]
        missing = required.difference(*(r.free for r in reaches))
        if not missing or not _match(reaches, missing)[1]:
            record(
                next((s for s, held, _ in chosen if held == "base"), None),
                [s for s, held, _ in chosen if held == "attach"],
                [s for s, held, _ in chosen if held == "standalone"],
                next((s for s, held, _ in chosen if held == "device"), None),
            )
            return
        editions = {book.sku(s).edition for s, held, _ in chosen if held != "device"}
        has_device = any(held == "device" for _, held, _ in chosen)
        for i in range(start, len(options)):
            sku_id, held_as, price = options[i]
            if cost + price > bound_usd_month():
                break
            if not reach[sku_id].any & missing:
                continue
            if held_as == "device" and has_device:
                continue
            if held_as != "device" and _mixes_editions(editions, book.sku(sku_id).edition):
                continue
            grow([*chosen, options[i]], cost + price, options, i + 1)

    device_options: list[Option] = [
        (sku.id, "device", book.price_usd_month(sku.id) / users_per_device) for sku in devices
    ]
    starts: list[tuple[list[Option], list[Option]]] = []
    if book.licensing_model == "base_attach":
        for base in usable:
            if base.kind != "user" or not base.base:
                continue
            attachable = {
                sku.id
                for sku in usable
                if base.accepts_attaches
                and sku.kind == "user"
                and sku.id != base.id
                and sku.attach is not None
                and book.list_price_usd_month(sku.id) <= book.list_price_usd_month(base.id)
                and not _mixes_editions({base.edition}, sku.edition)
            }
            if not forced - {base.id} <= attachable | device_ids:
                continue
            chosen: list[Option] = [(base.id, "base", book.price_usd_month(base.id))]
            chosen += [
                _forced_option(book, s, "device" if s in device_ids else "attach", users_per_device)
                for s in sorted(forced - {base.id})
            ]
            options = [
                (s, "attach", book.price_usd_month(s, "attach")) for s in attachable - forced
            ]
            starts.append((chosen, options))
        if forced <= device_ids:  # no user licence at all: everything done at the device
            starts.append(
                ([_forced_option(book, s, "device", users_per_device) for s in sorted(forced)], [])
            )
    else:
        user_ids = {sku.id for sku in usable if sku.kind == "user" and sku.base}
        if forced <= user_ids | device_ids:
            chosen = [
                _forced_option(
                    book, s, "device" if s in device_ids else "standalone", users_per_device
                )
                for s in sorted(forced)
            ]
            options = [(s, "standalone", book.price_usd_month(s)) for s in user_ids - forced]
            starts.append((chosen, options))
    for chosen, options in starts:
        held = [s for s, held_as, _ in chosen if held_as != "device"]
        editions = {book.sku(s).edition for s in held}
        if {"enterprise", "professional"} <= editions:
            continue
        if sum(1 for _, held_as, _ in chosen if held_as == "device") > 1:
            continue
        options = sorted(
            options + [o for o in device_options if o[0] not in forced],
            key=lambda option: (option[2], option[0]),
        )
        cost = sum(price for _, _, price in chosen)
        if cost <= bound_usd_month():
            grow(chosen, cost, options, 0)
    return best[0] if best else None


def _forced_option(
    book: PriceBook, sku_id: str, held_as: str, users_per_device: float | None
) -> tuple[str, str, float]:
    if held_as == "device":
        return sku_id, held_as, book.price_usd_month(sku_id) / (users_per_device or 1.0)
    return sku_id, held_as, book.price_usd_month(sku_id, held_as)


def _mixes_editions(editions: set[str], edition: str) -> bool:
    return {"enterprise", "professional"} <= editions | {edition}


def _as_rights(required: Iterable[Right]) -> frozenset[Right]:
    required = frozenset(required)
    for right in required:
        if not isinstance(right, Right):
            raise TypeError(f"required rights must be Right objects, got {right!r}")
    return required


def _no_assignment_message(required: frozenset[Right], book: PriceBook) -> str:
    everything = [_reach(sku, required) for sku in book.skus]
    nobody = sorted(right for right in required if not any(right in r.any for r in everything))
    if nobody:
        listed = ", ".join(str(right) for right in nobody)
        return f"no licence in price book {book.era} (as of {book.as_of}) grants: {listed}"
    return (
        f"no valid licence set in price book {book.era} (as of {book.as_of}) grants all of "
        f"{sorted(str(r) for r in required)} together"
    )


def compliant_assignments(
    required: Iterable[Right],
    book: PriceBook,
    *,
    users_per_device: float | None = None,
) -> Iterator[Assignment]:
    """Every valid licence set for one user that covers ``required``, by brute force:
    every subset of the user licences, every choice of base among them, with or without
    each device licence, checked with ``licence_set_problems`` and ``coverage``.
    Exponential in the number of SKUs (a book has about ten): for tests and for showing
    the alternatives to a choice."""
    required = _as_rights(required)
    user_ids = [sku.id for sku in book.user_skus]
    device_choices: list[str | None] = [None]
    if users_per_device:
        device_choices += [sku.id for sku in book.device_skus]
    for size in range(len(user_ids) + 1):
        for subset in itertools.combinations(user_ids, size):
            if book.licensing_model == "standalone":
                layouts = [(None, (), subset)]
            elif not subset:
                layouts = [(None, (), ())]
            else:
                layouts = [(base, tuple(s for s in subset if s != base), ()) for base in subset]
            for base, attaches, standalone in layouts:
                for device in device_choices:
                    if licence_set_problems(
                        book, base=base, attaches=attaches, standalone=standalone, device=device
                    ):
                        continue
                    assignment = _assemble(
                        book,
                        required,
                        base=base,
                        attaches=attaches,
                        standalone=standalone,
                        device=device,
                        users_per_device=users_per_device,
                    )
                    if assignment is not None:
                        yield assignment


def exhaustive_cheapest(
    required: Iterable[Right],
    book: PriceBook,
    *,
    users_per_device: float | None = None,
) -> Assignment:
    """The cheapest of ``compliant_assignments``: the slow reference ``cheapest_assignment``
    is tested against (same tie-breaking, so both return the same assignment)."""
    required = _as_rights(required)
    best = min(
        compliant_assignments(required, book, users_per_device=users_per_device),
        key=lambda assignment: _preference(assignment, book),
        default=None,
    )
    if best is None:
        raise NoCompliantAssignment(_no_assignment_message(required, book))
    return best


# ---------------------------------------------------------------------------------------
# Costing an organisation: roles, seats, minimum seats, request entitlements
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RoleNeed:
    """A role to license: how many people, the rights each needs, how many shared devices
    they work at (0: none; device licences then are not an option), and optionally the
    requests each user makes per day, to compare with their entitlement."""

    headcount: int
    required: frozenset[Right]
    devices: int = 0
    requests_per_user_per_day: float | None = None

    def __post_init__(self) -> None:
        if isinstance(self.headcount, bool) or not isinstance(self.headcount, int):
            raise TypeError(f"headcount must be an int, got {self.headcount!r}")
        if self.headcount < 0 or self.devices < 0:
            raise ValueError("headcount and devices must be >= 0")
        object.__setattr__(self, "required", _as_rights(self.required))

    @property
    def users_per_device(self) -> float | None:
        return self.headcount / self.devices if self.devices and self.headcount else None


@dataclass(frozen=True)
class RoleCost:
    """One role's licences: the per-user assignment, the role's monthly cost (before any
    minimum-seat padding, which is a tenant-wide cost) and its request budget per user
    (own licences plus an equal share of the devices' entitlement)."""

    role: str
    headcount: int
    devices: int
    assignment: Assignment
    cost_usd_month: float
    requests_entitled_per_user_per_day: float
    requests_per_user_per_day: float | None

    @property
    def over_entitlement(self) -> bool:
        used = self.requests_per_user_per_day
        return used is not None and used > self.requests_entitled_per_user_per_day + _EPS


@dataclass(frozen=True)
class SeatLine:
    """Seats of one SKU held one way (base, attach, standalone, device) across roles.
    ``seats_paid`` exceeds ``used`` when a minimum-seat rule forced unused seats."""

    sku_id: str
    held_as: HeldAs
    used: int
    seats_paid: int
    price_usd_month: float
    cost_usd_month: float

    @property
    def unused_seats(self) -> int:
        return self.seats_paid - self.used


@dataclass(frozen=True)
class CostReport:
    """What an organisation's licences cost under one price book.

    ``cost_usd_month`` includes minimum-seat padding (``padding_usd_month``);
    ``cost_usd_year`` is twelve months. Requests: ``requests_entitled_per_day`` is the sum
    of every user's and device's own entitlement, ``requests_used_per_day`` the sum of the
    given consumption (None if no role gave one); integration and application users draw
    on the tenant pool (``pool_requests_per_day``) instead.
    """

    era: str
    as_of: date
    billed_monthly: bool
    min_seats_policy: str
    roles: tuple[RoleCost, ...]
    seats: tuple[SeatLine, ...]
    padding_usd_month: float
    cost_usd_month: float
    cost_usd_year: float
    requests_entitled_per_day: float
    requests_used_per_day: float | None
    pool_requests_per_day: int
    integration_requests_per_day: float
    overridden: dict[str, tuple[float, float]]

    def role(self, name: str) -> RoleCost:
        return next(role for role in self.roles if role.role == name)

    @property
    def pool_exceeded(self) -> bool:
        return self.integration_requests_per_day > self.pool_requests_per_day

    def to_text(self) -> str:
        """A plain-text summary, one line per role and per seat line."""
        rows = [
            f"price book {self.era} as of {self.as_of}"
            + (" (billed monthly)" if self.billed_monthly else "")
            + f", min seats: {self.min_seats_policy}"
        ]
        for role in self.roles:
            rows.append(
                f"  {role.role}: {role.headcount} x {role.assignment.describe()}"
                f" -> {_money(role.cost_usd_month)}/month"
            )
        for seat in self.seats:
            extra = f" ({seat.unused_seats} unused)" if seat.unused_seats else ""
            rows.append(
                f"  seats {seat.sku_id} {seat.held_as}: {seat.seats_paid} x "
                f"{_money(seat.price_usd_month)} = {_money(seat.cost_usd_month)}{extra}"
            )
        rows.append(
            f"  total {_money(self.cost_usd_month)}/month, {_money(self.cost_usd_year)}/year"
        )
        for key, (old, new) in self.overridden.items():
            rows.append(f"  override {key}: {_money(old)} -> {_money(new)}")
        return "\n".join(rows)


MinSeatsPolicy = Literal["pay_minimum", "infeasible"]


def cost_roles(
    roles: Mapping[str, RoleNeed | tuple[int, Iterable[Right]]],
    book: PriceBook,
    *,
    min_seats_policy: MinSeatsPolicy = "pay_minimum",
    integration_requests_per_day: float = 0.0,
) -> CostReport:
    """License an organisation at least cost: one assignment per role, seats, total cost.

    ``roles`` maps a role name to a ``RoleNeed`` or a ``(headcount, required rights)``
    pair. Every user of a role gets the same licences (roles are how licences are assigned
    in practice).

    Minimum seats (Plan 2, Operations in 2016, Finance/SCM today: 20) are counted per SKU
    over all users holding it, as base or attach. ``min_seats_policy``:

    - ``"pay_minimum"`` (default): a SKU held by fewer users than its minimum is paid for
      the minimum; the extra seats are bought at the SKU's full price and reported as
      unused (a seat line with ``unused_seats``).
    - ``"infeasible"``: such a purchase is not allowed; roles must use other licences.

    This couples roles (15 Plan 2 users make 5 more Plan 2 seats free for another role),
    so the choice is made jointly and exactly: for each role and each subset B of the
    minimum-seat SKUs, the cheapest assignment holding exactly B of them is a candidate
    (any other assignment with the same B costs more and fills the same seats); then a
    dynamic programme over roles, whose state is the seat count of each minimum-seat SKU
    capped at its minimum, picks one candidate per role minimising cost plus padding.
    """
    needs = {
        name: need if isinstance(need, RoleNeed) else RoleNeed(need[0], frozenset(need[1]))
        for name, need in roles.items()
    }
    if min_seats_policy not in ("pay_minimum", "infeasible"):
        raise ValueError("min_seats_policy must be 'pay_minimum' or 'infeasible'")
    minimum = {sku.id: sku.min_seats for sku in book.skus if sku.min_seats > 1}
    capped_ids = sorted(minimum)
    ordinary = frozenset(sku.id for sku in book.skus if sku.id not in minimum)
    candidates: dict[str, list[Assignment]] = {}
    for name, need in needs.items():
        found = []
        for size in range(len(capped_ids) + 1):
            for subset in itertools.combinations(capped_ids, size):
                assignment = _search(
                    need.required,
                    book,
                    users_per_device=need.users_per_device,
                    allowed=ordinary | frozenset(subset),
                    forced=frozenset(subset),
                )
                if assignment is not None:
                    found.append(assignment)
        if not found:
            raise NoCompliantAssignment(
                f"role {name!r}: " + _no_assignment_message(need.required, book)
            )
        candidates[name] = found

    def role_cost(assignment: Assignment, need: RoleNeed) -> float:
        users = sum(line.price_usd_month for line in assignment.lines if line.held_as != "device")
        devices = sum(line.price_usd_month for line in assignment.lines if line.held_as == "device")
        return need.headcount * users + (need.devices * devices if need.headcount else 0.0)

    def seats_of(assignment: Assignment, need: RoleNeed, sku_id: str) -> int:
        if assignment.device == sku_id:
            return need.devices if need.headcount else 0
        return need.headcount if sku_id in assignment.skus else 0

    # state: per minimum-seat SKU, seats so far capped at its minimum -> (cost, picks)
    states: dict[tuple[int, ...], tuple[float, tuple[Assignment, ...]]] = {
        (0,) * len(capped_ids): (0.0, ())
    }
    for name, need in needs.items():
        following: dict[tuple[int, ...], tuple[float, tuple[Assignment, ...]]] = {}
        for seats, (cost, picks) in states.items():
            for assignment in candidates[name]:
                grown = tuple(
                    min(minimum[sku_id], count + seats_of(assignment, need, sku_id))
                    for sku_id, count in zip(capped_ids, seats, strict=True)
                )
                total = cost + role_cost(assignment, need)
                if grown not in following or total < following[grown][0] - _EPS:
                    following[grown] = (total, (*picks, assignment))
        states = following

    best: tuple[float, float, tuple[Assignment, ...]] | None = None
    for seats, (cost, picks) in states.items():
        short = {
            sku_id: minimum[sku_id] - count
            for sku_id, count in zip(capped_ids, seats, strict=True)
            if 0 < count < minimum[sku_id]
        }
        if short and min_seats_policy == "infeasible":
            continue
        padding = sum(count * book.price_usd_month(sku_id) for sku_id, count in short.items())
        if best is None or cost + padding < best[0] + best[1] - _EPS:
            best = (cost, padding, picks)
    if best is None:
        raise NoCompliantAssignment(
            "every licence set leaves a minimum-seat SKU below its minimum "
            "(min_seats_policy='infeasible')"
        )
    _, padding, picks = best
    return _report(book, needs, picks, min_seats_policy, integration_requests_per_day)


def _padding_held_as(book: PriceBook, sku_id: str) -> HeldAs:
    """Unused minimum seats are bought at the SKU's full price, as the seat a tenant buys
    to reach the minimum (a base, a standalone licence or a device), never as attaches."""
    if book.sku(sku_id).kind == "device":
        return "device"
    return "standalone" if book.licensing_model == "standalone" else "base"


def _report(
    book: PriceBook,
    needs: Mapping[str, RoleNeed],
    picks: Sequence[Assignment],
    policy: str,
    integration_requests_per_day: float,
) -> CostReport:
    role_costs = []
    seat_use: dict[tuple[str, str], int] = {}
    base_licences = 0
    for (name, need), assignment in zip(needs.items(), picks, strict=True):
        users_cost = 0.0
        for line in assignment.lines:
            count = need.devices if line.held_as == "device" else need.headcount
            if need.headcount == 0:
                count = 0
            seat_use[(line.sku_id, line.held_as)] = (
                seat_use.get((line.sku_id, line.held_as), 0) + count
            )
            users_cost += count * line.price_usd_month
            if line.held_as in ("base", "standalone"):
                base_licences += count
        device_share = (
            need.devices * assignment.device_requests_per_day / need.headcount
            if need.headcount and assignment.device
            else 0.0
        )
        role_costs.append(
            RoleCost(
                role=name,
                headcount=need.headcount,
                devices=need.devices,
                assignment=assignment,
                cost_usd_month=users_cost,
                requests_entitled_per_user_per_day=assignment.requests_per_day + device_share,
                requests_per_user_per_day=need.requests_per_user_per_day,
            )
        )
    held_counts: dict[str, int] = {}
    for (sku_id, _), count in seat_use.items():
        held_counts[sku_id] = held_counts.get(sku_id, 0) + count
    for sku_id, held in held_counts.items():
        minimum = book.sku(sku_id).min_seats
        if 0 < held < minimum:  # the unused seats, bought at full price
            seat_use.setdefault((sku_id, _padding_held_as(book, sku_id)), 0)
    seat_lines = []
    padding_total = 0.0
    for (sku_id, held_as), used in sorted(seat_use.items()):
        price = book.price_usd_month(sku_id, held_as)
        held, minimum = held_counts[sku_id], book.sku(sku_id).min_seats
        unused = minimum - held if 0 < held < minimum else 0
        if held_as != _padding_held_as(book, sku_id):
            unused = 0
        if used + unused == 0:
            continue  # a role of nobody
        padding_total += unused * price
        seat_lines.append(
            SeatLine(sku_id, held_as, used, used + unused, price, (used + unused) * price)
        )
    cost = sum(line.cost_usd_month for line in seat_lines)
    entitled = sum(r.headcount * r.requests_entitled_per_user_per_day for r in role_costs)
    given = [r for r in role_costs if r.requests_per_user_per_day is not None]
    used = sum(r.headcount * r.requests_per_user_per_day for r in given) if given else None
    pool = book.requests.tenant_pool
    pool_total = pool.base_requests_per_day + pool.per_base_licence_requests_per_day * base_licences
    if pool.max_requests_per_day is not None:
        pool_total = min(pool_total, pool.max_requests_per_day)
    return CostReport(
        era=book.era,
        as_of=book.as_of,
        billed_monthly=book.billed_monthly,
        min_seats_policy=policy,
        roles=tuple(role_costs),
        seats=tuple(seat_lines),
        padding_usd_month=padding_total,
        cost_usd_month=cost,
        cost_usd_year=12 * cost,
        requests_entitled_per_day=entitled,
        requests_used_per_day=used,
        pool_requests_per_day=pool_total,
        integration_requests_per_day=integration_requests_per_day,
        overridden=dict(book.overridden),
    )
