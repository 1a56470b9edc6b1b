"""Bundles that sell retired products (issue 12, point 5), worked by hand.

The migration creates one product PRD-00001 and two bundles of three lines each, every
line on that product (the only one). At day 1 10:00 the product team retires it in
Operations. Nothing in p2c-2017 touches bundles, so at the end all 6 lines still sell
it, each for (end - 10:00) after its retirement: 6 x (end - 36,000 s) line-seconds.
"""

from __future__ import annotations

import pytest
import yaml

from sim.checker import check_history
from sim.engine.runner import run_scenario
from sim.scenario.spec import load_scenario

RETIRE = {
    "at": "day 1 10:00",
    "role": "product_team",
    "actor": "product_team-2",
    "system": "operations",
    "entity": "product",
    "key": "PRD-00001",
    "fields": {"status": "Retired"},
}


def run(tmp_path, design="p2c-2017", scripted=(RETIRE,)):
    data = {
        "name": "retired",
        "seed": 4,
        "design": design,
        "duration_days": 1,
        "quiescence_max_s": 7200,
        "initial_data": {
            "accounts": 1,
            "contacts_per_account": 0,
            "products": 1,
            "bundles": 2,
            "bundle_lines_per_bundle": 3,
        },
        "roles": {"product_team": {"headcount": 0, "home_system": "operations"}},
        "scripted": list(scripted),
    }
    path = tmp_path / "retired.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return run_scenario(load_scenario(path))


def test_lines_left_on_a_retired_product_are_counted_and_explained(tmp_path):
    result = run(tmp_path)
    verdict = check_history(result.events).verdicts["no_retired_in_bundles"]
    end = next(e["t"] for e in result.events if e["kind"] == "quiescence")
    assert verdict.status == "violated"  # observed; no catalogue design promises it
    assert verdict.violations == 6
    assert verdict.metrics["bundle_lines_retired"] == 6
    assert verdict.metrics["bundle_line_retired_hours"] == pytest.approx(
        6 * (end - 36_000) / 3600, abs=1e-3
    )
    first = verdict.anomalies[0].explain()
    assert first.startswith("bundle BUN-0000")
    assert "still sells product PRD-00001, retired at day 1 10:00 by" in first
    assert "product_team-2 set product PRD-00001 status Retired at day 1 10:00" in first
    report = check_history(result.events)
    assert not report.failed  # observed, not promised by p2c-2017: the run does not fail
    assert verdict.anomalies[0].write_ids[0].startswith("W-operations-")


def test_no_retirement_no_line(tmp_path):
    verdict = check_history(run(tmp_path, scripted=()).events).verdicts["no_retired_in_bundles"]
    assert verdict.status == "holds"
    assert verdict.metrics["bundle_line_retired_hours"] == 0.0


def test_a_design_may_promise_it(tmp_path):
    design = {"extends": "p2c-2017", "promises": ["ownership", "no_retired_in_bundles"]}
    result = run(tmp_path, design=design)
    report = check_history(result.events)
    assert "no_retired_in_bundles" in report.promises
    assert report.failed
