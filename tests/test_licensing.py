"""Licensing rules and costs, checked against arithmetic done by hand from the price books.

Every expected cost below is worked out in the comment above it from the figures in
scenarios/pricebooks/*.yaml (which test_licensing_pricebook.py ties to LICENSING.md).
"""

from __future__ import annotations

from datetime import date

import pytest

from models.licensing import (
    ACCESS_LEVELS,
    STANDARD_ENTITIES,
    NoCompliantAssignment,
    Right,
    RoleNeed,
    cheapest_assignment,
    cost_roles,
    coverage,
    custom_entity,
    licence_set_problems,
    missing_rights,
    required_rights,
    rights,
)
from sim.scenario.pricebooks import load_price_book

FULL_SALES = rights("sales")  # read + write on every standard Sales entity
FULL_OPERATIONS = rights("operations", accesses=ACCESS_LEVELS)
READ_SALES = rights("sales", accesses="read")
READ_OPERATIONS = rights("operations", accesses="read")
WRITE_ACCOUNT = frozenset({Right("sales", "account", "write")})


def custom_writes(count: int) -> frozenset[Right]:
    return frozenset(Right("sales", custom_entity(f"c{i}"), "write") for i in range(count))


@pytest.fixture(scope="module")
def books():
    return {era: load_price_book(era) for era in ("2017", "2019", "current")}


# ---- rights ------------------------------------------------------------------------------


def test_a_right_refuses_unknown_systems_accesses_and_record_entities():
    with pytest.raises(ValueError, match="unknown system"):
        Right("crm", "account", "read")
    with pytest.raises(ValueError, match="unknown access"):
        Right("sales", "account", "delete")
    with pytest.raises(ValueError, match="needs a standard entity"):
        Right("sales", "timesheet", "write")
    # task accesses may name any subject
    assert Right("operations", "timesheet", "self_service").entity == "timesheet"


def test_required_rights_turns_actions_into_rights_and_names_the_bad_action():
    needed = required_rights(
        {
            "fix customer address": ("sales", "account", "write"),
            "check invoices": [("operations", "invoice", "read"), ("sales", "invoice", "read")],
        }
    )
    assert needed == {
        Right("sales", "account", "write"),
        Right("operations", "invoice", "read"),
        Right("sales", "invoice", "read"),
    }
    with pytest.raises(ValueError, match="action 'ship'"):
        required_rights({"ship": ("operations", "order", "drive_forklift")})


# ---- what a licence allows -------------------------------------------------------------


def test_team_members_cannot_write_accounts_but_may_read_everything(books):
    book = books["current"]
    assert coverage(book, ["team_members"], READ_SALES | READ_OPERATIONS) is not None
    assert missing_rights(book, ["team_members"], WRITE_ACCOUNT) == WRITE_ACCOUNT


def test_team_members_may_write_15_custom_entities_but_not_16(books):
    book = books["current"]
    assert coverage(book, ["team_members"], custom_writes(15)) is not None
    assert len(missing_rights(book, ["team_members"], custom_writes(16))) == 1


def test_team_members_in_operations_read_approve_and_self_serve_but_do_no_processing(books):
    book = books["2019"]
    limited = {
        Right("operations", "invoice", "read"),
        Right("operations", "expense", "self_service"),
        Right("operations", "purchase_requisition", "approve"),
    }
    assert coverage(book, ["team_members"], limited) is not None
    for access in ("write", "light_task"):
        assert missing_rights(book, ["team_members"], {Right("operations", "order", access)})


def test_operations_activity_does_light_tasks_but_never_end_to_end_processing(books):
    book = books["current"]
    tasks = {
        Right("operations", "order", "light_task"),
        Right("operations", "timesheet", "self_service"),
        Right("operations", "expense", "approve"),
        Right("operations", "order", "read"),
    }
    assert coverage(book, ["operations_activity"], tasks) is not None
    for entity in ("order", "invoice", "product", "account"):
        assert missing_rights(book, ["operations_activity"], {Right("operations", entity, "write")})


