"""The checker's fast paths judge exactly what a straightforward reading judges.

``p2c verify`` streams a history through :class:`~sim.checker.files.HistoryReader`
(ISA-L's gzip reader, a megabyte split into lines at a time, and a few type tests per
line instead of the shape table for the two common kinds). The reference here is the
plainest reading there is: the standard library's gzip, one ``json.loads`` per line and
:func:`~sim.checker.files.event_problem` on every event. Both must give the same events
and the same verdicts (status, counts, metrics and every anomaly's words) on the
reference scenarios' histories, and the quick type test must never let through an event
the shape table refuses.
"""

from __future__ import annotations

import copy
import gzip
import json

import pytest
from checker_histories import seed_story
from conftest import ROOT

from sim.catalogue import design_names
from sim.checker.check import check_history
from sim.checker.files import (
    HistoryFileError,
    HistoryReader,
    _plainly_readable,
    check_file,
    event_problem,
)
from sim.checker.validation import ContractValidator
from sim.engine.runner import run_scenario
from sim.scenario.spec import load_scenario
from sim.study.compare import design_variant

SIGNATURE = ROOT / "scenarios" / "signatures" / "concurrent_account_edit.yaml"


def reference_events(path):
    """Every event of a history file, read the plain way (and each one validated)."""
    events = []
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                event = json.loads(line)
                assert event_problem(event) is None, line
                events.append(event)
    return events


def verdict_words(report):
    return {
        name: (v.status, v.count, v.metrics, [(a.code, a.text) for a in v.anomalies])
        for name, v in report.verdicts.items()
    }


#: The reference scenarios: the signature under every catalogue design, and the seed
#: organisation's faults (an outage, throttling, a paused dual-write queue).
CASES = [(SIGNATURE, design) for design in design_names()] + [
    (ROOT / "scenarios" / name, None)
    for name in ("hub_outage.yaml", "month_end_throttling.yaml", "dual_write_pause_overflow.yaml")
]


@pytest.mark.slow
@pytest.mark.parametrize("source, design", CASES, ids=lambda c: getattr(c, "stem", c))
def test_verify_judges_each_reference_history_as_the_plain_reading_does(tmp_path, source, design):
    scenario = load_scenario(source)
    if design is not None:
        scenario = scenario.with_design(design_variant(scenario, design).design)
    path = tmp_path / "history.jsonl.gz"
    result = run_scenario(scenario, keep_events=True, history_path=path)
    plain = reference_events(path)
    assert plain == result.events
    assert list(HistoryReader(path)) == plain
    fast = check_file(path)
    reference = check_history(plain)
    assert fast.events == reference.events == len(plain)
    assert verdict_words(fast) == verdict_words(reference)
    # Every line passes the quick test exactly when the shape table passes it.
    assert all(_plainly_readable(e) for e in plain if e["kind"] in ("write", "apply"))


def test_the_seed_story_file_is_judged_as_its_events_are(tmp_path):
    story = seed_story().events
    path = tmp_path / "history.jsonl.gz"
    text = b"".join(json.dumps(e).encode() + b"\n" for e in story)
    # Blank lines and a last line without its newline are read as the plain reader reads
    # them, across the reader's megabyte blocks.
    path.write_bytes(gzip.compress(b"\n \n" + text[:-1]))
    reader = HistoryReader(path)
    assert list(reader) == reference_events(path) == story
    assert reader.line == len(story) + 2
    assert verdict_words(check_file(path)) == verdict_words(check_history(story))


_BAD_VALUES = (None, 1, 1.5, True, "x", [], {}, ["W-1"], {"a": 1})


def _variants(event):
    """The event with each field removed, and set to each value of another JSON type."""
    for name in list(event):
        dropped = dict(event)
        del dropped[name]
        yield dropped
        for value in _BAD_VALUES:
            changed = copy.deepcopy(event)
            changed[name] = value
            yield changed
    for name in ("fields", "base"):
        for field in event.get(name) or {}:
            for value in _BAD_VALUES:
                changed = copy.deepcopy(event)
                changed[name][field] = value
                yield changed


