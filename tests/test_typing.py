"""The model, the scenario, the lint, the engine, the checker, the study, the reporting,
the calibration, the benchmarks and the Python API type-check: ``mypy models
sim/history.py sim/scenario sim/lint sim/engine sim/checker sim/study sim/reporting
sim/calibration sim/cli sim/bench sim/api.py`` reports nothing.

The configuration is ``[tool.mypy]`` in ``pyproject.toml`` (the pydantic plugin, libraries
without type information treated as ``Any``); mypy comes with the ``test`` extra. Both
packages ship ``py.typed``, so a project that imports them gets their types.
"""

from __future__ import annotations

import subprocess
import sys

from conftest import ROOT

PACKAGES = (
    "models",
    "sim/history.py",
    "sim/scenario",
    "sim/lint",
    "sim/engine",
    "sim/checker",
    "sim/study",
    "sim/reporting",
    "sim/calibration",
    "sim/cli",
    "sim/bench",
    "sim/api.py",
)


def test_mypy_finds_nothing_in_the_model_the_engine_and_the_checker():
    command = [sys.executable, "-m", "mypy", *PACKAGES]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, (
        f"{' '.join(['python', '-m', 'mypy', *PACKAGES])} (from {ROOT}) reported:\n"
        + done.stdout
        + done.stderr
    )
    assert "Success: no issues found" in done.stdout, done.stdout


def test_both_packages_say_they_are_typed():
    for package in ("models", "sim"):
        assert (ROOT / package / "py.typed").is_file(), package
