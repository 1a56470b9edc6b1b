"""The licence optimisers are exactly optimal: property tests against brute force.

``cheapest_assignment`` (branch and bound) must find the same licence set as
``exhaustive_cheapest`` (every combination) for random needs, in every era, under random
negotiated prices and shared-device arrangements. ``cost_roles`` (a dynamic programme over
roles) must match a brute force over every combination of every role's compliant licence
sets, with minimum seats paid or forbidden.
"""

from __future__ import annotations

import itertools
from datetime import date
from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models.licensing import (
    ACCESS_LEVELS,
    STANDARD_ENTITIES,
    SYSTEMS,
    NoCompliantAssignment,
    PriceBook,
    Right,
    RoleNeed,
    cheapest_assignment,
    compliant_assignments,
    cost_roles,
    coverage,
    custom_entity,
    exhaustive_cheapest,
    licence_set_problems,
    rights,
)
from sim.scenario.pricebooks import load_price_book

CUSTOM = tuple(custom_entity(f"c{i}") for i in range(17))
ENTITIES = STANDARD_ENTITIES + CUSTOM[:3] + ("timesheet",)

# (era, as_of): the 2017 book on both sides of the October 2018 Team Members change
BOOK_DATES = [
    ("2017", date(2017, 6, 1)),
    ("2017", date(2018, 10, 1)),
    ("2019", date(2019, 10, 1)),
    ("current", date(2025, 5, 1)),
]


@cache
def _list_book(era: str, as_of: date) -> PriceBook:
    return load_price_book(era, as_of=as_of)


def _price_keys(book: PriceBook) -> list[str]:
    keys = [sku.id for sku in book.skus]
    return keys + [f"{sku.id}.attach" for sku in book.skus if sku.attach is not None]


@st.composite
def price_books(draw) -> PriceBook:
    """A shipped book, sometimes with negotiated prices: overrides reshuffle which licence
    is cheapest, and can make a discounted base cheaper than the app it carries."""
    era, as_of = draw(st.sampled_from(BOOK_DATES))
    keys = _price_keys(_list_book(era, as_of))
    overrides = draw(
        st.dictionaries(st.sampled_from(keys), st.integers(0, 320).map(float), max_size=4)
    )
    return _list_book(era, as_of).with_overrides(overrides)


def _right(system: str, entity: str, access: str) -> Right | None:
    if access in ("read", "write") and entity == "timesheet":
        return None
    return Right(system, entity, access)


any_right = st.builds(
    _right, st.sampled_from(SYSTEMS), st.sampled_from(ENTITIES), st.sampled_from(ACCESS_LEVELS)
).filter(lambda right: right is not None)

BLOCKS = [
    rights("sales"),
    rights("sales", accesses="read"),
    rights("operations", accesses=ACCESS_LEVELS),
    rights("operations", accesses="read"),
    frozenset({Right("sales", "account", "write")}),
    frozenset({Right("sales", "contact", "write")}),
    frozenset({Right("sales", "order", "write")}),
    frozenset({Right("operations", "order", "write")}),
    frozenset({Right("operations", "order", "light_task")}),
    frozenset({Right("operations", "expense", "self_service")}),
    frozenset({Right("operations", "expense", "approve")}),
]


@st.composite
def requirements(draw) -> frozenset[Right]:
    """Needs built like roles are: a few whole blocks (full Sales, read Operations, write
    accounts...), sometimes some random rights, sometimes a run of custom-entity writes
    long enough to overflow the 15-entity caps."""
    needed: set[Right] = set()
    for block in draw(st.lists(st.sampled_from(BLOCKS), max_size=3)):
        needed |= block
    if draw(st.booleans()):
        needed |= draw(st.frozensets(any_right, max_size=6))
    if draw(st.booleans()):
        count = draw(st.integers(0, len(CUSTOM)))
        needed |= {Right("sales", entity, "write") for entity in CUSTOM[:count]}
    return frozenset(needed)


devices = st.none() | st.sampled_from([1.0, 2.0, 6.0])

# Each example takes milliseconds, and rare price landscapes (a minimum-seat licence just
# worth padding) need a few hundred examples to turn up; more if the profile asks for more.
SEARCH_EXAMPLES = max(settings.default.max_examples, 300)
ROLES_EXAMPLES = max(settings.default.max_examples, 200)


