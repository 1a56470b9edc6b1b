"""The synthetic history generator and the benchmark function (never timed here)."""

from __future__ import annotations

import gc
from itertools import pairwise

import pytest

from sim.bench.synthetic import bench_checker, floor_pass, synthetic_history
from sim.checker import SANCTIONED, check_history
from sim.checker.files import check_file
from sim.checker.invariant import Invariant
from sim.checker.ledger import Ledger
from sim.checker.verdicts import HOLDS
from sim.history import HistoryRecorder, trace_sha256


def test_a_synthetic_history_is_a_valid_stream():
    events = list(synthetic_history(2_000, seed=3))
    assert events[0]["kind"] == "run_start"
    assert events[-1] == {**events[-1], "kind": "quiescence", "reached": True}
    writes = [n for n, e in enumerate(events) if e["kind"] == "write"]
    assert len(writes) == 2_000
    for n in writes:
        save, apply = events[n], events[n + 1]
        assert (apply["kind"], apply["via"], apply["system"], apply["t"]) == (
            "apply",
            "user",
            save["system"],
            save["t"],
        )
        assert set(apply["fields"].values()) == {save["write_id"]}
    assert all(a["t"] <= b["t"] for a, b in pairwise(events))
    systems = {e["system"] for e in events if e["kind"] == "apply"}
    assert systems == {"sales", "hub", "operations"}


def test_a_synthetic_history_passes_its_promises_and_loses_updates_it_sanctions():
    report = check_history(synthetic_history(3_000, seed=1))
    assert not report.failed, "\n".join(report.summary_lines())
    for name in report.promises:
        assert report[name].status == HOLDS, name
    lost = report["no_lost_update"]
    assert lost.status == SANCTIONED and lost.sanctioned > 0
    assert "whose base did not include" in lost.anomalies[0].explain()


def test_the_same_seed_gives_the_same_history_and_another_seed_another():
    assert trace_sha256(synthetic_history(500, 7)) == trace_sha256(synthetic_history(500, 7))
    assert trace_sha256(synthetic_history(500, 7)) != trace_sha256(synthetic_history(500, 8))


def test_the_benchmark_reports_seconds_per_size_and_their_ratio(few_bench_passes):
    figures = bench_checker(sizes=(300, 600))
    assert set(figures) >= {
        "seconds_300",
        "seconds_600",
        "events_300",
        "events_600",
        "ratio",
        "size_ratio",
        "linear",
        "floor_seconds_300",
        "floor_seconds_600",
        "over_floor_600",
        "floor_ratio",
    }
    assert figures["size_ratio"] == 2.0
    assert figures["events_600"] > figures["events_300"] > 600
    # The ratios come from unrounded seconds; ``linear`` is the target's rule applied.
    assert figures["linear"] == (figures["ratio"] <= 1.2 * figures["size_ratio"])
    assert figures["ratio"] > 0
    # A floor too short to tell from the generator's time is None, and so is its ratio.
    floors = (figures["floor_seconds_300"], figures["floor_seconds_600"])
    assert (figures["floor_ratio"] is None) == (None in floors)
    assert figures["floor_ratio"] is None or figures["floor_ratio"] > 0
    # A size too small to time in one pass is repeated, up to the cap.
    assert figures["passes_300"] == few_bench_passes


def test_the_floor_keeps_the_same_final_rows_as_the_ledger():
    # The benchmark's yardstick does the part of the ledger's work every checker must do;
    # if it kept different rows it would not be a floor of the same job.
    events = list(synthetic_history(3_000, seed=5))
    tables = floor_pass(events)
    ledger = Ledger().feed(events)
    assert tables == ledger.tables
    assert sum(len(t) for by_entity in tables.values() for t in by_entity.values()) > 300


def test_the_bench_says_which_checker_target_is_met_beside_the_floor():
    from sim.bench.bench import checker_lines

    figures = {"ratio": 13.1, "size_ratio": 10.0, "floor_ratio": 16.2}
    for n, seconds, floor in ((100_000, 1.25, 0.45), (1_000_000, 16.4, 7.3)):
        figures |= {
            f"seconds_{n}": seconds,
            f"us_per_event_{n}": 4.0,
            f"events_{n}": 4 * n,
            f"floor_seconds_{n}": floor,
            f"over_floor_{n}": round(seconds / floor, 2),
        }
    lines = checker_lines(figures)
    assert "1,000,000 writes:  16.40 s CPU" in lines[1]
    assert lines[1].endswith("(target < 10 s: NOT met)")
    assert "(target <= 12: NOT met); the floor's own ratio: 16.20" in lines[2]
    figures |= {"seconds_1000000": 9.5, "ratio": 7.6}
    lines = checker_lines(figures)
    assert lines[1].endswith("(target < 10 s: met)") and "(target <= 12: met)" in lines[2]


def test_a_check_frees_its_ledger_and_invariants_without_the_cyclic_collector(tmp_path):
    """check_history drops the ledger's hooks once the verdicts are built (the ledger and
    the invariants point at each other through them), so with the cyclic collector off
    neither outlives the check, in memory or from a file with a strict ledger, and a
    collection afterwards finds nothing; the report is the same as with the collector on."""
    events = list(synthetic_history(2_000, seed=2))
    path = tmp_path / "history.jsonl.gz"
    recorder = HistoryRecorder(keep=False, path=path)
    for event in events:
        recorder.record(event)
    recorder.close()
    expected = check_history(events).to_json()
    gc.collect()
    gc.disable()
    try:
        reports = [check_history(events), check_file(path)]
        left = [o for o in gc.get_objects() if isinstance(o, (Ledger, Invariant))]
        assert left == []
        assert gc.collect() == 0
    finally:
        gc.enable()
    assert [report.to_json() for report in reports] == [expected, expected]


def test_a_released_ledger_stays_readable_and_refuses_more_events():
    events = list(synthetic_history(500, seed=4))
    ledger = Ledger().feed(events[:-1])
    ledger.finish()
    tables = {s: {e: dict(t) for e, t in by.items()} for s, by in ledger.tables.items()}
    ledger.release()
    assert ledger.tables == tables and ledger.writes == 500
    with pytest.raises(ValueError, match="released"):
        ledger.feed(events[-1:])
