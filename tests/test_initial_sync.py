"""``initial_sync: timed`` (issue 12, point 9): the first runs take their row time.

Expectations from the design's own schedule, worked by formula: under p2c-2017 the
Sales -> hub account map ticks at ``offset + interval`` and a run takes ``overhead +
rows x row time``; the hub -> Operations map ticks at its own offset + interval and takes
as long again. So with N migrated accounts, account ACC-00001 reaches Operations at
``offset_h2o + interval + overhead + N x row_time``, not at t=0.
"""

from __future__ import annotations

import pytest
import yaml

from sim.engine.runner import run_scenario
from sim.scenario.spec import load_scenario

ACCOUNTS = 400


def run(tmp_path, sync: str | None, design="p2c-2017"):
    data = {
        "name": f"sync_{sync}",
        "seed": 2,
        "design": design,
        "duration_days": 1,
        "quiescence_max_s": 7200,
        "initial_data": {
            "accounts": ACCOUNTS,
            "contacts_per_account": 0,
            "products": 0,
            "bundles": 0,
        },
    }
    if sync is not None:
        data["initial_sync"] = sync
    path = tmp_path / f"{sync}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    scenario = load_scenario(path)
    return scenario, run_scenario(scenario)


def first_apply_t(result, system: str, key: str) -> float:
    return next(
        e["t"]
        for e in result.events
        if e["kind"] == "apply" and e["system"] == system and e["key"] == key
    )


def test_instant_is_the_default_and_loads_everything_at_t0(tmp_path):
    scenario, result = run(tmp_path, None)
    assert scenario.spec.initial_sync == "instant"
    assert first_apply_t(result, "operations", "ACC-00001") == 0.0


def test_timed_first_runs_take_their_row_time(tmp_path):
    scenario, result = run(tmp_path, "timed")
    design = scenario.design
    to_hub = design.maps["accounts_sales_to_hub"].settings(design.batch)
    to_ops = design.maps["accounts_hub_to_operations"].settings(design.batch)
    run_s = to_hub.run_overhead_s + ACCOUNTS * to_hub.row_time_s  # 30 + 400 x 0.05 = 50 s
    starts = [e for e in result.events if e["kind"] == "batch_start" and e["rows"]]
    first = next(e for e in starts if e["map"] == "accounts_sales_to_hub")
    assert first["t"] == to_hub.offset_s + to_hub.interval_s and first["rows"] == ACCOUNTS
    end = next(
        e for e in result.events if e["kind"] == "batch_end" and e["run_id"] == first["run_id"]
    )
    assert end["duration_s"] == pytest.approx(run_s)
    assert first_apply_t(result, "hub", "ACC-00001") == pytest.approx(first["t"] + run_s)
    arrival = (
        to_ops.offset_s + to_ops.interval_s + to_ops.run_overhead_s + ACCOUNTS * to_ops.row_time_s
    )
    assert first_apply_t(result, "operations", "ACC-00001") == pytest.approx(arrival)
    assert result.quiescent


def test_timed_queued_designs_deliver_the_migration_with_their_latency(tmp_path):
    _, result = run(
        tmp_path, "timed", design={"extends": "dual-write-async", "latency": {"fixed_s": 5}}
    )
    assert first_apply_t(result, "operations", "ACC-00001") == 5.0
    assert result.quiescent