def test_the_launch_team_members_could_write_accounts_but_not_orders(books):
    book = books["2017"]  # as of June 2017
    assert coverage(book, ["team_members_launch"], WRITE_ACCOUNT | custom_writes(40)) is not None
    assert missing_rights(book, ["team_members_launch"], {Right("sales", "order", "write")})


def test_plan_1_covers_customer_engagement_only_and_plan_2_everything(books):
    book = books["2017"]
    assert coverage(book, ["plan_1"], FULL_SALES) is not None
    assert missing_rights(book, ["plan_1"], READ_OPERATIONS) == READ_OPERATIONS
    assert coverage(book, ["plan_2"], FULL_SALES | FULL_OPERATIONS) is not None


TWO_CAPS_BOOK = """
era: caps
title: two capped licences whose caps overlap
period: test
valid_from: 2020-01-01
valid_until: null
as_of: 2020-01-01
licensing_model: standalone
currency: USD
requests:
  source: test
  tenant_pool: {base_requests_per_day: 0, per_base_licence_requests_per_day: 0,
                max_requests_per_day: null, capacity_addon_requests_per_day: 0}
skus:
  - {id: wide, name: wide, price_usd_month: 1, confidence: unverified, source: test,
     kind: user, product_line: all, edition: none, base: true, requests_per_day: 0,
     rights: [{system: sales, entities: ["custom:c0", "custom:c1"], access: [write],
               max_entities: 1}]}
  - {id: narrow, name: narrow, price_usd_month: 1, confidence: unverified, source: test,
     kind: user, product_line: all, edition: none, base: true, requests_per_day: 0,
     rights: [{system: sales, entities: ["custom:c0"], access: [write], max_entities: 1}]}
"""


def test_capped_grants_share_out_rights_so_that_every_cap_holds(tmp_path):
    # "wide" may take c0 or c1, "narrow" only c0, one entity each: the only way to cover
    # both is narrow -> c0, wide -> c1 (a first-come assignment would give c0 to wide).
    path = tmp_path / "caps.yaml"
    path.write_text(TWO_CAPS_BOOK)
    book = load_price_book(path)
    needed = custom_writes(2)
    assert coverage(book, ["wide", "narrow"], needed) == {
        Right("sales", "custom:c0", "write"): "narrow",
        Right("sales", "custom:c1", "write"): "wide",
    }
    assert len(missing_rights(book, ["wide", "narrow"], custom_writes(2) | custom_writes(3))) == 1


def test_in_the_2017_era_licences_stack_so_two_capped_ones_can_add_up(books):
    # As of October 2018, 20 custom entities plus core Sales: Team Members 8 (15 custom
    # entities) + Sales Professional 65 (15 more, and the standard entities) = 73, less than
    # Sales Enterprise 95 or Plan 1 115.
    book = load_price_book("2017", as_of=date(2018, 10, 1))
    assignment = cheapest_assignment(FULL_SALES | custom_writes(20), book)
    assert assignment.standalone == ("sales_professional", "team_members")
    assert assignment.cost_usd_month == 73


# ---- how licences combine ----------------------------------------------------------------


def test_the_base_must_be_the_highest_priced_app(books):
    book = books["2019"]
    problems = licence_set_problems(book, base="sales_enterprise", attaches=["finance"])
    assert any("highest-priced" in problem and "180" in problem for problem in problems)
    assert licence_set_problems(book, base="finance", attaches=["sales_enterprise"]) == []


def test_a_device_licence_is_never_an_attach_nor_held_by_a_user(books):
    book = books["current"]
    problems = licence_set_problems(book, base="finance", attaches=["operations_device"])
    assert any("device licence" in problem for problem in problems)
    assert licence_set_problems(book, base="finance", device="operations_device") == []


def test_enterprise_and_professional_never_mix_on_one_user(books):
    book = books["current"]
    problems = licence_set_problems(book, base="finance", attaches=["sales_professional"])
    assert any("do not mix" in problem for problem in problems)


