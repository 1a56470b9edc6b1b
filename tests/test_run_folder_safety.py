"""A run folder is replaced atomically, a user's folder never (issue 11, points 2, 3, 9, 11).

``p2c run --out X`` writes a hidden staging folder beside X and swaps it in when complete:
the earlier run folder is renamed aside, the new one renamed in, the earlier one
deleted. Only a folder with a run manifest is replaced; anything else is refused before
the simulation starts. SIGTERM is handled like Ctrl-C: partial files removed, worker
processes stopped, exit 143 (130 for SIGINT).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest
import yaml
from conftest import ROOT, SEED_SCENARIO

import sim.engine.runner as runner
from sim.cli.main import main
from sim.engine.runner import clean_stale_staging


@pytest.fixture
def small_scenario(tmp_path):
    data = yaml.safe_load(SEED_SCENARIO.read_text(encoding="utf-8"))
    data["duration_days"] = 1
    data["initial_data"].update({"accounts": 40, "products": 20})
    for role, count in {"sales_rep": 6, "ops_clerk": 2, "credit_controller": 2}.items():
        data["roles"][role]["headcount"] = count
    data["scripted"] = []
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def hidden(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def dead_pid() -> int:
    """The pid of a process that has ended."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


# ---------------------------------------------------------------- replacing a folder


