"""Costing an organisation: roles, seats, minimum seats, request entitlements."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from operator import add
from typing import Literal, cast

from models.licensing.assignment import Assignment, HeldAs, money
from models.licensing.optimiser import (
    NoCompliantAssignment,
    as_rights,
    no_assignment_message,
    search,
)
from models.licensing.pricebook import COST_EPS_USD, PriceBook
from models.licensing.rights import Right


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
        object.__setattr__(self, "required", as_rights(self.required))

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
        return used is not None and used > self.requests_entitled_per_user_per_day + COST_EPS_USD


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
                f" -> {money(role.cost_usd_month)}/month"
            )
        for seat in self.seats:
            extra = f" ({seat.unused_seats} unused)" if seat.unused_seats else ""
            rows.append(
                f"  seats {seat.sku_id} {seat.held_as}: {seat.seats_paid} x "
                f"{money(seat.price_usd_month)} = {money(seat.cost_usd_month)}{extra}"
            )
        rows.append(f"  total {money(self.cost_usd_month)}/month, {money(self.cost_usd_year)}/year")
        for key, (old, new) in self.overridden.items():
            rows.append(f"  override {key}: {money(old)} -> {money(new)}")
        return "\n".join(rows)


MinSeatsPolicy = Literal["pay_minimum", "infeasible"]


def cost_roles(
    roles: Mapping[str, RoleNeed | tuple[int, Iterable[Right]]],
    book: PriceBook,
    *,
    min_seats_policy: MinSeatsPolicy = "pay_minimum",
    integration_requests_per_day: float = 0.0,
    held_elsewhere: Mapping[str, int] | None = None,
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

    ``held_elsewhere`` counts seats of minimum-seat SKUs held by users outside ``roles``
    (roles whose licences are fixed, say): they count toward each minimum, so the
    padding the choice minimises is the whole organisation's. The report's seat lines
    and padding still cover ``roles`` only.
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
    candidates = {
        name: _candidates(name, need, book, capped_ids, ordinary) for name, need in needs.items()
    }

    def role_cost(assignment: Assignment, need: RoleNeed) -> float:
        users = sum(line.price_usd_month for line in assignment.lines if line.held_as != "device")
        devices = sum(line.price_usd_month for line in assignment.lines if line.held_as == "device")
        return need.headcount * users + (need.devices * devices if need.headcount else 0.0)

    def seats_of(assignment: Assignment, need: RoleNeed, sku_id: str) -> int:
        if assignment.device == sku_id:
            return need.devices if need.headcount else 0
        return need.headcount if sku_id in assignment.skus else 0

    # state: per minimum-seat SKU, seats so far capped at its minimum -> (cost, picks)
    elsewhere = dict(held_elsewhere or {})
    states: dict[tuple[int, ...], tuple[float, tuple[Assignment, ...]]] = {
        tuple(min(minimum[sku_id], max(0, elsewhere.get(sku_id, 0))) for sku_id in capped_ids): (
            0.0,
            (),
        )
    }
    caps = tuple(minimum[sku_id] for sku_id in capped_ids)
    for name, need in needs.items():
        # What a candidate adds (its cost, its seats of each minimum-seat SKU) does not
        # depend on the state it is added to: worked out once per role, not per state.
        options = [
            (
                assignment,
                role_cost(assignment, need),
                tuple(seats_of(assignment, need, sku_id) for sku_id in capped_ids),
            )
            for assignment in candidates[name]
        ]
        following: dict[tuple[int, ...], tuple[float, tuple[Assignment, ...]]] = {}
        for seats, (cost, picks) in states.items():
            for assignment, added_cost, added_seats in options:
                # min(cap, count + added) per SKU (map over builtins: no generator frame)
                grown = tuple(map(min, caps, map(add, seats, added_seats)))
                total = cost + added_cost
                held = following.get(grown)
                if held is None or total < held[0] - COST_EPS_USD:
                    following[grown] = (total, (*picks, assignment))
        states = following

    picks = _least_padded(states, book, minimum, capped_ids, min_seats_policy)
    return _report(book, needs, picks, min_seats_policy, integration_requests_per_day)


def _least_padded(
    states: Mapping[tuple[int, ...], tuple[float, tuple[Assignment, ...]]],
    book: PriceBook,
    minimum: Mapping[str, int],
    capped_ids: Sequence[str],
    min_seats_policy: MinSeatsPolicy,
) -> tuple[Assignment, ...]:
    """The picks of the state whose cost plus padding (the unused seats its minimum-seat
    SKUs leave to pay for) is least, the first such within ``COST_EPS_USD``."""
    prices = {sku_id: book.price_usd_month(sku_id) for sku_id in capped_ids}
    best: tuple[float, float, tuple[Assignment, ...]] | None = None
    for seats, (cost, picks) in states.items():
        short = {
            sku_id: minimum[sku_id] - count
            for sku_id, count in zip(capped_ids, seats, strict=True)
            if 0 < count < minimum[sku_id]
        }
        if short and min_seats_policy == "infeasible":
            continue
        padding = sum(count * prices[sku_id] for sku_id, count in short.items())
        if best is None or cost + padding < best[0] + best[1] - COST_EPS_USD:
            best = (cost, padding, picks)
    if best is None:
        raise NoCompliantAssignment(
            "every licence set leaves a minimum-seat SKU below its minimum "
            "(min_seats_policy='infeasible')"
        )
    return best[2]


def _candidates(
    name: str, need: RoleNeed, book: PriceBook, capped_ids: Sequence[str], ordinary: frozenset[str]
) -> list[Assignment]:
    """For one role, per subset B of the minimum-seat SKUs, the cheapest assignment
    holding exactly B of them (see ``cost_roles``)."""
    found = []
    for size in range(len(capped_ids) + 1):
        for subset in itertools.combinations(capped_ids, size):
            assignment = search(
                need.required,
                book,
                users_per_device=need.users_per_device,
                allowed=ordinary | frozenset(subset),
                forced=frozenset(subset),
            )
            if assignment is not None:
                found.append(assignment)
    if not found:
        raise NoCompliantAssignment(f"role {name!r}: " + no_assignment_message(need.required, book))
    return found


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
    seat_use: dict[tuple[str, HeldAs], int] = {}
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
    requests_used = (
        sum(r.headcount * cast(float, r.requests_per_user_per_day) for r in given)
        if given
        else None
    )
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
        requests_used_per_day=requests_used,
        pool_requests_per_day=pool_total,
        integration_requests_per_day=integration_requests_per_day,
        overridden=dict(book.overridden),
    )