def test_attaches_need_a_base_and_the_2017_era_has_neither(books):
    assert licence_set_problems(books["2019"], attaches=["sales_enterprise"])
    assert licence_set_problems(books["2017"], base="plan_1")
    assert (
        licence_set_problems(books["2017"], standalone=["plan_1", "unified_operations_plan"]) == []
    )


# ---- cheapest licences for one user -------------------------------------------------------


def test_a_sales_user_with_more_custom_entities_than_professional_allows_needs_enterprise_2019(
    books,
):
    # Sales Professional (65) caps custom entities at 15; 16 force Sales Enterprise: 95.
    assignment = cheapest_assignment(FULL_SALES | custom_writes(16), books["2019"])
    assert assignment.base == "sales_enterprise" and assignment.attaches == ()
    assert assignment.cost_usd_month == 95


def test_a_core_sales_user_in_2019_is_cheapest_on_sales_professional(books):
    # Standard entities only: Sales Professional 65 < Sales Enterprise 95.
    assignment = cheapest_assignment(FULL_SALES, books["2019"])
    assert (assignment.base, assignment.cost_usd_month) == ("sales_professional", 65)


def test_full_sales_and_full_operations_in_2019_is_a_finance_base_plus_sales_attach(books):
    # Finance lists at 180 > Sales Enterprise 95, so Finance is the base: 180 + attach 20 = 200.
    # (Sales Enterprise base 95 + Finance attach 30 = 125 would break the base rule;
    # Sales Professional cannot join an Enterprise base.)
    assignment = cheapest_assignment(FULL_SALES | FULL_OPERATIONS, books["2019"])
    assert assignment.base == "finance"
    assert assignment.attaches == ("sales_enterprise",)
    assert assignment.cost_usd_month == 200
    assert assignment.covers["finance"] == FULL_OPERATIONS
    assert assignment.covers["sales_enterprise"] == FULL_SALES


def test_full_sales_and_full_operations_today_costs_210_plus_20(books):
    assignment = cheapest_assignment(FULL_SALES | FULL_OPERATIONS, books["current"])
    assert (assignment.base, assignment.attaches) == ("finance", ("sales_enterprise",))
    assert assignment.cost_usd_month == 230


def test_a_team_member_who_must_write_accounts_moves_to_a_full_sales_licence(books):
    # Today: Team Members 8 reads all but cannot write accounts; the cheapest full Sales
    # licence is Sales Professional 65.
    book = books["current"]
    reader = READ_SALES | READ_OPERATIONS
    assert cheapest_assignment(reader - READ_OPERATIONS, book).base == "team_members"
    writer = cheapest_assignment(READ_SALES | WRITE_ACCOUNT, book)
    assert writer.base == "sales_professional" and writer.cost_usd_month == 65
    # ... and if they also read Operations, no Sales licence reads it: Finance 210 + attach 20.
    both = cheapest_assignment(READ_SALES | WRITE_ACCOUNT | READ_OPERATIONS, book)
    assert (both.base, both.attaches, both.cost_usd_month) == (
        "finance",
        ("sales_enterprise",),
        230,
    )


def test_a_read_only_operations_user_today_is_a_team_member_at_8(books):
    assignment = cheapest_assignment(READ_OPERATIONS, books["current"])
    assert (assignment.base, assignment.cost_usd_month) == ("team_members", 8)
    assert assignment.requests_per_day == 6_000


def test_in_2017_a_team_member_could_still_write_accounts_for_40(books):
    # Launch Team Members 40 < Sales Enterprise 95 (Sales Professional not yet on sale).
    assignment = cheapest_assignment(READ_SALES | WRITE_ACCOUNT, books["2017"])
    assert (assignment.standalone, assignment.cost_usd_month) == (("team_members_launch",), 40)


