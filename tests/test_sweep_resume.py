"""Kill a sweep with SIGKILL mid-way, resume it: nothing finished is lost or repeated.

The sweep runs in its own process group (the sweep process and its worker processes);
``SIGKILL`` to the group is a power cut as far as the sweep can tell: no handler, no
cleanup, in-flight runs vanish. The store must then hold only complete rows, and
``--resume`` must run exactly the missing (configuration, seed) pairs, once each.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
import yaml
from conftest import ROOT, SEED_SCENARIO

CONFIGURATIONS, REPLICATIONS = 4, 4
TOTAL = CONFIGURATIONS * REPLICATIONS


def stored(db_path) -> int:
    if not db_path.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5) as db:
            return db.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    except sqlite3.OperationalError:  # the schema is not created yet
        return 0


@pytest.mark.slow
def test_a_sweep_killed_mid_way_resumes_with_one_row_per_configuration_and_seed(tmp_path):
    sweep = tmp_path / "kill.yaml"
    # Full-size seed organisation for one day: about 0.4 s a run, 16 runs on one worker.
    sweep.write_text(
        yaml.safe_dump(
            {
                "name": "kill",
                "scenario": str(SEED_SCENARIO),
                "overrides": {"duration_days": 1},
                "factors": {"design.batch.interval_s": [300, 600, 900, 1800]},
                "replications": REPLICATIONS,
                "seed": 99,
                "metrics": ["overwritten_writes"],
            }
        ),
        encoding="utf-8",
    )
    out = tmp_path / "out"
    db_path = out / "results.sqlite"
    command = [
        sys.executable,
        "-m",
        "sim.cli",
        "sweep",
        str(sweep),
        "--out",
        str(out),
        "--no-progress",
    ]

    process = subprocess.Popen(
        [*command, "--workers", "1"],
        cwd=ROOT,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while stored(db_path) < 3 and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert process.poll() is None, "the sweep finished before it could be killed: " + (
            process.stderr.read().decode() if process.stderr else ""
        )
        os.killpg(process.pid, signal.SIGKILL)  # the sweep and its workers, at once
    finally:
        if process.poll() is None:
            process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    survived = stored(db_path)
    assert 3 <= survived < TOTAL

    resumed = subprocess.run(
        [*command, "--workers", "2", "--resume", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert resumed.returncode == 0, resumed.stderr
    report = __import__("json").loads(resumed.stdout)
    assert (report["executed"], report["skipped"]) == (TOTAL - survived, survived)

    with sqlite3.connect(db_path) as db:
        keys = db.execute("SELECT config_hash, seed FROM runs").fetchall()
        sessions = dict(db.execute("SELECT session, COUNT(*) FROM runs GROUP BY session"))
        configurations = db.execute("SELECT COUNT(DISTINCT config_hash) FROM runs").fetchone()
    assert len(keys) == TOTAL and len(set(keys)) == TOTAL
    assert configurations == (CONFIGURATIONS,)
    # The killed session kept what it finished; the resumed one ran only the rest.
    assert sorted(sessions.values()) == sorted([survived, TOTAL - survived])
