"""Assignments: a valid licence set for one user, its price and which licence grants what."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from models.licensing.coverage import match_rights, reach_of
from models.licensing.pricebook import PriceBook
from models.licensing.rights import Right

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
                    f"{line.sku_id} (device {money(line.price_usd_month)}"
                    f" / {money(self.users_per_device or 1)} users)"
                )
            else:
                parts.append(f"{line.sku_id} ({line.held_as} {money(line.price_usd_month)})")
        return " + ".join(parts) + f" = {money(self.cost_usd_month)}/month"


def money(value: float) -> str:
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
                    f"{money(book.list_price_usd_month(sku_id))}, more than base {base} at "
                    f"{money(book.list_price_usd_month(base))}"
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


def assemble(
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
    reaches = [reach_of(book.sku(line.sku_id), required) for line in lines]
    covered, left_over = match_rights(reaches, required)
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


def preference(assignment: Assignment, book: PriceBook) -> tuple:
    """Order between assignments: cheaper, then fewer licences, then fewer minimum seats
    to fill, then by SKU ids (so ties resolve the same way in every search)."""
    ids = tuple(line.sku_id for line in assignment.lines)
    min_seats = sum(book.sku(sku_id).min_seats for sku_id in ids)
    return (round(assignment.cost_usd_month, 6), len(ids), min_seats, ids)
