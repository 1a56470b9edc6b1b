"""What each option costs: licences per role (fixed or cheapest), seats, minimum-seat
padding, extra costs, requests against entitlements."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from models.licensing import (
    NoCompliantAssignment,
    RoleNeed,
    cost_roles,
    licence_set_problems,
    missing_rights,
)
from sim.engine.licence_enforcement import role_required_rights
from sim.reporting.licensing.options import BuildCost, ExtraCost
from sim.scenario.yamlio import InputError


@dataclass
class RoleLicences:
    """One role's licences under one option, priced, with what they allow."""

    role: str
    headcount: int
    fixed: bool
    lines: list[dict[str, Any]]
    per_user_usd_month: float
    cost_usd_month: float
    required: list[str]
    compliant: bool
    missing: list[str]
    problems: list[str]
    cheapest: str | None
    cheapest_per_user_usd_month: float | None
    requests_per_user_per_day: float
    requests_entitled_per_user_per_day: float

    @property
    def over_entitlement(self) -> bool:
        return self.requests_per_user_per_day > self.requests_entitled_per_user_per_day + 1e-9


@dataclass
class LicenceCosting:
    """An option's licence bill: per role, per seat line, minimum-seat padding, totals."""

    roles: list[RoleLicences]
    seats: list[dict[str, Any]]
    padding_usd_month: float
    licences_usd_month: float
    extra_costs: list[dict[str, Any]]
    build: dict[str, Any] | None
    cost_usd_month: float
    cost_usd_year: float
    compliant: bool
    pool_requests_per_day: float
    integration_requests_per_day: float
    notes: list[str]


def _sku_provenance(book: Any, sku_id: str, held_as: str) -> tuple[str, str]:
    sku = book.sku(sku_id)
    if held_as == "attach" and sku.attach is not None:
        return sku.attach.confidence, sku.attach.source
    return sku.confidence, sku.source


def _line(
    book: Any, role: str, headcount: int, sku_id: str, held_as: str, price: float
) -> dict[str, Any]:
    confidence, source = _sku_provenance(book, sku_id, held_as)
    return {
        "role": role,
        "sku": sku_id,
        "sku_name": book.sku(sku_id).name,
        "held_as": held_as,
        "seats": headcount,
        "price_usd_month": price,
        "cost_usd_month": headcount * price,
        "confidence": confidence,
        "source": source,
    }


def _fixed_layout(
    book: Any, skus: Sequence[str]
) -> tuple[list[tuple[str, str, float]], list[str], int]:
    """How a fixed licence list is held and priced: ``(lines, problems, requests/day)``.

    In base + attach eras the highest list-priced licence is the base and the others are
    attaches at their attach price; one that cannot be an attach is priced in full and
    the set is flagged. In the standalone era every licence is priced in full.
    """
    unique = list(dict.fromkeys(skus))
    problems = [f"{sku} is listed twice" for sku in unique if list(skus).count(sku) > 1]
    lines: list[tuple[str, str, float]] = []
    if book.licensing_model == "standalone":
        problems += licence_set_problems(book, standalone=unique)
        lines = [(sku, "standalone", book.price_usd_month(sku)) for sku in unique]
    elif unique:
        ordered = sorted(unique, key=lambda s: (-book.list_price_usd_month(s), s))
        base, attaches = ordered[0], ordered[1:]
        problems += licence_set_problems(book, base=base, attaches=attaches)
        lines.append((base, "base", book.price_usd_month(base)))
        for sku in attaches:
            attachable = book.sku(sku).attach is not None and book.sku(base).accepts_attaches
            if attachable:
                lines.append((sku, "attach", book.price_usd_month(sku, "attach")))
            else:  # not purchasable as an attach: priced as a second full licence
                lines.append((sku, "standalone", book.price_usd_month(sku)))
    per_line: dict[str, int] = {}
    for sku, held_as, _ in lines:
        if held_as in ("base", "standalone"):
            entry = book.sku(sku)
            per_line[entry.product_line] = max(
                per_line.get(entry.product_line, 0), entry.requests_per_day
            )
    return lines, problems, sum(per_line.values())


def _cheapest_alone(
    book: Any, headcount: int, required: frozenset
) -> tuple[str | None, float | None]:
    """The cheapest compliant licences for one role on its own, preferring sets that need
    no unused minimum seats (a Plan 2 for 5 people is not 210 each, it is 20 seats)."""
    need = {"role": RoleNeed(max(headcount, 1), required)}
    for policy in ("infeasible", "pay_minimum"):
        try:
            assignment = cost_roles(need, book, min_seats_policy=policy).role("role").assignment
        except NoCompliantAssignment:
            continue
        return assignment.describe(), assignment.cost_usd_month
    return None, None


