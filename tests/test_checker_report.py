"""The report: one pass over any iterable, JSON out, a readable summary, the plot."""

from __future__ import annotations

import json

import pytest
from checker_histories import ALL_INVARIANTS, History, at, seed_story

from sim import checker
from sim.checker import INVARIANTS, check_history, no_lost_update
from sim.checker.verdicts import HOLDS, VIOLATED
from sim.history import HistoryRecorder, read_history
from sim.reporting.timeline import plot_anomaly


def test_the_report_has_a_verdict_for_every_invariant_in_the_catalogue():
    report = check_history(seed_story().events)
    assert list(report.verdicts) == ALL_INVARIANTS == list(INVARIANTS)
    assert report.events == len(seed_story().events)
    assert report.quiescence["reached"] is True


def test_each_invariant_alone_agrees_with_the_full_report():
    events = seed_story().events
    report = check_history(events)
    for name in ALL_INVARIANTS:
        alone = getattr(checker, name)(events)
        assert alone.to_json() == report[name].to_json(), name


def test_the_history_is_read_once_so_a_stream_will_do():
    class Once:
        def __init__(self, events):
            self.events, self.used = events, False

        def __iter__(self):
            assert not self.used, "the checker read the history twice"
            self.used = True
            return iter(self.events)

    assert check_history(Once(seed_story().events))["no_lost_update"].violations == 1


def test_a_history_file_round_trips_through_read_history(tmp_path):
    path = tmp_path / "history.jsonl.gz"
    recorder = HistoryRecorder(keep=False, path=path)
    for event in seed_story().events:
        recorder.record(event)
    recorder.close()
    report = check_history(read_history(path))
    assert report["no_lost_update"].anomalies[0].write_ids == (
        "W-operations-1",
        "W-sales-0",
        "W-sales-2",
    )


def test_to_json_is_plain_json_and_carries_explanations():
    report = check_history(seed_story().events)
    data = json.loads(json.dumps(report.to_json()))
    lost = data["verdicts"]["no_lost_update"]
    assert lost["status"] == VIOLATED and lost["violations"] == 1
    assert "accounts_hub_to_operations#1" in lost["anomalies"][0]["explanation"]
    assert lost["anomalies"][0]["write_ids"] == ["W-operations-1", "W-sales-0", "W-sales-2"]
    assert data["failed"] is False  # the default test contract does not promise it
    assert data["verdicts"]["convergence"]["status"] == HOLDS


def test_failed_means_a_promised_invariant_is_violated_and_nothing_else():
    assert not check_history(seed_story().events).failed
    assert check_history(seed_story(promises=["no_lost_update"]).events).failed
    unknown = History(promises=["convergence"])
    unknown.save("W-sales-1", at("day 1 09:00"), "sales", "account", "ACC-1", {"phone": "1"})
    report = check_history(unknown.events)
    assert (report["convergence"].status, report.failed) == ("unknown", False)


def test_the_summary_names_each_invariant_and_explains_a_few_anomalies():
    h = seed_story()
    h.events.insert(
        -1,
        {
            "kind": "write",
            "t": 1.0,
            "write_id": "W-x-1",
            "actor": "a",
            "system": "x",
            "entity": "account",
            "key": "ACC-9",
            "fields": {"phone": "1"},
            "base": {},
        },
    )
    lines = check_history(h.events).summary_lines(max_explanations=1)
    text = "\n".join(lines)
    for name in ALL_INVARIANTS:
        assert name in text
    assert "W-operations-1 (ops_clerk-3 set account ACC-0001 credit_limit 5000" in text
    assert lines[-2].startswith("FAILED")  # ownership and accounted_for are promised
    assert text.count("    - ") == 2  # one explanation each for the two violations


def test_asking_for_an_unknown_invariant_is_an_error():
    with pytest.raises(ValueError, match="unknown invariant"):
        check_history([], only=["no_such_thing"])


def test_an_empty_history_says_its_contract_is_unknown():
    report = check_history([])
    assert report.problems and "no run_start" in report.problems[0]


def test_the_timeline_of_a_lost_update_is_a_png(tmp_path):
    events = seed_story().events
    anomaly = no_lost_update(events).anomalies[0]
    path = plot_anomaly(events, anomaly, tmp_path / "lost.png")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 10_000


def test_the_timeline_of_an_echo_is_a_png_too(tmp_path):
    h = History(echo_bound=1)
    h.save("W-sales-1", 100.0, "sales", "account", "ACC-1", {"phone": "1"})
    h.save("W-hub-2", 150.0, "hub", "account", "ACC-1", {"phone": "2"})
    h.apply(200.0, "hub", "account", "ACC-1", {"phone": "W-sales-1"}, via="s2h#1")
    h.apply(250.0, "hub", "account", "ACC-1", {"phone": "W-hub-2"}, via="loop#1")
    h.apply(300.0, "hub", "account", "ACC-1", {"phone": "W-sales-1"}, via="s2h#2")
    anomaly = checker.bounded_echo(h.events).anomalies[0]
    path = plot_anomaly(iter(h.events), anomaly, tmp_path / "echo.png")
    assert path.stat().st_size > 10_000


def test_apply_paths_are_named_the_way_people_say_them():
    from sim.checker.wording import describe_via

    assert describe_via("accounts_hub_to_operations#4") == (
        "batch run accounts_hub_to_operations#4"
    )
    assert describe_via("accounts_to_sales/M-14") == "message M-14 of accounts_to_sales"
    assert describe_via("live:accounts_to_operations") == ("the live sync accounts_to_operations")
    assert describe_via("user") == "a user save"
