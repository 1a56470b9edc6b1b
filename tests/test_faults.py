"""Faults and platform limits: each fault exposes a planted bug, and the correct design
survives the same fault (STYLE.md 10: quality tests that plant a bug and watch the
harness catch it).

Every scenario here is tiny and scripted: two accounts, a handful of saves at exact
times, one fault. The planted bugs are design switches that exist only to be caught:
``apply_mode: insert``, ``fencing: false``, ``retry_failed_runs: false``,
``max_attempts: 1``, ``hold_until_replicated: false``, concurrency ``none`` or
``lww_clock``, ``redeliver_lost: false``.
"""

from __future__ import annotations

import textwrap

import pytest
import yaml
from conftest import ROOT

from models.design import ServiceProtection as Limits
from models.throttling import PriorityThrottle, ServiceProtection
from sim.checker import check_history
from sim.engine.runner import run_scenario
from sim.scenario.spec import load_scenario

ROLES = """
roles:
  sales_rep: {headcount: 0, home_system: sales}
  credit_controller: {headcount: 0, home_system: operations}
"""


def scenario(tmp_path, design, scripted, faults=(), name="fault", extra=""):
    data = {
        "name": name,
        "seed": 5,
        "design": design,
        "duration_days": 1,
        "quiescence_max_s": 14_400,
        "initial_data": {"accounts": 2, "contacts_per_account": 0, "products": 0, "bundles": 0},
        "scripted": list(scripted),
        "faults": list(faults),
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False) + ROLES + textwrap.dedent(extra))
    return load_scenario(path)


def edit(at, system, value, field="credit_limit", opened=None, key="ACC-00001"):
    role = "sales_rep" if system == "sales" else "credit_controller"
    action = {
        "at": at,
        "role": role,
        "system": system,
        "entity": "account",
        "key": key,
        "fields": {field: value},
    }
    if opened:
        action["opened_at"] = opened
    return action


def verdicts(result):
    return {name: v.status for name, v in check_history(result.events).verdicts.items()}


# ---------------------------------------------------------------- duplication


def test_duplicated_deliveries_create_duplicates_only_when_the_receiver_inserts(tmp_path):
    faults = [
        {
            "kind": "duplicate",
            "at": "day 1 09:00",
            "duration_s": 7200,
            "probability": 1.0,
            "maps": ["accounts_to_operations"],
        }
    ]
    edits = [edit("day 1 10:00", "sales", 1000), edit("day 1 10:05", "sales", 2000)]
    good = run_scenario(scenario(tmp_path, "dual-write-async", edits, faults, "upsert"))
    assert good.metrics["deliveries_duplicated"] >= 2
    assert any(e["kind"] == "redelivery" for e in good.events)
    assert verdicts(good)["no_duplicate_keys"] == "holds"

    planted = {
        "extends": "dual-write-async",
        "maps": {"accounts_to_operations": {"apply_mode": "insert"}},
    }
    bad = run_scenario(scenario(tmp_path, planted, edits, faults, "insert"))
    assert verdicts(bad)["no_duplicate_keys"] == "violated"


# ------------------------------------------------------------- lease fencing


def test_a_lease_without_fencing_lets_a_holder_whose_lease_expired_overwrite(tmp_path):
    # A opens at 10:00 (lease until 10:10) and saves at 10:15; B takes the record at
    # 10:11 and saves at 10:12. Only fencing stops A's stale save.
    edits = [
        edit("day 1 10:15", "sales", 1111, opened="day 1 10:00"),
        edit("day 1 10:12", "operations", 2222, opened="day 1 10:11"),
    ]
    # Forms' own row-version checks are off in both runs so that only fencing differs.
    correct = {"extends": "cross-system-lock", "local_version_check": []}
    fenced = run_scenario(scenario(tmp_path, correct, edits, name="fenced"))
    rejects = [e for e in fenced.events if e["kind"] == "reject"]
    assert len(rejects) == 1 and rejects[0]["reason"].startswith("fenced")
    assert verdicts(fenced)["no_lost_update"] == "holds"

    planted = {**correct, "concurrency": {"fencing": False}}
    unfenced = run_scenario(scenario(tmp_path, planted, edits, name="unfenced"))
    assert verdicts(unfenced)["no_lost_update"] == "violated"


