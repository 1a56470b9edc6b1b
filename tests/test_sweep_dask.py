"""The same sweep on local processes and on a Dask cluster gives identical results.

A real ``dask scheduler`` and ``dask worker`` are started on loopback (127.0.0.1, a free
port), bounded in time, and torn down after the test whatever happens. Runs are
deterministic, so the trace hashes and every metric must match exactly, run by run.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import dask_cluster
import pytest
import yaml
from conftest import ROOT, SEED_SCENARIO

from sim.study.sweep.run import sweep_from_args

pytestmark = pytest.mark.slow  # minutes, not seconds: run with -m slow (.ci/run does)

pytest.importorskip("distributed")

START_TIMEOUT_S = 60


def dask_command() -> str:
    executable = shutil.which("dask", path=str(Path(sys.executable).parent)) or shutil.which("dask")
    if executable is None:
        pytest.skip("the dask command is not installed")
    return executable


@pytest.fixture
def loopback_cluster(tmp_path):
    """A scheduler and one single-threaded worker on 127.0.0.1; yields the address."""
    from distributed import Client

    with dask_cluster.loopback_cluster(dask_command(), tmp_path, cwd=ROOT) as cluster:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                with Client(cluster.address, timeout=5) as client:
                    client.wait_for_workers(1, timeout=max(1, deadline - time.monotonic()))
                break
            except (OSError, TimeoutError) as exc:
                if time.monotonic() > deadline or cluster.died():
                    text = cluster.log_text()
                    pytest.fail(f"the loopback Dask cluster did not start: {exc}\n{text}")
                time.sleep(0.5)
        yield cluster.address


def test_a_sweep_gives_identical_results_locally_and_on_a_loopback_dask_cluster(
    tmp_path, loopback_cluster
):
    sweep = tmp_path / "dask.yaml"
    sweep.write_text(
        yaml.safe_dump(
            {
                "name": "dask",
                "scenario": str(SEED_SCENARIO),
                "overrides": {
                    "duration_days": 1,
                    "roles.sales_rep.headcount": 8,
                    "roles.ops_clerk.headcount": 3,
                    "initial_data.accounts": 60,
                },
                "designs": ["p2c-2017", "dual-write-async"],
                "factors": {"design.batch.interval_s": [300, 1800]},
                "replications": 2,
                "seed": 8,
                "metrics": ["overwritten_writes", "writes"],
            }
        ),
        encoding="utf-8",
    )
    local = sweep_from_args(sweep, workers=2, out=tmp_path / "local")
    remote = sweep_from_args(sweep, scheduler=loopback_cluster, out=tmp_path / "dask")
    assert remote.executor.startswith("Dask cluster")
    assert local.executed == remote.executed == 8

    def by_key(result):
        return {
            (r.config_hash, r.seed): (r.trace_sha256, r.metrics, r.verdicts) for r in result.runs
        }

    assert by_key(local) == by_key(remote)
    assert (tmp_path / "local" / "summary.csv").read_text() == (
        tmp_path / "dask" / "summary.csv"
    ).read_text()