def test_the_quick_type_test_never_passes_what_the_shape_table_refuses():
    events = [e for e in seed_story().events if e["kind"] in ("write", "apply")]
    checked = refused = 0
    for event in events[:6]:
        for variant in _variants(event):
            checked += 1
            problem = event_problem(variant)
            if problem is not None:
                refused += 1
                assert not _plainly_readable(variant), (variant, problem)
    assert checked > 200 and refused > 50


def _state(validator):
    return {name: copy.copy(getattr(validator, name)) for name in ContractValidator.__slots__}


def _primed(events):
    """A validator that has checked ``events`` (all valid)."""
    validator = ContractValidator()
    for event in events:
        assert event_problem(event) is None and validator.check(event) is None
    return validator


def test_the_one_call_check_passes_only_what_the_full_path_passes_and_moves_on_alike():
    """``ContractValidator.passes`` (shape and contract of writes and applies in one call)
    against the full path (``event_problem``, then ``check``), on every event of the seed
    story and on broken variants of its writes and applies: it passes an event only when
    the full path does, with the same state afterwards, and leaves the state alone when it
    does not pass it (the full path then words the problem as before)."""
    story = seed_story().events
    passed = asked = refused = 0
    for n, event in enumerate(story):
        variants = [event]
        if event["kind"] in ("write", "apply"):
            variants += list(_variants(event))
            # A write id named before it happened, and a record created twice.
            broken = [copy.deepcopy(event), copy.deepcopy(event)]
            if event["kind"] == "write":
                earlier = [e["write_id"] for e in story[:n] if e["kind"] == "write"]
                broken[0]["write_id"] = earlier[0] if earlier else "W-x"
                broken[1]["base"] = {"f": ["W-never"]}
            else:
                broken[0]["created"] = not event.get("created")
                broken[1]["t"] = -1.0
            variants += broken
        for variant in variants:
            fast, full = _primed(story[:n]), _primed(story[:n])
            before = _state(fast)
            expected = event_problem(variant) or full.check(variant)
            if fast.passes(variant):
                passed += 1
                assert expected is None, (variant, expected)
                assert _state(fast) == _state(full), variant
            else:
                asked += 1
                assert _state(fast) == before, variant
                refused += expected is not None
    # Every valid write and apply passes in one call; the broken ones are refused.
    assert passed >= sum(e["kind"] in ("write", "apply") for e in story)
    assert asked > 200 and refused > 100


def test_a_reapply_is_a_kind_of_the_contract_and_must_name_writes_that_happened(tmp_path):
    scenario = load_scenario(SIGNATURE)
    scenario = scenario.with_design(design_variant(scenario, "naive-bidirectional").design)
    events = run_scenario(scenario, keep_events=True).events
    n = next(i for i, e in enumerate(events) if e["kind"] == "reapply")
    path = tmp_path / "history.jsonl.gz"
    path.write_bytes(gzip.compress(b"".join(json.dumps(e).encode() + b"\n" for e in events)))
    assert check_file(path).events == len(events)  # a real history with reapplies
    field = next(iter(events[n]["fields"]))
    events[n]["fields"][field] = "W-nowhere-1"
    path.write_bytes(gzip.compress(b"".join(json.dumps(e).encode() + b"\n" for e in events)))
    with pytest.raises(HistoryFileError, match=f":{n + 1}: reapply names write W-nowhere-1"):
        check_file(path)


