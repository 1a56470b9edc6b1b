"""``p2c verify``: a history on disk judged again, and every bad file named by its line."""

from __future__ import annotations

import gzip
import io
import json

import orjson
import pytest
from checker_histories import ALL_INVARIANTS, seed_story
from conftest import SEED_SCENARIO

from sim.checker.files import HistoryFileError, check_file
from sim.cli.main import main


def _write(path, events, *, gz=False):
    data = b"".join(orjson.dumps(e) + b"\n" for e in events)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("verify") / "run"
    text = SEED_SCENARIO.read_text().replace("duration_days: 5", "duration_days: 1")
    scenario = folder.parent / "one_day.yaml"
    scenario.write_text(text)
    assert main(["run", str(scenario), "--out", str(folder), "--json"]) == 0
    return folder


def test_a_run_folder_verified_again_gives_its_verdict_byte_for_byte(run_folder, tmp_path, capsys):
    capsys.readouterr()
    out = tmp_path / "again"
    assert main(["verify", str(run_folder), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"p2c verify: {run_folder / 'history.jsonl.gz'} (")
    assert "no_lost_update" in printed and "passed: every promised invariant holds" in printed
    assert f"Reproduce: p2c verify {run_folder}" in printed
    # The same checker on the file as on the run's own events: the same verdict.json.
    assert (out / "verdict.json").read_bytes() == (run_folder / "verdict.json").read_bytes()


def test_json_and_only_judge_the_named_invariants(run_folder, capsys):
    capsys.readouterr()
    assert (
        main(
            ["verify", str(run_folder), "--json", "--only", "ownership", "--only", "no_lost_update"]
        )
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert set(data["invariants"]) == {"ownership", "no_lost_update"}
    assert data["invariants"]["ownership"] == {
        "status": "holds",
        "violations": 0,
        "sanctioned": 0,
        "promised": True,
    }
    assert data["run"]["design"] == "p2c-2017" and data["failed"] is False
    assert data["events"] > 1000 and data["quiescent"] is True


def test_a_broken_promise_exits_1_with_its_explanation(tmp_path, capsys):
    story = seed_story(promises=ALL_INVARIANTS)
    path = _write(tmp_path / "history.jsonl.gz", story.events, gz=True)
    out = tmp_path / "out"
    assert main(["verify", str(path), "--out", str(out), "--timeline", "1"]) == 1
    printed = capsys.readouterr().out
    assert "no_lost_update         VIOLATED (1)" in printed
    assert "W-operations-1 (ops_clerk-3 set account ACC-0001 credit_limit 5000" in printed
    assert "FAILED: promised invariants violated: no_lost_update" in printed
    assert (out / "timelines" / "01-no_lost_update.png").stat().st_size > 10_000
    assert json.loads((out / "verdict.json").read_text())["broken_promises"] == ["no_lost_update"]


@pytest.mark.parametrize(
    "line, expected",
    [
        ('{"kind": "write", "t": 1.0,', ":3: not a JSON event ("),
        ("[1, 2]", ":3: an event is a JSON object, not an array"),
        (
            '{"kind": "apply", "t": 2.0, "entity": "account", "key": "ACC-1", "fields": {}}',
            ":3: apply event: it has no field 'system'",
        ),
        (
            '{"kind": "write", "t": 2.0, "write_id": "W-1", "system": "sales", "entity": "account",'
            ' "key": "ACC-1", "fields": "phone"}',
            ":3: write event: 'fields' must be an object, not a string",
        ),
        (
            '{"kind": "apply", "t": 2.0, "system": "hub", "entity": "account", "key": "ACC-1", '
            '"via": "x", "fields": {"phone": 7}}',
            ":3: apply event: fields['phone'] must be the id",
        ),
        # A second run (its contract unreadable too): the contract check names the line.
        (
            '{"kind": "run_start", "t": 0.0, "contract": {"systems": 5}}',
            ":3: a second run_start: one history holds one run",
        ),
    ],
)
def test_a_bad_line_is_named_by_file_and_line_and_nothing_is_written(
    tmp_path, capsys, line, expected
):
    events = seed_story().events
    text = b"".join(orjson.dumps(e) + b"\n" for e in events[:2]) + line.encode() + b"\n"
    text += b"".join(orjson.dumps(e) + b"\n" for e in events[2:])
    path = tmp_path / "history.jsonl"
    path.write_bytes(text)
    out = tmp_path / "out"
    assert main(["verify", str(path), "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"error: {path}{expected}"), captured.err
    assert "Traceback" not in captured.err
    assert not out.exists() and list(tmp_path.iterdir()) == [path]


def test_files_that_are_not_histories_exit_2(tmp_path, capsys):
    truncated = tmp_path / "cut.jsonl.gz"
    whole = gzip.compress(b"".join(orjson.dumps(e) + b"\n" for e in seed_story().events))
    truncated.write_bytes(whole[: len(whole) // 2])
    blank = tmp_path / "blank.jsonl"
    blank.write_text("\n\n")
    empty_folder = tmp_path / "folder"
    empty_folder.mkdir()
    for args, message in (
        ([str(truncated)], f"{truncated}:"),
        ([str(tmp_path / "missing.jsonl")], "no such file or folder"),
        ([str(empty_folder)], "no history in this folder"),
        ([str(blank)], f"{blank}: no events: an empty file is not a history"),
        ([str(truncated), "--timeline", "2"], "--timeline and --timeline-of need --out"),
    ):
        assert main(["verify", *args]) == 2, args
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, err
    with pytest.raises(HistoryFileError, match="unreadable"):
        check_file(truncated)


def test_standard_input_is_read_as_json_lines(monkeypatch, capsys):
    data = b"".join(orjson.dumps(e) + b"\n" for e in seed_story(promises=ALL_INVARIANTS).events)
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data)))
    assert main(["verify", "-", "--only", "no_lost_update"]) == 1
    assert capsys.readouterr().out.startswith("p2c verify: standard input (")
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data[:40])))
    assert main(["verify", "-"]) == 2
    assert capsys.readouterr().err.startswith("error: <stdin>:1: not a JSON event")
    assert main(["verify", "-", "--out", "x", "--timeline", "1"]) == 2
    assert "needs a file, not standard input" in capsys.readouterr().err


