"""The run's metrics collector: propagation delays, and what it keeps while measuring them."""

from __future__ import annotations

from typing import Any

from sim.engine.metrics import MetricsCollector


def _events(run_start: bool) -> list[dict[str, Any]]:
    start = [{"t": 0.0, "kind": "run_start", "contract": {"systems": ["sales", "hub", "ops"]}}]
    write = {"t": 10.0, "kind": "write", "write_id": "W-sales-1", "role": "rep", "system": "sales"}

    def apply(t: float, system: str, via: str = "map") -> dict[str, Any]:
        fields = {"name": "W-sales-1", "phone": "W-sales-1"}  # one write, two fields
        event = {"t": t, "kind": "apply", "system": system, "entity": "account", "via": via}
        return {**event, "fields": fields}

    body = [write, apply(10.0, "sales", "user"), apply(40.0, "hub"), apply(70.0, "hub")]
    body.append(apply(100.0, "ops"))
    return (start if run_start else []) + body + [apply(130.0, "hub")]


def test_a_write_is_measured_once_per_system_and_dropped_once_it_is_everywhere():
    kept, trimmed = MetricsCollector(), MetricsCollector()
    for event in _events(run_start=False):
        kept.observe(event)
    for event in _events(run_start=True):
        trimmed.observe(event)
    expected = {"account:sales->hub": [30.0], "account:sales->ops": [90.0]}
    assert kept.delays == trimmed.delays == expected
    # Without run_start the collector does not know the systems and keeps the write; with
    # it, a write that reached every system has no delay left to measure and is dropped.
    assert "W-sales-1" in kept._write_origin
    assert trimmed._write_origin == {}
