"""no_lost_update on hand-written histories: the seed story and the subtle cases."""

from __future__ import annotations

from checker_histories import History, at, seed_story

from sim.checker import SANCTIONED, check_history, no_lost_update
from sim.checker.verdicts import HOLDS, MAX_ANOMALIES, VIOLATED


def lost_pairs(verdict):
    return {(a.write_ids[0], a.field) for a in verdict.anomalies}


def two_sided_account(h: History) -> History:
    """ACC-1 created in Sales (W-sales-0) and loaded into the hub and Operations."""
    row = {"name": "Contoso", "phone": "1", "credit_limit": 1000.0}
    h.save("W-sales-0", at("day 1 08:00"), "sales", "account", "ACC-1", row)
    return h.everywhere(at("day 1 08:00"), "account", "ACC-1", dict.fromkeys(row, "W-sales-0"))


def test_seed_story_reports_the_operations_credit_limit_lost_to_the_hub_batch_run():
    verdict = no_lost_update(seed_story().events)
    assert verdict.status == VIOLATED
    assert verdict.violations == 1
    [anomaly] = verdict.anomalies
    assert anomaly.code == "lost-update"
    # The lost write, the version that replaced it, and the change that made the run
    # carry the record (the phone edit at 10:20).
    assert anomaly.write_ids == ("W-operations-1", "W-sales-0", "W-sales-2")
    assert (anomaly.system, anomaly.entity, anomaly.key, anomaly.field) == (
        "operations",
        "account",
        "ACC-0001",
        "credit_limit",
    )
    assert anomaly.via == "accounts_hub_to_operations#1"
    assert anomaly.t == at("day 1 10:30")
    assert anomaly.explain() == (
        "W-operations-1 (ops_clerk-3 set account ACC-0001 credit_limit 5000 at day 1 10:14) "
        "was overwritten at day 1 10:30 in operations by batch run "
        "accounts_hub_to_operations#1 carrying W-sales-0 (sales_rep-7 set account ACC-0001 "
        "credit_limit 1000 at day 1 08:00), whose base did not include W-operations-1; the "
        "run carried account ACC-0001 because of W-sales-2 (sales_rep-7 set account "
        "ACC-0001 phone 555-0199 at day 1 10:20)."
    )


def test_seed_story_is_sanctioned_under_last_writer_wins_and_does_not_fail_the_run():
    report = check_history(
        seed_story(sanctioned=["no_lost_update"], promises=["no_lost_update"]).events
    )
    verdict = report["no_lost_update"]
    assert verdict.status == SANCTIONED
    assert (verdict.violations, verdict.sanctioned) == (0, 1)
    assert verdict.anomalies[0].sanctioned
    assert "accounts_hub_to_operations#1" in verdict.anomalies[0].explain()
    assert not report.failed


def test_seed_story_fails_the_run_when_the_design_promises_no_lost_update():
    report = check_history(seed_story(promises=["no_lost_update"]).events)
    assert report.failed
    assert report.broken_promises == ["no_lost_update"]


def test_concurrent_edits_of_different_fields_of_one_record_are_not_a_lost_update():
    h = two_sided_account(History())
    h.save(
        "W-operations-1",
        at("day 1 10:00"),
        "operations",
        "account",
        "ACC-1",
        {"credit_limit": 5000.0},
        base={"credit_limit": ["W-sales-0"]},
    )
    h.save(
        "W-sales-2",
        at("day 1 10:01"),
        "sales",
        "account",
        "ACC-1",
        {"phone": "2"},
        base={"phone": ["W-sales-0"]},
    )
    # A field-level sync carries only the field each side changed.
    h.copy(at("day 1 10:15"), "s2h#1", "hub", "account", "ACC-1", {"phone": "W-sales-2"})
    h.copy(
        at("day 1 10:15"), "o2h#1", "hub", "account", "ACC-1", {"credit_limit": "W-operations-1"}
    )
    h.copy(at("day 1 10:30"), "h2o#1", "operations", "account", "ACC-1", {"phone": "W-sales-2"})
    h.copy(
        at("day 1 10:30"), "h2s#1", "sales", "account", "ACC-1", {"credit_limit": "W-operations-1"}
    )
    h.quiesce(at("day 1 11:00"))
    verdict = no_lost_update(h.events)
    assert verdict.status == HOLDS, [a.explain() for a in verdict.anomalies]
    assert verdict.metrics["write_fields_judged"] == 5


