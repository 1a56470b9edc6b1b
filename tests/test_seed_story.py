"""The seed post's nagging question, replayed exactly through the whole simulator."""

from __future__ import annotations

from conftest import DATA

from models.clock import parse_when
from sim.engine.runner import run_scenario
from sim.scenario.spec import load_scenario


def test_an_operations_credit_limit_raise_is_overwritten_by_the_next_batch_after_a_sales_edit():
    result = run_scenario(load_scenario(DATA / "seed_story.yaml"))
    events = result.events
    writes = {e["write_id"]: e for e in events if e["kind"] == "write"}
    # Three accounts migrated in Sales (W-sales-1..3); the two scripted saves follow.
    ops_edit = writes["W-operations-1"]
    sales_edit = writes["W-sales-4"]
    assert (ops_edit["actor"], ops_edit["key"], ops_edit["fields"]) == (
        "credit_controller-3",
        "ACC-00001",
        {"credit_limit": 95000},
    )
    assert sales_edit["actor"] == "sales_rep-7"
    assert sales_edit["fields"] == {"phone": "+1-555-010203"}
    assert sales_edit["base"] == {"phone": ["W-sales-1"]}

    # Sales -> hub ticks every 900 s from t=0 (run #1 is the initial load): the tick at
    # 10:30 is run #43 (37,800 s / 900 = 42 ticks after the initial load). Hub -> Operations
    # ticks 300 s later, at 10:35, also its run #43, and loads after the 30 s run overhead.
    overwrite_at = parse_when("day 1 10:35") + 30 + 0.05  # overhead + one row
    overwrites = [e for e in events if e["kind"] == "overwrite"]
    assert overwrites == [
        {
            "t": overwrite_at,
            "kind": "overwrite",
            "system": "operations",
            "entity": "account",
            "key": "ACC-00001",
            "field": "credit_limit",
            "lost_write": "W-operations-1",
            "by_write": "W-sales-1",
            "via": "accounts_hub_to_operations#43",
        }
    ]

    # After the run the Operations edit is gone: every replica holds the migrated value.
    final = {}
    for e in events:
        if e["kind"] == "apply" and e["key"] == "ACC-00001" and "credit_limit" in e["fields"]:
            final[e["system"]] = e["fields"]["credit_limit"]
    assert final == {"sales": "W-sales-1", "hub": "W-sales-1", "operations": "W-sales-1"}
    # ... and the Sales phone edit did arrive in Operations, in the same apply.
    apply = next(e for e in events if e["kind"] == "apply" and e["t"] == overwrite_at)
    assert apply["fields"] == {"credit_limit": "W-sales-1", "phone": "W-sales-4"}
    assert result.quiescent


def test_without_the_sales_edit_the_operations_edit_survives_but_never_reaches_sales(tmp_path):
    text = (DATA / "seed_story.yaml").read_text()
    cut = text.index('  - {at: "day 1 10:20"')
    path = tmp_path / "ops_only.yaml"
    path.write_text(text[:cut])
    events = run_scenario(load_scenario(path)).events
    assert not [e for e in events if e["kind"] == "overwrite"]
    held = {
        e["system"]: e["fields"]["credit_limit"]
        for e in events
        if e["kind"] == "apply" and e["key"] == "ACC-00001" and "credit_limit" in e["fields"]
    }
    # One-way maps: Sales and the hub never learn of the raise (the replicas diverge).
    assert held == {"sales": "W-sales-1", "hub": "W-sales-1", "operations": "W-operations-1"}


def test_the_cli_explains_the_overwrite_and_draws_its_timeline(tmp_path, capsys):
    from sim.cli.main import main

    out = tmp_path / "run"
    assert main(["run", str(DATA / "seed_story.yaml"), "--out", str(out), "--timeline", "1"]) == 0
    text = capsys.readouterr().out
    assert (
        "W-operations-1 (credit_controller-3 set account ACC-00001 credit_limit 95000 at "
        "day 1 10:14) was overwritten at day 1 10:35:30 in operations by batch run "
        "accounts_hub_to_operations#43 carrying W-sales-1"
    ) in text
    assert "no_lost_update" in text and "sanctioned (1)" in text
    picture = out / "timelines" / "01-no_lost_update.png"
    assert picture.stat().st_size > 10_000
    assert (out / "verdict.json").is_file()
