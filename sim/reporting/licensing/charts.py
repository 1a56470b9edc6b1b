"""The charts (matplotlib, object API only: no pyplot global state)."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

from sim.reporting.licensing.comparison import Comparison
from sim.reporting.licensing.text import money

BUILD_PART = "build and run (amortised)"
_COLOURS = {
    "front": "#1f5fa8",
    "other": "#8a8f98",
    "recommended": "#1a8a4a",
    "excluded": "#c0392b",
    "threshold": "#d68910",
}


def _label(text: str) -> str:
    """A user string made safe for matplotlib text (``$`` would start mathtext)."""
    return text.replace("$", r"\$")


def _option_colour(option: Mapping[str, Any], excluded: bool) -> str:
    """The marker colour: excluded red, on the front blue, dominated grey."""
    if excluded:
        return _COLOURS["excluded"]
    return _COLOURS["front"] if option["on_front"] else _COLOURS["other"]


def _plot_option(ax, option: Mapping[str, Any], cheapest: float) -> None:
    """One option on the cost-risk axes: seed spread bar, marker, ring if recommended,
    and its label with the cost above the cheapest."""
    x, y = option["row"]["cost_usd_month"], option["row"]["risk_per_1000"]
    excluded = not option["compliant"] or bool(option["broken_promises"])
    colour = _option_colour(option, excluded)
    spread = option.get("risk_range_per_1000")
    if spread and spread[1] > spread[0]:
        ax.errorbar(
            [x],
            [y],
            yerr=[[y - spread[0]], [spread[1] - y]],
            fmt="none",
            ecolor=colour,
            elinewidth=1,
            capsize=3,
            zorder=2,
        )
    ax.scatter([x], [y], s=70, color=colour, marker="X" if excluded else "o", zorder=3)
    if option["recommended"]:
        ax.scatter(
            [x],
            [y],
            s=330,
            facecolors="none",
            edgecolors=_COLOURS["recommended"],
            linewidths=2.2,
            zorder=4,
        )
    delta = x - cheapest
    tag = f"{money(x)}" + (f" (+{money(delta)})" if delta > 0.005 else " (cheapest)")
    ax.annotate(
        _label(f"{option['name']}\n{tag}"),
        (x, y),
        xytext=(11, 7),
        textcoords="offset points",
        fontsize=9,
        color="#222222",
        zorder=5,
    )


def _cost_risk_axes(ax, options: list[Mapping[str, Any]], threshold: float) -> None:
    """Limits (money from zero, room for labels), axis labels, dollar ticks and grid."""
    xs = [o["row"]["cost_usd_month"] for o in options] or [0.0]
    ys = [o["row"]["risk_per_1000"] for o in options] or [0.0]
    ax.set_xlim(0.0, max(max(xs), 1.0) * 1.45)  # money starts at zero; labels give deltas
    top = max(max(ys), threshold)
    ax.set_ylim(-0.05 * max(top, 1.0), 1.15 * max(top, 1.0))
    ax.set_xlabel(
        "cost, US dollars per month (licences + build and run + extra); "
        "labels: + cost above the cheapest"
    )
    ax.set_ylabel("writes at risk per 1,000 saves\n(lost + conflicting + abandoned)")
    ax.xaxis.set_major_formatter(lambda value, _: f"${value:,.0f}")
    ax.grid(True, color="#e5e7eb", linewidth=0.8, zorder=0)
    ax.set_axisbelow(True)


def _cost_risk_legend(threshold: float) -> list:
    """The legend's proxy artists: front, dominated, excluded, recommended, threshold."""
    # Imported when used: p2c builds its parser from this package (p2c --help stays fast).
    from matplotlib.lines import Line2D

    return [
        Line2D([], [], marker="o", linestyle="-", color=_COLOURS["front"], label="Pareto front"),
        Line2D([], [], marker="o", linestyle="", color=_COLOURS["other"], label="dominated"),
        Line2D(
            [],
            [],
            marker="X",
            linestyle="",
            color=_COLOURS["excluded"],
            label="not compliant / broken promise",
        ),
        Line2D(
            [],
            [],
            marker="o",
            linestyle="",
            markerfacecolor="none",
            markersize=13,
            markeredgecolor=_COLOURS["recommended"],
            markeredgewidth=2,
            label="recommended",
        ),
        Line2D(
            [],
            [],
            linestyle="--",
            color=_COLOURS["threshold"],
            label=f"threshold {threshold:g} per 1,000",
        ),
    ]