# --------------------------------------------------------------- hub outage


def test_runs_failing_in_a_hub_outage_are_retried_and_nothing_is_lost(tmp_path):
    faults = [{"kind": "outage", "system": "hub", "at": "day 1 10:00", "duration_s": 3600}]
    edits = [edit("day 1 10:05", "sales", 3000, field="phone")]
    good = run_scenario(scenario(tmp_path, "readonly-workaround", edits, faults, "retry"))
    assert good.metrics["batch_runs_failed"] >= 1
    assert any(e["kind"] == "batch_end" and e.get("failed") for e in good.events)
    held = verdicts(good)
    assert held["convergence"] == "holds" and held["accounted_for"] == "holds"

    planted = {"extends": "readonly-workaround", "batch": {"retry_failed_runs": False}}
    bad = run_scenario(scenario(tmp_path, planted, edits, faults, "no_retry"))
    assert verdicts(bad)["convergence"] == "violated"


def test_a_crash_of_operations_fails_the_run_in_flight_which_is_retried(tmp_path):
    faults = [{"kind": "crash", "system": "operations", "at": "day 1 10:35:10", "duration_s": 600}]
    edits = [edit("day 1 10:20", "sales", 4000, field="phone")]
    result = run_scenario(scenario(tmp_path, "readonly-workaround", edits, faults, "crash"))
    failed = [e for e in result.events if e["kind"] == "batch_end" and e.get("failed")]
    assert "accounts_hub_to_operations" in {e["map"] for e in failed}
    assert verdicts(result)["convergence"] == "holds"


# ---------------------------------------------------------------- partition


def test_a_partition_is_ridden_out_by_retries_but_not_without_them(tmp_path):
    faults = [
        {
            "kind": "partition",
            "between": ["sales", "operations"],
            "at": "day 1 10:00",
            "duration_s": 5400,
        }
    ]
    edits = [edit("day 1 10:05", "sales", 5000)]
    good = run_scenario(scenario(tmp_path, "dual-write-async", edits, faults, "retries"))
    assert good.metrics["delivery_retries"] >= 1
    assert verdicts(good)["convergence"] == "holds"

    planted = {"extends": "dual-write-async", "retry": {"max_attempts": 1}}
    bad = run_scenario(scenario(tmp_path, planted, edits, faults, "one_try"))
    dead = [e for e in bad.events if e["kind"] == "dead_letter"]
    assert dead and "no route between sales and operations" in dead[0]["reason"]
    judged = verdicts(bad)
    assert judged["convergence"] == "violated"
    assert judged["accounted_for"] == "holds"  # lost with a reason, never silently


# ------------------------------------------------------------ latency spike


def test_a_latency_spike_exposes_a_lock_released_before_replication(tmp_path):
    # Replication takes minutes during the spike. B wants the record right after A saved.
    faults = [{"kind": "latency_spike", "at": "day 1 09:00", "duration_s": 7200, "factor": 100.0}]
    edits = [
        edit("day 1 10:01", "sales", 6000, opened="day 1 10:00"),
        edit("day 1 10:03", "operations", 7000, opened="day 1 10:02"),
    ]
    good = run_scenario(scenario(tmp_path, "cross-system-lock", edits, faults, "held"))
    assert good.metrics.get("lock_waits", 0) >= 1
    assert verdicts(good)["no_lost_update"] == "holds"

    planted = {"extends": "cross-system-lock", "concurrency": {"hold_until_replicated": False}}
    bad = run_scenario(scenario(tmp_path, planted, edits, faults, "released"))
    # Each side keeps its own edit and overwrites the other's when it arrives: diverged.
    assert verdicts(bad)["convergence"] == "violated"


# ---------------------------------------------------------------- reordering


