"""Record-level invariants: referential integrity, duplicate keys, monotone lifecycle."""

from __future__ import annotations

from checker_histories import History, at

from sim.checker import (
    UNKNOWN,
    monotone_lifecycle,
    no_duplicate_keys,
    referential_integrity,
)
from sim.checker.verdicts import HOLDS, VIOLATED

ACCOUNT = {"name": "Contoso", "phone": "1", "credit_limit": 1000.0}
CONTACT = {"account": "ACC-1", "email": "a@contoso.com"}
ORDER = {"account": "ACC-1", "description": "10 chairs", "status": "Draft"}


def sales_only() -> History:
    """Everything below lives in Sales only: no other replica is expected to hold it."""
    synced = {name: {"fields": [], "systems": ["sales"]} for name in ("account", "contact")}
    return History(synced=synced)


# -- referential integrity ----------------------------------------------------------


def test_references_to_existing_records_hold():
    h = sales_only()
    h.save("W-sales-1", at("day 1 09:00"), "sales", "account", "ACC-1", ACCOUNT)
    h.save("W-sales-2", at("day 1 09:05"), "sales", "contact", "CON-1", CONTACT)
    h.quiesce(at("day 1 10:00"))
    verdict = referential_integrity(h.events)
    assert verdict.status == HOLDS
    assert verdict.metrics["dangling_reference_s"] == 0


def test_a_reference_still_dangling_at_quiescence_is_a_violation():
    h = sales_only()
    h.save("W-sales-1", at("day 1 09:00"), "sales", "account", "ACC-1", ACCOUNT)
    h.save("W-sales-2", at("day 1 09:05"), "sales", "contact", "CON-1", CONTACT)
    h.apply(
        at("day 1 09:15"),
        "operations",
        "contact",
        "CON-1",
        dict.fromkeys(CONTACT, "W-sales-2"),
        via="contacts_hub_to_operations#1",
    )
    h.quiesce(at("day 1 10:00"))
    verdict = referential_integrity(h.events)
    assert verdict.status == VIOLATED
    [anomaly] = verdict.anomalies
    assert (anomaly.code, anomaly.system, anomaly.key) == (
        "dangling-reference",
        "operations",
        "CON-1",
    )
    assert anomaly.explain() == (
        "contact CON-1 in operations references account ACC-1 (field account), which does "
        "not exist in operations; dangling since day 1 09:15."
    )
    assert verdict.metrics["dangling_reference_s"] == 45 * 60
    assert verdict.metrics["max_dangling"] == 1


def test_a_reference_that_dangles_for_a_while_is_measured_not_judged():
    h = sales_only()
    h.save("W-sales-1", at("day 1 09:00"), "sales", "account", "ACC-1", ACCOUNT)
    h.save("W-sales-2", at("day 1 09:05"), "sales", "contact", "CON-1", CONTACT)
    h.save("W-sales-3", at("day 1 09:06"), "sales", "contact", "CON-2", CONTACT)
    # The contacts reach Operations ten minutes before their account does.
    for key, write_id in (("CON-1", "W-sales-2"), ("CON-2", "W-sales-3")):
        h.apply(
            at("day 1 09:20"),
            "operations",
            "contact",
            key,
            dict.fromkeys(CONTACT, write_id),
            via="contacts#1",
        )
    h.apply(
        at("day 1 09:30"),
        "operations",
        "account",
        "ACC-1",
        dict.fromkeys(ACCOUNT, "W-sales-1"),
        via="accounts#1",
    )
    h.quiesce(at("day 1 10:00"))
    verdict = referential_integrity(h.events)
    assert verdict.status == HOLDS
    assert verdict.metrics["dangling_reference_s"] == 2 * 600
    assert verdict.metrics["max_dangling"] == 2
    assert verdict.metrics["dangling_at_end"] == 0


def test_a_reference_changed_to_an_existing_record_stops_dangling():
    h = sales_only()
    h.save("W-sales-1", at("day 1 09:00"), "sales", "account", "ACC-2", ACCOUNT)
    h.save("W-sales-2", at("day 1 09:00"), "sales", "contact", "CON-1", CONTACT)
    h.save(
        "W-sales-3",
        at("day 1 09:10"),
        "sales",
        "contact",
        "CON-1",
        {"account": "ACC-2"},
        base={"account": ["W-sales-2"]},
    )
    h.quiesce(at("day 1 10:00"))
    verdict = referential_integrity(h.events)
    assert verdict.status == HOLDS
    assert verdict.metrics["dangling_reference_s"] == 600


def test_an_empty_reference_is_no_reference():
    h = sales_only()
    h.save(
        "W-sales-1",
        at("day 1 09:05"),
        "sales",
        "contact",
        "CON-1",
        {"account": None, "email": "x@y.z"},
    )
    h.quiesce(at("day 1 10:00"))
    assert referential_integrity(h.events).status == HOLDS


def test_dangling_references_without_quiescence_are_unknown():
    h = sales_only()
    h.save("W-sales-2", at("day 1 09:05"), "sales", "contact", "CON-1", CONTACT)
    verdict = referential_integrity(h.events)
    assert verdict.status == UNKNOWN
    assert verdict.metrics["dangling_at_end"] == 1


