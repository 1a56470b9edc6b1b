"""convergence: agreement at quiescence; "did not converge" apart from "diverged"."""

from __future__ import annotations

from checker_histories import History, at

from sim.checker import UNKNOWN, check_history, convergence
from sim.checker.verdicts import HOLDS, VIOLATED

ROW = {"name": "Contoso", "phone": "1", "credit_limit": 1000.0}


def account_everywhere() -> History:
    h = History()
    h.save("W-sales-1", at("day 1 08:00"), "sales", "account", "ACC-1", ROW)
    return h.everywhere(
        at("day 1 08:15"), "account", "ACC-1", dict.fromkeys(ROW, "W-sales-1"), via="accounts#1"
    )


def diverged_history() -> History:
    """Operations changes the phone and nothing copies it back."""
    h = account_everywhere()
    h.save(
        "W-operations-2",
        at("day 1 09:00"),
        "operations",
        "account",
        "ACC-1",
        {"phone": "2"},
        base={"phone": ["W-sales-1"]},
        actor="ops_clerk-1",
    )
    return h


def test_replicas_holding_the_same_versions_at_quiescence_converge():
    h = account_everywhere().quiesce(at("day 1 10:00"))
    verdict = convergence(h.events)
    assert verdict.status == HOLDS
    assert verdict.metrics["records_compared"] == 1


def test_a_field_holding_different_versions_after_quiescence_has_diverged():
    verdict = convergence(diverged_history().quiesce(at("day 1 10:00")).events)
    assert verdict.status == VIOLATED
    assert verdict.note.startswith("diverged")
    [anomaly] = verdict.anomalies
    assert (anomaly.code, anomaly.field) == ("diverged-field", "phone")
    assert set(anomaly.write_ids) == {"W-sales-1", "W-operations-2"}
    assert anomaly.explain() == (
        "account ACC-1 phone differs between replicas: sales and hub hold W-sales-1 "
        "(user-1 set account ACC-1 phone 1 at day 1 08:00); operations holds W-operations-2 "
        "(ops_clerk-1 set account ACC-1 phone 2 at day 1 09:00)."
    )


def test_a_record_missing_from_a_replica_that_should_hold_it_has_diverged():
    h = History()
    h.save("W-sales-1", at("day 1 08:00"), "sales", "account", "ACC-1", ROW)
    h.copy(
        at("day 1 08:15"),
        "accounts_sales_to_hub#1",
        "hub",
        "account",
        "ACC-1",
        dict.fromkeys(ROW, "W-sales-1"),
    )
    h.quiesce(at("day 1 10:00"))
    verdict = convergence(h.events)
    assert verdict.status == VIOLATED
    [anomaly] = verdict.anomalies
    assert anomaly.code == "missing-record"
    assert anomaly.system == "operations"
    assert "missing in operations" in anomaly.explain()


def test_without_a_quiescence_event_convergence_is_unknown_did_not_converge():
    verdict = convergence(diverged_history().events)
    assert verdict.status == UNKNOWN
    assert verdict.violations == 0
    assert verdict.note.startswith("did not converge")
    assert "no quiescence event" in verdict.note
    # What still differed is kept as evidence.
    assert [a.code for a in verdict.anomalies] == ["diverged-field"]


def test_quiescence_not_reached_is_did_not_converge_not_diverged():
    reached = convergence(diverged_history().quiesce(at("day 1 10:00")).events)
    not_reached = convergence(diverged_history().quiesce(at("day 1 10:00"), reached=False).events)
    assert (reached.status, not_reached.status) == (VIOLATED, UNKNOWN)
    assert reached.note.startswith("diverged")
    assert not_reached.note.startswith("did not converge")
    assert "reached=false" in not_reached.note


def test_a_run_that_did_not_converge_does_not_fail_but_is_listed_as_unknown():
    report = check_history(diverged_history().events)
    assert not report.failed
    assert "convergence" in report.unknown


def test_systems_and_fields_outside_the_synced_contract_are_not_compared():
    synced = {"account": {"fields": ["name", "credit_limit"], "systems": ["sales", "hub"]}}
    h = History(synced=synced)
    h.save("W-sales-1", at("day 1 08:00"), "sales", "account", "ACC-1", ROW)
    h.apply(
        at("day 1 08:15"),
        "hub",
        "account",
        "ACC-1",
        {"name": "W-sales-1", "credit_limit": "W-sales-1"},
        via="s2h#1",
    )
    # Operations holds a different copy and the hub lacks the phone: neither is synced.
    h.save("W-operations-2", at("day 1 09:00"), "operations", "account", "ACC-1", ROW)
    h.quiesce(at("day 1 10:00"))
    assert convergence(h.events).status == HOLDS
