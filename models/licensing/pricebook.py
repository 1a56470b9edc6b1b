"""Price books as data: the validated schema of a price-book file and ``PriceBook``, the
licences on sale on one date with prices after overrides.

Nothing here reads a file: ``sim.scenario.pricebooks`` finds and parses the YAML (with
file:line errors) and hands the parsed data to :func:`build_price_book`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from models.licensing.rights import (
    ACCESS_LEVELS,
    STANDARD_ENTITIES,
    Right,
    is_custom_entity,
    valid_entity_name,
)
from models.strict import Strict

COST_EPS_USD = 1e-9  # prices are floats; costs closer than this are equal

Confidence = Literal["verified", "third_party", "unverified"]
Access = Literal["read", "write", "approve", "self_service", "light_task"]
Price = Annotated[float, Field(ge=0)]
LenientDate = Annotated[date, Field(strict=False)]  # accept quoted "2019-10-01" too


class _Record(Strict):
    # strict: a price written "95" (a string) is an error, not silently a number
    model_config = ConfigDict(strict=True)


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
            bad = [name for name in value if not valid_entity_name(name)]
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
    ``min_seats`` above 1 is a figure a bill can rest on (unused seats are paid for), so
    it carries its own ``min_seats_confidence`` and ``min_seats_source``, as the prices do.
    """

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str = Field(min_length=1)
    price_usd_month: Price
    confidence: Confidence
    source: str = Field(min_length=1)
    min_seats: int = Field(default=1, ge=1)
    min_seats_confidence: Confidence | None = None
    min_seats_source: str | None = Field(default=None, min_length=1)
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
        sourced = (self.min_seats_confidence is not None, self.min_seats_source is not None)
        if self.min_seats > 1 and not all(sourced):
            raise ValueError(
                f"{self.id}: min_seats {self.min_seats} needs min_seats_confidence "
                "(verified, third_party or unverified) and min_seats_source"
            )
        if self.min_seats == 1 and any(sourced):
            raise ValueError(
                f"{self.id}: min_seats_confidence and min_seats_source describe "
                "a minimum above 1; min_seats is 1"
            )
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


EntryKind = Literal["price", "attach_price", "min_seats"]


@dataclass(frozen=True)
class PriceEntry:
    """One figure of a price book that a bill can rest on, with its provenance.

    ``key`` names it the way overrides do: ``"finance"`` (the full price),
    ``"finance.attach"`` (the attach price), ``"finance.min_seats"`` (the minimum).
    """

    key: str
    sku_id: str
    sku_name: str
    kind: EntryKind
    value: float
    confidence: Confidence
    source: str

    @property
    def verified(self) -> bool:
        return self.confidence == "verified"

    def describe(self) -> str:
        """``"Dynamics 365 Finance: minimum of 20 seats"``."""
        if self.kind == "min_seats":
            return f"{self.sku_name}: minimum of {self.value:g} seats"
        what = "attach price" if self.kind == "attach_price" else "price"
        return f"{self.sku_name}: {what} {self.value:g} USD a month"

    def dropped(self) -> str:
        """What the book is like without this entry, in words."""
        if self.kind == "min_seats":
            return f"no minimum on {self.sku_name}"
        if self.kind == "attach_price":
            return f"{self.sku_name} cannot be bought as an attach (only in full)"
        return f"{self.sku_name} is not on sale"


