"""Invariants about flows: invoice totals, bounded echo, accounted for, staleness."""

from __future__ import annotations

from checker_histories import History

from sim.checker import (
    UNKNOWN,
    accounted_for,
    bounded_echo,
    invoice_totals,
    no_lost_update,
    staleness,
)
from sim.checker.staleness import nearest_rank
from sim.checker.verdicts import HOLDS, VIOLATED

ACCOUNT = {"name": "Contoso", "phone": "1", "credit_limit": 1000.0}


# -- invoice totals -----------------------------------------------------------------


def invoiced_order(total: float, line_amounts: list[float]) -> History:
    """ORD-1 with lines 2 x 10.00 and 1 x 5.50 (25.50), billed by INV-1, all in Sales."""
    synced = {
        name: {"fields": [], "systems": ["sales"]}
        for name in ("order", "order_line", "invoice", "invoice_line")
    }
    h = History(synced=synced)
    h.save(
        "W-sales-1",
        100.0,
        "sales",
        "order",
        "ORD-1",
        {"account": "ACC-1", "description": "chairs", "status": "Draft"},
    )
    h.save(
        "W-sales-2",
        110.0,
        "sales",
        "order_line",
        "ORL-1",
        {"order": "ORD-1", "quantity": 2, "unit_price": 10.0},
    )
    h.save(
        "W-sales-3",
        120.0,
        "sales",
        "order_line",
        "ORL-2",
        {"order": "ORD-1", "quantity": 1, "unit_price": 5.5},
    )
    h.save(
        "W-sales-4", 130.0, "sales", "invoice", "INV-1", {"order": "ORD-1", "total_amount": total}
    )
    for n, amount in enumerate(line_amounts, start=1):
        h.save(
            f"W-sales-{4 + n}",
            140.0 + n,
            "sales",
            "invoice_line",
            f"INL-{n}",
            {"invoice": "INV-1", "amount": amount},
        )
    return h.quiesce(1000.0)


def test_an_invoice_that_adds_up_to_its_lines_and_its_order_holds():
    verdict = invoice_totals(invoiced_order(25.50, [20.0, 5.5]).events)
    assert verdict.status == HOLDS
    assert verdict.metrics["invoices_checked"] == 1


def test_totals_within_half_a_cent_agree():
    assert invoice_totals(invoiced_order(25.504, [20.0, 5.5]).events).status == HOLDS


def test_an_invoice_total_that_differs_from_its_lines_is_caught():
    verdict = invoice_totals(invoiced_order(25.50, [20.0, 5.0]).events)
    assert verdict.status == VIOLATED
    [anomaly] = verdict.anomalies
    assert anomaly.code == "lines-mismatch"
    assert anomaly.explain() == (
        "invoice INV-1 in sales has total_amount 25.50 but its 2 lines sum to 25.00."
    )


def test_an_invoice_that_does_not_bill_its_order_total_is_caught():
    verdict = invoice_totals(invoiced_order(30.0, [20.0, 10.0]).events)
    assert verdict.status == VIOLATED
    [anomaly] = verdict.anomalies
    assert anomaly.code == "order-mismatch"
    assert "order ORD-1 it bills totals 25.50 over 2 lines" in anomaly.explain()


def test_invoice_totals_are_not_judged_before_quiescence():
    events = [e for e in invoiced_order(30.0, [20.0]).events if e["kind"] != "quiescence"]
    assert invoice_totals(events).status == UNKNOWN


# -- bounded echo -------------------------------------------------------------------


def test_a_write_applied_once_per_replica_is_within_the_echo_bound():
    h = History(echo_bound=1)
    h.save("W-sales-1", 100.0, "sales", "account", "ACC-1", ACCOUNT)
    h.everywhere(200.0, "account", "ACC-1", dict.fromkeys(ACCOUNT, "W-sales-1"), via="a#1")
    verdict = bounded_echo(h.events)
    assert verdict.status == HOLDS
    assert verdict.metrics["max_applies_per_write_replica"] == 1


