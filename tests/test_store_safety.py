"""A sweep's stored results are never lost (issue 11, points 1 and 10).

A store that holds finished runs survives, row for row: a sweep that cannot start (the
Dask scheduler is unreachable), a sweep started without ``--resume`` (refused, exit 2),
an explicit ``--fresh`` that never gets to store a new run, a full disk. The derived
files beside the store (summary.csv, summary.json, runs.csv) always describe the store:
regenerated after a sweep stops early, written under a temporary name and renamed, and
never left 0 bytes or stale.

The full-disk cases mount a small tmpfs (we run as root in CI); where the platform does
not allow it they are skipped with the reason.
"""

from __future__ import annotations

import csv
import socket
import sqlite3
import subprocess
import time
import uuid

import pytest
import yaml
from conftest import SEED_SCENARIO

import sim.study.executors as executors
from sim.cli.main import main
from sim.study.executors import RunOutcome
from sim.study.store import ResultStore
from sim.study.sweep.output import write_outputs
from sim.study.sweep.plan import load_sweep
from sim.study.sweep.run import sweep_from_args

#: The seed organisation, one day, a dozen people: about 0.05 s a run.
SMALL = {
    "duration_days": 1,
    "initial_data.accounts": 40,
    "initial_data.products": 20,
    "roles.sales_rep.headcount": 6,
    "roles.sales_product_manager.headcount": 1,
    "roles.ops_clerk.headcount": 2,
    "roles.credit_controller.headcount": 2,
    "roles.product_team.headcount": 1,
}


def write_sweep(folder, replications=2, name="safe") -> str:
    path = folder / f"{name}-{replications}.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": name,
                "scenario": str(SEED_SCENARIO),
                "overrides": dict(SMALL),
                "factors": {"design.batch.interval_s": [300, 900]},
                "replications": replications,
                "seed": 3,
                "metrics": ["overwritten_writes", "writes"],
            },
            sort_keys=False,
        ),
        encoding="utf-8",
    )
    return str(path)


def rows(store_path) -> list[tuple]:
    """Every stored row, as SQLite holds it (read-only)."""
    with sqlite3.connect(f"file:{store_path}?mode=ro", uri=True) as db:
        return db.execute("SELECT * FROM runs ORDER BY config_hash, seed").fetchall()


