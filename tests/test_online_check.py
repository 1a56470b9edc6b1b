"""A run judged while it is recorded gives the verdicts of its history file, judged after.

``RunCheck.feed`` reads the run's own event dicts as the recorder hands them on
(``HistoryRecorder(watch=...)``, :data:`sim.history.WATCH_EVENTS` at a time), so
``p2c compare`` and ``p2c bench --week`` parse nothing back. The reference runs of
``tests/fingerprints.py`` are the evidence that nothing differs: every verdict, count and
word of explanation is compared with ``check_history(read_history(file))``, which is
what ``p2c verify`` and the pinned fingerprints read. (The first version of this test
found that the two orders of the ``run_start`` contract, the model's and the file's,
ordered convergence's anomalies differently: ``Contract.from_dict`` sorts it now.)
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fingerprints import CASES, ROOT, reference_run, reference_runs

import sim.history
from sim.bench.synthetic import synthetic_history
from sim.checker.check import RunCheck, check_history
from sim.engine.runner import run_scenario
from sim.history import HistoryRecorder, read_history
from sim.scenario.spec import load_scenario


def _watched(keep: bool, n_events: int, tmp_path: Path) -> tuple[list, list[list], HistoryRecorder]:
    handed: list[list] = []
    recorder = HistoryRecorder(keep=keep, path=tmp_path / "h.jsonl.gz", watch=handed.append)
    events = []
    for event in synthetic_history(2_000, 0):
        events.append(event)
        recorder.record(event)
        if len(events) == n_events:
            break
    recorder.close()
    return events, handed, recorder


@pytest.mark.parametrize("keep", [False, True])
def test_the_watch_is_handed_every_event_once_in_order(tmp_path, keep):
    n = 3 * sim.history.WATCH_EVENTS + 5  # three full lists, then the rest at close()
    events, handed, recorder = _watched(keep, n, tmp_path)
    assert [len(block) for block in handed] == [sim.history.WATCH_EVENTS] * 3 + [5]
    assert [id(e) for block in handed for e in block] == [id(e) for e in events]
    assert (recorder.events is not None) == keep
    # The file and the trace are those of an unwatched recorder.
    plain = HistoryRecorder(keep=False, path=tmp_path / "plain.jsonl.gz")
    for event in events:
        plain.record(event)
    plain.close()
    assert recorder.sha256 == plain.sha256
    assert list(read_history(tmp_path / "h.jsonl.gz")) == list(
        read_history(tmp_path / "plain.jsonl.gz")
    )


def test_an_aborted_recording_hands_on_nothing_more(tmp_path):
    handed: list[list] = []
    recorder = HistoryRecorder(keep=False, path=tmp_path / "h.jsonl.gz", watch=handed.append)
    for event in list(synthetic_history(50, 0))[:10]:
        recorder.record(event)
    recorder.abort()
    assert handed == []
    assert not (tmp_path / "h.jsonl.gz").exists()


def test_a_check_that_fails_midway_keeps_the_error_for_its_report():
    check = RunCheck()
    events = list(synthetic_history(200, 0))
    check.feed(events[:10])
    broken = dict(events[10])
    broken.pop("kind")  # no kind: the ledger cannot read it
    check.feed([broken])
    check.feed(events[11:])  # the run goes on; the check reads no more
    assert isinstance(check.error, KeyError)
    assert check.ledger.events == 10
    with pytest.raises(KeyError):
        check.report()


def test_a_check_reports_once_and_reads_no_more_afterwards():
    check = RunCheck()
    check.feed(list(synthetic_history(200, 0)))
    report = check.report()
    assert check.report() is report
    assert check.cpu_s > 0
    with pytest.raises(ValueError, match="reads no more"):
        check.feed([])
    assert report.to_json() == check_history(synthetic_history(200, 0)).to_json()


@pytest.mark.parametrize("key", reference_runs())
def test_judged_while_recorded_equals_judged_from_the_file(tmp_path, key):
    scenario, seed = reference_run(key)
    path = tmp_path / "history.jsonl.gz"
    check = RunCheck()
    result = run_scenario(scenario, seed, keep_events=False, history_path=path, watch=check.feed)
    online = check.report()
    after = check_history(read_history(path))
    assert online.events == after.events == result.event_count
    assert online.to_json() == after.to_json()


def test_a_forked_one_task_worker_leaves_the_run_to_its_exit(monkeypatch):
    import gc

    import sim.engine.runner as runner
    import sim.study.compare as compare

    released = []
    monkeypatch.setattr(runner, "release_world", released.append)
    monkeypatch.setattr(runner, "_FREE_WORLDS", True)  # restored after the test
    monkeypatch.setattr(compare, "worker_signals", lambda: None)
    scenario = load_scenario(ROOT / CASES[0][1])
    run_scenario(scenario, keep_events=False)
    assert len(released) == 1  # in this process, a finished run is freed
    collecting = gc.isenabled()
    try:
        compare._one_task_worker(forked=False)
        run_scenario(scenario, keep_events=False)
        assert len(released) == 2  # a spawned worker's interpreter would collect it
        compare._one_task_worker(forked=True)
        run_scenario(scenario, keep_events=False)
        assert len(released) == 2  # left to os._exit
    finally:
        if collecting:
            gc.enable()


def test_a_sweep_run_whose_check_fails_midway_keeps_its_metrics(tmp_path, monkeypatch):
    # A sweep checks each run while it is recorded; a checker that raises part-way must
    # not lose the run: its metrics are stored with the error, and the sweep goes on.
    import yaml
    from conftest import SEED_SCENARIO

    from sim.checker.ledger import Ledger
    from sim.cli.main import main
    from sim.study.store import ResultStore

    real_feed = Ledger.feed
    calls = []

    def feed_then_fail(self, events):
        calls.append(len(events))
        if len(calls) == 3:
            raise KeyError("planted")
        return real_feed(self, events)

    monkeypatch.setattr(Ledger, "feed", feed_then_fail)
    sweep = tmp_path / "sweep.yaml"
    overrides = {"roles.sales_rep.headcount": 2, "duration_days": 0.5}
    sweep.write_text(
        yaml.safe_dump({"name": "s", "scenario": str(SEED_SCENARIO), "overrides": overrides}),
        encoding="utf-8",
    )
    out = tmp_path / "out"
    assert main(["sweep", str(sweep), "--workers", "0", "--out", str(out), "--no-progress"]) == 0
    with ResultStore(out / "results.sqlite") as store:
        rows = store.rows()
    crashed = [row for row in rows if row.check_error]
    assert len(rows) == 3 and len(crashed) == 1  # one run's check failed
    assert crashed[0].check_error == "KeyError: 'planted'"
    assert crashed[0].metrics["writes"] > 0 and crashed[0].verdicts == {}
    assert all(row.verdicts for row in rows if row is not crashed[0])