@dataclass(frozen=True)
class PriceBook:
    """The licences on sale on one date (``as_of``) of one era, with prices after overrides.

    ``skus`` holds only the SKUs on sale at ``as_of`` (so a 2017 book as of October 2018
    has the 8 USD Team Members, not the 40 USD launch version). ``overridden`` maps each
    overridden price key (a SKU id, or ``"<id>.attach"`` for an attach price) to its
    ``(old, new)`` prices. ``billing_uplift_fraction`` is the monthly-billing surcharge
    included in every price this book returns (0 unless loaded with
    ``billed_monthly=True`` on a date the surcharge applied). ``source`` names where the
    data came from (the loader passes the file name), for messages and provenance only.
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
    source: str | None = None
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
        where = self.source or self.era
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

    def entries(self) -> tuple[PriceEntry, ...]:
        """Every figure a bill can rest on (prices after overrides, attach prices,
        minimums above 1) of the SKUs on sale, in book order. An overridden price is the
        user's own figure: it counts as verified, with the override as its source."""
        out = []
        for sku in self.skus:
            key = sku.id
            confidence, source = sku.confidence, sku.source
            if key in self.overridden:
                confidence, source = "verified", "scenario override (negotiated price)"
            out.append(
                PriceEntry(
                    key, sku.id, sku.name, "price", self.price_usd_month(sku.id), confidence, source
                )
            )
            if sku.attach is not None:
                key = f"{sku.id}.attach"
                confidence, source = sku.attach.confidence, sku.attach.source
                if key in self.overridden:
                    confidence, source = "verified", "scenario override (negotiated price)"
                out.append(
                    PriceEntry(
                        key,
                        sku.id,
                        sku.name,
                        "attach_price",
                        self.price_usd_month(sku.id, "attach"),
                        confidence,
                        source,
                    )
                )
            if sku.min_seats > 1:
                assert sku.min_seats_confidence is not None and sku.min_seats_source is not None
                out.append(
                    PriceEntry(
                        f"{sku.id}.min_seats",
                        sku.id,
                        sku.name,
                        "min_seats",
                        float(sku.min_seats),
                        sku.min_seats_confidence,
                        sku.min_seats_source,
                    )
                )
        return tuple(out)

    def without(self, key: str) -> PriceBook:
        """A copy without one entry of :meth:`entries`: ``"<id>.min_seats"`` drops the
        minimum (1 seat), ``"<id>.attach"`` the attach offer (the licence can then only
        be bought in full), ``"<id>"`` the price, and with it the SKU (not on sale)."""
        sku_id, _, part = key.partition(".")
        if part not in ("", "attach", "min_seats"):
            raise ValueError(
                f"entry {key!r}: write '<sku id>', '<sku id>.attach' or '<sku id>.min_seats'"
            )
        sku = self.sku(sku_id)
        if part == "":
            skus = tuple(other for other in self.skus if other.id != sku_id)
        else:
            if part == "attach" and sku.attach is None:
                raise ValueError(f"entry {key!r}: {sku_id} has no attach offer")
            if part == "min_seats" and sku.min_seats == 1:
                raise ValueError(f"entry {key!r}: {sku_id} has no minimum")
            update = (
                {"attach": None}
                if part == "attach"
                else {"min_seats": 1, "min_seats_confidence": None, "min_seats_source": None}
            )
            skus = tuple(
                sku.model_copy(update=update) if other.id == sku_id else other
                for other in self.skus
            )
        return dataclasses.replace(self, skus=skus)

    @property
    def user_skus(self) -> tuple[Sku, ...]:
        return tuple(sku for sku in self.skus if sku.kind == "user")

    @property
    def device_skus(self) -> tuple[Sku, ...]:
        return tuple(sku for sku in self.skus if sku.kind == "device")


def build_price_book(
    parsed: PriceBookFile,
    overrides: Mapping[str, float] | None = None,
    *,
    as_of: date | None = None,
    billed_monthly: bool = False,
    source: str | None = None,
) -> PriceBook:
    """The book of ``parsed`` (a validated price-book file) as of one date, with prices
    after ``overrides``.

    ``overrides`` replaces prices: ``{"finance": 150.0}`` sets a SKU's full price,
    ``{"sales_enterprise.attach": 15.0}`` its attach price. Every change is recorded in
    ``PriceBook.overridden`` as ``(old, new)``. ``as_of`` (default: the file's) picks the
    SKUs on sale and must lie in the era. ``billed_monthly`` applies the file's
    monthly-billing surcharge if it was in force on ``as_of`` (current era: +5% since
    April 2025); before that date billing monthly cost nothing extra. ``source`` (a file
    name, say) only labels messages. Raises ``PriceBookError``.
    """
    where = source or f"price book {parsed.era}"
    day = parsed.as_of if as_of is None else as_of
    if day < parsed.valid_from or (parsed.valid_until is not None and day > parsed.valid_until):
        until = parsed.valid_until or "now"
        raise PriceBookError(
            f"{where}: as_of {day} is outside era {parsed.era} ({parsed.valid_from} .. {until})"
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
        source=source,
    ).with_overrides(overrides or {})
