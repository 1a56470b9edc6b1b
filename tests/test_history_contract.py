"""The history honours its contract (sim/history.py; issue 12, point 8), checked
over every event of every reference scenario (one working day each) and of the signature
incident under every design, against expectations computed independently of the model:

- ``batch_end.keys`` lists every business key the run carried (changed, unchanged or
  failed), and every apply made by a run names a key in it: a save can be traced to the
  run that moved it;
- ``batch_start.skipped_ticks`` counts the schedule ticks skipped since the map's
  previous run (not a running total): for two runs of a map starting at t1 < t2 on its
  grid of ticks, ``(t2 - t1) / interval - 1``;
- an ``apply`` lists only fields whose version changed in that replica (replayed here
  from the applies themselves); a sync that re-writes versions the replica already held
  says so with a ``reapply``, which changes nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from models import events as ev
from sim.engine.runner import run_scenario
from sim.scenario.variants import catalogue_names
from sim.scenario.yamlio import InputError, load_yaml
from sim.study.configure import configure

ROOT = Path(__file__).resolve().parent.parent
SIGNATURE = ROOT / "scenarios" / "signatures" / "concurrent_account_edit.yaml"
REFERENCE = sorted((ROOT / "scenarios").glob("*.yaml"))


def run(path: Path, design: str | None = None, days: float = 1):
    raw, lines = load_yaml(path)
    try:
        configured = configure(
            raw, {"duration_days": days}, design, near=path.parent, source=path, linemap=lines
        )
    except InputError:  # a fault that needs the scenario's own length
        configured = configure(raw, {}, design, near=path.parent, source=path, linemap=lines)
    return configured.scenario, run_scenario(configured.scenario).events


def contract_problems(scenario, events: list[dict]) -> list[str]:
    problems: list[str] = []
    held: dict[tuple[str, str, str], dict[str, str]] = {}
    run_keys: dict[str, set[str]] = {}
    applied_by_run: dict[str, set[str]] = {}
    last_start: dict[str, float] = {}
    for event in events:
        kind = event["kind"]
        problems += ev.event_problems(event)
        if kind == ev.APPLY:
            row = held.setdefault((event["system"], event["entity"], event["key"]), {})
            for field, write_id in event["fields"].items():
                if row.get(field) == write_id:
                    problems.append(
                        f"apply of {event['key']} in {event['system']} via "
                        f"{event['via']} lists {field}, whose version "
                        f"{write_id} it already held"
                    )
                row[field] = write_id
            if "#" in event["via"]:
                applied_by_run.setdefault(event["via"], set()).add(event["key"])
        elif kind == ev.REAPPLY:
            row = held.get((event["system"], event["entity"], event["key"]), {})
            for field, write_id in event["fields"].items():
                if row.get(field) != write_id:
                    problems.append(f"reapply of {event['key']} changes {field}")
        elif kind == ev.BATCH_START and event["t"] > 0:
            spec = scenario.design.maps[event["map"]]
            settings = spec.settings(scenario.design.batch)
            before = last_start.get(event["map"])
            if before is not None:
                expected = round((event["t"] - before) / settings.interval_s) - 1
                if event["skipped_ticks"] != expected:
                    problems.append(
                        f"{event['run_id']}: skipped_ticks "
                        f"{event['skipped_ticks']}, expected {expected}"
                    )
            last_start[event["map"]] = event["t"]
        elif kind == ev.BATCH_END:
            carried = event["rows_changed"] + event["rows_unchanged"] + event.get("rows_failed", 0)
            if len(event["keys"]) != carried:
                problems.append(f"{event['run_id']}: {len(event['keys'])} keys for {carried} rows")
            run_keys[event["run_id"]] = set(event["keys"])
    for run_id, keys in applied_by_run.items():
        if not keys <= run_keys.get(run_id, set()):
            problems.append(
                f"{run_id} applied {sorted(keys - run_keys.get(run_id, set()))} "
                "without listing them in its batch_end keys"
            )
    return problems[:10]


@pytest.mark.parametrize("path", REFERENCE, ids=lambda p: p.stem)
def test_every_event_of_every_reference_scenario_honours_the_contract(path):
    scenario, events = run(path)
    assert not contract_problems(scenario, events)


def test_the_signature_incident_under_every_design_honours_the_contract():
    kinds = set()
    for design in catalogue_names():
        scenario, events = run(SIGNATURE, design)
        kinds |= {e["kind"] for e in events}
        assert not contract_problems(scenario, events), design
    # The naive design's echoes re-write versions a replica already held: reapplies.
    assert ev.REAPPLY in kinds


def test_a_run_that_falls_behind_its_schedule_reports_the_ticks_it_skipped(tmp_path):
    """A 60-s schedule with 30 s of overhead and 0.05 s a row: 2,000 accounts take 130 s,
    so the ticks at 120 s and 180 s fall while the first run is going (2 skipped), and
    the next run starts at 240 s reporting 2, the one after reporting 0."""
    import yaml

    data = {
        "name": "behind",
        "seed": 1,
        "initial_sync": "timed",
        "design": {"extends": "p2c-2017", "batch": {"interval_s": 60}},
        "duration_days": 1,
        "quiescence_max_s": 3600,
        "initial_data": {"accounts": 2000, "contacts_per_account": 0, "products": 0, "bundles": 0},
    }
    path = tmp_path / "behind.yaml"
    path.write_text(yaml.safe_dump(data))
    # A tenth of a day (2.4 hours) holds the first runs many times over.
    scenario, events = run(path, days=0.1)
    starts = [
        e for e in events if e["kind"] == ev.BATCH_START and e["map"] == "accounts_sales_to_hub"
    ]
    assert [(e["t"], e["rows"], e["skipped_ticks"]) for e in starts[:3]] == [
        (60.0, 2000, 0),
        (240.0, 0, 2),
        (300.0, 0, 0),
    ]
    assert not contract_problems(scenario, events)
