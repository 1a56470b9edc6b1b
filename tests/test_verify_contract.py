"""``p2c verify`` refuses a history that breaks the contract (issue 11, point 13).

Each case takes a valid history (the hand-written seed story, or a real run's) and
breaks one rule of the contract in sim/history.py. The expected line is worked
out from the mutation itself, not from the tool's output: exit 2, ``file:line: what``,
nothing written under ``--out``.
"""

from __future__ import annotations

import copy
import gzip

import orjson
import pytest
import yaml
from checker_histories import seed_story
from conftest import SEED_SCENARIO

from sim.checker.files import check_file
from sim.checker.validation import KINDS
from sim.cli.main import main


def first(events, predicate) -> int:
    return next(i for i, e in enumerate(events) if predicate(e))


def apply_of_unknown_write(events):
    i = first(events, lambda e: e["kind"] == "apply" and e["fields"])
    field = next(iter(events[i]["fields"]))
    events[i]["fields"][field] = "W-nowhere-1"
    return i, "apply names write W-nowhere-1"


def apply_to_a_record_never_created(events):
    i = first(events, lambda e: e["kind"] == "apply" and not e.get("created"))
    events[i]["key"] = "ACC-NEVER"
    return i, "a record never created there"


def time_going_backwards(events):
    i = first(events, lambda e: e["t"] > 0 and e["kind"] == "write")
    events[i]["t"] = events[i - 1]["t"] - 1.0
    return i, "time goes backwards"


def unknown_kind(events):
    events.insert(3, {"kind": "nonsense", "t": events[2]["t"]})
    return 3, "unknown event kind 'nonsense'"


def no_run_start(events):
    assert events[0]["kind"] == "run_start"
    del events[0]
    return 0, "a history starts with a run_start event"


def event_after_quiescence(events):
    assert events[-1]["kind"] == "quiescence"
    events.append({"kind": "fault_start", "t": events[-1]["t"], "fault_id": "F-1"})
    return len(events) - 1, "after the quiescence event"


def write_twice(events):
    i = first(events, lambda e: e["kind"] == "write")
    events.insert(i + 2, copy.deepcopy(events[i]))
    return i + 2, "happens twice"


def base_of_unknown_write(events):
    i = first(events, lambda e: e["kind"] == "write" and any(e["base"].values()))
    field = next(f for f, ids in events[i]["base"].items() if ids)
    events[i]["base"][field] = ["W-nowhere-2"]
    return i, f"base['{field}'] names write 'W-nowhere-2', which never happened"


def inserted_after_first_write(events, event):
    """``event`` inserted just after the first write's apply, at its time."""
    i = first(events, lambda e: e["kind"] == "write") + 2
    events.insert(i, {"t": events[i - 1]["t"], **event})
    return i


def overwrite_of_unknown_write(events):
    written = events[first(events, lambda e: e["kind"] == "write")]["write_id"]
    i = inserted_after_first_write(
        events,
        {
            "kind": "overwrite",
            "system": "sales",
            "entity": "account",
            "key": "ACC-0001",
            "field": "name",
            "lost_write": "W-nowhere-3",
            "by_write": written,
            "via": "user",
        },
    )
    return i, "overwrite names write W-nowhere-3 (lost_write)"


def conflict_of_unknown_write(events):
    written = events[first(events, lambda e: e["kind"] == "write")]["write_id"]
    i = inserted_after_first_write(
        events,
        {
            "kind": "conflict",
            "conflict_id": "C-1",
            "system": "sales",
            "entity": "account",
            "key": "ACC-0001",
            "field": "name",
            "write_ids": [written, "W-nowhere-4"],
            "resolution": "queued",
        },
    )
    return i, "conflict names write W-nowhere-4 (write_ids[1])"


def send_caused_by_unknown_write(events):
    i = inserted_after_first_write(
        events,
        {
            "kind": "send",
            "message_id": "M-1",
            "map": "m",
            "source": "sales",
            "target": "hub",
            "cause": "W-nowhere-5",
            "hops": 1,
            "write_ids": [],
        },
    )
    return i, "send names write W-nowhere-5 (cause)"


def delivery_of_a_message_never_sent(events):
    i = inserted_after_first_write(
        events, {"kind": "deliver", "message_id": "M-never", "outcome": "applied"}
    )
    return i, "deliver of message M-never, which was never sent"


BREAKS = [
    apply_of_unknown_write,
    apply_to_a_record_never_created,
    time_going_backwards,
    unknown_kind,
    no_run_start,
    event_after_quiescence,
    write_twice,
    base_of_unknown_write,
    overwrite_of_unknown_write,
    conflict_of_unknown_write,
    send_caused_by_unknown_write,
    delivery_of_a_message_never_sent,
]


def write_lines(path, events) -> None:
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))


def test_the_valid_histories_pass_the_contract(tmp_path):
    path = tmp_path / "history.jsonl"
    write_lines(path, seed_story().events)
    assert check_file(path).events == len(seed_story().events)


