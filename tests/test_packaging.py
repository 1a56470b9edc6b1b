"""Installed anywhere: the catalogue ships inside the package, paths follow the scenario.

The slow test does what a user with a cluster does: build the wheel, install it into a
fresh virtual environment, start a Dask scheduler and worker from that environment in a
folder far from the checkout (loopback only, bounded in time, torn down whatever
happens), and run a small sweep on it; the results must equal the local run's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import dask_cluster
import pytest
import yaml
from conftest import ROOT, SEED_SCENARIO

from sim import catalogue
from sim.scenario.spec import load_scenario
from sim.scenario.yamlio import InputError

# ----------------------------------------------------------------- the catalogue


def test_the_shipped_catalogue_is_the_scenarios_folder_of_the_checkout():
    # sim/catalogue/{designs,pricebooks} are links to the editable source.
    assert catalogue.designs_dir() == (ROOT / "scenarios" / "designs").resolve()
    assert (
        catalogue.price_book_file("current")
        == (ROOT / "scenarios" / "pricebooks" / "current.yaml").resolve()
    )
    on_disk = sorted(
        p.stem
        for p in (ROOT / "scenarios" / "designs").glob("*.yaml")
        if not p.stem.startswith("_")
    )
    assert catalogue.design_names() == on_disk
    assert "p2c-2017" in on_disk and len(on_disk) >= 8
    for link in ("designs", "pricebooks", "prospect_to_cash.yaml"):
        path = ROOT / "sim" / "catalogue" / link
        assert path.is_symlink(), f"{path} must link into scenarios/ (one file to edit)"
        assert path.resolve().parent.name in ("scenarios", "designs", "pricebooks") or (
            path.resolve().parent == (ROOT / "scenarios").resolve()
        )


def _scenario_beside(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "org.yaml"
    path.write_text(text, encoding="utf-8")
    return path


SMALL = (ROOT / "tests" / "data" / "seed_story.yaml").read_text(encoding="utf-8")


def test_a_relative_price_book_path_is_read_beside_the_scenario_not_in_the_working_directory(
    tmp_path, monkeypatch
):
    book = (ROOT / "scenarios" / "pricebooks" / "current.yaml").read_text(encoding="utf-8")
    project = tmp_path / "project"
    (project / "books").mkdir(parents=True)
    (project / "books" / "negotiated.yaml").write_text(book, encoding="utf-8")
    path = _scenario_beside(project, SMALL + "licensing: {price_book: books/negotiated.yaml}\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    scenario = load_scenario(path)
    assert (
        Path(scenario.price_book.source).resolve()
        == (project / "books" / "negotiated.yaml").resolve()
    )

    # The same relative path present only under the working directory is not used.
    (elsewhere / "books").mkdir()
    (elsewhere / "books" / "only_here.yaml").write_text(book, encoding="utf-8")
    lost = _scenario_beside(
        project / "sub", SMALL + "licensing: {price_book: books/only_here.yaml}\n"
    )
    with pytest.raises(InputError) as caught:
        load_scenario(lost)
    assert "licensing.price_book" in caught.value.message
    assert "only_here.yaml" in caught.value.message


def test_designs_resolve_from_the_catalogue_whatever_the_working_directory(tmp_path, monkeypatch):
    path = _scenario_beside(tmp_path / "org", SMALL)
    monkeypatch.chdir(tmp_path)
    assert load_scenario(path).design.name == "p2c-2017"
    # A design beside the scenario wins over the catalogue's, by name.
    local = tmp_path / "org" / "designs"
    local.mkdir()
    text = (ROOT / "scenarios" / "designs" / "p2c-2017.yaml").read_text(encoding="utf-8")
    (local / "p2c-2017.yaml").write_text(
        text.replace("name: p2c-2017", "name: p2c-2017-local"), encoding="utf-8"
    )
    assert load_scenario(path).design.name == "p2c-2017-local"


# ----------------------------------------------------------------- the wheel

BUILD_TIMEOUT_S = 300
INSTALL_TIMEOUT_S = 600
CLUSTER_START_TIMEOUT_S = 90
SWEEP_TIMEOUT_S = 600


def _clean_env() -> dict[str, str]:
    """The environment without anything that would let the checkout leak in."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
    }
    env["PYTHONNOUSERSITE"] = "1"
    return env


