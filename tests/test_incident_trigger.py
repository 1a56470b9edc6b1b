"""An overwrite explanation names the write that made the sync carry the record (issue 12,
point 6), checked on the seed post's incident worked by hand:

- day 1 00:00, the migration creates ACC-00001 in Sales (credit limit and phone: W-sales-1);
- 10:14, credit_controller-3 raises the credit limit to 95000 in Operations;
- 10:20, sales_rep-7 changes the phone in Sales;
- the 10:30 Sales -> hub run carries the row (its phone changed), the 10:35 hub ->
  Operations run upserts the whole row: the migration's credit limit replaces 95000.

So the credit-limit raise is overwritten by W-sales-1 (the migration's version), and the
record was carried because of the phone edit, the trigger.
"""

from __future__ import annotations

from conftest import ROOT

from sim.checker import check_history
from sim.engine.runner import run_scenario
from sim.reporting.summary import overwrite_lines
from sim.reporting.timeline import incident_window, plot_anomaly
from sim.scenario.spec import load_scenario
from sim.scenario.variants import design_variant

SEED = ROOT / "scenarios" / "suite" / "seed_overwrite.yaml"
SIGNATURE = ROOT / "scenarios" / "signatures" / "concurrent_account_edit.yaml"


def seed_incident():
    result = run_scenario(load_scenario(SEED))
    writes = {
        e["actor"]: e for e in result.events if e["kind"] == "write" and e["actor"] != "migration"
    }
    [anomaly] = check_history(result.events).verdicts["no_lost_update"].anomalies
    return result, writes, anomaly


def test_the_explanation_names_the_trigger_and_the_replacing_version():
    _result, writes, anomaly = seed_incident()
    raise_id = writes["credit_controller-3"]["write_id"]
    phone_id = writes["sales_rep-7"]["write_id"]
    assert anomaly.write_ids == (raise_id, "W-sales-1", phone_id)
    text = anomaly.explain()
    assert text.startswith(
        f"{raise_id} (credit_controller-3 set account ACC-00001 "
        "credit_limit 95000 at day 1 10:14) was overwritten at day 1 10:35"
    )
    # The version that replaced it: the migration's credit limit.
    assert "carrying W-sales-1 (migration set account ACC-00001 credit_limit" in text
    # The write that caused the record to be carried: actor, field and time.
    assert text.endswith(
        f"; the run carried account ACC-00001 because of {phone_id} "
        "(sales_rep-7 set account ACC-00001 phone +1-555-010203 at day 1 "
        "10:20)."
    )


def test_the_run_summary_says_the_same():
    result, writes, _anomaly = seed_incident()
    [line] = overwrite_lines(result.events)
    phone_id = writes["sales_rep-7"]["write_id"]
    assert "carrying W-sales-1 (migration set account ACC-00001 credit_limit" in line
    assert line.endswith(
        f"because of {phone_id} (sales_rep-7 set account ACC-00001 phone "
        "+1-555-010203 at day 1 10:20)."
    )


def test_the_timeline_zooms_on_the_incident_and_marks_the_trigger(tmp_path):
    result, _writes, anomaly = seed_incident()
    saves = [e for e in result.events if e["kind"] == "write"]
    low, high = incident_window(anomaly, saves)
    raise_t, overwrite_t = 10 * 3600 + 14 * 60, anomaly.t
    assert 10 * 3600 + 35 * 60 <= overwrite_t <= 10 * 3600 + 37 * 60
    assert raise_t - 600 < low < raise_t  # starts just before the raise, not at 00:00
    assert overwrite_t < high < overwrite_t + 600
    path = plot_anomaly(result.events, anomaly, tmp_path / "incident.png")
    assert path.stat().st_size > 10_000


def test_a_sync_carrying_the_overwriting_edit_itself_says_so():
    scenario = load_scenario(SIGNATURE)
    result = run_scenario(scenario.with_design(design_variant(scenario, "p2c-2017").design))
    lost = check_history(result.events).verdicts["no_lost_update"].anomalies
    credit = next(a for a in lost if a.field == "credit_limit")
    # The Sales credit limit edit is both the replacing version and the reason the run
    # carried the record: no third write.
    assert credit.write_ids == ("W-operations-1", "W-sales-3")
    assert credit.explain().endswith(
        "; the run carried account ACC-00001 because of W-sales-3 itself."
    )