def test_from_october_2018_the_same_2017_user_needs_sales_professional(books):
    # Team Members 8 lost account writes; Sales Professional (mid 2018) at 65 is cheapest.
    book = load_price_book("2017", as_of=date(2018, 10, 1))
    assignment = cheapest_assignment(READ_SALES | WRITE_ACCOUNT, book)
    assert (assignment.standalone, assignment.cost_usd_month) == (("sales_professional",), 65)


def test_full_sales_and_operations_in_2017_is_plan_2_for_one_user(books):
    # Plan 2 210 < Sales Enterprise 95 + Unified Operations Plan 190 = 285 (per user,
    # before Plan 2's 20-seat minimum, which cost_roles applies).
    assignment = cheapest_assignment(FULL_SALES | FULL_OPERATIONS, books["2017"])
    assert (assignment.standalone, assignment.cost_usd_month) == (("plan_2",), 210)


def test_the_search_never_pairs_sales_professional_with_an_enterprise_app():
    # 2017 era as of October 2018 with Plan 2 negotiated up to 400: Sales Professional 65 +
    # Unified Operations Plan 190 = 255 would be cheapest but mixes editions; the answer is
    # Sales Enterprise 95 + Unified Operations Plan 190 = 285.
    book = load_price_book("2017", {"plan_2": 400}, as_of=date(2018, 10, 1))
    assignment = cheapest_assignment(FULL_SALES | FULL_OPERATIONS, book)
    assert assignment.standalone == ("sales_enterprise", "unified_operations_plan")
    assert assignment.cost_usd_month == 285


def test_an_override_that_makes_team_members_dear_moves_readers_to_activity(books):
    # Team Members negotiated up to 70 (silly, but it shows the override flows through):
    # an Operations reader now costs Operations Activity 50.
    book = load_price_book("current", {"team_members": 70})
    assignment = cheapest_assignment(READ_OPERATIONS, book)
    assert (assignment.base, assignment.cost_usd_month) == ("operations_activity", 50)
    assert book.overridden == {"team_members": (8, 70)}


def test_a_finance_discount_lowers_the_full_user_and_keeps_finance_the_base():
    # Finance negotiated to 150 (list 210): 150 + 20 = 170.
    book = load_price_book("current", {"finance": 150})
    assignment = cheapest_assignment(FULL_SALES | FULL_OPERATIONS, book)
    assert (assignment.base, assignment.cost_usd_month) == ("finance", 170)


def test_the_base_rule_uses_list_prices_not_negotiated_ones():
    # Finance negotiated down to 60, below Sales Enterprise's 105: Finance still lists at 210,
    # so it stays the base and Sales Enterprise attaches at 20: 60 + 20 = 80.
    book = load_price_book("current", {"finance": 60})
    assignment = cheapest_assignment(FULL_SALES | FULL_OPERATIONS, book)
    assert (assignment.base, assignment.attaches) == ("finance", ("sales_enterprise",))
    assert assignment.cost_usd_month == 80


def test_warehouse_work_on_shared_devices_costs_a_share_of_a_device_licence(books):
    book = books["current"]
    picking = {Right("operations", "order", "light_task"), Right("operations", "order", "read")}
    # Six people per device: 75 / 6 = 12.50 each, less than Operations Activity 50.
    shared = cheapest_assignment(picking, book, users_per_device=6)
    assert shared.device == "operations_device" and shared.skus == ()
    assert shared.cost_usd_month == pytest.approx(12.5)
    # One person per device: 75 > 50, so a named Activity licence wins.
    alone = cheapest_assignment(picking, book, users_per_device=1)
    assert alone.base == "operations_activity" and alone.device is None
    # Without a shared device the option does not exist.
    assert cheapest_assignment(picking, book).base == "operations_activity"


TEAM_MEMBERS_ONLY_BOOK = """
era: tiny
title: a book that sells only Team Members
period: test
valid_from: 2020-01-01
valid_until: null
as_of: 2020-01-01
licensing_model: base_attach
currency: USD
requests:
  source: test
  tenant_pool: {base_requests_per_day: 0, per_base_licence_requests_per_day: 0,
                max_requests_per_day: null, capacity_addon_requests_per_day: 0}
skus:
  - id: team_members
    name: Team Members
    price_usd_month: 8
    confidence: third_party
    source: test
    kind: user
    product_line: all
    edition: none
    base: true
    requests_per_day: 6000
    rights:
      - {system: sales, entities: all, access: [read]}
      - {system: sales, entities: custom, access: [write], max_entities: 15}
"""