def test_an_echo_loop_applying_the_same_write_again_and_again_is_caught():
    h = History(echo_bound=2)
    h.save("W-sales-1", 100.0, "sales", "account", "ACC-1", {"phone": "1"})
    h.apply(110.0, "hub", "account", "ACC-1", {"phone": "W-sales-1"}, via="sales_to_hub#0")
    # Without loopback control the write comes back to Sales, and goes out again.
    for run in range(1, 6):
        h.apply(
            100.0 + 60 * run,
            "sales",
            "account",
            "ACC-1",
            {"phone": "W-sales-1"},
            via=f"hub_to_sales#{run}",
        )
        h.apply(
            130.0 + 60 * run,
            "hub",
            "account",
            "ACC-1",
            {"phone": "W-sales-1"},
            via=f"sales_to_hub#{run}",
        )
    verdict = bounded_echo(h.events)
    assert verdict.status == VIOLATED
    assert verdict.metrics["max_applies_per_write_replica"] == 6
    assert {(a.write_ids[0], a.system) for a in verdict.anomalies} == {
        ("W-sales-1", "sales"),
        ("W-sales-1", "hub"),
    }
    text = next(a for a in verdict.anomalies if a.system == "hub").explain()
    assert (
        "was applied 6 times in hub, above the echo bound of 2: the same write keeps "
        "coming back (an echo loop)" in text
    )
    assert "batch run sales_to_hub#3" in text


def test_two_writes_chasing_each_other_between_replicas_are_an_echo_loop():
    h = History(echo_bound=2)
    h.save("W-sales-1", 100.0, "sales", "account", "ACC-1", {"phone": "1"})
    h.save("W-hub-2", 100.0, "hub", "account", "ACC-1", {"phone": "2"})
    for run in range(1, 6):
        h.apply(
            100.0 + 60 * run,
            "hub",
            "account",
            "ACC-1",
            {"phone": "W-sales-1"},
            via=f"sales_to_hub#{run}",
        )
        h.apply(
            100.0 + 60 * run,
            "sales",
            "account",
            "ACC-1",
            {"phone": "W-hub-2"},
            via=f"hub_to_sales#{run}",
        )
        h.apply(
            130.0 + 60 * run,
            "sales",
            "account",
            "ACC-1",
            {"phone": "W-sales-1"},
            via=f"hub_to_sales#{run}b",
        )
        h.apply(
            130.0 + 60 * run,
            "hub",
            "account",
            "ACC-1",
            {"phone": "W-hub-2"},
            via=f"sales_to_hub#{run}b",
        )
    verdict = bounded_echo(h.events)
    assert verdict.status == VIOLATED
    # Each write comes back to its own replica over the other's copy, round after round.
    assert {(a.write_ids[0], a.system) for a in verdict.anomalies} == {
        ("W-sales-1", "sales"),
        ("W-hub-2", "hub"),
    }


def test_a_whole_row_resend_overwriting_local_saves_is_not_an_echo():
    h = History(echo_bound=1)
    row = {"phone": "1", "credit_limit": 100.0}
    h.save("W-sales-1", 100.0, "sales", "account", "ACC-1", row)
    h.apply(200.0, "operations", "account", "ACC-1", dict.fromkeys(row, "W-sales-1"), via="h2o#1")
    for n in range(2, 6):
        # Operations edits; the next run re-sends the Sales row and puts W-sales-1 back.
        h.save(
            f"W-operations-{n}",
            200.0 * n,
            "operations",
            "account",
            "ACC-1",
            {"credit_limit": float(n)},
            base={"credit_limit": ["W-sales-1"]},
        )
        h.apply(
            200.0 * n + 100,
            "operations",
            "account",
            "ACC-1",
            {"credit_limit": "W-sales-1"},
            via=f"h2o#{n}",
        )
    verdict = bounded_echo(h.events)
    assert verdict.status == HOLDS
    assert verdict.metrics["max_applies_per_write_replica"] == 5
    # The note must not read "at most 5 applies (bound 1)" beside "holds".
    assert verdict.note == (
        "no write applied more than 1 time in a replica, not counting overwrites of a "
        "save made there (bound 1); with them, at most 5"
    )
    # The overwrites themselves are no_lost_update's business.
    assert no_lost_update(h.events).violations == 4


