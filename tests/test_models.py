"""The sync logic in plain Python: versions, bases, upserts, ownership, change tracking.

No SimPy here: ``models/`` is driven directly, the way Hypothesis drives it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from models.design import DesignSpec
from models.entities import Catalogue
from models.integration import Integration
from models.records import Write, WriteLog
from models.systems import Replica

ROOT = Path(__file__).resolve().parent.parent


def p2c_design(**changes) -> DesignSpec:
    data = yaml.safe_load((ROOT / "scenarios/designs/p2c-2017.yaml").read_text())
    data.update(changes)
    return DesignSpec.model_validate(data)


def integration(events: list | None = None) -> Integration:
    sink = events.append if events is not None else (lambda e: None)
    return Integration(p2c_design(), Catalogue(), sink)


def account_fields(**overrides):
    fields = {
        "name": "Contoso",
        "phone": "1",
        "city": "Oslo",
        "credit_limit": 1000.0,
        "payment_terms": "Net30",
        "customer_group": "Retail",
    }
    fields.update(overrides)
    return fields


def write(write_id, field, base=(), entity="account", key="ACC-1"):
    return Write(
        write_id,
        entity,
        key,
        "update",
        {field: 0},
        {field: tuple(base)},
        "a",
        "r",
        "sales",
        0.0,
        0.0,
    )


# ------------------------------------------------------------- versions, bases


def test_a_write_descends_from_the_writes_in_its_base_transitively():
    log = WriteLog()
    log.add(write("W1", "phone"))
    log.add(write("W2", "phone", ["W1"]))
    log.add(write("W3", "phone", ["W2"]))
    assert log.is_ancestor("W1", "W3", "phone")
    assert log.is_ancestor("W3", "W3", "phone")
    assert not log.is_ancestor("W3", "W1", "phone")


def test_ancestry_is_per_field():
    log = WriteLog()
    log.add(write("W1", "phone"))
    log.add(write("W2", "city", ["W1"]))  # a base on another field says nothing of phone
    assert not log.is_ancestor("W1", "W2", "phone")


def test_a_merge_write_descends_from_both_parents():
    log = WriteLog()
    log.add(write("A", "phone"))
    log.add(write("B", "phone"))
    log.add(write("M", "phone", ["A", "B"]))
    assert log.is_ancestor("A", "M", "phone") and log.is_ancestor("B", "M", "phone")


def test_write_ids_are_unique_and_numbered_per_system():
    log = WriteLog()
    assert [log.next_id("sales"), log.next_id("operations"), log.next_id("sales")] == [
        "W-sales-1",
        "W-operations-1",
        "W-sales-2",
    ]
    log.add(write("W-x", "phone"))
    with pytest.raises(ValueError):
        log.add(write("W-x", "phone"))


def test_a_replica_row_keeps_value_and_producing_write_per_field_and_a_row_version():
    events = []
    integ = integration(events)
    w1 = integ.save(
        now_s=1,
        actor="u",
        role="r",
        system="sales",
        entity="account",
        key="ACC-1",
        fields=account_fields(),
    )
    w2 = integ.save(
        now_s=2,
        actor="u",
        role="r",
        system="sales",
        entity="account",
        key="ACC-1",
        fields={"phone": "2"},
    )
    row = integ.replicas["sales"].row("account", "ACC-1")
    assert row.fields["phone"] == ("2", w2.write_id)
    assert row.fields["city"] == ("Oslo", w1.write_id)
    assert row.row_version == 2
    # The second save's base is what the form showed: the first write.
    assert w2.base == {"phone": (w1.write_id,)}
    assert [e["kind"] for e in events] == ["write", "apply", "write", "apply"]


def test_a_save_that_did_not_see_the_current_version_is_reported_as_an_overwrite():
    events = []
    integ = integration(events)
    integ.save(
        now_s=0,
        actor="m",
        role="m",
        system="sales",
        entity="account",
        key="ACC-1",
        fields=account_fields(),
    )
    base, _ = integ.open_form("sales", "account", "ACC-1", ("phone",))
    integ.save(
        now_s=1,
        actor="a",
        role="r",
        system="sales",
        entity="account",
        key="ACC-1",
        fields={"phone": "A"},
    )
    integ.save(
        now_s=2,
        actor="b",
        role="r",
        system="sales",
        entity="account",
        key="ACC-1",
        fields={"phone": "B"},
        base=base,
    )  # b opened the form before a saved
    overwrites = [e for e in events if e["kind"] == "overwrite"]
    assert len(overwrites) == 1
    assert overwrites[0]["lost_write"] == "W-sales-2"
    assert overwrites[0]["by_write"] == "W-sales-3"


# ----------------------------------------------------------- upserts and maps


def test_upsert_matches_on_the_business_key_and_never_duplicates():
    integ = integration()
    integ.save(
        now_s=0,
        actor="m",
        role="m",
        system="sales",
        entity="account",
        key="ACC-7",
        fields=account_fields(),
    )
    # The same customer number was keyed in Operations by hand before the sync ran.
    integ.save(
        now_s=0,
        actor="o",
        role="o",
        system="operations",
        entity="account",
        key="ACC-7",
        fields=account_fields(credit_limit=5.0),
    )
    integ.initial_load(0)
    ops = integ.replicas["operations"]
    assert ops.count("account") == 1
    assert ops.row("account", "ACC-7").value("credit_limit") == 1000.0


def test_a_duplicate_run_of_the_same_rows_changes_nothing():
    integ = integration()
    integ.save(
        now_s=0,
        actor="m",
        role="m",
        system="sales",
        entity="account",
        key="ACC-1",
        fields=account_fields(),
    )
    integ.initial_load(0)
    state = integ.maps["accounts_hub_to_operations"]
    state.watermark = 0  # replay the whole change log, as a redelivery would
    assert integ.run_now("accounts_hub_to_operations", 10) == 0
    assert integ.replicas["operations"].row("account", "ACC-1").row_version == 1


def test_change_tracking_moves_each_changed_row_once_with_its_latest_versions():
    integ = integration()
    for n in range(3):
        integ.save(
            now_s=n,
            actor="m",
            role="m",
            system="sales",
            entity="account",
            key=f"ACC-{n}",
            fields=account_fields(phone=str(n)),
        )
    integ.save(
        now_s=5,
        actor="u",
        role="r",
        system="sales",
        entity="account",
        key="ACC-0",
        fields={"phone": "new"},
    )
    batch = integ.start_run("accounts_sales_to_hub", 6)
    assert [key for key, _ in batch.rows] == ["ACC-1", "ACC-2", "ACC-0"]
    assert batch.rows[2][1]["phone"][0] == "new"
    integ.finish_run(batch, 7)
    assert not integ.pending("accounts_sales_to_hub")


def test_a_run_moves_at_most_its_row_limit_and_leaves_the_rest_for_the_next_run():
    design = p2c_design(batch={"interval_s": 900, "max_rows_per_run": 2})
    integ = Integration(design, Catalogue())
    for n in range(5):
        integ.save(
            now_s=0,
            actor="m",
            role="m",
            system="sales",
            entity="account",
            key=f"ACC-{n}",
            fields=account_fields(),
        )
    assert len(integ.start_run("accounts_sales_to_hub", 1).rows) == 2
    assert integ.pending("accounts_sales_to_hub")


def test_the_batch_interval_cannot_go_under_the_documented_minute():
    data = yaml.safe_load((ROOT / "scenarios/designs/p2c-2017.yaml").read_text())
    data["batch"]["interval_s"] = 30
    with pytest.raises(ValueError, match="greater than or equal to 60"):
        DesignSpec.model_validate(data)


def test_an_operations_edit_of_a_customer_is_overwritten_by_the_next_upsert_from_sales():
    events = []
    integ = integration(events)
    integ.save(
        now_s=0,
        actor="m",
        role="migration",
        system="sales",
        entity="account",
        key="ACC-1",
        fields=account_fields(),
    )
    integ.initial_load(0)
    ops_edit = integ.save(
        now_s=10,
        actor="ops",
        role="credit",
        system="operations",
        entity="account",
        key="ACC-1",
        fields={"credit_limit": 95000.0},
    )
    assert ops_edit is not None  # Operations accepts the edit: nothing stops it
    integ.save(
        now_s=20,
        actor="rep",
        role="sales",
        system="sales",
        entity="account",
        key="ACC-1",
        fields={"phone": "555"},
    )
    integ.run_now("accounts_sales_to_hub", 30)
    integ.run_now("accounts_hub_to_operations", 40)
    row = integ.replicas["operations"].row("account", "ACC-1")
    assert row.value("credit_limit") == 1000.0
    assert row.value("phone") == "555"
    lost = [e for e in events if e["kind"] == "overwrite"]
    assert [(e["lost_write"], e["via"]) for e in lost] == [
        (ops_edit.write_id, "accounts_hub_to_operations#2")
    ]


# --------------------------------------------------------- order ownership


def _draft_order(integ: Integration) -> None:
    integ.save(
        now_s=0,
        actor="m",
        role="m",
        system="sales",
        entity="account",
        key="ACC-1",
        fields=account_fields(),
    )
    integ.save(
        now_s=0,
        actor="rep",
        role="r",
        system="sales",
        entity="order",
        key="ORD-1",
        fields={
            "account": "ACC-1",
            "quote": None,
            "description": "d",
            "requested_ship_day": 3,
            "status": "Draft",
        },
    )


def test_orders_flow_to_operations_until_activation_then_back_from_operations_once_confirmed():
    integ = integration()
    _draft_order(integ)
    integ.initial_load(0)
    ops = integ.replicas["operations"]
    sales = integ.replicas["sales"]
    assert ops.row("order", "ORD-1").value("status") == "Draft"
    assert integ.save(
        now_s=1,
        actor="rep",
        role="r",
        system="sales",
        entity="order",
        key="ORD-1",
        fields={"status": "Active"},
    )
    integ.initial_load(2)
    assert ops.row("order", "ORD-1").value("status") == "Active"
    # Activated: read-only in Sales from now on.
    assert (
        integ.save(
            now_s=3,
            actor="rep",
            role="r",
            system="sales",
            entity="order",
            key="ORD-1",
            fields={"description": "late change"},
        )
        is None
    )
    assert integ.save(
        now_s=4,
        actor="clerk",
        role="c",
        system="operations",
        entity="order",
        key="ORD-1",
        fields={"status": "Confirmed"},
    )
    integ.initial_load(5)
    assert sales.row("order", "ORD-1").value("status") == "Confirmed"
    # The Confirmed order does not travel back to Operations as a Sales change.
    assert not integ.pending("orders_sales_to_hub")
    assert ops.row("order", "ORD-1").row_version == 3


def test_a_refused_save_is_recorded_with_its_reason():
    events = []
    integ = integration(events)
    _draft_order(integ)
    integ.save(
        now_s=1,
        actor="rep",
        role="r",
        system="sales",
        entity="order",
        key="ORD-1",
        fields={"status": "Active"},
    )
    integ.save(
        now_s=2,
        actor="rep",
        role="r",
        system="sales",
        entity="order",
        key="ORD-1",
        fields={"description": "x"},
    )
    reject = events[-1]
    assert reject["kind"] == "reject"
    assert "read-only in sales while status is Active" in reject["reason"]


def test_operations_refuses_a_form_saved_after_the_row_changed_underneath_it():
    integ = integration()
    _draft_order(integ)
    integ.save(
        now_s=1,
        actor="rep",
        role="r",
        system="sales",
        entity="order",
        key="ORD-1",
        fields={"status": "Active"},
    )
    integ.initial_load(1)
    base, version = integ.open_form("operations", "order", "ORD-1", ("status",))
    assert integ.save(
        now_s=2,
        actor="c1",
        role="c",
        system="operations",
        entity="order",
        key="ORD-1",
        fields={"status": "Confirmed"},
    )
    late = integ.save(
        now_s=3,
        actor="c2",
        role="c",
        system="operations",
        entity="order",
        key="ORD-1",
        fields={"status": "Confirmed"},
        base=base,
        opened_row_version=version,
    )
    assert late is None  # UpdateConflict, as Operations' RecVersion check does


def test_the_hub_holds_no_user_edits():
    integ = integration()
    _draft_order(integ)
    assert (
        integ.save(
            now_s=1,
            actor="x",
            role="r",
            system="hub",
            entity="account",
            key="ACC-1",
            fields={"phone": "1"},
        )
        is None
    )


def test_status_index_follows_status_changes():
    replica = Replica("sales", Catalogue())
    log = WriteLog()
    replica.apply("order", "O1", {"status": ("Draft", "W1")}, log)
    replica.apply("order", "O1", {"status": ("Active", "W2")}, log)
    assert replica.by_status["order"]["Draft"].keys == []
    assert replica.by_status["order"]["Active"].keys == ["O1"]


def test_initial_loads_follow_the_reference_graph():
    order = Catalogue().load_order
    assert order.index("account") < order.index("contact")
    assert order.index("order") < order.index("order_line")
    assert order.index("product") < order.index("bundle_line")
    assert order.index("invoice") < order.index("invoice_line")


def test_the_load_order_is_networkx_lexicographical_topological_order():
    import random

    import networkx as nx

    from models.entities import EntityDef, FieldDef, load_order, reference_graph

    def entity(name, references):
        fields = tuple(FieldDef(f, "str", target) for f, target in references.items())
        return EntityDef(name, "key", "K", fields)

    def expected(entities):
        position = {e.name: i for i, e in enumerate(entities)}
        return tuple(
            nx.lexicographical_topological_sort(reference_graph(entities), key=position.__getitem__)
        )

    standard = list(Catalogue())
    assert Catalogue().load_order == load_order(standard) == expected(standard)
    rng = random.Random(7)
    for _ in range(200):
        names = [f"e{i}" for i in range(rng.randint(1, 9))]
        rng.shuffle(names)
        rank = {name: rng.random() for name in names}  # edges follow rank: no cycle
        entities = [
            entity(
                name,
                {
                    f"r{j}": target
                    for j, target in enumerate(names)
                    if rank[target] < rank[name] and rng.random() < 0.4
                },
            )
            for name in names
        ]
        assert load_order(entities) == expected(entities)
    looped = [entity("a", {"b": "b"}), entity("b", {"a": "a"})]
    with pytest.raises(ValueError, match="form a cycle"):
        load_order(looped)


def test_a_run_does_not_import_networkx():
    import subprocess
    import sys

    code = "import sys, sim.engine.runner; print('networkx' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def _dual_write_live() -> Integration:
    from sim.scenario.spec import load_design
    from sim.scenario.yamlio import LineMap

    design = load_design("dual-write-live", LineMap("dual-write-live"), None)[0]
    integ = Integration(design, Catalogue())
    integ.save(
        now_s=0,
        actor="m",
        role="m",
        system="sales",
        entity="account",
        key="ACC-1",
        fields=account_fields(),
    )
    return integ


def test_dual_write_live_rolls_back_over_the_time_and_record_limits_and_when_unreachable():
    integ = _dual_write_live()
    assert (
        integ.save(
            now_s=1,
            actor="u",
            role="r",
            system="sales",
            entity="account",
            key="ACC-1",
            fields={"phone": "2"},
            live_delay_s=121.0,
        )
        is None
    )
    assert "120 s limit" in integ.last_refusal
    assert (
        integ.save(
            now_s=2,
            actor="u",
            role="r",
            system="sales",
            entity="account",
            key="ACC-1",
            fields={"phone": "3"},
            transaction_records=1001,
        )
        is None
    )
    assert "1,000-record limit" in integ.last_refusal
    integ.down.add("operations")
    assert (
        integ.save(
            now_s=3,
            actor="u",
            role="r",
            system="sales",
            entity="account",
            key="ACC-1",
            fields={"phone": "4"},
        )
        is None
    )
    integ.down.clear()
    # Nothing of the refused saves reached either side; the next one commits on both.
    assert integ.replicas["operations"].row("account", "ACC-1").value("phone") == "1"
    assert integ.save(
        now_s=4,
        actor="u",
        role="r",
        system="sales",
        entity="account",
        key="ACC-1",
        fields={"phone": "5"},
        transaction_records=1000,
    )
    assert integ.replicas["operations"].row("account", "ACC-1").value("phone") == "5"
