"""``p2c verify`` leaves the apply rules of the history contract to a strict ledger.

The write ids an apply names, the record it applies to and whether it creates one twice
were checked by the contract validator as each line was read; ``check_file`` now leaves
them to a strict :class:`~sim.checker.ledger.Ledger`, which finds them in its own pass.
These tests hold the two to the same answers: on histories broken at random (and on the
valid ones), ``check_file`` refuses exactly when the validator alone refuses, with the
same ``file:line: message``, and otherwise judges as the lenient ledger does.
"""

from __future__ import annotations

import copy
import random
import re

import orjson
import pytest
from checker_histories import seed_story

from sim.bench.synthetic import synthetic_history
from sim.checker.check import check_history
from sim.checker.files import HistoryFileError, HistoryReader, check_file, event_problem
from sim.checker.ledger import ContractBreach, Ledger
from sim.checker.validation import ContractValidator


def validator_alone(events) -> tuple[int, str] | None:
    """The first ``(line, problem)`` the validator alone finds (every rule its own)."""
    validator = ContractValidator()
    for line, event in enumerate(events, 1):
        problem = event_problem(event) or validator.check(event)
        if problem:
            return line, problem
    return None


def verdict_words(report) -> dict:
    return {
        name: (v.status, v.count, v.metrics, [(a.code, a.text) for a in v.anomalies])
        for name, v in report.verdicts.items()
    }


def _applies(events) -> list[int]:
    return [i for i, e in enumerate(events) if e["kind"] in ("apply", "reapply")]


def mutate(events: list[dict], rng: random.Random) -> None:
    """Break (or not) one apply rule: a key, a created flag, a write id, a kind, a write."""
    applies = _applies(events)
    writes = [i for i, e in enumerate(events) if e["kind"] == "write"]
    i = rng.choice(applies)
    event = events[i]
    keys = sorted({e["key"] for e in events if e["kind"] == "apply"})
    what = rng.randrange(8)
    if what == 0:
        event["key"] = rng.choice([*keys, "NEVER-1"])
    elif what == 1:
        event["created"] = not event.get("created")
    elif what == 2 and event["fields"]:
        field = rng.choice(sorted(event["fields"]))
        ids = [events[w]["write_id"] for w in writes]
        event["fields"][field] = rng.choice([*ids, "W-nowhere"])
    elif what == 3:
        event["kind"] = "reapply"
    elif what == 4:
        del events[rng.choice(writes)]
    elif what == 5:
        events.insert(i + 1, {**copy.deepcopy(event), "created": True})
    elif what == 6:
        event["system"] = rng.choice(["sales", "hub", "operations"])
    else:
        event["entity"] = rng.choice(["account", "contact", "order"])


def _write(path, events) -> None:
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))


def _histories():
    yield "seed_story", seed_story().events
    yield "synthetic_300", list(synthetic_history(300, seed=3))


@pytest.mark.parametrize(
    "name, valid", list(_histories()), ids=lambda x: x if type(x) is str else ""
)
def test_check_file_refuses_exactly_what_the_validator_alone_refuses(tmp_path, name, valid):
    rng = random.Random(17)
    refused = judged = 0
    messages = set()
    for case in range(150):
        events = copy.deepcopy(valid)
        for _ in range(1 + case % 3):
            mutate(events, rng)
        path = tmp_path / f"{case}.jsonl"
        _write(path, events)
        expected = validator_alone(events)
        if expected is None:
            judged += 1
            assert verdict_words(check_file(path)) == verdict_words(check_history(events))
            continue
        refused += 1
        line, problem = expected
        with pytest.raises(HistoryFileError) as caught:
            check_file(path)
        assert str(caught.value) == f"{path}:{line}: {problem}", events
        messages.add(problem.split(" ", 2)[1])
        # The reader alone (no ledger) still judges every rule itself, as before.
        with pytest.raises(HistoryFileError) as alone:
            list(HistoryReader(path))
        assert str(alone.value) == str(caught.value)
    # The random breaks reach the ledger's three rules and the validator's own.
    assert refused > 50 and judged > 5, (refused, judged)
    assert {"names", "to", "creates"} <= messages, messages


def test_a_strict_ledger_words_the_breaches_as_the_validator_does():
    story = seed_story().events
    created = next(e for e in story if e["kind"] == "apply" and e.get("created"))
    twice = {**copy.deepcopy(created), "fields": {"name": "W-nowhere", "phone": "W-gone"}}
    for breach, words in (
        # Unknown write ids are named before the record (the validator's order).
        (twice, "apply names write W-nowhere (field 'name'), which never happened before it"),
        ({**twice, "fields": {}}, f"apply creates account {created['key']} in sales, which"),
        ({**twice, "kind": "reapply", "key": "X", "fields": {}}, "reapply to account X in"),
    ):
        ledger = Ledger(strict=True)
        with pytest.raises(ContractBreach, match=re.escape(words)):
            ledger.feed([*story[: story.index(created) + 1], breach])
        # The lenient ledger takes it (a stub, a duplicate, a new row).
        Ledger().feed([*story[: story.index(created) + 1], breach])
    with pytest.raises(ValueError, match="strict"):
        HistoryReader("-", ledger=Ledger())
