"""Each design's signature answer to the seed post's worst case, run through SimPy.

Two people edit customer ACC-00001 at the same moment, one in Sales (credit limit
20000, form opened at 10:00, saved at 10:06:02) and one in Operations (credit limit 5000
and payment terms Net10, form opened at 10:05, saved at 10:06:00); every live write and
queued delivery takes exactly 5 s (``latency: {fixed_s: 5}``). scenarios/signatures/ holds the
scenario; `p2c compare` on it shows the same table for every design.
"""

from __future__ import annotations

import pytest
from conftest import ROOT

from sim.engine.runner import run_scenario
from sim.scenario.spec import load_scenario
from sim.scenario.variants import design_variant

SCENARIO = ROOT / "scenarios" / "signatures" / "concurrent_account_edit.yaml"
SALES_CREDIT, OPS_EDIT = "W-sales-3", "W-operations-1"  # two migrated accounts first


def run(design: str):
    scenario = load_scenario(SCENARIO)
    return run_scenario(scenario.with_design(design_variant(scenario, design).design))


def final_versions(result, field: str) -> dict[str, str]:
    held = {}
    for e in result.events:
        if e["kind"] == "apply" and e["key"] == "ACC-00001" and field in e["fields"]:
            held[e["system"]] = e["fields"][field]
    return held


def kinds(result, kind: str) -> list[dict]:
    return [e for e in result.events if e["kind"] == kind]


def test_p2c_2017_overwrites_the_operations_edit_at_the_next_batch():
    result = run("p2c-2017")
    overwrites = [e for e in kinds(result, "overwrite") if e["lost_write"] == OPS_EDIT]
    assert sorted(e["field"] for e in overwrites) == ["credit_limit", "payment_terms"]
    # Sales -> hub at 10:15 (run #42 after the initial load), hub -> Operations at 10:20.
    assert {e["via"] for e in overwrites} == {"accounts_hub_to_operations#42"}
    assert set(final_versions(result, "credit_limit").values()) == {SALES_CREDIT}


def test_readonly_workaround_refuses_operations_and_hands_the_edit_to_sales():
    result = run("readonly-workaround")
    [reject] = kinds(result, "reject")
    assert reject["system"] == "operations" and "read-only" in reject["reason"]
    assert result.metrics["handoffs"] + result.metrics.get("handoffs_abandoned", 0) == 1
    handed = [
        e
        for e in kinds(result, "write")
        if e["role"] == "sales_rep" and e["actor"] == "sales_rep-handoff"
    ]
    assert [w["fields"] for w in handed] == [{"credit_limit": 5000, "payment_terms": "Net10"}]
    assert not kinds(result, "overwrite")


def test_dual_write_live_lets_the_later_commit_overwrite_and_blocks_users_while_committing():
    result = run("dual-write-live")
    assert result.metrics["blocked_user_s"] > 0
    # Both committed at 10:06 plus their live latency; the later commit wins both sides.
    writes = {w["write_id"]: w for w in kinds(result, "write")}
    later = max((SALES_CREDIT, OPS_EDIT), key=lambda w: writes[w]["t"])
    assert set(final_versions(result, "credit_limit").values()) == {later}
    assert len([e for e in kinds(result, "overwrite") if e["field"] == "credit_limit"]) >= 1


def test_dual_write_async_keeps_the_primary_value_and_records_one_conflict():
    result = run("dual-write-async")
    conflicts = kinds(result, "conflict")
    assert {c["conflict_id"] for c in conflicts} == {"C-1"}
    assert conflicts[0]["system"] == "sales" and conflicts[0]["field"] == "credit_limit"
    assert set(final_versions(result, "credit_limit").values()) == {SALES_CREDIT}
    # The non-clashing field of the rejected update survives on both sides.
    assert set(final_versions(result, "payment_terms").values()) == {OPS_EDIT}