def test_reordered_messages_regress_a_receiver_without_version_checks(tmp_path):
    faults = [{"kind": "reorder", "at": "day 1 09:00", "duration_s": 7200, "max_extra_s": 600}]
    edits = [edit(f"day 1 10:00:{5 * i:02d}", "sales", 100 + i) for i in range(10)]
    good = run_scenario(scenario(tmp_path, "dual-write-async", edits, faults, "stale_skip"))
    assert verdicts(good)["convergence"] == "holds"

    planted = {"extends": "dual-write-async", "concurrency": {"mode": "none"}}
    bad = run_scenario(scenario(tmp_path, planted, edits, faults, "no_check"))
    assert verdicts(bad)["convergence"] == "violated"


# ---------------------------------------------------------- loss, redelivery


def test_lost_deliveries_are_redelivered_and_a_sender_that_forgets_is_caught(tmp_path):
    faults = [
        {
            "kind": "loss",
            "at": "day 1 09:00",
            "duration_s": 7200,
            "probability": 0.7,
            "redelivery_s": 60,
        }
    ]
    edits = [edit(f"day 1 10:{m:02d}", "sales", m, field="phone") for m in range(0, 30, 3)]
    good = run_scenario(scenario(tmp_path, "dual-write-async", edits, faults, "at_least_once"))
    assert good.metrics["deliveries_lost"] >= 1
    judged = verdicts(good)
    assert judged["accounted_for"] == "holds" and judged["convergence"] == "holds"

    planted = {"extends": "dual-write-async", "retry": {"redeliver_lost": False}}
    bad = run_scenario(scenario(tmp_path, planted, edits, faults, "at_most_once"))
    # Messages vanished: the run can never drain, and nothing accounts for them.
    assert not bad.quiescent
    assert verdicts(bad)["accounted_for"] in ("violated", "unknown")
    assert verdicts(bad)["accounted_for"] != verdicts(good)["accounted_for"]


# --------------------------------------------------------------- clock skew


def test_clock_skew_makes_wall_clock_last_writer_wins_lose_a_later_edit(tmp_path):
    # Sales' clock runs 5 minutes fast. The Operations edit at 10:02 saw the Sales
    # edit of 10:00 (delivered in seconds), yet carries the earlier wall-clock stamp.
    faults = [{"kind": "clock_skew", "system": "sales", "skew_s": 300}]
    edits = [
        edit("day 1 10:00", "sales", 8000),
        edit("day 1 10:02", "operations", 9000, opened="day 1 10:01"),
    ]
    hlc = run_scenario(scenario(tmp_path, "field-merge", edits, faults, "hlc"))
    assert verdicts(hlc)["no_lost_update"] == "holds"
    assert verdicts(hlc)["convergence"] == "holds"

    planted = {"extends": "field-merge", "concurrency": {"mode": "lww_clock"}}
    bad = run_scenario(scenario(tmp_path, planted, edits, faults, "wall_clock"))
    assert "violated" in (verdicts(bad)["no_lost_update"], verdicts(bad)["convergence"])


# ------------------------------------------------------- service protection


def test_service_protection_answers_429_with_retry_after_and_longer_for_pushers():
    limiter = ServiceProtection(Limits())
    assert all(limiter.admit("app", 0.5 + i * 0.01) == 0.0 for i in range(6000))
    wait = limiter.admit("app", 61.0)
    assert wait == pytest.approx(300.0 - 61.0, abs=1.0)  # until the first second leaves
    pushed = limiter.admit("app", 62.0)
    assert pushed > wait - 1.0  # pushing before Retry-After passed waits longer
    assert limiter.admit("app", 400.0) == 0.0  # the window has moved on
    assert limiter.admit("another-identity", 61.0) == 0.0  # limits are per identity


def test_execution_time_is_limited_too():
    limiter = ServiceProtection(Limits(execution_s_per_request=1.0))
    admitted = sum(limiter.admit("app", float(i) * 0.2) == 0.0 for i in range(1300))
    assert admitted == 1200  # 1,200 s of execution per 300-s window


def test_operations_priority_throttling_is_per_class():
    throttle = PriorityThrottle(
        Limits.model_fields
        and __import__("models.design", fromlist=["OperationsThrottling"]).OperationsThrottling(
            per_s={"low": 1.0, "medium": 10.0, "high": 100.0}
        )
    )
    assert throttle.admit("low", 0.0) == 0.0
    assert throttle.admit("low", 0.1) > 0.0
    assert throttle.admit("high", 0.1) == 0.0