def csv_rows(path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def stored_sweep(tmp_path):
    """A finished sweep of 4 runs: its file, its folder, and what the store and CSVs hold."""
    path = write_sweep(tmp_path)
    out = tmp_path / "out"
    sweep_from_args(path, workers=0, out=out)
    before = rows(out / "results.sqlite")
    assert len(before) == 4
    files = {
        name: (out / name).read_bytes() for name in ("summary.csv", "runs.csv", "summary.json")
    }
    return path, out, before, files


# ------------------------------------------------------------ a sweep that cannot start


def test_an_unreachable_scheduler_touches_nothing_stored(stored_sweep, monkeypatch, capsys):
    path, out, before, files = stored_sweep
    monkeypatch.setattr(executors, "DASK_CONNECT_TIMEOUT_S", 1.0)
    address = f"tcp://127.0.0.1:{free_port()}"
    for flag in ("--fresh", "--resume"):
        started = time.perf_counter()
        code = main(["sweep", path, "--out", str(out), "--scheduler", address, flag])
        err = capsys.readouterr().err
        assert code == 2, err
        assert "cannot reach the Dask scheduler" in err and "Traceback" not in err
        assert time.perf_counter() - started < 5
        assert rows(out / "results.sqlite") == before, f"{flag}: stored rows changed"
        for name, content in files.items():
            assert (out / name).read_bytes() == content, f"{flag}: {name} changed"


def test_without_resume_or_fresh_a_store_with_runs_is_refused_and_kept(stored_sweep, capsys):
    path, out, before, files = stored_sweep
    code = main(["sweep", path, "--out", str(out), "--workers", "0"])
    err = capsys.readouterr().err
    assert code == 2
    assert "holds 4 finished run(s)" in err and "--resume" in err and "--fresh" in err
    assert rows(out / "results.sqlite") == before
    assert main(["sweep", path, "--out", str(out), "--resume", "--fresh"]) == 2
    assert "give one of them" in capsys.readouterr().err


def test_fresh_keeps_the_old_rows_until_the_first_new_run_is_stored(tmp_path):
    store_path = tmp_path / "r.sqlite"
    old = RunOutcome(
        config_hash="old", seed=1, design="d", trace_sha256="t1", metrics={"writes": 1.0}
    )
    with ResultStore(store_path) as store:
        store.add(old)
    # A fresh sweep that stops before its first run finishes: the old row is all there.
    with ResultStore(store_path, fresh=True) as store:
        assert store.done() == set() and store.rows() == []  # this sweep starts afresh
    assert [r[0] for r in rows(store_path)] == ["old"]
    # The first new run replaces them, in one transaction.
    with ResultStore(store_path, fresh=True) as store:
        store.add(
            RunOutcome(
                config_hash="new", seed=1, design="d", trace_sha256="t2", metrics={"writes": 2.0}
            )
        )
        store.add(
            RunOutcome(
                config_hash="new", seed=2, design="d", trace_sha256="t3", metrics={"writes": 3.0}
            )
        )
    assert [(r[0], r[1]) for r in rows(store_path)] == [("new", 1), ("new", 2)]


def test_a_sweep_stopped_early_leaves_derived_files_that_match_the_store(
    stored_sweep, tmp_path, monkeypatch, capsys
):
    path, out, before, files = stored_sweep
    extended = write_sweep(tmp_path, replications=4)  # 4 more runs to do
    real_execute = executors.execute
    calls = []

    def execute_then_interrupt(task):
        calls.append(task)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_execute(task)

    monkeypatch.setattr(executors, "execute", execute_then_interrupt)
    code = main(["sweep", extended, "--out", str(out), "--workers", "0", "--resume"])
    assert code == 130
    assert "continue with --resume" in capsys.readouterr().err
    stored = rows(out / "results.sqlite")
    assert len(stored) == 6 and set(before) <= set(stored)
    listed = csv_rows(out / "runs.csv")
    assert sorted((r["config_hash"], int(r["seed"])) for r in listed) == sorted(
        (r[0], r[1]) for r in stored
    )
    summary = {r["label"]: int(r["runs"]) for r in csv_rows(out / "summary.csv")}
    assert sorted(summary.values()) == [3, 3]
    assert not list(out.glob(".*tmp*"))


# --------------------------------------------------------------------------- full disk


@pytest.fixture
def tiny_disk(tmp_path):
    """A 2 MB tmpfs mounted under tmp_path, unmounted afterwards (or a skip, with why)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    try:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"cannot mount a small tmpfs to fill: {exc}")
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs to fill: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True, timeout=10, check=False)


def fill(folder) -> None:
    """Write zeros under ``folder`` until its file system is full (to the last byte)."""
    with open(folder / f"filler-{uuid.uuid4().hex}", "wb", buffering=0) as handle:
        for size in (65536, 4096, 1):
            try:
                while True:
                    handle.write(b"\0" * size)
            except OSError:
                pass


def test_a_full_disk_never_empties_the_store_nor_leaves_empty_outputs(tiny_disk, tmp_path, capsys):
    path = write_sweep(tmp_path)
    out = tiny_disk / "sweep"
    assert main(["sweep", path, "--out", str(out), "--workers", "0"]) == 0
    capsys.readouterr()
    before = rows(out / "results.sqlite")
    summary = (out / "summary.csv").read_bytes()
    fill(tiny_disk)
    extended = write_sweep(tmp_path, replications=3)
    for flag in ("--fresh", "--resume"):
        code = main(["sweep", extended, "--out", str(out), "--workers", "0", flag])
        err = capsys.readouterr().err
        assert code == 2, err
        assert "Traceback" not in err and str(out) in err, err
        assert len(err.strip().splitlines()) == 1, err
        assert rows(out / "results.sqlite") == before, f"{flag}: the store lost rows"
        for name in ("summary.csv", "runs.csv", "summary.json"):
            # Each derived file is the previous whole one, or absent; never empty/partial.
            if (out / name).exists():
                assert (out / name).stat().st_size > 0, name
        if (out / "summary.csv").exists():
            assert (out / "summary.csv").read_bytes() == summary
        assert not list(out.glob(".*tmp*")), "temporary files left on the full disk"


def test_derived_files_on_a_full_disk_keep_the_previous_whole_ones(tiny_disk, tmp_path):
    path = write_sweep(tmp_path)
    out = tiny_disk / "sweep"
    result = sweep_from_args(path, workers=0, out=out)
    previous = {n: (out / n).read_bytes() for n in ("summary.csv", "runs.csv", "summary.json")}
    result.plan = load_sweep(path)
    fill(tiny_disk)
    with pytest.raises(OSError):
        write_outputs(result, out)
    assert {n: (out / n).read_bytes() for n in previous} == previous
    assert not list(out.glob(".*tmp*"))
