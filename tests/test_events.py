"""The history contract (models/events.py): every event of every reference scenario
conforms to its kind's definition, and the checker reads the same definitions.

Runs are kept short (one day where a scenario allows it). The signature scenario runs
under every design (each design's own kinds: leases, conflicts, batches, queues); a
duplicate-and-loss fault run adds the transport kinds.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from models import events as ev
from models.design import INVARIANTS as DESIGN_INVARIANTS
from sim.checker import INVARIANTS
from sim.checker.files import _SHAPES as CHECKER_SHAPES  # noqa: PLC2701 - the checker's own table
from sim.checker.ledger import Ledger
from sim.engine.runner import run_scenario
from sim.scenario.variants import catalogue_names
from sim.scenario.yamlio import InputError, load_yaml
from sim.study.configure import configure

ROOT = Path(__file__).resolve().parent.parent
SIGNATURE = ROOT / "scenarios" / "signatures" / "concurrent_account_edit.yaml"
REFERENCE = sorted((ROOT / "scenarios").glob("*.yaml"))


def events_of(path: Path, design: str | None = None, **overrides) -> list[dict]:
    raw, lines = load_yaml(path)
    try:
        configured = configure(
            raw,
            {"duration_days": 1, **overrides},
            design,
            near=path.parent,
            source=path,
            linemap=lines,
        )
    except InputError:  # a fault that needs the scenario's own length
        configured = configure(raw, overrides, design, near=path.parent, source=path, linemap=lines)
    return run_scenario(configured.scenario).events


def problems_in(events: list[dict], label: str, seen: Counter) -> list[str]:
    found = []
    for number, event in enumerate(events):
        seen[event["kind"]] += 1
        found += [f"{label} event {number}: {p}" for p in ev.event_problems(event)]
    return found[:20]


def test_every_event_of_the_signature_scenario_under_every_design_conforms():
    seen: Counter = Counter()
    for design in catalogue_names():
        assert not problems_in(events_of(SIGNATURE, design), design, seen)
    expected = {
        ev.RUN_START,
        ev.WRITE,
        ev.APPLY,
        ev.OVERWRITE,
        ev.BATCH_START,
        ev.BATCH_END,
        ev.SEND,
        ev.DELIVER,
        ev.CONFLICT,
        ev.LOCK_GRANT,
        ev.LOCK_RELEASE,
        ev.QUIESCENCE,
    }
    assert expected <= set(seen), f"kinds never emitted: {expected - set(seen)}"


@pytest.mark.slow
@pytest.mark.parametrize("path", REFERENCE, ids=[p.name for p in REFERENCE])
def test_every_event_of_every_reference_scenario_conforms(path):
    seen: Counter = Counter()
    assert not problems_in(events_of(path), path.name, seen)
    assert seen[ev.RUN_START] == seen[ev.QUIESCENCE] == 1


@pytest.mark.slow
def test_transport_faults_emit_conforming_events():
    seen: Counter = Counter()
    faults = [
        {"kind": "duplicate", "at": "day 1 09:00", "duration_s": 14400, "probability": 0.5},
        {"kind": "loss", "at": "day 1 09:00", "duration_s": 14400, "probability": 0.3},
        {"kind": "outage", "system": "sales", "at": "day 1 11:00", "duration_s": 1800},
    ]
    events = events_of(
        ROOT / "scenarios" / "prospect_to_cash.yaml", "dual-write-async", faults=faults
    )
    assert not problems_in(events, "faults", seen)
    for kind in (ev.REDELIVERY, ev.DELIVERY_LOST, ev.FAULT_START, ev.FAULT_END, ev.REJECT):
        assert seen[kind], f"no {kind} event: the fault run does not exercise it"


def test_a_departing_event_is_named_for_each_way_it_departs():
    good = {"t": 1.0, "kind": ev.DELIVER, "message_id": "M-1", "map": "m", "outcome": "applied"}
    assert ev.event_problems(good) == []
    assert ev.event_problems({**good, "t": 1}) == []  # a whole number of seconds is a time
    assert ev.event_problems({"t": 0, "kind": "teleport"}) == ["unknown kind 'teleport'"]
    missing = {k: v for k, v in good.items() if k != "map"}
    assert ev.event_problems(missing) == ["deliver: no field 'map'"]
    assert ev.event_problems({**good, "colour": "red"}) == ["deliver: unknown field 'colour'"]
    [wrong] = ev.event_problems({**good, "outcome": "teleported"})
    assert wrong.startswith("deliver: outcome = 'teleported' is not 'applied' or")
    assert ev.event_problems({**good, "message_id": 7}) == ["deliver: message_id = 7 is not str"]
    send = {
        "t": 0.0,
        "kind": ev.SEND,
        "message_id": "M",
        "map": "m",
        "entity": "e",
        "key": "k",
        "source": "a",
        "target": "b",
        "cause": None,
        "hops": 1,
        "write_ids": ["W-1", 2],
    }
    assert ev.event_problems(send) == ["send: write_ids = ['W-1', 2] is not list[str]"]
    assert ev.event_problems({**send, "write_ids": [], "hops": True}) == [
        "send: hops = True is not int"
    ]


def test_the_checker_reads_the_kinds_and_fields_the_contract_defines():
    for kind, shape in CHECKER_SHAPES.items():
        assert kind in ev.EVENTS
        for name, _types, _required in shape:
            assert name in ev.fields_of(kind), f"the checker reads {kind}.{name}"
    handled = set(Ledger()._handlers)  # noqa: SLF001 - what the ledger dispatches on
    assert handled <= set(ev.EVENTS)


def test_the_invariant_names_are_defined_once():
    assert tuple(INVARIANTS) == ev.INVARIANT_NAMES == DESIGN_INVARIANTS
    assert all(cls.name == name for name, cls in INVARIANTS.items())
