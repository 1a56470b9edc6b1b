"""Which fields a live dual-write carries: ``live: {payload: mapped_row | changed_fields}``
(issue 12, point 3), on an incident worked by hand.

Dual-write live, every live write taking exactly 1 s. The Operations -> Sales map of
accounts is paused from 10:00 for 30 minutes (maintenance: its changes queue). At 10:05 a
credit controller sets ACC-00001's payment terms to Net60 in Operations (queued for
Sales). At 10:10 a sales rep sets its credit limit to 20000 in Sales; the Sales row still
has the migrated payment terms (Net30).

- ``mapped_row`` (documented for Dataverse -> Operations: every mapped column): the live
  write carries the whole row, so Net30 goes back over Net60 in Operations (an
  overwrite); at 10:30 the queued change replays Net60 into Sales: the two sides end
  diverged (Sales Net60, Operations Net30).
- ``changed_fields``: only the credit limit crosses; after the catch-up both sides hold
  Net60 and 20000, nothing overwritten.
"""

from __future__ import annotations

import pytest
import yaml

from sim.checker import check_history
from sim.engine.runner import run_scenario
from sim.scenario.spec import load_scenario

SCRIPT = [
    {
        "at": "day 1 10:05",
        "role": "credit_controller",
        "actor": "credit_controller-1",
        "system": "operations",
        "entity": "account",
        "key": "ACC-00001",
        "fields": {"payment_terms": "Net60"},
    },
    {
        "at": "day 1 10:10",
        "role": "sales_rep",
        "actor": "sales_rep-1",
        "system": "sales",
        "entity": "account",
        "key": "ACC-00001",
        "fields": {"credit_limit": 20000},
    },
]


def run(tmp_path, payload: str | None):
    design = {"extends": "dual-write-live", "latency": {"fixed_s": 1}}
    if payload is not None:
        design["live"] = {"payload": payload}
    data = {
        "name": f"payload_{payload}",
        "seed": 6,
        "design": design,
        "duration_days": 1,
        "quiescence_max_s": 14400,
        "initial_data": {"accounts": 1, "contacts_per_account": 0, "products": 0, "bundles": 0},
        "roles": {
            "sales_rep": {"headcount": 0, "home_system": "sales"},
            "credit_controller": {"headcount": 0, "home_system": "operations"},
        },
        "scripted": SCRIPT,
        "faults": [
            {
                "kind": "pause",
                "maps": ["accounts_to_sales"],
                "at": "day 1 10:00",
                "duration_s": 1800,
            }
        ],
    }
    path = tmp_path / f"{payload}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    scenario = load_scenario(path)
    return scenario, run_scenario(scenario)


def final(result, field: str) -> dict[str, object]:
    values = {e["write_id"]: e["fields"] for e in result.events if e["kind"] == "write"}
    held = {}
    for e in result.events:
        if e["kind"] == "apply" and e["key"] == "ACC-00001" and field in e["fields"]:
            held[e["system"]] = values[e["fields"][field]][field]
    return held


def test_the_documented_whole_row_is_the_default(tmp_path):
    scenario, _ = run(tmp_path, None)
    assert scenario.design.live.payload == "mapped_row"


def test_mapped_row_sends_the_stale_payment_terms_back_over_the_newer_ones(tmp_path):
    _, result = run(tmp_path, "mapped_row")
    [overwrite] = [e for e in result.events if e["kind"] == "overwrite"]
    assert (overwrite["system"], overwrite["field"], overwrite["via"]) == (
        "operations",
        "payment_terms",
        "live:accounts_to_operations",
    )
    assert final(result, "payment_terms") == {"sales": "Net60", "operations": "Net30"}
    assert check_history(result.events).verdicts["convergence"].status == "violated"


def test_changed_fields_carries_only_the_credit_limit(tmp_path):
    _, result = run(tmp_path, "changed_fields")
    assert not [e for e in result.events if e["kind"] == "overwrite"]
    assert final(result, "payment_terms") == {"sales": "Net60", "operations": "Net60"}
    assert final(result, "credit_limit") == pytest.approx({"sales": 20000, "operations": 20000})
    assert check_history(result.events).verdicts["convergence"].status == "holds"
