"""How findings are shown: the replica graph as a PNG, and the printed report."""

from __future__ import annotations

import os
import re
import tempfile
import textwrap
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import networkx as nx
from matplotlib.artist import Artist
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Patch
from matplotlib.path import Path as CurvePath

from models.design import DesignSpec
from sim.lint.graph import Replica
from sim.lint.rules import SEVERITIES, Finding, duration

TRANSPORT_COLOURS = {"batch": "#1f77b4", "live": "#9467bd", "queue": "#2ca02c"}


ERROR_RED = "#d62728"


def _error_replicas(findings: Iterable[Finding]) -> tuple[set[Replica], set[str]]:
    nodes: set[Replica] = set()
    maps: set[str] = set()
    for finding in findings:
        if finding.severity != "error" or finding.code == "broken-promise":
            continue
        maps.update(finding.maps)
        if finding.entity is not None:
            nodes.update((system, finding.entity) for system in finding.systems)
    return nodes, maps


def _condition_text(condition: dict[str, list[Any]] | None) -> str:
    if not condition:
        return ""
    text = "; ".join(f"{f}: {','.join(str(v) for v in vs)}" for f, vs in condition.items())
    return text if len(text) <= 22 else text[:21] + "…"


COLUMN_DX, BOX_W, BOX_H = 2.2, 0.95, 0.42


def render_png(graph: nx.DiGraph, findings: Sequence[Finding], path: Path | str) -> Path:
    """Draw the replica graph: systems as columns, entities as rows, maps as arrows.

    Arrows are coloured by transport (dashed where echo suppression is off) and labelled
    with a batch map's offset or a live/queued map's median latency; maps to the right
    arc above the row, maps to the left below it. Editable replicas are shaded; replicas
    and maps in error findings are red. Written atomically (a temporary file renamed).
    """
    path = Path(path)
    systems = list(graph.graph.get("systems", ()))
    entities = list(graph.graph.get("entities", ()))
    x_of = {s: i * COLUMN_DX for i, s in enumerate(systems)}
    y_of = {e: -float(i) for i, e in enumerate(entities)}
    red_nodes, red_maps = _error_replicas(findings)
    counts = {s: sum(f.severity == s for f in findings) for s in SEVERITIES}
    errors = [f for f in findings if f.severity == "error"]

    width_in = max(7.0, 2.1 * len(systems) + 3.0)
    notes = (
        textwrap.wrap(
            "; ".join(
                f"{f.code} ({f.entity} in {'/'.join(f.systems)})" if f.entity else f.code
                for f in errors
            ),
            width=int(width_in * 14),
        )
        if errors
        else []
    )
    height_in = max(3.5, 0.8 * len(entities) + 1.8)
    fig = Figure(figsize=(width_in, height_in))
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    _draw_lanes(ax, systems, entities, x_of, y_of)
    _draw_replicas(ax, graph, x_of, y_of, red_nodes)
    _draw_maps(ax, graph, systems, x_of, y_of, red_maps)
    legend = _draw_legend(ax, graph)
    design_name = graph.graph.get("design", "design")
    ax.set_title(
        f"{design_name}: {counts['error']} errors, {counts['warning']} warnings, "
        f"{counts['info']} notes (labels: batch offset, queue/live latency)",
        fontsize=10,
        pad=28,
    )
    if notes:  # under the legend, wherever its rows ended up
        box = legend.get_window_extent(canvas.get_renderer())
        below = box.transformed(fig.transFigure.inverted()).y0
        fig.text(
            0.5,
            below - 0.01,
            "\n".join(["errors: " + notes[0], *notes[1:]]),
            fontsize=7.5,
            color=ERROR_RED,
            ha="center",
            va="top",
        )
    _save_atomically(fig, path)
    return path


def _draw_lanes(
    ax: Any,
    systems: list[str],
    entities: list[str],
    x_of: dict[str, float],
    y_of: dict[str, float],
) -> None:
    """The axes: alternate system columns shaded, systems on top, entities down the side."""
    ax.set_xlim(-COLUMN_DX / 2, COLUMN_DX * (max(len(systems), 1) - 0.5))
    ax.set_ylim(-max(len(entities), 1) + 0.4, 0.65)
    for i, system in enumerate(systems):  # lanes
        if i % 2 == 0:
            ax.axvspan(
                x_of[system] - COLUMN_DX / 2,
                x_of[system] + COLUMN_DX / 2,
                color="#f2f2f2",
                zorder=0,
            )
    ax.set_xticks([x_of[s] for s in systems], systems, fontsize=11, fontweight="bold")
    ax.xaxis.tick_top()
    ax.set_yticks([y_of[e] for e in entities], entities, fontsize=10)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    if not entities:
        ax.text(
            0.5,
            0.5,
            "no replicas: the design edits and maps nothing",
            transform=ax.transAxes,
            ha="center",
            va="center",
        )