def test_a_right_no_licence_grants_is_reported_by_name(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(TEAM_MEMBERS_ONLY_BOOK)
    book = load_price_book(path)
    with pytest.raises(NoCompliantAssignment, match="grants: write account in sales"):
        cheapest_assignment(READ_SALES | WRITE_ACCOUNT, book)
    # every right grantable, but not together: 16 custom entities over the cap of 15
    with pytest.raises(NoCompliantAssignment, match="together"):
        cheapest_assignment(custom_writes(16), book)
    with pytest.raises(NoCompliantAssignment, match="role 'clerk'"):
        cost_roles({"clerk": (1, WRITE_ACCOUNT)}, book)


def test_attaches_add_no_request_entitlement_but_product_lines_in_2017_add_up(books):
    # 2019: Finance base 20,000; the Sales attach adds nothing.
    both = cheapest_assignment(FULL_SALES | FULL_OPERATIONS, books["2019"])
    assert both.requests_per_day == 20_000
    # 2017, 5 users: Sales Enterprise (customer engagement, 20,000) + Unified Operations
    # Plan (operations, 20,000) held side by side = 40,000.
    report = cost_roles({"full": (5, FULL_SALES | FULL_OPERATIONS)}, books["2017"])
    assert report.role("full").assignment.standalone == (
        "sales_enterprise",
        "unified_operations_plan",
    )
    assert report.role("full").requests_entitled_per_user_per_day == 40_000


# ---- costing roles, minimum seats ---------------------------------------------------------


def test_plan_2_for_15_users_is_paid_for_20_seats_and_still_cheapest(books):
    # Plan 2 min 20 seats: 20 x 210 = 4,200 < 15 x (95 + 190) = 4,275.
    report = cost_roles({"full": (15, FULL_SALES | FULL_OPERATIONS)}, books["2017"])
    assert report.role("full").assignment.standalone == ("plan_2",)
    (seat,) = report.seats
    assert (seat.sku_id, seat.used, seat.seats_paid, seat.unused_seats) == ("plan_2", 15, 20, 5)
    assert report.padding_usd_month == 5 * 210
    assert report.cost_usd_month == 4_200
    assert report.cost_usd_year == 12 * 4_200


def test_plan_2_for_5_users_is_not_worth_20_seats(books):
    # 20 x 210 = 4,200 > 5 x (95 + 190) = 1,425.
    report = cost_roles({"full": (5, FULL_SALES | FULL_OPERATIONS)}, books["2017"])
    assert report.role("full").assignment.standalone == (
        "sales_enterprise",
        "unified_operations_plan",
    )
    assert report.cost_usd_month == 1_425
    assert report.padding_usd_month == 0


def test_with_the_infeasible_policy_15_users_cannot_buy_plan_2(books):
    # Plan 2 below 20 seats is not allowed: 15 x (95 + 190) = 4,275.
    report = cost_roles(
        {"full": (15, FULL_SALES | FULL_OPERATIONS)}, books["2017"], min_seats_policy="infeasible"
    )
    assert report.cost_usd_month == 4_275
    assert all(seat.unused_seats == 0 for seat in report.seats)


def test_spare_plan_2_seats_go_to_another_role_instead_of_its_own_licence(books):
    # 15 full users on Plan 2 leave 5 paid seats; 5 sellers (Sales Enterprise 95 each, which
    # reads Operations in 2017) take them: 20 x 210 = 4,200 rather than 4,200 + 5 x 95.
    report = cost_roles(
        {
            "full": (15, FULL_SALES | FULL_OPERATIONS),
            "seller": (5, FULL_SALES | READ_OPERATIONS),
        },
        books["2017"],
    )
    assert report.role("seller").assignment.standalone == ("plan_2",)
    assert report.cost_usd_month == 4_200 and report.padding_usd_month == 0


def test_finance_today_is_paid_for_20_users_even_for_3(books):
    # No licence without a minimum covers full Operations today: 20 x 210 + 3 x 20 = 4,260.
    report = cost_roles({"full": (3, FULL_SALES | FULL_OPERATIONS)}, books["current"])
    assert report.cost_usd_month == 20 * 210 + 3 * 20
    seat = next(seat for seat in report.seats if seat.sku_id == "finance")
    assert (seat.held_as, seat.unused_seats) == ("base", 17)


def test_cost_roles_with_overrides_lists_them_and_prices_with_them():
    # Finance at 150: 25 x (150 + 20) = 4,250.
    book = load_price_book("current", {"finance": 150})
    report = cost_roles({"full": (25, FULL_SALES | FULL_OPERATIONS)}, book)
    assert report.cost_usd_month == 4_250
    assert report.overridden == {"finance": (210, 150)}


def test_monthly_billing_adds_5_percent_to_the_whole_bill():
    # 25 x (210 + 20) = 5,750; billed monthly x 1.05 = 6,037.50.
    book = load_price_book("current", billed_monthly=True)
    report = cost_roles({"full": (25, FULL_SALES | FULL_OPERATIONS)}, book)
    assert report.cost_usd_month == pytest.approx(5_750 * 1.05)
    assert report.billed_monthly


def test_a_typical_organisation_today_costs_what_the_hand_sum_says(books):
    roles = {
        # Sales Professional 65
        "seller": RoleNeed(40, FULL_SALES, requests_per_user_per_day=3_000),
        # Finance 210 + Sales Enterprise attach 20 = 230, 25 users (no padding)
        "order desk": RoleNeed(25, FULL_SALES | FULL_OPERATIONS),
        # Team Members 8
        "controller": RoleNeed(10, READ_SALES | READ_OPERATIONS, requests_per_user_per_day=7_000),
        # 6 devices shared by 30 pickers: 6 x 75
        "picker": RoleNeed(30, frozenset({Right("operations", "order", "light_task")}), devices=6),
    }
    report = cost_roles(roles, books["current"], integration_requests_per_day=800_000)
    expected = 40 * 65 + 25 * 230 + 10 * 8 + 6 * 75  # 2,600 + 5,750 + 80 + 450 = 8,880
    assert report.cost_usd_month == expected
    # entitlements: 40 x 40,000 + 25 x 40,000 + 10 x 6,000 + 6 devices x 40,000
    assert report.requests_entitled_per_day == 1_600_000 + 1_000_000 + 60_000 + 240_000
    assert report.requests_used_per_day == 40 * 3_000 + 10 * 7_000
    assert report.role("controller").over_entitlement  # 7,000 > Team Members' 6,000
    assert not report.role("seller").over_entitlement
    # pool: 500,000 + 5,000 x (40 + 25 + 10 base licences) = 875,000 >= 800,000
    assert report.pool_requests_per_day == 875_000 and not report.pool_exceeded


def test_roles_given_as_pairs_and_an_empty_role_cost_nothing(books):
    report = cost_roles({"nobody": (0, FULL_SALES), "reader": (2, READ_SALES)}, books["2019"])
    assert report.role("nobody").cost_usd_month == 0
    assert report.cost_usd_month == 2 * 8
    assert "reader: 2 x team_members (base 8)" in report.to_text()


@pytest.mark.parametrize("entity", STANDARD_ENTITIES)
def test_every_standard_entity_write_in_operations_needs_a_full_erp_licence_today(books, entity):
    # Team Members 8 and Activity 50 cannot; Finance is the cheapest that can: 210.
    assignment = cheapest_assignment({Right("operations", entity, "write")}, books["current"])
    assert (assignment.base, assignment.cost_usd_month) == ("finance", 210)
