"""What a sweep gives back: one summary per configuration, and the sweep's result.

The types :mod:`~sim.study.sweep.run` makes and :mod:`~sim.study.sweep.output` (the files)
and :mod:`sim.reporting.sweep` (the printed table) read; in a module of their own so that
the run, which writes the files, and the files' writer do not import each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sim.study.stats import Interval
from sim.study.store import StoredRun
from sim.study.sweep.plan import Configuration, SweepPlan


@dataclass
class ConfigurationSummary:
    """One configuration's results: intervals per metric, verdict tallies, front flag."""

    configuration: Configuration
    seeds: list[int]
    intervals: dict[str, Interval]
    verdicts: dict[str, dict[str, int]]
    failed_runs: int
    check_errors: int
    pareto: bool = False


@dataclass
class SweepResult:
    """A finished (or resumed) sweep: the plan, every stored run, the summaries."""

    plan: SweepPlan
    runs: list[StoredRun]
    summaries: list[ConfigurationSummary]
    executed: int
    skipped: int
    elapsed_s: float
    executor: str
    out_dir: Path | None = None

    @property
    def failed_runs(self) -> int:
        return sum(s.failed_runs for s in self.summaries)