@pytest.mark.slow
@settings(deadline=None, max_examples=SEARCH_EXAMPLES, suppress_health_check=[HealthCheck.too_slow])
@given(book=price_books(), required=requirements(), users_per_device=devices)
def test_branch_and_bound_finds_the_same_licences_as_exhaustive_search(
    book, required, users_per_device
):
    try:
        reference = exhaustive_cheapest(required, book, users_per_device=users_per_device)
    except NoCompliantAssignment:
        reference = None
    if reference is None:
        try:
            found = cheapest_assignment(required, book, users_per_device=users_per_device)
        except NoCompliantAssignment:
            return
        raise AssertionError(f"exhaustive found nothing, search found {found.describe()}")
    found = cheapest_assignment(required, book, users_per_device=users_per_device)
    assert abs(found.cost_usd_month - reference.cost_usd_month) < 1e-6, (
        found.describe(),
        reference.describe(),
    )
    assert found.lines == reference.lines  # same tie-breaking too
    # ... and what it found is valid and covers every right
    assert not licence_set_problems(
        book,
        base=found.base,
        attaches=found.attaches,
        standalone=found.standalone,
        device=found.device,
    )
    held = [line.sku_id for line in found.lines]
    assert coverage(book, held, required) is not None
    assert set(found.covered_by) == required


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(book=price_books(), required=requirements(), extra=any_right)
def test_needing_one_more_right_never_costs_less(book, required, extra):
    try:
        before = cheapest_assignment(required, book).cost_usd_month
        after = cheapest_assignment(required | {extra}, book).cost_usd_month
    except NoCompliantAssignment:
        return
    assert after >= before - 1e-9


# ---- cost_roles against brute force over whole organisations ------------------------------


def _brute_force_cost(roles: dict[str, RoleNeed], book: PriceBook, policy: str) -> float | None:
    """Cheapest total over every combination of each role's compliant licence sets.

    Per role, of the compliant sets holding the same minimum-seat SKUs only the cheapest
    can matter (same seats filled, lower price), which keeps the product small.
    """
    minimum = {sku.id: sku.min_seats for sku in book.skus if sku.min_seats > 1}
    options = []
    for need in roles.values():
        best: dict[frozenset[str], object] = {}
        for assignment in compliant_assignments(
            need.required, book, users_per_device=need.users_per_device
        ):
            held = frozenset(line.sku_id for line in assignment.lines if line.sku_id in minimum)
            if held not in best or assignment.cost_usd_month < best[held].cost_usd_month:
                best[held] = assignment
        if not best:
            return None
        options.append(list(best.values()))
    cheapest = None
    for picks in itertools.product(*options):
        total = 0.0
        seats: dict[str, int] = {}
        for need, assignment in zip(roles.values(), picks, strict=True):
            for line in assignment.lines:
                count = need.devices if line.held_as == "device" else need.headcount
                count = count if need.headcount else 0
                total += count * line.price_usd_month
                seats[line.sku_id] = seats.get(line.sku_id, 0) + count
        for sku_id, needed in minimum.items():
            if 0 < seats.get(sku_id, 0) < needed:
                if policy == "infeasible":
                    break
                total += (needed - seats[sku_id]) * book.price_usd_month(sku_id)
        else:
            if cheapest is None or total < cheapest:
                cheapest = total
    return cheapest


role_needs = st.builds(
    RoleNeed,
    headcount=st.integers(0, 26),
    required=requirements(),
    devices=st.integers(0, 3),
)


@settings(deadline=None, max_examples=ROLES_EXAMPLES, suppress_health_check=[HealthCheck.too_slow])
@given(
    book=price_books(),
    needs=st.lists(role_needs, min_size=1, max_size=2),
    policy=st.sampled_from(["pay_minimum", "infeasible"]),
)
@pytest.mark.slow
def test_costing_roles_matches_brute_force_over_every_licence_combination(book, needs, policy):
    roles = {f"role{i}": need for i, need in enumerate(needs)}
    expected = _brute_force_cost(roles, book, policy)
    try:
        report = cost_roles(roles, book, min_seats_policy=policy)
    except NoCompliantAssignment:
        assert expected is None
        return
    assert expected is not None
    assert abs(report.cost_usd_month - expected) < 1e-6, report.to_text()
    assert abs(sum(seat.cost_usd_month for seat in report.seats) - report.cost_usd_month) < 1e-6
