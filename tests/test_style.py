"""The code base stays ruff clean and models/ stays free of SimPy and wall clocks."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from conftest import ROOT


def test_ruff_finds_nothing():
    ruff = shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (pip install -e '.[test]' brings it)")
    out = subprocess.run(
        [ruff, "check", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, f"reproduce: ruff check .\n{out.stdout}{out.stderr}"


def test_the_tree_stays_ruff_formatted():
    ruff = shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (pip install -e '.[test]' brings it)")
    out = subprocess.run(
        [ruff, "format", "--check", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, f"reproduce: ruff format --check .\n{out.stdout}{out.stderr}"


def test_models_never_import_simpy():
    offenders = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "models").rglob("*.py")
        if re.search(r"^\s*(import simpy|from simpy)", p.read_text(), re.M)
    ]
    assert offenders == []


#: Files that read the wall clock on purpose: a bench result's date (never a run's input).
WALL_CLOCK_ALLOWED = {ROOT / "sim" / "bench" / "record.py"}


def test_nothing_reads_the_wall_clock_or_global_random_state():
    pattern = re.compile(
        r"time\.time\(|datetime\.now\(|random\.random\(|np\.random\.(rand|seed|"
        r"random|choice|exponential|normal)\("
    )
    offenders = [
        str(p.relative_to(ROOT))
        for folder in ("models", "sim")
        for p in (ROOT / folder).rglob("*.py")
        if pattern.search(p.read_text()) and p.name != "bench.py" and p not in WALL_CLOCK_ALLOWED
    ]
    assert offenders == []