def _optimise_open_roles(
    scenario: Any, book: Any, required: Mapping[str, frozenset], requests: Mapping[str, float]
) -> tuple[Any, list[str]]:
    """The cheapest licences for the roles the option leaves open, counting the seats the
    fixed roles hold toward each minimum: ``(cost_roles report or None, notes)``."""
    roles = scenario.spec.roles
    fixed = {name: role for name, role in roles.items() if role.licences is not None}
    free = {
        name: RoleNeed(role.headcount, required[name], requests_per_user_per_day=requests.get(name))
        for name, role in roles.items()
        if name not in fixed
    }
    # Minimum seats couple the roles: seats the fixed roles hold count toward a licence's
    # minimum (and its padding is paid whether or not another role holds it), so the
    # other roles are optimised over the whole organisation's padding, exactly.
    fixed_seats: Counter[str] = Counter()
    for role in fixed.values():
        for sku in dict.fromkeys(role.licences):
            if book.sku(sku).min_seats > 1:
                fixed_seats[sku] += role.headcount
    try:
        optimal = cost_roles(free, book, held_elsewhere=fixed_seats) if free else None
    except NoCompliantAssignment as exc:
        raise InputError(
            f"{scenario.name}: no licences in price book {book.era} cover the roles' work: {exc}"
        ) from None
    notes: list[str] = []
    return optimal, notes


def _fixed_role(
    book: Any,
    name: str,
    role: Any,
    required: frozenset,
    requests: Mapping[str, float],
    compare: bool = True,
) -> RoleLicences:
    """A role whose licences the option fixes: priced as given, checked, and (with
    ``compare``) compared with the cheapest compliant set."""
    layout, problems, entitled = _fixed_layout(book, role.licences)
    missing = sorted(str(r) for r in missing_rights(book, role.licences, required))
    cheapest, cheapest_usd = (
        _cheapest_alone(book, role.headcount, required) if compare else (None, None)
    )
    lines = [
        _line(book, name, role.headcount, sku, held_as, price) for sku, held_as, price in layout
    ]
    per_user = sum(price for _, _, price in layout)
    return RoleLicences(
        role=name,
        headcount=role.headcount,
        fixed=True,
        lines=lines,
        per_user_usd_month=per_user,
        cost_usd_month=role.headcount * per_user,
        required=sorted(str(right) for right in required),
        compliant=not missing and not problems,
        missing=missing,
        problems=problems,
        cheapest=cheapest,
        cheapest_per_user_usd_month=cheapest_usd,
        requests_per_user_per_day=requests.get(name, 0.0),
        requests_entitled_per_user_per_day=float(entitled),
    )


def _optimised_role(
    book: Any, name: str, role: Any, required: frozenset, chosen: Any, requests: Mapping[str, float]
) -> RoleLicences:
    """A role licensed at least cost (``chosen``: its ``cost_roles`` line)."""
    assignment = chosen.assignment
    lines = [
        _line(book, name, role.headcount, line.sku_id, line.held_as, line.price_usd_month)
        for line in assignment.lines
    ]
    return RoleLicences(
        role=name,
        headcount=role.headcount,
        fixed=False,
        lines=lines,
        per_user_usd_month=assignment.cost_usd_month,
        cost_usd_month=chosen.cost_usd_month,
        required=sorted(str(r) for r in required),
        compliant=True,
        missing=[],
        problems=[],
        cheapest=assignment.describe(),
        cheapest_per_user_usd_month=assignment.cost_usd_month,
        requests_per_user_per_day=requests.get(name, 0.0),
        requests_entitled_per_user_per_day=chosen.requests_entitled_per_user_per_day,
    )


def fixed_licences_off_sale(scenario: Any, book: Any) -> list[str]:
    """The licences the option's roles fix that ``book`` does not sell (sorted)."""
    return sorted(
        {
            sku
            for role in scenario.spec.roles.values()
            if role.licences is not None
            for sku in role.licences
            if not book.has(sku)
        }
    )