def test_an_apply_naming_one_write_for_several_fields_counts_once():
    h = History(echo_bound=1)
    h.save("W-sales-1", 100.0, "sales", "account", "ACC-1", ACCOUNT)
    h.apply(200.0, "hub", "account", "ACC-1", dict.fromkeys(ACCOUNT, "W-sales-1"), via="a#1")
    assert bounded_echo(h.events).status == HOLDS


# -- accounted for ------------------------------------------------------------------


def test_every_write_batch_and_message_accounted_for_holds():
    h = History()
    h.save("W-sales-1", 100.0, "sales", "account", "ACC-1", ACCOUNT)
    h.copy(200.0, "a#1", "hub", "account", "ACC-1", dict.fromkeys(ACCOUNT, "W-sales-1"))
    h.save("W-operations-2", 300.0, "operations", "contact", "CON-1", {"email": "x"}, applied=False)
    h.reject("W-operations-2", 300.0, "operations", "contact", "CON-1", reason="read-only")
    h.add({"kind": "send", "t": 310.0, "message_id": "M-1"})
    h.add({"kind": "deliver", "t": 311.0, "message_id": "M-1"})
    h.add({"kind": "send", "t": 312.0, "message_id": "M-2"})
    h.add({"kind": "dead_letter", "t": 313.0, "message_id": "M-2", "reason": "throttled x5"})
    h.add({"kind": "lock_grant", "t": 314.0, "holder": "someone"})  # unknown kinds: ignored
    h.quiesce(400.0)
    verdict = accounted_for(h.events)
    assert verdict.status == HOLDS, [a.explain() for a in verdict.anomalies]
    assert verdict.metrics["messages_dead_lettered"] == 1


def test_a_write_neither_applied_nor_rejected_is_unaccounted():
    h = History()
    h.save("W-sales-1", 100.0, "sales", "account", "ACC-1", ACCOUNT, applied=False)
    h.quiesce(400.0)
    verdict = accounted_for(h.events)
    assert verdict.status == VIOLATED
    assert [a.code for a in verdict.anomalies] == ["write-unaccounted"]
    assert "was neither applied in sales nor rejected" in verdict.anomalies[0].explain()


def test_a_rejection_without_a_reason_is_not_accounted_for():
    h = History()
    h.save("W-sales-1", 100.0, "sales", "account", "ACC-1", ACCOUNT, applied=False)
    h.reject("W-sales-1", 100.0, "sales", "account", "ACC-1", reason="")
    verdict = accounted_for(h.events)
    assert [a.code for a in verdict.anomalies] == ["reject-without-reason"]
    assert verdict.status == VIOLATED


def test_a_batch_run_whose_rows_do_not_add_up_is_caught():
    h = History()
    head = {"run_id": "a#1", "map": "a", "entity": "account", "source": "sales", "target": "hub"}
    h.add({"kind": "batch_start", "t": 100.0, **head, "rows": 5, "skipped_ticks": 0})
    h.add(
        {
            "kind": "batch_end",
            "t": 110.0,
            **head,
            "rows_changed": 2,
            "rows_unchanged": 2,
            "duration_s": 10.0,
        }
    )
    h.quiesce(400.0)
    verdict = accounted_for(h.events)
    assert [a.code for a in verdict.anomalies] == ["batch-rows-mismatch"]
    assert "1 rows unaccounted" in verdict.anomalies[0].explain()


def test_a_failed_batch_run_accounts_for_its_rows_when_it_says_why():
    head = {"run_id": "a#1", "map": "a", "entity": "account", "source": "sales", "target": "hub"}
    for reason, expected in (("hub down", []), (None, ["batch-failed-without-reason"])):
        h = History()
        h.add({"kind": "batch_start", "t": 100.0, **head, "rows": 5, "skipped_ticks": 0})
        h.add(
            {
                "kind": "batch_end",
                "t": 110.0,
                **head,
                "rows_changed": 0,
                "rows_unchanged": 0,
                "rows_failed": 5,
                "failed": reason,
            }
        )
        h.quiesce(400.0)
        verdict = accounted_for(h.events)
        assert [a.code for a in verdict.anomalies] == expected
        assert verdict.metrics["batch_runs_failed"] == 1