def cost_risk_figure(data: Mapping[str, Any] | Comparison):
    """Monthly cost against writes at risk per 1,000, the Pareto front as a step line,
    the threshold dashed, the recommended option ringed; min-max over seeds as bars."""
    # Imported when used: p2c builds its parser from this package (p2c --help stays fast).
    from matplotlib.figure import Figure

    data = data.to_json() if isinstance(data, Comparison) else data
    fig = Figure(figsize=(8.0, 4.8), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    options = [o for o in data["options"] if o["row"]["risk_per_1000"] is not None]
    front = sorted(
        (o for o in options if o["on_front"]),
        key=lambda o: (o["row"]["cost_usd_month"], o["row"]["risk_per_1000"]),
    )
    if len(front) > 1:
        ax.step(
            [o["row"]["cost_usd_month"] for o in front],
            [o["row"]["risk_per_1000"] for o in front],
            where="post",
            color=_COLOURS["front"],
            linewidth=1.4,
            alpha=0.7,
            zorder=1,
        )
    cheapest = min((o["row"]["cost_usd_month"] for o in options), default=0.0)
    for option in options:
        _plot_option(ax, option, cheapest)
    threshold = data["max_risk_per_1000"]
    ax.axhline(threshold, color=_COLOURS["threshold"], linestyle="--", linewidth=1.2, zorder=0)
    _cost_risk_axes(ax, options, threshold)
    ax.legend(handles=_cost_risk_legend(threshold), loc="upper right", fontsize=8, framealpha=0.9)
    ax.set_title("Cost versus risk (lower left is better)", fontsize=11)
    return fig


def cost_breakdown_figure(data: Mapping[str, Any] | Comparison):
    """Each option's monthly bill as a horizontal bar, split by role, unused minimum
    seats and extra costs."""
    # Imported when used: p2c builds its parser from this package (p2c --help stays fast).
    from matplotlib.figure import Figure

    data = data.to_json() if isinstance(data, Comparison) else data
    options = data["options"]
    roles = list(dict.fromkeys(r["role"] for o in options for r in o["licences"]["roles"]))
    parts = [*roles, "unused minimum seats", BUILD_PART, "extra costs"]
    palette = [
        "#1f5fa8",
        "#5b8fd1",
        "#2e8b57",
        "#7fbf7f",
        "#b8860b",
        "#d9a441",
        "#6a5acd",
        "#9f94e0",
        "#8b4513",
        "#c08a5a",
    ]
    colours = {part: palette[i % len(palette)] for i, part in enumerate(roles)}
    colours["unused minimum seats"] = "#c0c4cc"
    colours["extra costs"] = "#c0392b"
    colours[BUILD_PART] = "#e67e22"
    fig = Figure(figsize=(8.0, 0.75 * len(options) + 1.6), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    names = [_label(o["name"]) for o in options]
    left = [0.0] * len(options)
    for part in parts:
        widths = []
        for option in options:
            licences = option["licences"]
            if part == "unused minimum seats":
                widths.append(licences["padding_usd_month"])
            elif part == BUILD_PART:
                widths.append((licences.get("build") or {}).get("usd_month", 0.0))
            elif part == "extra costs":
                widths.append(sum(e["usd_month"] for e in licences["extra_costs"]))
            else:
                widths.append(
                    sum(r["cost_usd_month"] for r in licences["roles"] if r["role"] == part)
                )
        if not any(widths):
            continue
        bars = ax.barh(
            names,
            widths,
            left=left,
            color=colours[part],
            label=_label(part),
            edgecolor="white",
            linewidth=0.6,
        )
        scale = (
            max(
                sum(r["cost_usd_month"] for r in o["licences"]["roles"])
                + o["licences"]["padding_usd_month"]
                for o in options
            )
            or 1.0
        )
        ax.bar_label(
            bars,
            labels=[_segment_label(w, scale) for w in widths],
            label_type="center",
            fontsize=7.5,
            color="white",
        )
        left = [a + b for a, b in zip(left, widths, strict=True)]
    for i, total in enumerate(left):
        ax.text(total, i, f"  ${total:,.0f}", va="center", fontsize=9)
    ax.invert_yaxis()
    ax.set_xlim(0, max(left + [1.0]) * 1.18)
    ax.xaxis.set_major_formatter(lambda value, _: f"${value:,.0f}")
    ax.set_xlabel("US dollars per month")
    fig.legend(loc="outside lower center", ncol=4, fontsize=8, frameon=False)
    ax.set_title("What each option's bill is made of", fontsize=11)
    ax.grid(True, axis="x", color="#e5e7eb", linewidth=0.8)
    ax.set_axisbelow(True)
    return fig


def _segment_label(width: float, scale: float) -> str:
    """A segment's value, written inside it; thousands as ``$1.3k`` so narrow segments
    still carry theirs (empty only for a zero segment)."""
    if width <= 0:
        return ""
    if width >= 0.12 * scale:
        return f"${width:,.0f}"
    return f"${width / 1000:.1f}k" if width >= 1000 else f"${width:,.0f}"


def money_axis(data: Mapping[str, Any]) -> dict[str, Any]:
    """How the cost-versus-risk chart draws money: its axis from zero, with each point
    labelled by its difference from the cheapest (what the page says under the chart)."""
    # Imported when used: p2c builds its parser from this package (p2c --help stays fast).
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = cost_risk_figure(data)
    ax = fig.axes[0]
    FigureCanvasAgg(fig).draw()
    ticks = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    low = ax.get_xlim()[0]
    return {"from_usd": low, "first_tick": ticks[0] if ticks else "", "deltas_labelled": True}


def figure_png(fig) -> bytes:
    """A figure as PNG bytes, without the matplotlib version stamp (stable output)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120, metadata={"Software": None})
    return buffer.getvalue()