def _run(command: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess:
    done = subprocess.run(
        command,
        cwd=cwd,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode in (0, 1), (
        f"{' '.join(command)} (in {cwd}) exited {done.returncode}:\n"
        f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    )
    return done


@pytest.fixture(scope="module")
def installed_wheel(tmp_path_factory) -> tuple[Path, Path]:
    """(the wheel, the bin/ folder of a fresh venv with ``wheel[cluster]`` installed)."""
    pytest.importorskip("build")
    work = tmp_path_factory.mktemp("wheel")
    # sdist first, then the wheel from the unpacked sdist: both must carry the catalogue.
    _run(
        [sys.executable, "-m", "build", "--outdir", str(work / "dist"), str(ROOT)],
        cwd=work,
        timeout=BUILD_TIMEOUT_S,
    )
    wheel = next((work / "dist").glob("p2c_testbed-*.whl"))
    _run([sys.executable, "-m", "venv", str(work / "venv")], cwd=work, timeout=120)
    bin_dir = work / "venv" / "bin"
    _run(
        [str(bin_dir / "python"), "-m", "pip", "install", "-q", f"{wheel}[cluster]"],
        cwd=work,
        timeout=INSTALL_TIMEOUT_S,
    )
    return wheel, bin_dir


@pytest.mark.slow
def test_the_wheel_carries_every_design_price_book_and_the_licence(installed_wheel):
    wheel, _ = installed_wheel
    names = set(zipfile.ZipFile(wheel).namelist())
    for path in (ROOT / "scenarios" / "designs").glob("*.yaml"):
        assert f"sim/catalogue/designs/{path.name}" in names
    for path in (ROOT / "scenarios" / "pricebooks").glob("*.yaml"):
        assert f"sim/catalogue/pricebooks/{path.name}" in names
    assert "sim/catalogue/prospect_to_cash.yaml" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(wheel).read(metadata).decode()
    assert "License-Expression: MIT" in text
    assert "Provides-Extra: cluster" in text
    # p2c explore searches with Hypothesis: a requirement of the tool, not only of tests.
    assert "Requires-Dist: hypothesis" in text.split("Provides-Extra: test")[0]


@pytest.mark.slow
def test_a_sweep_on_a_dask_cluster_run_from_the_installed_wheel_equals_the_local_run(
    installed_wheel, tmp_path
):
    _, bin_dir = installed_wheel
    elsewhere = tmp_path / "elsewhere"  # far from the checkout: nothing to find by accident
    elsewhere.mkdir()
    shutil.copy(SEED_SCENARIO, elsewhere / "org.yaml")
    (elsewhere / "small.yaml").write_text(
        yaml.safe_dump(
            {
                "name": "wheel",
                "scenario": "org.yaml",
                "overrides": {
                    "duration_days": 1,
                    "roles.sales_rep.headcount": 6,
                    "roles.ops_clerk.headcount": 2,
                    "initial_data.accounts": 40,
                },
                "designs": ["p2c-2017", "field-merge"],
                "factors": {"design.batch.interval_s": [300, 1800]},
                "replications": 1,
                "seed": 15,
                "metrics": ["overwritten_writes", "writes"],
            }
        ),
        encoding="utf-8",
    )

    version = _run([str(bin_dir / "p2c"), "--version"], cwd=elsewhere, timeout=60)
    from importlib import metadata

    assert version.stdout.strip() == f"p2c {metadata.version('p2c-testbed')}"

    dask = str(bin_dir / "dask")
    with dask_cluster.loopback_cluster(dask, tmp_path, cwd=elsewhere, env=_clean_env()) as cluster:
        # Wait for the worker, and ask it where its ``sim`` comes from.
        probe = (
            f"from distributed import Client\n"
            f"c = Client({cluster.address!r}, timeout=10)\n"
            f"c.wait_for_workers(1, timeout={CLUSTER_START_TIMEOUT_S})\n"
            "import json\n"
            "print(json.dumps(list(c.run(lambda: [__import__('sim').__file__, "
            "__import__('os').getcwd()]).values())))\n"
        )
        deadline = time.monotonic() + CLUSTER_START_TIMEOUT_S
        while True:
            done = subprocess.run(
                [str(bin_dir / "python"), "-c", probe],
                cwd=elsewhere,
                env=_clean_env(),
                capture_output=True,
                text=True,
                timeout=CLUSTER_START_TIMEOUT_S + 30,
                check=False,
            )
            if done.returncode == 0:
                break
            if time.monotonic() > deadline or cluster.died():
                text = cluster.log_text()
                pytest.fail(f"the loopback Dask cluster did not start:\n{done.stderr}\n{text}")
            time.sleep(1)
        ((worker_sim, worker_cwd),) = json.loads(done.stdout.strip().splitlines()[-1])
        assert Path(worker_sim).is_relative_to(bin_dir.parent), worker_sim
        assert not Path(worker_sim).resolve().is_relative_to(ROOT.resolve())
        assert Path(worker_cwd).resolve() == elsewhere.resolve()

        remote = _run(
            [
                str(bin_dir / "p2c"),
                "sweep",
                "small.yaml",
                "--scheduler",
                cluster.address,
                "--out",
                "on-dask",
                "--json",
            ],
            cwd=elsewhere,
            timeout=SWEEP_TIMEOUT_S,
        )
    local = _run(
        [str(bin_dir / "p2c"), "sweep", "small.yaml", "--workers", "0", "--out", "local", "--json"],
        cwd=elsewhere,
        timeout=SWEEP_TIMEOUT_S,
    )
    assert json.loads(remote.stdout)["executor"].startswith("Dask cluster")
    assert json.loads(local.stdout)["executed"] == json.loads(remote.stdout)["executed"] == 4
    for name in ("runs.csv", "summary.csv"):
        ours = (elsewhere / "local" / name).read_text()
        assert ours == (elsewhere / "on-dask" / name).read_text(), name
    # And the same runs (trace hashes included) as this checkout's own run of the sweep.
    from sim.study.sweep.run import sweep_from_args

    here = sweep_from_args(elsewhere / "small.yaml", workers=0, out=tmp_path / "checkout")
    assert here.executed == 4
    for name in ("runs.csv", "summary.csv"):
        assert (tmp_path / "checkout" / name).read_text() == (
            elsewhere / "local" / name
        ).read_text(), name