def test_cross_system_lock_makes_the_operations_user_wait_and_nothing_is_overwritten():
    result = run("cross-system-lock")
    denials = kinds(result, "lock_deny")
    assert [d["actor"] for d in denials] == ["credit_controller-1"]
    assert result.metrics["blocked_user_s"] == 120.0  # one retry after the 2-minute wait
    assert not kinds(result, "overwrite") and not kinds(result, "reject")
    ops_write = next(w for w in kinds(result, "write") if w["write_id"] == OPS_EDIT)
    assert ops_write["base"]["credit_limit"] == [SALES_CREDIT]  # it saw the Sales change
    assert set(final_versions(result, "credit_limit").values()) == {OPS_EDIT}


def test_optimistic_version_check_produces_exactly_one_conflict_resolved_by_a_merge():
    result = run("optimistic-version-check")
    assert {c["conflict_id"] for c in kinds(result, "conflict")} == {"C-1"}
    merges = [w for w in kinds(result, "write") if w["role"] == "data_steward"]
    assert len(merges) == 1
    assert sorted(merges[0]["base"]["credit_limit"]) == sorted([SALES_CREDIT, OPS_EDIT])
    merge_id = merges[0]["write_id"]
    assert set(final_versions(result, "credit_limit").values()) == {merge_id}
    assert result.quiescent


def test_field_merge_keeps_both_fields_and_surfaces_the_same_field_clash():
    result = run("field-merge")
    assert {c["conflict_id"] for c in kinds(result, "conflict")} == {"C-1"}
    assert set(final_versions(result, "payment_terms").values()) == {OPS_EDIT}
    winner = final_versions(result, "credit_limit")
    assert len(set(winner.values())) == 1  # a deterministic winner, the same on both sides


def test_naive_bidirectional_echoes_every_change_back_and_forth():
    result = run("naive-bidirectional")
    applies_of_ops_edit = [e for e in kinds(result, "apply") if OPS_EDIT in e["fields"].values()]
    assert len(applies_of_ops_edit) > 4  # one write, bounced until the hop guard


def test_naive_bidirectional_diverges_without_losing_a_write_as_worked_by_hand():
    """Worked by hand from the design's rules, not from an earlier run.

    Each apply re-sends the whole row to the other side with one more hop, until the hop
    guard (6). So two chains of one unchanging row each bounce from 10:06: the
    controller's row {credit: W-operations-1, terms: W-operations-1} enters Sales at
    hops 1, 3, 5 and Operations at hops 2, 4, 6 (10:06:30); the rep's row {credit:
    W-sales-3, terms: the migration's W-sales-1}, two seconds behind, enters Operations
    at hops 1, 3, 5 and Sales at hops 2, 4, 6 (10:06:32). Each side ends holding the row
    whose chain reached it last: Operations the controller's, Sales the rep's. Every
    field a save set survives in some replica, so nothing is lost (``no_lost_update``
    holds: lost means gone from every replica), both saves were overwritten on the way
    (2 overwritten writes), and the replicas disagree on both fields: convergence is the
    invariant that fails.
    """
    from sim.checker import check_history

    result = run("naive-bidirectional")
    assert final_versions(result, "credit_limit") == {"sales": SALES_CREDIT, "operations": OPS_EDIT}
    assert final_versions(result, "payment_terms") == {"sales": "W-sales-1", "operations": OPS_EDIT}
    overwritten = {e["lost_write"] for e in kinds(result, "overwrite")}
    assert overwritten == {SALES_CREDIT, OPS_EDIT}
    report = check_history(result.events)
    assert report.verdicts["no_lost_update"].status == "holds"
    convergence = report.verdicts["convergence"]
    assert (convergence.status, convergence.violations) == ("violated", 2)


@pytest.mark.parametrize(
    "design",
    [
        "p2c-2017",
        "dual-write-async",
        "field-merge",
        "optimistic-version-check",
        "cross-system-lock",
    ],
)
def test_the_signature_runs_drain_to_quiescence(design):
    assert run(design).quiescent