def test_a_rerun_replaces_the_earlier_run_folder_and_says_so(small_scenario, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", str(small_scenario), "--out", str(out)]) == 0
    assert "replaced the earlier run folder" not in capsys.readouterr().out
    first = json.loads((out / "manifest.json").read_text())
    assert main(["run", str(small_scenario), "--out", str(out), "--seed", "7"]) == 0
    assert "(replaced the earlier run folder there)" in capsys.readouterr().out
    assert json.loads((out / "manifest.json").read_text())["seed"] == 7 != first["seed"]
    assert hidden(tmp_path) == [], "staging or set-aside folders left behind"


def test_a_failure_between_the_renames_puts_the_earlier_folder_back(
    small_scenario, tmp_path, monkeypatch, capsys
):
    out = tmp_path / "run"
    assert main(["run", str(small_scenario), "--out", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    real_rename = os.rename
    calls = []

    def rename(src, dst):
        calls.append((src, dst))
        if len(calls) == 2:  # the new folder into place, after the old one went aside
            raise OSError(5, "Input/output error", str(dst))
        real_rename(src, dst)

    monkeypatch.setattr(runner.os, "rename", rename)
    assert main(["run", str(small_scenario), "--out", str(out), "--seed", "7"]) == 2
    assert "Traceback" not in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    assert hidden(tmp_path) == []


def test_a_run_killed_between_the_renames_is_recovered_by_the_next_one(tmp_path):
    out = tmp_path / "run"
    host = runner._owner_tag().rsplit("-", 1)[0]
    gone = dead_pid()
    aside = tmp_path / f".run.old-{host}-{gone}-abcd"
    aside.mkdir()
    (aside / "manifest.json").write_text('{"seed": 1}')
    staging = tmp_path / f".run.staging-{host}-{gone}-ef01"
    staging.mkdir()
    (staging / "history.jsonl.gz.partial").write_bytes(b"x")
    alive = tmp_path / f".run.staging-{host}-{os.getpid()}-0000"  # a run still going
    alive.mkdir()
    other_host = tmp_path / f".run.staging-elsewhere-{gone}-1111"  # not ours to judge
    other_host.mkdir()
    touched = clean_stale_staging(out)
    assert sorted(p.name for p in touched) == sorted([aside.name, staging.name])
    assert json.loads((out / "manifest.json").read_text()) == {"seed": 1}
    assert hidden(tmp_path) == sorted([alive.name, other_host.name])


def legacy(tmp_path, name: str, files: dict[str, str], age_s: float = 3600):
    """A staging folder as the runner before 280d811 made it (tempfile.mkdtemp), its
    files and itself last modified ``age_s`` ago."""
    folder = tmp_path / name
    folder.mkdir()
    for file, text in files.items():
        (folder / file).write_text(text)
    then = (tmp_path / "clock").stat().st_mtime - age_s
    for path in (*folder.iterdir(), folder):
        os.utime(path, (then, then))
    return folder


def test_an_earlier_versions_staging_folders_are_cleaned_only_when_a_dead_runs(tmp_path):
    (tmp_path / "clock").touch()  # the file system's now
    out = tmp_path / "run"
    dead = legacy(tmp_path, ".run.k3x_9qaz", {"history.jsonl.gz.partial": "x"})
    empty = legacy(tmp_path, ".run.0abc_def", {})
    keep = {
        "fresh": legacy(tmp_path, ".run.freshone", {"history.jsonl.gz.partial": "x"}, 5),
        "a user's file": legacy(tmp_path, ".run.notes123", {"notes.txt": "mine"}),
        "other name": legacy(tmp_path, ".run.toolong123", {"metrics.json": "{}"}),
        "upper case": legacy(tmp_path, ".run.ABCDEFGH", {"metrics.json": "{}"}),
        "another out": legacy(tmp_path, ".runs.abcdefgh", {"metrics.json": "{}"}),
        "open": legacy(tmp_path, ".run.openfile", {"history.jsonl.gz.partial": "x"}),
    }
    with open(keep["open"] / "history.jsonl.gz.partial", "rb"):  # a live run writing it
        touched = clean_stale_staging(out)
    assert sorted(touched) == sorted([dead, empty])
    assert hidden(tmp_path) == sorted(p.name for p in keep.values())
    assert not out.exists()


def test_an_earlier_versions_finished_run_is_put_in_place_of_a_half_deleted_folder(
    tmp_path, small_scenario, capsys
):
    """The issue's case: killed while the earlier folder was being deleted, --out left
    without manifest.json and metrics.json, the new run stranded in .run.XXXXXXXX."""
    (tmp_path / "clock").touch()
    out = tmp_path / "run"
    out.mkdir()
    (out / "history.jsonl.gz").write_text("old, half deleted")
    stranded = legacy(
        tmp_path,
        ".run.q1w2e3r4",
        {"manifest.json": '{"seed": 5}', "metrics.json": "{}", "history.jsonl.gz": "new"},
    )
    beside_complete = tmp_path / "done"
    (beside_complete).mkdir()
    (beside_complete / "manifest.json").write_text('{"seed": 1}')
    complete = legacy(tmp_path, ".done.a1b2c3d4", {"manifest.json": '{"seed": 2}'})
    assert clean_stale_staging(out) == [stranded]
    assert json.loads((out / "manifest.json").read_text()) == {"seed": 5}
    assert clean_stale_staging(beside_complete) == [], "a finished run was discarded"
    assert complete.is_dir()
    # the next p2c run into the mended folder replaces it as any earlier run folder
    (out / "manifest.json").unlink()
    legacy(tmp_path, ".run.z9y8x7w6", {"manifest.json": '{"seed": 6}'})
    assert main(["run", str(small_scenario), "--out", str(out)]) == 0
    assert "(replaced the earlier run folder there)" in capsys.readouterr().out
    assert hidden(tmp_path) == [complete.name]


@pytest.mark.slow
def test_a_run_killed_at_any_moment_never_leaves_half_a_folder(small_scenario, tmp_path):
    """SIGKILL at several moments of a rerun: X always holds a whole run folder after
    the next run's clean-up, and no hidden folder survives that clean-up."""
    out = tmp_path / "run"
    command = [sys.executable, "-m", "sim.cli", "run", str(small_scenario), "--out", str(out)]
    assert subprocess.run(command, cwd=ROOT, capture_output=True, timeout=120).returncode == 0
    for delay in (0.3, 0.8, 1.2, 1.6, 2.0):
        process = subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(delay)
        process.kill()
        process.wait(timeout=30)
        clean_stale_staging(out)
        assert (out / "manifest.json").is_file() and (out / "metrics.json").is_file(), delay
        assert hidden(tmp_path) == [], (delay, hidden(tmp_path))


# --------------------------------------------------------------- a user's folder, a file


@pytest.mark.parametrize("what", ["user folder", "file", "below a file"])
def test_an_out_that_is_not_a_run_folder_is_refused_before_the_run(
    small_scenario, tmp_path, capsys, what
):
    if what == "user folder":
        out = tmp_path / "mine"
        out.mkdir()
        (out / "notes.txt").write_text("my notes")
        expected = "not a run folder (no manifest.json)"
    elif what == "file":
        out = tmp_path / "results.txt"
        out.write_text("a file")
        expected = "exists and is not a folder"
    else:
        (tmp_path / "results.txt").write_text("a file")
        out = tmp_path / "results.txt" / "sub" / "out"
        expected = "is a file, not a folder"
    before = sorted(p.name for p in tmp_path.rglob("*"))
    started = time.perf_counter()
    code = main(["run", str(small_scenario), "--out", str(out)])
    elapsed = time.perf_counter() - started
    err = capsys.readouterr().err
    assert code == 2 and expected in err and "Traceback" not in err, err
    assert elapsed < 1.0, f"refused only after {elapsed:.1f} s: the simulation ran first"
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
    if what == "user folder":
        assert (out / "notes.txt").read_text() == "my notes"


def test_compare_checks_every_run_folder_before_the_first_run(small_scenario, tmp_path, capsys):
    root = tmp_path / "cmp"
    root.mkdir()
    # The second design's folder is a user's: refused before the first design runs.
    (root / "prospect_to_cash-dual-write-live-seed20170707").mkdir()
    (root / "prospect_to_cash-dual-write-live-seed20170707" / "keep.txt").write_text("x")
    code = main(
        [
            "compare",
            str(small_scenario),
            "--design",
            "p2c-2017",
            "--design",
            "dual-write-live",
            "--out",
            str(root),
        ]
    )
    assert code == 2, capsys.readouterr()
    assert sorted(p.name for p in root.iterdir()) == [
        "prospect_to_cash-dual-write-live-seed20170707"
    ]


# ------------------------------------------------------------------------ signals


@pytest.mark.parametrize("signum,code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signalled_run_cleans_up_and_exits_with_its_code(tmp_path, signum, code):
    out = tmp_path / "run"
    process = subprocess.Popen(
        [sys.executable, "-m", "sim.cli", "run", str(SEED_SCENARIO), "--out", str(out)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not list(tmp_path.glob(".run.staging-*/*")):
            time.sleep(0.02)
        assert list(tmp_path.glob(".run.staging-*/*")), "the run never started writing"
        process.send_signal(signum)
        _, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == code, err.decode()
    assert b"Traceback" not in err
    assert list(tmp_path.iterdir()) == [], "partial output left behind"


def session_processes(sid: int) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter():
        try:
            if os.getsid(process.pid) == sid and process.status() != psutil.STATUS_ZOMBIE:
                found.append(process)
        except (psutil.Error, ProcessLookupError, PermissionError):
            continue
    return found


@pytest.mark.slow
def test_sigterm_stops_a_sweep_and_its_workers(tmp_path):
    sweep = tmp_path / "term.yaml"
    sweep.write_text(
        yaml.safe_dump(
            {
                "name": "term",
                "scenario": str(SEED_SCENARIO),
                "overrides": {"duration_days": 1},
                "factors": {"design.batch.interval_s": [300, 600, 900, 1800]},
                "replications": 4,
                "seed": 5,
                "metrics": ["overwritten_writes"],
            }
        ),
        encoding="utf-8",
    )
    out = tmp_path / "out"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sim.cli",
            "sweep",
            str(sweep),
            "--out",
            str(out),
            "--workers",
            "2",
            "--no-progress",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(session_processes(process.pid)) < 3:
            time.sleep(0.05)
        assert len(session_processes(process.pid)) >= 3, "the workers never started"
        time.sleep(0.5)
        process.send_signal(signal.SIGTERM)  # the main process only, as `kill PID` does
        # communicate() returns only when every holder of stdout has closed it: a worker
        # left running would hold it open (a `| tee` that never ends).
        _, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 143, err.decode()
    assert b"Traceback" not in err and b"continue with --resume" in err, err.decode()
    deadline = time.monotonic() + 10
    while session_processes(process.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert session_processes(process.pid) == [], "worker processes left running"