def license_option(
    scenario: Any,
    requests_per_user_per_day: Mapping[str, float] | None = None,
    integration_requests_per_day: float = 0.0,
    extra_costs: Sequence[ExtraCost] = (),
    build: BuildCost | None = None,
    *,
    book: Any = None,
    compare_fixed: bool = True,
) -> LicenceCosting:
    """Price an option: its licences (see the package docstring for the rules), its build
    and run cost (the one-off part amortised over the stated years) and extra costs.

    ``book`` prices it with another book than the scenario's (every licence a role fixes
    must be on sale in it: :func:`fixed_licences_off_sale`); ``compare_fixed=False``
    skips finding the cheapest set for each fixed role (``cheapest`` is then None).
    """
    book = scenario.price_book if book is None else book
    requests = dict(requests_per_user_per_day or {})
    required = {
        name: role_required_rights(role, scenario.design)
        for name, role in scenario.spec.roles.items()
    }
    optimal, notes = _optimise_open_roles(scenario, book, required, requests)
    roles: list[RoleLicences] = []
    for name, role in scenario.spec.roles.items():
        if role.licences is not None:
            roles.append(_fixed_role(book, name, role, required[name], requests, compare_fixed))
        else:
            assert optimal is not None
            roles.append(
                _optimised_role(book, name, role, required[name], optimal.role(name), requests)
            )
    seats, padding, base_licences = _seat_lines(book, roles)
    licences = sum(seat["cost_usd_month"] for seat in seats)
    extras: list[dict[str, Any]] = [
        {"name": cost.name, "usd_month": cost.usd_month, "note": cost.note} for cost in extra_costs
    ]
    built: dict[str, Any] | None = (
        None
        if build is None
        else {
            "one_off_usd": build.one_off_usd,
            "run_usd_year": build.run_usd_year,
            "amortise_years": build.amortise_years,
            "basis": build.basis,
            "one_off_usd_month": build.one_off_usd / (12.0 * build.amortise_years),
            "run_usd_month": build.run_usd_year / 12.0,
            "usd_month": build.usd_month,
        }
    )
    total = (
        licences
        + sum(extra["usd_month"] for extra in extras)
        + (built["usd_month"] if built else 0.0)
    )
    pool = book.requests.tenant_pool
    pool_total = pool.base_requests_per_day + pool.per_base_licence_requests_per_day * base_licences
    if pool.max_requests_per_day is not None:
        pool_total = min(pool_total, pool.max_requests_per_day)
    return LicenceCosting(
        roles=roles,
        seats=seats,
        padding_usd_month=padding,
        licences_usd_month=licences,
        extra_costs=extras,
        build=built,
        cost_usd_month=total,
        cost_usd_year=12.0 * total,
        compliant=all(role.compliant for role in roles if role.headcount),
        pool_requests_per_day=float(pool_total),
        integration_requests_per_day=integration_requests_per_day,
        notes=notes,
    )


def _seat_lines(
    book: Any, roles: Sequence[RoleLicences]
) -> tuple[list[dict[str, Any]], float, int]:
    """Seats per (SKU, held as) over all roles, minimum seats padded at full price (the
    rule of ``cost_roles``): ``(seat lines, padding cost, base licences)``."""
    used: dict[tuple[str, str], int] = {}
    price: dict[tuple[str, str], float] = {}
    base_licences = 0
    for role in roles:
        for line in role.lines:
            key = (line["sku"], line["held_as"])
            used[key] = used.get(key, 0) + role.headcount
            price[key] = line["price_usd_month"]
            if line["held_as"] in ("base", "standalone"):
                base_licences += role.headcount
    held: dict[str, int] = {}
    for (sku, _), count in used.items():
        held[sku] = held.get(sku, 0) + count
    unused: dict[tuple[str, str], int] = {}
    for sku, count in held.items():
        minimum = book.sku(sku).min_seats
        if 0 < count < minimum:
            kind = (
                "device"
                if book.sku(sku).kind == "device"
                else "standalone"
                if book.licensing_model == "standalone"
                else "base"
            )
            unused[(sku, kind)] = minimum - count
            price.setdefault((sku, kind), book.price_usd_month(sku))
            used.setdefault((sku, kind), 0)
    seats = []
    padding = 0.0
    for key in sorted(used):
        sku, held_as = key
        extra = unused.get(key, 0)
        if used[key] + extra == 0:
            continue
        padding += extra * price[key]
        confidence, source = _sku_provenance(book, sku, held_as)
        entry = book.sku(sku)
        seats.append(
            {
                "sku": sku,
                "sku_name": entry.name,
                "held_as": held_as,
                "seats_used": used[key],
                "seats_paid": used[key] + extra,
                "unused_seats": extra,
                "min_seats": entry.min_seats,
                "min_seats_confidence": entry.min_seats_confidence,
                "min_seats_source": entry.min_seats_source,
                "price_usd_month": price[key],
                "cost_usd_month": (used[key] + extra) * price[key],
                "confidence": confidence,
                "source": source,
            }
        )
    return seats, padding, base_licences