def test_a_write_superseded_by_a_later_write_that_saw_it_is_not_lost():
    h = two_sided_account(History())
    h.save(
        "W-sales-1",
        at("day 1 09:00"),
        "sales",
        "account",
        "ACC-1",
        {"phone": "2"},
        base={"phone": ["W-sales-0"]},
    )
    h.copy(at("day 1 09:15"), "s2h#1", "hub", "account", "ACC-1", {"phone": "W-sales-1"})
    h.copy(at("day 1 09:15"), "h2o#1", "operations", "account", "ACC-1", {"phone": "W-sales-1"})
    h.save(
        "W-operations-2",
        at("day 1 10:00"),
        "operations",
        "account",
        "ACC-1",
        {"phone": "3"},
        base={"phone": ["W-sales-1"]},
    )
    h.copy(at("day 1 10:15"), "o2h#1", "hub", "account", "ACC-1", {"phone": "W-operations-2"})
    h.copy(at("day 1 10:15"), "h2s#1", "sales", "account", "ACC-1", {"phone": "W-operations-2"})
    h.quiesce(at("day 1 11:00"))
    assert no_lost_update(h.events).status == HOLDS


def test_a_write_overwritten_by_a_concurrent_write_that_did_not_see_it_is_lost():
    h = two_sided_account(History())
    h.save(
        "W-sales-1",
        at("day 1 09:00"),
        "sales",
        "account",
        "ACC-1",
        {"phone": "2"},
        base={"phone": ["W-sales-0"]},
        actor="sales_rep-1",
    )
    h.save(
        "W-sales-2",
        at("day 1 09:05"),
        "sales",
        "account",
        "ACC-1",
        {"phone": "3"},
        base={"phone": ["W-sales-0"]},
        actor="sales_rep-2",
    )
    h.quiesce(at("day 1 11:00"))
    verdict = no_lost_update(h.events)
    assert lost_pairs(verdict) == {("W-sales-1", "phone")}
    [anomaly] = verdict.anomalies
    assert anomaly.via == "user"
    assert "by W-sales-2 (sales_rep-2 set account ACC-1 phone 3 at day 1 09:05)" in (
        anomaly.explain()
    )


def test_a_rejected_write_is_surfaced_and_never_lost():
    h = two_sided_account(History())
    h.save(
        "W-operations-1",
        at("day 1 09:00"),
        "operations",
        "account",
        "ACC-1",
        {"phone": "2"},
        base={"phone": ["W-sales-0"]},
        applied=False,
    )
    h.reject(
        "W-operations-1",
        at("day 1 09:00"),
        "operations",
        "account",
        "ACC-1",
        reason="the record changed since the form was opened",
    )
    h.quiesce(at("day 1 11:00"))
    verdict = no_lost_update(h.events)
    assert verdict.status == HOLDS


def test_a_conflict_event_surfaces_the_writes_it_names():
    h = two_sided_account(History())
    h.save(
        "W-sales-1",
        at("day 1 09:00"),
        "sales",
        "account",
        "ACC-1",
        {"phone": "2"},
        base={"phone": ["W-sales-0"]},
    )
    h.save(
        "W-sales-2",
        at("day 1 09:05"),
        "sales",
        "account",
        "ACC-1",
        {"phone": "3"},
        base={"phone": ["W-sales-0"]},
    )
    lost = no_lost_update(h.events + [])
    assert lost_pairs(lost) == {("W-sales-1", "phone")}
    h.conflict(at("day 1 09:05"), ["W-sales-1", "W-sales-2"], "sales", "account", "ACC-1", "phone")
    h.quiesce(at("day 1 11:00"))
    verdict = no_lost_update(h.events)
    assert verdict.status == HOLDS
    assert verdict.metrics["surfaced_not_lost"] == 1


def test_a_merge_naming_both_parents_keeps_both_alive():
    h = two_sided_account(History())
    h.save(
        "W-sales-1",
        at("day 1 09:00"),
        "sales",
        "account",
        "ACC-1",
        {"phone": "2"},
        base={"phone": ["W-sales-0"]},
    )
    h.save(
        "W-operations-2",
        at("day 1 09:01"),
        "operations",
        "account",
        "ACC-1",
        {"phone": "3"},
        base={"phone": ["W-sales-0"]},
    )
    h.save(
        "W-sales-3",
        at("day 1 09:30"),
        "sales",
        "account",
        "ACC-1",
        {"phone": "2 / 3"},
        base={"phone": ["W-sales-1", "W-operations-2"]},
        actor="merge-rule",
    )
    for system in ("hub", "operations"):
        h.copy(
            at("day 1 09:45"), f"to-{system}#1", system, "account", "ACC-1", {"phone": "W-sales-3"}
        )
    h.quiesce(at("day 1 11:00"))
    assert no_lost_update(h.events).status == HOLDS


