"""A timeline of one anomaly: who saved what, and how copies moved between replicas.

``plot_anomaly(events, anomaly, path)`` draws one horizontal lane per system and, over
time, every save (a large dot) and every apply (a small square) touching the anomaly's
record. The anomaly's own writes are highlighted: the lost (or offending) write in red,
with its applies, and the write that displaced it in orange, with its applies, each
labelled with its id and, for applies, the path that carried it (a batch run id). The
explanation is printed under the chart, so the picture stands on its own in a report.

Only the events of that one record are kept while the history streams past, so this
works on a million-event history too. It uses matplotlib's Agg canvas directly (no
pyplot, no global backend switch), so it is safe in tests, servers and notebooks alike.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MultipleLocator

from models.clock import format_t
from sim.checker.ledger import Event
from sim.checker.report import ordered_anomalies
from sim.checker.verdicts import Anomaly
from sim.checker.wording import value_words

_LOST = "#d62728"
_BY = "#ff7f0e"
_TRIGGER = "#1f77b4"
_OTHER = "#7f7f7f"
#: Tick spacings on the time axis: whole minutes, hours and days.
_TICK_STEPS_S = (60, 300, 600, 900, 1800, 3600, 7200, 14400, 21600, 43200, 86400, 172800, 604800)


def plot_anomaly(
    events: Iterable[Event], anomaly: Anomaly, path: Path | str, *, width_in: float = 11.0
) -> Path:
    """Draw the anomaly's record timeline into a PNG at ``path``; return the path.

    ``events`` is the history (any iterable, read once). When the anomaly names no
    record (an echo names only its write), the record of its first write is used.
    """
    lost = anomaly.write_ids[0] if anomaly.write_ids else None
    overwriter = anomaly.write_ids[1] if len(anomaly.write_ids) > 1 else None
    # A lost update's third write: the change that made the sync carry the record.
    trigger = anomaly.write_ids[2] if len(anomaly.write_ids) > 2 else None
    entity, key, systems, saves, applies = _record_events(events, anomaly)
    window = incident_window(anomaly, saves)
    if window is not None:
        # Zoom on the incident: from the first of its saves to the overwrite, not from
        # the migration that created the record.
        saves = [e for e in saves if window[0] <= e["t"] <= window[1]]
        applies = [e for e in applies if window[0] <= e["t"] <= window[1]]
    lane = {system: len(systems) - 1 - n for n, system in enumerate(systems)}

    figure = Figure(figsize=(width_in, 1.2 + 0.9 * len(systems) + 1.2))
    FigureCanvasAgg(figure)
    axes = figure.add_axes((0.12, 0.30, 0.84, 0.58))
    for y in lane.values():
        axes.axhline(y, color="#dddddd", linewidth=1, zorder=0)
    field = anomaly.field

    def colour(write_id: str | None) -> str:
        if write_id is not None and write_id == lost:
            return _LOST
        if write_id is not None and write_id == overwriter:
            return _BY
        if write_id is not None and write_id == trigger:
            return _TRIGGER
        return _OTHER

    times = [e["t"] for e in saves + applies]
    _draw_saves(axes, saves, lane, colour, field, times)
    _draw_applies(axes, applies, lane, colour, field, (lost, overwriter, trigger))
    _draw_time_axis(axes, lane, systems, times)
    title = f"{anomaly.invariant}: {anomaly.code}"
    if entity is not None:
        title += f" - {entity} {key}" + (f" {field}" if field else "")
    axes.set_title(title, fontsize=11)
    _draw_legend(axes)
    wrapped = "\n".join(textwrap.wrap(anomaly.explain(), width=int(width_in * 14)))
    figure.text(0.02, 0.04, wrapped, fontsize=8, va="bottom", ha="left")
    path = Path(path)
    figure.savefig(path, dpi=110)
    return path


def _record_events(
    events: Iterable[Event], anomaly: Anomaly
) -> tuple[str | None, Any, list[str], list[dict[str, Any]], list[dict[str, Any]]]:
    """``(entity, key, systems, saves, applies)`` of the anomaly's record, keeping only
    its events while the history streams past; systems in lane order, never empty."""
    entity, key = anomaly.entity, anomaly.key
    if key is None:
        entity = None
    # Without a record, the save of the anomaly's first write tells which one it is.
    locator = anomaly.write_ids[0] if entity is None and anomaly.write_ids else None
    systems: list[str] = []
    saves: list[dict[str, Any]] = []
    applies: list[dict[str, Any]] = []
    # Only the events of the record are kept while the history streams past.
    for event in events:
        kind = event.get("kind")
        if kind == "run_start":
            systems = list((event.get("contract") or {}).get("systems") or [])
            continue
        if kind not in ("write", "apply", "reject", "conflict"):
            continue
        if entity is None and kind == "write" and event.get("write_id") == locator:
            entity, key = event["entity"], event["key"]
        if entity is None or event.get("entity") != entity or event.get("key") != key:
            continue
        if kind == "apply":
            applies.append(event)
        else:
            saves.append(event)
        system = event.get("system")
        if system is not None and system not in systems:
            systems.append(system)
    if anomaly.system is not None and anomaly.system not in systems:
        systems.append(anomaly.system)
    if not systems:
        systems = ["(no system)"]
    return entity, key, systems, saves, applies


def _draw_saves(
    axes: Any,
    saves: list[dict[str, Any]],
    lane: dict[str, int],
    colour: Callable[[str | None], str],
    field: str | None,
    times: list[float],
) -> None:
    """A large dot (a cross for a reject or conflict) per save; the anomaly's own saves
    labelled with their id and value, others with their id while there are few."""
    # Labels of other saves closer than this in time go up a step, so they never overlap.
    near_s = 0.06 * (max(times) - min(times)) if times else 0.0
    last_label: dict[int, tuple[float, int]] = {}  # lane -> (time, step) of its last label
    for event in saves:
        write_id = event.get("write_id")
        if event["kind"] == "conflict":
            write_id = None
        y = lane.get(event.get("system", ""), 0)
        c = colour(write_id)
        marker = "X" if event["kind"] in ("reject", "conflict") else "o"
        axes.scatter(
            [event["t"]],
            [y],
            s=140,
            color=c,
            marker=marker,
            zorder=3,
            edgecolor="black",
            linewidth=0.6,
        )
        if c != _OTHER:
            what = ""
            if event["kind"] == "write" and field and field in (event.get("fields") or {}):
                what = f"\n{field}={value_words(event['fields'][field])}"
            elif event["kind"] == "write" and event.get("fields"):
                shown, value = next(iter(event["fields"].items()))
                what = f"\n{shown}={value_words(value)}"
            label = f"{write_id}{what}" if event["kind"] == "write" else f"{kind_word(event)}"
            axes.annotate(
                label,
                (event["t"], y),
                xytext=(0, 12),
                textcoords="offset points",
                ha="center",
                fontsize=8,
                color=c,
                fontweight="bold",
            )
        elif len(saves) <= 12:
            label = f"{write_id}" if event["kind"] == "write" else kind_word(event)
            before = last_label.get(y)
            step = (before[1] + 1) % 3 if before and event["t"] - before[0] < near_s else 0
            last_label[y] = (event["t"], step)
            axes.annotate(
                label,
                (event["t"], y),
                xytext=(0, 12 + 9 * step),
                textcoords="offset points",
                ha="center",
                fontsize=7,
                color=_OTHER,
            )


def _draw_applies(
    axes: Any,
    applies: list[dict[str, Any]],
    lane: dict[str, int],
    colour: Callable[[str | None], str],
    field: str | None,
    named: tuple[str | None, str | None, str | None],
) -> None:
    """A small square per apply, labelled with the path that carried the anomaly's
    writes (``named``: lost, displacing, trigger)."""
    for event in applies:
        carried = event["fields"]
        write_id = carried.get(field) if field else None
        if write_id is None:
            ids = list(carried.values())
            write_id = next((w for w in ids if w in named), ids[0] if ids else None)
        y = lane.get(event["system"], 0)
        c = colour(write_id)
        axes.scatter([event["t"]], [y], s=40, color=c, marker="s", zorder=2)
        if c != _OTHER and event.get("via") != "user":
            axes.annotate(
                f"{write_id}\nvia {event['via']}",
                (event["t"], y),
                xytext=(0, -26),
                textcoords="offset points",
                ha="center",
                fontsize=7,
                color=c,
            )


def _draw_time_axis(
    axes: Any, lane: dict[str, int], systems: list[str], times: list[float]
) -> None:
    """Lanes named on the left, time ticks at whole minutes, hours or days."""
    axes.set_yticks(list(lane.values()))
    axes.set_yticklabels(list(lane))
    axes.set_ylim(-0.8, len(systems) - 0.2)
    if times:
        low, high = min(times), max(times)
        pad = max(60.0, 0.08 * (high - low))
        axes.set_xlim(low - pad, high + pad)
        span = high - low + 2 * pad
        step = next((s for s in _TICK_STEPS_S if span / s <= 7), _TICK_STEPS_S[-1])
        axes.xaxis.set_major_locator(MultipleLocator(step))
    axes.xaxis.set_major_formatter(FuncFormatter(lambda t, _pos: format_t(max(t, 0.0))))
    for label in axes.get_xticklabels():
        label.set_fontsize(8)


def _draw_legend(axes: Any) -> None:
    """What the colours and markers mean, under the chart."""
    legend = [
        ("o", _LOST, "lost / offending write"),
        ("o", _BY, "displacing write"),
        ("o", _TRIGGER, "change that made the sync carry the record"),
        ("o", _OTHER, "other save"),
        ("s", _OTHER, "apply (copy into a replica)"),
    ]
    for marker, c, text in legend:
        axes.scatter([], [], marker=marker, color=c, label=text)
    axes.legend(loc="upper left", fontsize=7, frameon=False, ncol=4, bbox_to_anchor=(0.0, -0.12))


def incident_window(anomaly: Anomaly, saves: list[Event]) -> tuple[float, float] | None:
    """``(start, end)`` of an anomaly's incident: from the first user save among its
    writes (the migration's versions excluded) to when it happened, padded; None when
    the anomaly has no time or none of its writes was saved by a user."""
    if anomaly.t is None or not anomaly.write_ids:
        return None
    named = set(anomaly.write_ids)
    starts = [
        min(e["t"], e.get("opened_t", e["t"]))
        for e in saves
        if e["kind"] == "write" and e.get("write_id") in named and e.get("role") != "migration"
    ]
    if not starts:
        return None
    low, high = min(starts), max(float(anomaly.t), max(starts))
    pad = max(60.0, 0.15 * (high - low))
    return low - pad, high + pad


def kind_word(event: Event) -> str:
    if event["kind"] == "reject":
        return f"rejected {event.get('write_id')}"
    return "conflict " + ", ".join(event.get("write_ids") or ())


def plot_anomalies(
    chosen: list[tuple[str, Anomaly]],
    events: Callable[[], Iterable[Event]],
    folder: Path | str,
) -> list[Path]:
    """One timeline per ``(invariant, anomaly)`` in ``chosen``, as
    ``folder/NN-<invariant>.png``; ``events()`` gives the history afresh for each picture
    (a list, or a new reader of the file). Returns the paths."""
    folder = Path(folder)
    if chosen:
        folder.mkdir(parents=True, exist_ok=True)
    return [
        plot_anomaly(events(), anomaly, folder / f"{i:02d}-{name}.png")
        for i, (name, anomaly) in enumerate(chosen, start=1)
    ]


def plot_first_anomalies(
    report: Any, events: Callable[[], Iterable[Event]], folder: Path | str, count: int
) -> list[Path]:
    """Timelines of the first ``count`` anomalies of a check report (see
    :func:`sim.checker.report.ordered_anomalies` and :func:`plot_anomalies`)."""
    return plot_anomalies(ordered_anomalies(report)[:count], events, folder)