def test_the_one_call_check_of_queued_kinds_agrees_with_the_full_path():
    """``passes`` on ``send``, ``deliver`` and ``reapply`` (most of a queued design's
    history) against the full path, as above: on a naive-bidirectional run's events and
    broken variants of them (every field removed or of another JSON type, a message never
    sent, a cause or write id that never happened, a reapply to a record never created,
    time going backwards)."""
    scenario = load_scenario(SIGNATURE)
    scenario = scenario.with_design(design_variant(scenario, "naive-bidirectional").design)
    events = json.loads(json.dumps(run_scenario(scenario, keep_events=True).events))
    queued = ("send", "deliver", "reapply")
    picked = {kind: [i for i, e in enumerate(events) if e["kind"] == kind][:4] for kind in queued}
    assert all(picked.values()), picked
    full = ContractValidator()
    states = []  # the validator's state before each event, primed once
    for event in events[: max(max(p) for p in picked.values()) + 1]:
        states.append(_state(full))
        assert event_problem(event) is None and full.check(event) is None, event
    passed = asked = refused = 0
    for kind, indexes in picked.items():
        for n in indexes:
            event = events[n]
            broken = [copy.deepcopy(event) for _ in range(3)]
            broken[0]["t"] = -1.0
            if kind == "reapply":
                broken[1]["key"] = "never-created"
                broken[2]["fields"] = {"f": "W-never"}
            elif kind == "send":
                broken[1]["cause"] = "W-never"
                broken[2]["write_ids"] = ["W-never"]
            else:
                broken[1]["message_id"] = "M-never"
                del broken[2]["message_id"]
            for variant in [event, *_variants(event), *broken]:
                fast, slow = ContractValidator(), ContractValidator()
                for validator in (fast, slow):
                    for name, value in states[n].items():
                        setattr(validator, name, copy.copy(value))
                before = _state(fast)
                expected = event_problem(variant) or slow.check(variant)
                if fast.passes(variant):
                    passed += 1
                    assert expected is None, (variant, expected)
                    assert _state(fast) == _state(slow), variant
                else:
                    asked += 1
                    assert _state(fast) == before, variant
                    refused += expected is not None
    # Every valid event of the three kinds passes in one call; broken ones are refused.
    assert passed >= sum(len(p) for p in picked.values())
    assert asked > 50 and refused > 50


def test_messages_counted_inline_still_reach_a_hook_added_for_their_kind():
    """Ledger.feed counts send and deliver itself, unless a hook was added for the kind:
    then the ledger's handler and the hook both run, and the counts are the same."""
    from sim.checker.ledger import Ledger

    events = [
        {"kind": "send", "t": 1.0, "message_id": "m1"},
        {"kind": "send", "t": 2.0, "message_id": "m2"},
        {"kind": "deliver", "t": 3.0, "message_id": "m1"},
        {"kind": "deliver", "t": 4.0, "message_id": "m9"},  # never sent: not counted
    ]
    plain = Ledger().feed(events)
    seen: list[str] = []
    hooked = Ledger()
    hooked.add_event_hook("send", lambda event: seen.append(event["message_id"]))
    hooked.add_event_hook("deliver", lambda event: seen.append("d-" + event["message_id"]))
    hooked.feed(events[:2]).feed(events[2:])
    assert seen == ["m1", "m2", "d-m1", "d-m9"]
    for ledger in (plain, hooked):
        assert (ledger.messages_sent, ledger.messages_delivered) == (2, 1)
        assert list(ledger.messages_open) == ["m2"]


def test_the_ledger_keeps_one_string_per_name_however_many_lines_repeat_it():
    # A history read from a file parses a new string for every line: the ledger keeps one
    # object per actor, entity and record key across its writes (a tenth of its memory).
    from sim.checker.ledger import C_ACTOR, C_ENTITY, C_KEY, Ledger

    def write(n: int, key: object) -> dict:
        # json.loads: every line's strings are new objects, as from the file.
        return json.loads(
            json.dumps(
                {
                    "kind": "write",
                    "t": float(n),
                    "write_id": f"W-sales-{n}",
                    "actor": "sales_rep-1",
                    "role": "sales_rep",
                    "system": "sales",
                    "entity": "account",
                    "key": key,
                    "op": "update",
                    "fields": {"phone": str(n)},
                    "base": {},
                }
            )
        )

    ledger = Ledger()
    ledger.feed([write(1, "ACC-1"), write(2, "ACC-1"), write(3, 1), write(4, True)])
    first, second, number, flag = ledger.cold
    for slot in (C_ACTOR, C_ENTITY, C_KEY):
        assert first[slot] is second[slot] and first[slot] == second[slot]
    # Equal but different values of other types are never merged: 1 == True.
    assert number[C_KEY] == 1 and type(number[C_KEY]) is int
    assert flag[C_KEY] is True