def test_a_write_still_final_in_one_replica_is_not_lost_even_if_others_differ():
    h = two_sided_account(History())
    h.save(
        "W-operations-1",
        at("day 1 09:00"),
        "operations",
        "account",
        "ACC-1",
        {"phone": "2"},
        base={"phone": ["W-sales-0"]},
    )
    h.save(
        "W-sales-2",
        at("day 1 09:01"),
        "sales",
        "account",
        "ACC-1",
        {"phone": "3"},
        base={"phone": ["W-sales-0"]},
    )
    h.quiesce(at("day 1 11:00"))
    # Both survive somewhere; the disagreement is convergence's business.
    assert no_lost_update(h.events).status == HOLDS
    assert check_history(h.events)["convergence"].status == VIOLATED


def test_a_line_of_versions_lost_later_is_explained_through_the_descendant():
    h = two_sided_account(History())
    h.save(
        "W-sales-1",
        at("day 1 09:00"),
        "sales",
        "account",
        "ACC-1",
        {"phone": "2"},
        base={"phone": ["W-sales-0"]},
    )
    h.save(
        "W-sales-2",
        at("day 1 09:10"),
        "sales",
        "account",
        "ACC-1",
        {"phone": "3"},
        base={"phone": ["W-sales-1"]},
    )
    h.save(
        "W-operations-3",
        at("day 1 09:05"),
        "operations",
        "account",
        "ACC-1",
        {"phone": "4"},
        base={"phone": ["W-sales-0"]},
    )
    h.copy(at("day 1 09:30"), "o2s#1", "sales", "account", "ACC-1", {"phone": "W-operations-3"})
    h.copy(at("day 1 09:30"), "o2h#1", "hub", "account", "ACC-1", {"phone": "W-operations-3"})
    h.quiesce(at("day 1 11:00"))
    verdict = no_lost_update(h.events)
    assert lost_pairs(verdict) == {("W-sales-1", "phone"), ("W-sales-2", "phone")}
    first = next(a for a in verdict.anomalies if a.write_ids[0] == "W-sales-1")
    text = first.explain()
    assert "superseded at day 1 09:10 in sales by W-sales-2" in text
    assert (
        "which saw it; but W-sales-2 was overwritten at day 1 09:30 in sales by batch run "
        "o2s#1 carrying W-operations-3 (" in text
    )
    assert text.endswith(
        "whose base did not include W-sales-2; the run carried account ACC-1 "
        "because of W-operations-3 itself."
    )


def test_lost_updates_are_counted_exactly_beyond_the_anomalies_kept():
    h = History()
    n = MAX_ANOMALIES + 50
    for k in range(n):
        key = f"ACC-{k}"
        h.save(f"W-sales-{2 * k}", 10.0 + k, "sales", "account", key, {"phone": "a"})
        h.save(f"W-sales-{2 * k + 1}", 20_000.0 + k, "sales", "account", key, {"phone": "b"})
    h.quiesce(50_000.0)
    verdict = no_lost_update(h.events)
    assert verdict.violations == n
    assert len(verdict.anomalies) == MAX_ANOMALIES
    assert verdict.metrics["lost_write_fields"] == n


def test_an_unsaved_initial_load_version_is_never_judged_but_keeps_its_descendants_linked():
    h = History()
    h.apply(0.0, "sales", "account", "ACC-1", {"phone": "W-load-1"}, via="initial-load")
    h.save(
        "W-sales-1",
        100.0,
        "sales",
        "account",
        "ACC-1",
        {"phone": "2"},
        base={"phone": ["W-load-1"]},
    )
    h.apply(200.0, "sales", "account", "ACC-1", {"phone": "W-load-1"}, via="replay#1")
    h.quiesce(300.0)
    verdict = no_lost_update(h.events)
    assert lost_pairs(verdict) == {("W-sales-1", "phone")}
    assert "W-load-1" in verdict.anomalies[0].explain()