@pytest.mark.parametrize("breaks", BREAKS, ids=[b.__name__ for b in BREAKS])
def test_a_history_that_breaks_the_contract_is_refused_with_its_line(tmp_path, capsys, breaks):
    events = copy.deepcopy(seed_story().events)
    index, message = breaks(events)
    path = tmp_path / "history.jsonl"
    write_lines(path, events)
    out = tmp_path / "out"
    assert main(["verify", str(path), "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith(f"error: {path}:{index + 1}: "), captured.err
    assert message in captured.err and "Traceback" not in captured.err
    assert captured.out == "" and not out.exists()


@pytest.fixture(scope="module")
def real_history(tmp_path_factory):
    """A real run's history: the seed organisation's first day (tens of thousands of
    lines; the whole week would add minutes of nothing new to these checks)."""
    scenario = yaml.safe_load(SEED_SCENARIO.read_text(encoding="utf-8"))
    scenario["duration_days"] = 1
    folder = tmp_path_factory.mktemp("run")
    path = folder / "seed_day.yaml"
    path.write_text(yaml.safe_dump(scenario, sort_keys=False), encoding="utf-8")
    assert main(["run", str(path), "--out", str(folder / "run"), "--json"]) in (0, 1)
    folder = folder / "run"
    with gzip.open(folder / "history.jsonl.gz") as handle:
        return [orjson.loads(line) for line in handle]


def test_a_write_moved_thousands_of_lines_later_is_refused(real_history, tmp_path, capsys):
    events = copy.deepcopy(real_history)
    i = first(events, lambda e: e["kind"] == "write" and e["t"] > 0)
    moved = events.pop(i)
    events.insert(i + 5000, moved)
    # Its own apply now comes first (the write follows it): refused at that apply's line.
    apply_line = (
        first(events, lambda e: e["kind"] == "apply" and moved["write_id"] in e["fields"].values())
        + 1
    )
    path = tmp_path / "history.jsonl"
    write_lines(path, events)
    assert main(["verify", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}:{apply_line}: apply names write {moved['write_id']}"), err


def test_a_real_run_keeps_the_contract(real_history, tmp_path):
    assert {e["kind"] for e in real_history} <= KINDS
    path = tmp_path / "history.jsonl"
    write_lines(path, real_history)
    assert check_file(path).events == len(real_history)


def test_events_naming_writes_that_happened_pass(tmp_path):
    """The same inserted events, naming real writes and a sent message, are accepted:
    the refusals above are about the ids, not the kinds."""
    events = copy.deepcopy(seed_story().events)
    written = events[first(events, lambda e: e["kind"] == "write")]["write_id"]
    inserted_after_first_write(
        events, {"kind": "deliver", "message_id": "M-1", "outcome": "applied"}
    )
    for event in (
        {
            "kind": "overwrite",
            "system": "sales",
            "entity": "account",
            "key": "ACC-0001",
            "field": "name",
            "lost_write": written,
            "by_write": written,
            "via": "user",
        },
        {
            "kind": "conflict",
            "conflict_id": "C-1",
            "system": "sales",
            "entity": "account",
            "key": "ACC-0001",
            "field": "name",
            "write_ids": [written, written],
            "resolution": "queued",
        },
        {
            "kind": "send",
            "message_id": "M-1",
            "map": "m",
            "source": "sales",
            "target": "hub",
            "cause": written,
            "hops": 1,
            "write_ids": [written],
        },
    ):
        inserted_after_first_write(events, event)  # each before the ones inserted earlier
    path = tmp_path / "history.jsonl"
    write_lines(path, events)
    assert check_file(path).events == len(events)


def test_real_histories_of_queued_designs_keep_the_contract(tmp_path, capsys):
    """A run of each queued design with duplicated and lost deliveries (sends, delivers,
    redeliveries, dead letters, conflicts): every id they name is accepted."""
    import yaml

    data = yaml.safe_load(SEED_SCENARIO.read_text(encoding="utf-8"))
    data.update(
        duration_days=1,
        scripted=[],
        faults=[
            {"kind": "duplicate", "at": "day 1 09:00", "duration_s": 20000, "probability": 0.3},
            {
                "kind": "loss",
                "at": "day 1 09:00",
                "duration_s": 20000,
                "probability": 0.2,
                "redelivery_s": 600,
            },
        ],
    )
    data["initial_data"].update(accounts=40, products=20)
    for role, count in {"sales_rep": 6, "ops_clerk": 2, "credit_controller": 2}.items():
        data["roles"][role]["headcount"] = count
    scenario = tmp_path / "faulty.yaml"
    scenario.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    kinds: set[str] = set()
    for design in ("dual-write-async", "field-merge"):
        out = tmp_path / design
        assert main(["run", str(scenario), "--design", design, "--out", str(out)]) in (0, 1)
        with gzip.open(out / "history.jsonl.gz") as handle:
            kinds |= {orjson.loads(line)["kind"] for line in handle}
        assert main(["verify", str(out)]) in (0, 1), capsys.readouterr().err
    assert {"send", "deliver", "redelivery"} <= kinds, kinds