def test_a_client_pushing_past_the_limits_gets_429s_and_still_syncs_everything(tmp_path):
    extra = """
    roles:
      sales_rep: {headcount: 0, home_system: sales}
      credit_controller:
        headcount: 6
        home_system: operations
        working_hours: "10:00-11:00"
        form_open: {median_s: 5, sigma: 0.1}
        actions: {edit_credit: 120}
    """
    # Six controllers saving every half minute against a limit of 30 requests a window
    # push far past it (some 600 requests refused with a 429 at seed 9) in a second of CPU.
    design = {
        "extends": "dual-write-async",
        "limits": {"service_protection": {"max_requests": 30}},
    }
    path = tmp_path / "push.yaml"
    data = {
        "name": "push",
        "seed": 9,
        "design": design,
        "duration_days": 1,
        "quiescence_max_s": 14_400,
        "initial_data": {"accounts": 50, "contacts_per_account": 0, "products": 0, "bundles": 0},
    }
    path.write_text(yaml.safe_dump(data, sort_keys=False) + textwrap.dedent(extra))
    result = run_scenario(load_scenario(path))
    assert result.metrics["throttled_requests"] > 100
    assert result.metrics.get("dead_letters.retries_exhausted", 0) == 0
    judged = verdicts(result)
    assert judged["convergence"] == "holds"
    assert judged["accounted_for"] == "holds"
    assert result.quiescent


# --------------------------------------------------------- daily entitlements


def test_requests_per_24h_are_compared_with_the_licences_entitlements(tmp_path):
    extra = """
    roles:
      sales_rep: {headcount: 2, home_system: sales, licences: [sales_professional],
                  actions: {edit_account: 3}}
      credit_controller: {headcount: 1, home_system: operations, licences: [team_members],
                          actions: {edit_credit: 2}}
    """
    path = tmp_path / "entitled.yaml"
    data = {
        "name": "entitled",
        "seed": 4,
        "design": "p2c-2017",
        "duration_days": 1,
        "initial_data": {"accounts": 10, "contacts_per_account": 0, "products": 0, "bundles": 0},
    }
    path.write_text(yaml.safe_dump(data, sort_keys=False) + textwrap.dedent(extra))
    result = run_scenario(load_scenario(path))
    m = result.metrics
    # Current price book: Sales Professional carries 40,000 requests a day, Team Members
    # 6,000 (LICENSING.md section 3); the pool is 500,000 + 5,000 per licensed user (3).
    assert m["entitlement_per_user_per_24h.sales_rep"] == 40_000
    assert m["entitlement_per_user_per_24h.credit_controller"] == 6_000
    assert m["integration_entitlement_per_24h"] == 500_000 + 5_000 * 3
    saves = sum(1 for e in result.events if e["kind"] == "write" and e["role"] == "sales_rep")
    assert m["requests_per_user_per_24h.sales_rep"] == 2 * saves / 2  # 2 requests a save
    assert 0 < m["integration_requests_per_24h"]


def test_a_dual_write_pause_past_its_limit_dead_letters_with_a_reason_and_still_drains():
    # scenarios/dual_write_pause_overflow.yaml once, at its own seed: the quick form of its
    # suite case (scenarios/suite/dual_write_pause_overflow.yaml, three replications, slow).
    result = run_scenario(load_scenario(ROOT / "scenarios" / "dual_write_pause_overflow.yaml"))
    metrics = result.metrics
    assert metrics["faults.pause"] == 1
    assert metrics["max_paused_queue"] >= 100  # changes queue while paused...
    assert metrics["catch_up_records"] >= 500  # ...and are replayed on resume
    assert metrics["dead_letters.pause_overflow"] >= 1  # past the limit: blocked, said why
    assert metrics["propagation_p95_s.account:sales->operations"] >= 3600
    assert result.quiescent
    judged = verdicts(result)
    assert judged["ownership"] == judged["accounted_for"] == "holds"
