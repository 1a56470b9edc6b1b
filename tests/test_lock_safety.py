"""lock_safety and the client_pause fault (issue 12, point 4).

The reference story (scenarios/suite/lock_safety_fenced.yaml), worked by hand: the
rep takes lease token 1 on ACC-00001 at 10:00 (600 s: valid until 10:10) and her client
stalls from 10:02 for 900 s, so her 10:03 save goes out at 10:17. The controller takes
token 2 at 10:12 and saves at 10:14. With fencing the 10:17 save is refused (superseded
token); without, it is accepted: a save under a lease superseded at 10:12.
"""

from __future__ import annotations

from checker_histories import at, contract
from conftest import ROOT

from sim.checker import check_history, lock_safety
from sim.engine.runner import run_scenario
from sim.scenario.spec import load_scenario
from sim.study.regression import load_suite_file

SUITE = ROOT / "scenarios" / "suite"


def run(name: str):
    [case] = load_suite_file(SUITE / name)
    from sim.study.configure import configure

    scenario = configure(case.raw, {}, case.design, near=SUITE, source=SUITE / name).scenario
    return run_scenario(scenario)


def rep_write(result) -> dict:
    return next(e for e in result.events if e["kind"] == "write" and e["actor"] == "sales_rep-1")


def test_the_stalled_client_saves_when_it_resumes_under_its_old_lease():
    result = run("lock_safety_fenced.yaml")
    write = rep_write(result)
    assert write["t"] == at("day 1 10:02") + 900  # 10:17, not 10:03
    grants = [e for e in result.events if e["kind"] == "lock_grant"]
    assert [(g["actor"], g["token"]) for g in grants] == [
        ("sales_rep-1", 1),
        ("credit_controller-1", 2),
    ]
    assert write["lease_token"] == 1


def test_with_fencing_the_late_save_is_refused_and_lock_safety_holds():
    result = run("lock_safety_fenced.yaml")
    write = rep_write(result)
    [reject] = [e for e in result.events if e["kind"] == "reject"]
    assert reject["write_id"] == write["write_id"]
    assert reject["reason"].startswith("fenced: lease token 1 ")  # token 2 came and went
    verdict = check_history(result.events).verdicts["lock_safety"]
    assert verdict.status == "holds" and verdict.metrics["leases_granted"] == 2


def test_without_fencing_the_late_save_breaks_lock_safety():
    result = run("lock_safety_unfenced.yaml")
    write = rep_write(result)
    assert not [e for e in result.events if e["kind"] == "reject"]
    report = check_history(result.events)
    verdict = report.verdicts["lock_safety"]
    assert verdict.status == "violated" and verdict.violations == 1
    [anomaly] = verdict.anomalies
    assert anomaly.code == "superseded-lease" and anomaly.write_ids == (write["write_id"],)
    assert (
        "credit_controller-1 had been granted token 2 on account ACC-00001 at day 1 "
        "10:12" in anomaly.explain()
    )
    assert "lock_safety" in report.promises and report.failed


def _history(*events):
    head = {
        "t": 0.0,
        "kind": "run_start",
        "scenario": "locks",
        "seed": 1,
        "design": "hand",
        "contract": contract(),
    }
    return [head, *events, {"t": at("day 1 12:00"), "kind": "quiescence", "reached": True}]


def _save(write_id, t, actor, token):
    return [
        {
            "t": t,
            "kind": "write",
            "write_id": write_id,
            "actor": actor,
            "role": "r",
            "system": "sales",
            "entity": "account",
            "key": "ACC-1",
            "op": "update",
            "fields": {"phone": write_id},
            "base": {"phone": []},
            "opened_t": t,
            "lease_token": token,
        },
        {
            "t": t,
            "kind": "apply",
            "system": "sales",
            "entity": "account",
            "key": "ACC-1",
            "via": "user",
            "fields": {"phone": write_id},
            "row_version": 2,
            "created": False,
        },
    ]


def grant(t, actor, token, lease_s=600.0):
    return {
        "t": t,
        "kind": "lock_grant",
        "system": "sales",
        "entity": "account",
        "key": "ACC-1",
        "actor": actor,
        "token": token,
        "expires_t": t + lease_s,
    }


def test_two_valid_leases_on_one_record_are_a_violation():
    verdict = lock_safety(_history(grant(100.0, "a", 1), grant(200.0, "b", 2)))
    assert verdict.status == "violated"
    assert [a.code for a in verdict.anomalies] == ["two-holders"]


def test_a_save_accepted_after_its_lease_expired_is_a_violation():
    verdict = lock_safety(_history(grant(100.0, "a", 1), *_save("W-sales-1", 800.0, "a", 1)))
    assert [a.code for a in verdict.anomalies] == ["expired-lease"]


def test_a_release_then_a_new_grant_then_saves_under_valid_leases_hold():
    verdict = lock_safety(
        _history(
            grant(100.0, "a", 1),
            *_save("W-sales-1", 150.0, "a", 1),
            {
                "t": 151.0,
                "kind": "lock_release",
                "entity": "account",
                "key": "ACC-1",
                "actor": "a",
                "token": 1,
            },
            grant(200.0, "b", 2),
            *_save("W-sales-2", 250.0, "b", 2),
        )
    )
    assert verdict.status == "holds" and verdict.metrics["saves_under_lease"] == 2


def test_a_client_pause_needs_an_actor(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(
        (SUITE / "lock_safety_fenced.yaml").read_text().replace("actor: sales_rep-1, at:", "at:")
    )
    import pytest

    from sim.scenario.yamlio import InputError

    with pytest.raises(InputError, match="client_pause fault needs 'actor'"):
        load_scenario(path)