def test_open_batches_and_messages_fail_only_after_quiescence_was_reached():
    h = History()
    h.add(
        {
            "kind": "batch_start",
            "t": 100.0,
            "run_id": "a#1",
            "map": "a",
            "rows": 1,
            "entity": "account",
            "source": "sales",
            "target": "hub",
        }
    )
    h.add({"kind": "send", "t": 100.0, "message_id": "M-1"})
    assert accounted_for(h.events).status == UNKNOWN
    h.quiesce(400.0)
    verdict = accounted_for(h.events)
    assert verdict.status == VIOLATED
    assert sorted(a.code for a in verdict.anomalies) == ["batch-unfinished", "message-unaccounted"]


def test_a_batch_run_that_ends_without_starting_is_caught():
    h = History()
    h.add(
        {"kind": "batch_end", "t": 110.0, "run_id": "a#9", "rows_changed": 0, "rows_unchanged": 0}
    )
    h.quiesce(400.0)
    assert [a.code for a in accounted_for(h.events).anomalies] == ["batch-end-without-start"]


def test_a_dead_letter_without_a_reason_is_caught():
    h = History()
    h.add({"kind": "send", "t": 100.0, "message_id": "M-1"})
    h.add({"kind": "dead_letter", "t": 101.0, "message_id": "M-1"})
    h.quiesce(400.0)
    assert [a.code for a in accounted_for(h.events).anomalies] == ["dead-letter-without-reason"]


# -- staleness ----------------------------------------------------------------------


def propagated(delays_s: list[float], **contract) -> History:
    h = History(**contract)
    for n, delay in enumerate(delays_s):
        t = 1000.0 * n
        h.save(f"W-sales-{n}", t, "sales", "account", f"ACC-{n}", {"phone": "1"})
        h.apply(
            t + delay, "operations", "account", f"ACC-{n}", {"phone": f"W-sales-{n}"}, via=f"a#{n}"
        )
    return h


def test_the_nearest_rank_p99_of_a_hundred_delays_is_the_99th_smallest():
    import numpy as np

    assert nearest_rank(np.arange(1.0, 101.0), 0.99) == 99.0
    assert nearest_rank(np.array([7.0]), 0.99) == 7.0


def test_staleness_within_the_objective_holds_and_reports_figures():
    objective = {"account:sales->operations": 900.0}
    verdict = staleness(propagated([60.0] * 99 + [3000.0], staleness_p99_s=objective).events)
    assert verdict.status == HOLDS
    assert verdict.metrics["account:sales->operations.p99_s"] == 60.0
    assert verdict.metrics["account:sales->operations.max_s"] == 3000.0
    assert verdict.metrics["account:sales->operations.count"] == 100


def test_staleness_above_the_objective_is_a_violation():
    objective = {"account:sales->operations": 900.0}
    verdict = staleness(propagated([60.0] * 98 + [3000.0] * 2, staleness_p99_s=objective).events)
    assert verdict.status == VIOLATED
    [anomaly] = verdict.anomalies
    assert anomaly.code == "stale"
    assert anomaly.explain().startswith(
        "flow account:sales->operations: p99 propagation delay 3000 s (50.0 min) exceeds the "
        "objective of 900 s over 100 writes"
    )


def test_staleness_without_an_objective_is_measured_only():
    verdict = staleness(propagated([600.0, 1200.0]).events)
    assert verdict.status == HOLDS
    assert verdict.metrics["account:sales->operations.p50_s"] == 600.0


def test_only_the_first_arrival_in_a_replica_counts_as_the_delay():
    h = propagated([60.0])
    h.apply(5000.0, "operations", "account", "ACC-0", {"phone": "W-sales-0"}, via="again#1")
    verdict = staleness(h.events)
    assert verdict.metrics["account:sales->operations.max_s"] == 60.0
