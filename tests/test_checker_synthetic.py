"""The synthetic history generator and the benchmark function (never timed here)."""

from __future__ import annotations

from itertools import pairwise

from sim.checker import SANCTIONED, check_history
from sim.checker.synthetic import bench_checker, synthetic_history
from sim.checker.verdicts import HOLDS
from sim.history import trace_sha256


def test_a_synthetic_history_is_a_valid_stream():
    events = list(synthetic_history(2_000, seed=3))
    assert events[0]["kind"] == "run_start"
    assert events[-1] == {**events[-1], "kind": "quiescence", "reached": True}
    writes = [n for n, e in enumerate(events) if e["kind"] == "write"]
    assert len(writes) == 2_000
    for n in writes:
        save, apply = events[n], events[n + 1]
        assert (apply["kind"], apply["via"], apply["system"], apply["t"]) == (
            "apply", "user", save["system"], save["t"])
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


def test_the_benchmark_reports_seconds_per_size_and_their_ratio():
    figures = bench_checker(sizes=(300, 600))
    assert set(figures) >= {"seconds_300", "seconds_600", "events_300", "events_600", "ratio",
                            "size_ratio", "linear"}
    assert figures["size_ratio"] == 2.0
    assert figures["events_600"] > figures["events_300"] > 600
    assert figures["ratio"] == round(figures["seconds_600"] / figures["seconds_300"], 3) or (
        abs(figures["ratio"] - figures["seconds_600"] / figures["seconds_300"]) < 0.05)
