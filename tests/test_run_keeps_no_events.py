"""``p2c run`` keeps no event of its run: the checker judges it while it is recorded, the
summary keeps only the writes its scripted saves could be (``ScriptedWrites``), and the
timelines read the run folder's history back. What it prints and writes is what it printed
and wrote when it kept every event."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from conftest import DATA, SEED_SCENARIO

import sim.engine.runner
from sim.checker import check_history
from sim.cli.main import main
from sim.engine.runner import run_scenario
from sim.history import read_history
from sim.reporting.summary import ScriptedWrites, scripted_lines
from sim.scenario.spec import load_scenario


@pytest.mark.parametrize("path", [DATA / "seed_story.yaml", SEED_SCENARIO])
def test_the_kept_writes_give_the_scripted_lines_of_the_whole_history(path):
    scenario = load_scenario(path)
    kept = ScriptedWrites(scenario)
    result = run_scenario(scenario, watch=kept.watch)
    report = check_history(result.events)
    lines = scripted_lines(scenario, kept.writes, report)
    assert lines == scripted_lines(scenario, result.events, report)
    assert lines[0].startswith(f"Scripted saves ({len(scenario.spec.scripted)})")
    # A handful of writes, not the run: every kept one is a candidate for a scripted save.
    assert 0 < len(kept.writes) < len(result.events) / 100
    assert all(w["kind"] == "write" for w in kept.writes)


def _write(t, key, role="sales_rep", system="sales", fields=("phone",), write_id=None):
    return {
        "kind": "write",
        "t": t,
        "write_id": write_id or f"W-{t}",
        "actor": f"{role}-1",
        "role": role,
        "system": system,
        "entity": "account",
        "key": key,
        "fields": dict.fromkeys(fields, "x"),
    }


def test_the_earliest_scripted_time_of_a_record_decides_what_is_kept():
    # Two scripted saves of one record at 100 and 50 s, one of another record in
    # Operations: writes before 50 s, of another role, system or record are not kept.
    actions = [
        SimpleNamespace(at_s=at, role=role, system=system, entity="account", key=key)
        for at, role, system, key in (
            (100.0, "sales_rep", "sales", "ACC-1"),
            (50.0, "sales_rep", "sales", "ACC-1"),
            (10.0, "credit_controller", "operations", "ACC-2"),
        )
    ]
    scenario = SimpleNamespace(spec=SimpleNamespace(scripted=actions))
    events = [
        _write(40.0, "ACC-1"),  # before either scripted time
        {"kind": "apply", "t": 60.0, "system": "sales", "entity": "account", "key": "ACC-1"},
        _write(60.0, "ACC-1"),
        _write(60.0, "ACC-1", role="migration"),
        _write(70.0, "ACC-1", system="operations"),
        _write(80.0, "ACC-3"),
        _write(120.0, "ACC-1", fields=("phone", "city")),
        _write(5.0, "ACC-2", role="credit_controller", system="operations"),
        _write(20.0, "ACC-2", role="credit_controller", system="operations"),
    ]
    kept = ScriptedWrites(scenario)
    kept.watch(events[:4])
    kept.watch(events[4:])
    assert [(w["t"], w["key"]) for w in kept.writes] == [
        (60.0, "ACC-1"),
        (120.0, "ACC-1"),
        (20.0, "ACC-2"),
    ]
    nothing = ScriptedWrites(SimpleNamespace(spec=SimpleNamespace(scripted=[])))
    nothing.watch(events)
    assert nothing.writes == []


def test_p2c_run_records_without_keeping_events_and_its_verdict_is_the_files(
    tmp_path, monkeypatch, capsys
):
    kept: list[bool] = []
    recorder = sim.engine.runner.HistoryRecorder

    class Spy(recorder):
        def __init__(self, keep=True, path=None, watch=None):
            kept.append(keep)
            super().__init__(keep=keep, path=path, watch=watch)

    monkeypatch.setattr(sim.engine.runner, "HistoryRecorder", Spy)
    out = tmp_path / "run"
    assert main(["run", str(DATA / "seed_story.yaml"), "--out", str(out), "--timeline", "1"]) == 0
    printed = capsys.readouterr().out
    assert kept == [False]
    assert "Scripted saves (2)" in printed
    # Judged while recorded: the same verdicts as a check of the history file.
    verdict = json.loads((out / "verdict.json").read_text(encoding="utf-8"))
    assert verdict == check_history(read_history(out / "history.jsonl.gz")).to_json()
    assert (out / "timelines" / "01-no_lost_update.png").stat().st_size > 10_000