def test_a_timeline_on_request_for_the_anomaly_naming_a_write_or_a_record(tmp_path, capsys):
    path = _write(tmp_path / "history.jsonl", seed_story(promises=ALL_INVARIANTS).events)
    out = tmp_path / "out"
    assert (
        main(
            [
                "verify",
                str(path),
                "--out",
                str(out),
                "--timeline-of",
                "W-operations-1",
                "--timeline-of",
                "ACC-0001",
            ]
        )
        == 1
    )
    # Both name the same lost update: one picture.
    assert sorted(p.name for p in (out / "timelines").iterdir()) == ["01-no_lost_update.png"]
    # The phone edit that made the run carry the record is named too (its trigger).
    assert (
        main(
            ["verify", str(path), "--out", str(tmp_path / "trigger"), "--timeline-of", "W-sales-2"]
        )
        == 1
    )
    assert sorted(p.name for p in (tmp_path / "trigger" / "timelines").iterdir()) == [
        "01-no_lost_update.png"
    ]
    capsys.readouterr()
    assert (
        main(["verify", str(path), "--out", str(tmp_path / "x"), "--timeline-of", "W-sales-7"]) == 2
    )
    assert "no anomaly names 'W-sales-7'" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("inside", [False, True])
def test_an_out_that_is_a_file_is_refused_before_anything_is_judged(tmp_path, capsys, inside):
    path = _write(tmp_path / "history.jsonl", seed_story().events)
    blocker = tmp_path / "taken"
    blocker.write_text("a user's file\n")
    out = blocker / "sub" if inside else blocker
    assert main(["verify", str(path), "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # refused before the check ran: no verdict printed
    assert "is a file, not a folder; --out takes a folder" in captured.err, captured.err
    assert str(blocker) in captured.err
    assert blocker.read_text() == "a user's file\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["history.jsonl", "taken"]
