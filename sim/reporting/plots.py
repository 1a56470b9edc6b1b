"""Plots for notebooks: the three pictures architects ask for, from the API's DataFrames.

Each function takes a tidy frame from :mod:`sim.api` (one row per run, or one row per
propagation delay), draws on a matplotlib ``Axes`` (a new figure when none is given)
and returns the ``Axes``, so a notebook can adjust titles or combine panels.

- :func:`metric_vs_factor`: how a metric moves as a factor changes (the batch interval,
  an edit rate), one line per design, with the **95% confidence band** of the mean at
  each factor level (Student's t over the replications, as in ``p2c sweep``). Bands that
  do not overlap are differences the replications support; overlapping bands are not
  evidence of no difference, only of not enough runs to tell.
- :func:`staleness`: the **distribution** of propagation delays of one flow per design,
  as empirical cumulative distribution functions (ECDF). A p95 hides the shape: a
  15-minute batch gives a flat ramp from 0 to 15 minutes; a queue a steep step near
  zero with a long tail when the hub is throttled.
- :func:`cost_vs_risk`: each design (or configuration) as a point, cost on one axis and
  risk on the other, with error bars and the **Pareto front** drawn through the points
  no other point beats on both. The cost column is whatever the caller provides:
  licence cost per month, blocked user hours priced at a wage, API calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import matplotlib.pyplot as plt
import numpy as np

from sim.study.stats import mean_interval, pareto_front

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes


def _axes(ax: Axes | None, size: tuple[float, float] = (7.0, 4.0)) -> Axes:
    if ax is not None:
        return ax
    _, ax = plt.subplots(figsize=size, layout="constrained")
    return ax


def _groups(frame: pd.DataFrame, by: str | None) -> list[tuple[Any, pd.DataFrame]]:
    if by is None:
        return [(None, frame)]
    if by not in frame.columns:
        raise KeyError(f"no column {by!r} to group by (columns: {list(frame.columns)})")
    return list(frame.groupby(by, sort=True))


def metric_vs_factor(
    runs: pd.DataFrame,
    factor: str,
    metric: str,
    *,
    by: str | None = "design",
    confidence: float = 0.95,
    ax: Axes | None = None,
    logx: bool = False,
    scale: float = 1.0,
    ylabel: str | None = None,
) -> Axes:
    """Mean of ``metric`` at each level of ``factor``, one line per ``by`` group, with
    the confidence band of each mean shaded (``scale`` multiplies values, e.g. 1/60 for
    minutes)."""
    for column in (factor, metric):
        if column not in runs.columns:
            raise KeyError(f"no column {column!r} in the runs")
    ax = _axes(ax)
    for name, group in _groups(runs, by if by in runs.columns else None):
        levels, means, lows, highs = [], [], [], []
        for level, at_level in sorted(group.groupby(factor), key=lambda item: item[0]):
            interval = mean_interval(at_level[metric].astype(float) * scale, confidence)
            if interval.n == 0:
                continue
            levels.append(level)
            means.append(interval.mean)
            width = 0.0 if np.isnan(interval.half_width) else interval.half_width
            lows.append(interval.mean - width)
            highs.append(interval.mean + width)
        if not levels:
            continue
        (line,) = ax.plot(levels, means, marker="o", label=str(name) if name is not None else None)
        ax.fill_between(levels, lows, highs, alpha=0.2, color=line.get_color(), linewidth=0)
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(factor)
    ax.set_ylabel(ylabel or metric)
    ax.set_title(f"{ylabel or metric} vs {factor} (mean, {confidence:.0%} CI band)")
    if by is not None and ax.get_legend_handles_labels()[0]:
        ax.legend(title=by, fontsize="small")
    ax.grid(alpha=0.3)
    return ax


def staleness(
    delays: pd.DataFrame,
    flow: str | None = None,
    *,
    by: str = "design",
    ax: Axes | None = None,
    unit: str = "min",
    logx: bool = True,
) -> Axes:
    """ECDF of the propagation delays of ``flow`` (default: the flow with most samples)
    per ``by`` group; a frame from :func:`sim.api.propagation_delays`."""
    if delays.empty:
        raise ValueError("no propagation delays to plot (did any write leave its system?)")
    if flow is None:
        flow = str(delays["flow"].value_counts().idxmax())
    chosen = delays[delays["flow"] == flow]
    if chosen.empty:
        known = ", ".join(sorted(delays["flow"].unique()))
        raise KeyError(f"no delays for flow {flow!r} (flows: {known})")
    divisor = {"s": 1.0, "min": 60.0, "h": 3600.0}[unit]
    ax = _axes(ax)
    for name, group in _groups(chosen, by):
        values = np.sort(group["delay_s"].to_numpy(dtype=float) / divisor)
        if logx:
            values = np.maximum(values, 1.0 / divisor)  # a zero delay on a log axis: 1 s
        fraction = np.arange(1, values.size + 1) / values.size
        p95 = float(np.percentile(values, 95))
        ax.step(values, fraction, where="post", label=f"{name} (p95 {p95:.3g} {unit})")
    if logx:
        ax.set_xscale("log")
    ax.axhline(0.95, color="grey", linewidth=0.8, linestyle=":")
    ax.set_xlabel(f"propagation delay ({unit})")
    ax.set_ylabel("fraction of writes propagated")
    ax.set_title(f"staleness of {flow}")
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    return ax


def cost_vs_risk(
    frame: pd.DataFrame,
    cost: str,
    risk: str,
    *,
    label: str = "design",
    senses: Sequence[str] = ("min", "min"),
    confidence: float = 0.95,
    ax: Axes | None = None,
    cost_label: str | None = None,
    risk_label: str | None = None,
) -> Axes:
    """Cost against risk per ``label`` (means with CI error bars) and the Pareto front.

    ``frame`` may have several rows per label (replications): they are averaged. The
    front joins the labels that no other label beats on both axes (lower is better by
    default, ``senses`` changes that); it is drawn as a staircase because between two
    front points nothing better is known to be achievable.
    """
    for column in (cost, risk, label):
        if column not in frame.columns:
            raise KeyError(f"no column {column!r} in the frame")
    names: list[str] = []
    xs: list[float] = []
    ys: list[float] = []
    xerr: list[float] = []
    yerr: list[float] = []
    for name, group in frame.groupby(label, sort=True):
        x = mean_interval(group[cost].astype(float), confidence)
        y = mean_interval(group[risk].astype(float), confidence)
        names.append(str(name))
        xs.append(x.mean)
        ys.append(y.mean)
        xerr.append(0.0 if np.isnan(x.half_width) else x.half_width)
        yerr.append(0.0 if np.isnan(y.half_width) else y.half_width)
    front = pareto_front(list(zip(xs, ys, strict=True)), list(senses))
    ax = _axes(ax, (7.0, 5.0))
    ax.errorbar(xs, ys, xerr=xerr, yerr=yerr, fmt="none", ecolor="lightgrey", zorder=1)
    colours = ["tab:red" if on else "tab:blue" for on in front]
    ax.scatter(xs, ys, c=colours, zorder=2)
    for name, px, py in zip(names, xs, ys, strict=True):
        ax.annotate(name, (px, py), textcoords="offset points", xytext=(5, 4), fontsize="small")
    points = sorted((px, py) for px, py, on in zip(xs, ys, front, strict=True) if on)
    if len(points) > 1:
        ax.step(
            [p[0] for p in points],
            [p[1] for p in points],
            where="post",
            color="tab:red",
            linewidth=1,
            label="Pareto front",
        )
    elif points:
        ax.scatter(*points[0], facecolors="none", edgecolors="tab:red", s=160, label="Pareto front")
    ax.set_xlabel(cost_label or cost)
    ax.set_ylabel(risk_label or risk)
    ax.set_title(f"{risk_label or risk} vs {cost_label or cost} ({confidence:.0%} CI bars)")
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    return ax
