"""``version_check: row | field`` (issue 12, point 2), on the incident worked by hand.

Both forms of customer ACC-00001 are opened at 10:10. At 10:14:00 a credit controller
raises the credit limit in Operations; at 10:14:02 a sales rep changes the phone in
Sales. Every queued delivery takes exactly 5 s, so each side's message arrives after the
other side's save: the Operations row Sales' message was written against has changed
since (its credit limit), and so has the Sales row for Operations' message (its phone).

- ``row`` (If-Match / RecVersion, FACTS.md section 3: the version is the whole row's):
  the message fails its check on both sides; one conflict is queued for the record, and
  the data steward's merge keeps both edits.
- ``field``: no field was edited on both sides, so nothing is recorded and both edits
  are kept silently.

Either way both edits end up everywhere; the granularities differ in exactly whether the
collision is surfaced.
"""

from __future__ import annotations

import pytest
import yaml

from sim.checker import check_history
from sim.engine.runner import run_scenario
from sim.scenario.spec import load_scenario

RAISE = {
    "opened_at": "day 1 10:10",
    "at": "day 1 10:14",
    "role": "credit_controller",
    "actor": "credit_controller-3",
    "system": "operations",
    "entity": "account",
    "key": "ACC-00001",
    "fields": {"credit_limit": 95000},
}
PHONE = {
    "opened_at": "day 1 10:10",
    "at": "day 1 10:14:02",
    "role": "sales_rep",
    "actor": "sales_rep-7",
    "system": "sales",
    "entity": "account",
    "key": "ACC-00001",
    "fields": {"phone": "+1-555-010203"},
}


def run(tmp_path, granularity: str | None):
    design = {"extends": "optimistic-version-check", "latency": {"fixed_s": 5}}
    if granularity is not None:
        design["concurrency"] = {"version_check": granularity}
    data = {
        "name": f"granularity_{granularity}",
        "seed": 3,
        "design": design,
        "duration_days": 1,
        "quiescence_max_s": 14400,
        "initial_data": {"accounts": 1, "contacts_per_account": 0, "products": 0, "bundles": 0},
        "roles": {
            "sales_rep": {"headcount": 0, "home_system": "sales"},
            "credit_controller": {"headcount": 0, "home_system": "operations"},
        },
        "scripted": [RAISE, PHONE],
    }
    path = tmp_path / f"{granularity}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    scenario = load_scenario(path)
    return scenario, run_scenario(scenario)


def final_values(result) -> dict[str, dict[str, object]]:
    """``system -> {field: value}`` of ACC-00001 at the end, from the applies."""
    values = {e["write_id"]: e["fields"] for e in result.events if e["kind"] == "write"}
    held: dict[str, dict[str, object]] = {}
    for e in result.events:
        if e["kind"] == "apply" and e["key"] == "ACC-00001":
            for field, write_id in e["fields"].items():
                held.setdefault(e["system"], {})[field] = values[write_id][field]
    return held


def test_the_optimistic_design_checks_the_row_by_default(tmp_path):
    scenario, _ = run(tmp_path, None)
    assert scenario.design.concurrency.version_check == "row"


@pytest.mark.parametrize("granularity", ["row", "field"])
def test_both_edits_survive_under_either_granularity(tmp_path, granularity):
    _, result = run(tmp_path, granularity)
    assert result.quiescent
    for system, fields in final_values(result).items():
        assert fields["credit_limit"] == 95000, system
        assert fields["phone"] == "+1-555-010203", system
    assert check_history(result.events).verdicts["no_lost_update"].status == "holds"


def test_the_row_check_surfaces_the_collision_as_one_conflict_merged_by_a_person(tmp_path):
    _, result = run(tmp_path, "row")
    writes = {e["actor"]: e["write_id"] for e in result.events if e["kind"] == "write"}
    conflicts = [e for e in result.events if e["kind"] == "conflict"]
    assert {c["conflict_id"] for c in conflicts} == {"C-1"}
    named = {w for c in conflicts for w in c["write_ids"]}
    assert named == {writes["credit_controller-3"], writes["sales_rep-7"]}
    assert result.metrics["conflicts"] == 1 and result.metrics["conflicts_resolved"] == 1
    assert "data_steward-1" in writes  # the merge write


def test_the_field_check_keeps_both_edits_without_recording_anything(tmp_path):
    _, result = run(tmp_path, "field")
    assert not [e for e in result.events if e["kind"] == "conflict"]
    assert result.metrics.get("conflicts", 0) == 0
    assert "data_steward-1" not in {e["actor"] for e in result.events if e["kind"] == "write"}