def _draw_replicas(
    ax: Any,
    graph: nx.DiGraph,
    x_of: dict[str, float],
    y_of: dict[str, float],
    red_nodes: set[Replica],
) -> None:
    """One box per replica: shaded when editable, red when in an error finding."""
    for node, data in graph.nodes(data=True):
        system, entity = node
        if system not in x_of or entity not in y_of:
            continue
        x, y = x_of[system], y_of[entity]
        red = node in red_nodes
        face = "#f8d0d0" if red else ("#fff1bf" if data["editable"] else "white")
        ax.add_patch(
            FancyBboxPatch(
                (x - BOX_W / 2, y - BOX_H / 2),
                BOX_W,
                BOX_H,
                boxstyle="round,pad=0,rounding_size=0.08",
                facecolor=face,
                edgecolor=ERROR_RED if red else "#555555",
                linewidth=2.2 if red else 0.9,
                zorder=3,
            )
        )
        label = "editable" if data["editable"] else "copy"
        condition = _condition_text(data["condition"])
        ax.text(
            x,
            y + (0.07 if condition else 0),
            label,
            ha="center",
            va="center",
            fontsize=8,
            zorder=4,
            color=ERROR_RED if red else "black",
        )
        if condition:
            ax.text(
                x,
                y - 0.11,
                condition,
                ha="center",
                va="center",
                fontsize=6,
                zorder=4,
                color="#444444",
            )


def _draw_maps(
    ax: Any,
    graph: nx.DiGraph,
    systems: list[str],
    x_of: dict[str, float],
    y_of: dict[str, float],
    red_maps: set[str],
) -> None:
    """One curved arrow per map, coloured by transport, labelled with offset or latency."""
    rank = {s: i for i, s in enumerate(systems)}
    for source, target, data in graph.edges(data=True):
        if source[0] not in x_of or target[0] not in x_of or source[1] not in y_of:
            continue
        x0, x1, y = x_of[source[0]], x_of[target[0]], y_of[source[1]]
        direction = 1 if x1 > x0 else -1
        span = abs(rank[target[0]] - rank[source[0]])
        lift = direction * (0.2 + 0.16 * (span - 1))
        start = (x0 + direction * BOX_W / 2, y + direction * 0.05)
        end = (x1 - direction * BOX_W / 2, y + direction * 0.05)
        control = ((x0 + x1) / 2, y + 2 * lift)
        red = any(name in red_maps for name in data["maps"])
        colour = TRANSPORT_COLOURS.get(data["transport"], "#777777")
        ax.add_patch(
            FancyArrowPatch(
                path=CurvePath(
                    [start, control, end], [CurvePath.MOVETO, CurvePath.CURVE3, CurvePath.CURVE3]
                ),
                arrowstyle="-|>",
                mutation_scale=11,
                color=colour,
                linewidth=2.6 if red else 1.3,
                linestyle="-" if data["echo_suppression"] else "--",
                zorder=2,
            )
        )
        if data["transport"] == "batch":
            text = f"+{duration(data['offset_s'])}" if data["offset_s"] else ""
        else:
            text = f"~{duration(data['latency_median_s'] or 0)}"
        if text:
            ax.text(
                (x0 + x1) / 2,
                y + lift + direction * 0.06,
                text,
                ha="center",
                va="bottom" if direction > 0 else "top",
                fontsize=6.5,
                color=colour,
                zorder=4,
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.3, "alpha": 0.8},
            )


def _draw_legend(ax: Any, graph: nx.DiGraph) -> Any:
    """The legend under the plot: the transports used, dashes if any, the box shadings."""
    used = sorted(
        {t for _, _, d in graph.edges(data=True) for t in d["transports"]},
        key=list(TRANSPORT_COLOURS).index,
    )
    handles: list[Artist] = [
        Line2D([], [], color=TRANSPORT_COLOURS[t], linewidth=1.6, label=f"{t} map") for t in used
    ]
    if any(not d["echo_suppression"] for _, _, d in graph.edges(data=True)):
        handles.append(Line2D([], [], color="#555555", linestyle="--", label="no echo suppression"))
    handles += [
        Patch(facecolor="#fff1bf", edgecolor="#555555", label="editable replica"),
        Patch(facecolor="white", edgecolor="#555555", label="read-only copy"),
        Patch(facecolor="#f8d0d0", edgecolor=ERROR_RED, label="in an error finding"),
    ]
    return ax.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.01),
        ncol=min(len(handles), 4),
        fontsize=8,
        frameon=False,
    )


def _save_atomically(fig: Figure, path: Path) -> None:
    """Write the PNG to a temporary file beside ``path``, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    try:
        fig.savefig(temp, format="png", dpi=120, bbox_inches="tight")
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def default_png_path(design_name: str) -> Path:
    """``reports/lint/<design name>.png`` (unsafe characters replaced)."""
    return Path("reports") / "lint" / f"{re.sub(r'[^A-Za-z0-9._+-]', '_', design_name)}.png"


def report_lines(
    design: DesignSpec, findings: Sequence[Finding], target: Path | str, png: Path | str | None
) -> list[str]:
    """The readable report: a headline, then findings grouped by severity with their why."""
    counts = {s: sum(f.severity == s for f in findings) for s in SEVERITIES}
    lines = [
        f"design {design.name} ({target}): {len(design.systems)} systems, {len(design.maps)} maps",
        f"{counts['error']} errors, {counts['warning']} warnings, {counts['info']} notes",
    ]
    for severity in SEVERITIES:
        group = [f for f in findings if f.severity == severity]
        if not group:
            continue
        lines += ["", {"error": "Errors", "warning": "Warnings", "info": "Notes"}[severity]]
        for finding in group:
            lines.append(f"  {finding.code}: {finding.message}")
            lines.append(f"      why: {finding.why}")
    if png is not None:
        lines += ["", f"Picture: {png}"]
    return lines
