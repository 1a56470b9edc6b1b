"""ownership: saves are accepted only where, and when, the design allows them."""

from __future__ import annotations

from checker_histories import History, at

from sim.checker import UNKNOWN, ownership
from sim.checker.verdicts import HOLDS, VIOLATED

ORDER = {"account": "ACC-1", "description": "10 chairs", "status": "Draft"}


def test_saves_where_the_entity_is_editable_hold():
    h = History()
    h.save("W-sales-1", at("day 1 09:00"), "sales", "account", "ACC-1", {"phone": "1"})
    h.save("W-operations-2", at("day 1 09:10"), "operations", "account", "ACC-1", {"phone": "2"})
    assert ownership(h.events).status == HOLDS


def test_a_save_accepted_in_a_read_only_system_is_a_violation():
    h = History()
    h.save(
        "W-operations-1",
        at("day 1 09:00"),
        "operations",
        "contact",
        "CON-1",
        {"email": "a@b.c"},
        actor="ops_clerk-2",
    )
    verdict = ownership(h.events)
    assert verdict.status == VIOLATED
    [anomaly] = verdict.anomalies
    assert anomaly.code == "read-only-system"
    assert anomaly.explain() == (
        "W-operations-1 (ops_clerk-2 set contact CON-1 email a@b.c at day 1 09:00) was "
        "accepted in operations although contact is read-only in operations (editable "
        "only in sales)."
    )


def test_a_refused_save_in_a_read_only_system_is_the_design_working():
    h = History()
    h.save(
        "W-operations-1",
        at("day 1 09:00"),
        "operations",
        "contact",
        "CON-1",
        {"email": "a@b.c"},
        applied=False,
    )
    h.reject("W-operations-1", at("day 1 09:00"), "operations", "contact", "CON-1")
    assert ownership(h.events).status == HOLDS


def test_an_order_may_be_edited_in_sales_only_while_it_is_draft():
    h = History()
    h.save("W-sales-1", at("day 1 09:00"), "sales", "order", "ORD-1", ORDER)
    h.save(
        "W-sales-2",
        at("day 1 09:05"),
        "sales",
        "order",
        "ORD-1",
        {"status": "Active"},
        base={"status": ["W-sales-1"]},
    )
    assert ownership(h.events).status == HOLDS  # activating a draft is allowed
    h.save(
        "W-sales-3",
        at("day 1 09:10"),
        "sales",
        "order",
        "ORD-1",
        {"description": "12 chairs"},
        base={"description": ["W-sales-1"]},
    )
    verdict = ownership(h.events)
    assert verdict.status == VIOLATED
    [anomaly] = verdict.anomalies
    assert anomaly.code == "condition-failed"
    assert anomaly.write_ids == ("W-sales-3",)
    assert "order ORD-1 status was Active; sales may edit order only when status is Draft" in (
        anomaly.explain()
    )


def test_a_create_is_judged_on_the_values_it_sets():
    h = History()
    h.save(
        "W-sales-1", at("day 1 09:00"), "sales", "order", "ORD-1", {**ORDER, "status": "Confirmed"}
    )
    verdict = ownership(h.events)
    assert [a.code for a in verdict.anomalies] == ["condition-failed"]


def test_the_condition_reads_the_row_in_the_system_of_the_save():
    h = History()
    h.save("W-sales-1", at("day 1 09:00"), "sales", "order", "ORD-1", ORDER)
    # Operations confirms; Sales has not received it yet, so Sales still sees Draft.
    h.apply(
        at("day 1 09:15"),
        "operations",
        "order",
        "ORD-1",
        dict.fromkeys(ORDER, "W-sales-1"),
        via="o#1",
    )
    h.save(
        "W-operations-2",
        at("day 1 09:20"),
        "operations",
        "order",
        "ORD-1",
        {"status": "Confirmed"},
        base={"status": ["W-sales-1"]},
    )
    h.save(
        "W-sales-3",
        at("day 1 09:25"),
        "sales",
        "order",
        "ORD-1",
        {"description": "12 chairs"},
        base={"description": ["W-sales-1"]},
    )
    assert ownership(h.events).status == HOLDS


def test_without_an_editable_section_ownership_cannot_be_judged():
    h = History(editable=None)
    h.save(
        "W-operations-1", at("day 1 09:00"), "operations", "contact", "CON-1", {"email": "a@b.c"}
    )
    assert ownership(h.events).status == UNKNOWN