# -- duplicate keys -----------------------------------------------------------------


def test_a_second_create_of_the_same_key_in_one_replica_is_a_duplicate_record():
    h = History()
    h.save("W-sales-1", at("day 1 09:00"), "sales", "account", "ACC-1", ACCOUNT)
    versions = dict.fromkeys(ACCOUNT, "W-sales-1")
    h.apply(at("day 1 09:15"), "operations", "account", "ACC-1", versions, via="a#1")
    h.apply(at("day 1 09:30"), "operations", "account", "ACC-1", versions, via="a#2", created=True)
    verdict = no_duplicate_keys(h.events)
    assert verdict.status == VIOLATED
    [anomaly] = verdict.anomalies
    assert (anomaly.code, anomaly.system, anomaly.key, anomaly.via) == (
        "duplicate-record",
        "operations",
        "ACC-1",
        "a#2",
    )
    assert "already held a record with account_number ACC-1" in anomaly.explain()


def test_a_duplicate_delivery_under_upsert_is_not_a_duplicate_record():
    h = History()
    h.save("W-sales-1", at("day 1 09:00"), "sales", "account", "ACC-1", ACCOUNT)
    versions = dict.fromkeys(ACCOUNT, "W-sales-1")
    h.apply(at("day 1 09:15"), "operations", "account", "ACC-1", versions, via="a#1")
    # The same message delivered again: the upsert finds the row and changes nothing.
    h.apply(at("day 1 09:16"), "operations", "account", "ACC-1", {}, via="a#1", created=False)
    h.apply(at("day 1 09:17"), "operations", "account", "ACC-1", versions, via="a#1", created=False)
    assert no_duplicate_keys(h.events).status == HOLDS


def test_the_same_key_created_in_two_replicas_is_not_a_duplicate():
    h = History()
    h.save("W-sales-1", at("day 1 09:00"), "sales", "account", "ACC-1", ACCOUNT)
    h.save("W-operations-1", at("day 1 09:00"), "operations", "account", "ACC-1", ACCOUNT)
    assert no_duplicate_keys(h.events).status == HOLDS


# -- monotone lifecycle -------------------------------------------------------------


def order_through(h: History, statuses: list[str], system: str = "operations") -> History:
    h.save("W-sales-1", at("day 1 09:00"), "sales", "order", "ORD-1", ORDER)
    h.apply(
        at("day 1 09:00"),
        system,
        "order",
        "ORD-1",
        dict.fromkeys(ORDER, "W-sales-1"),
        via="orders#1",
    )
    previous = "W-sales-1"
    for n, status in enumerate(statuses, start=2):
        write_id = f"W-{system}-{n}"
        h.save(
            write_id,
            at("day 1 10:00") + 60 * n,
            system,
            "order",
            "ORD-1",
            {"status": status},
            base={"status": [previous]},
            actor="ops_clerk-1",
        )
        previous = write_id
    return h


def test_an_order_moving_forward_through_its_lifecycle_holds():
    h = order_through(History(), ["Active", "Confirmed", "Picked", "Shipped", "Invoiced"])
    verdict = monotone_lifecycle(h.events)
    assert verdict.status == HOLDS
    assert verdict.metrics["status_changes"] == 5


def test_a_stale_copy_moving_an_order_back_is_caught():
    h = order_through(History(), ["Active", "Confirmed", "Shipped"])
    # A stale Sales snapshot (Confirmed) arrives after Operations shipped.
    h.apply(
        at("day 1 11:00"),
        "operations",
        "order",
        "ORD-1",
        {"status": "W-operations-3"},
        via="orders_hub_to_operations#7",
    )
    verdict = monotone_lifecycle(h.events)
    assert verdict.status == VIOLATED
    [anomaly] = verdict.anomalies
    assert (anomaly.code, anomaly.system, anomaly.via) == (
        "status-backwards",
        "operations",
        "orders_hub_to_operations#7",
    )
    assert anomaly.explain() == (
        "order ORD-1 in operations moved backwards from Shipped (W-operations-4) to "
        "Confirmed at day 1 11:00 by batch run orders_hub_to_operations#7 carrying "
        "W-operations-3 (ops_clerk-1 set order ORD-1 status Confirmed at day 1 10:03)."
    )


def test_cancelled_may_be_entered_from_any_state_but_never_left():
    h = order_through(History(), ["Active", "Confirmed", "Cancelled"])
    assert monotone_lifecycle(h.events).status == HOLDS
    h.save(
        "W-operations-9",
        at("day 1 12:00"),
        "operations",
        "order",
        "ORD-1",
        {"status": "Shipped"},
        base={"status": ["W-operations-4"]},
    )
    verdict = monotone_lifecycle(h.events)
    assert verdict.status == VIOLATED
    assert "from Cancelled" in verdict.anomalies[0].explain()


def test_each_replica_is_judged_on_its_own_history():
    # Sales still shows Draft while Operations ships: no replica went backwards.
    h = order_through(History(), ["Active", "Shipped"])
    h.apply(
        at("day 1 12:00"),
        "sales",
        "order",
        "ORD-1",
        {"status": "W-operations-3"},
        via="orders_hub_to_sales#1",
    )
    assert monotone_lifecycle(h.events).status == HOLDS
