"""The printed table of a sweep: one row per configuration, mean +- half width."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from sim.reporting.summary import table
from sim.reporting.units import metric_unit

if TYPE_CHECKING:
    from sim.study.sweep.result import SweepResult


def summary_lines(result: SweepResult, max_metrics: int = 4) -> list[str]:
    """The printed table: one row per configuration, mean +- half width per metric."""
    plan = result.plan
    metrics = plan.metrics[:max_metrics]
    units = {name: metric_unit(name) for name in metrics}
    header = ["#", "configuration", "runs", *(units[name].header for name in metrics)]
    if plan.spec.objectives:
        header.append("pareto")
    rows = []
    for summary in result.summaries:
        row = [
            str(summary.configuration.index),
            summary.configuration.label,
            str(len(summary.seeds)),
        ]
        for name in metrics:
            interval = summary.intervals[name]
            mean = units[name].value(interval.mean)
            if interval.n == 0 or math.isnan(interval.mean):
                row.append("-")
            elif math.isnan(interval.half_width):
                row.append(f"{mean:.4g}")
            else:
                row.append(f"{mean:.4g} +- {units[name].value(interval.half_width):.2g}")
        if plan.spec.objectives:
            row.append("*" if summary.pareto else "")
        rows.append(row)
    confidence = f"{plan.spec.confidence:.0%}"
    lines = [
        f"p2c sweep {plan.spec.name}: {plan.scenario_name}, "
        f"{len(plan.configurations)} configuration(s), root seed {plan.root_seed} "
        f"(replication r uses the same seed in every configuration)",
        f"{result.executed} run(s) executed, {result.skipped} already stored, "
        f"{result.elapsed_s:.1f} s on {result.executor}",
        "",
    ]
    lines += table(rows, header, "rl" + "r" * (len(header) - 2))
    lines.append(
        f"(mean +- half width of the {confidence} t-interval; summary.csv and "
        "--json keep each metric's own unit, seconds for names ending in _s"
        + (
            f"; {len(plan.metrics) - max_metrics} more metric(s) in summary.csv)"
            if len(plan.metrics) > max_metrics
            else ")"
        )
    )
    if plan.spec.objectives:
        goals = ", ".join(
            f"{k} ({'minimised' if v == 'min' else 'maximised'})"
            for k, v in plan.spec.objectives.items()
        )
        lines.append(f"pareto: * = not dominated on {goals}")
    if result.failed_runs:
        lines.append(
            f"{result.failed_runs} run(s) broke an invariant their design promises "
            "(see invariant.* in summary.csv)"
        )
    errors = sum(s.check_errors for s in result.summaries)
    if errors:
        lines.append(f"WARNING: the checker crashed on {errors} run(s); their verdicts are missing")
    dropped = sorted({f"{c.design}: {d}" for c in plan.configurations for d in c.dropped})
    if dropped:
        lines.append("scenario design overrides not applicable: " + "; ".join(dropped))
    return lines
