"""Shared test set-up: Hypothesis profiles and small helpers.

Profiles (STYLE.md 8): ``ci`` (the default, and what .ci/run uses) keeps examples
modest and derandomised so CI is reproducible; ``dev`` explores more and ``deep`` much
more (longer stateful runs too). Every property and stateful test takes its example
count (and the stateful ones their step count) from the profile, so a deeper run is one
setting away: ``HYPOTHESIS_PROFILE=deep python -m pytest tests/test_designs_stateful.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=60,
    stateful_step_count=12,
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=500, stateful_step_count=20, deadline=None)
settings.register_profile("deep", max_examples=5000, stateful_step_count=40, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
SEED_SCENARIO = ROOT / "scenarios" / "prospect_to_cash.yaml"


@pytest.fixture
def few_bench_passes(monkeypatch):
    """The checker bench repeats a small size until its passes add up to a measurable time,
    up to ``MAX_PASSES`` (30) passes of three full garbage collections each, and the model's
    recording floor repeats until it has measured ``MIN_MEASURED_S`` of CPU: seconds alone,
    over a minute in the test process's larger heap. These tests check what the bench
    reports, not how precisely, so two passes do (the repeat-and-cap rule still runs)."""
    from sim.bench import bench, synthetic

    monkeypatch.setattr(synthetic, "MAX_PASSES", 2)
    monkeypatch.setattr(bench, "MIN_MEASURED_S", 0.05)
    return 2
