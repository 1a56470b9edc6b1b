"""Stories: a scenario's scripted saves told in business words, and the files that show one.

``p2c explore`` and ``p2c shrink`` both end with a small scenario of ``scripted:`` saves
that reproduces an anomaly. This module turns such a scenario into what a person reads:
``story.md`` (each save as a sentence, then what the checker found), the story as table
rows (the API's DataFrame), and the folder that holds them with the anomaly's timeline
picture. The picture is drawn by a :data:`TimelineDrawer` the caller passes
(:func:`sim.reporting.timeline.plot_anomaly`): reporting lies downstream of the study, so
the study never imports it. It also replays a scenario file exactly as ``p2c run`` would,
so a written counterexample is checked before anyone is told it exists.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from models.clock import format_t, parse_when
from sim.checker import check_history
from sim.engine.runner import run_scenario
from sim.scenario.spec import load_scenario

#: Draws one anomaly's timeline from a run's events into the file given and returns its
#: path: ``drawer(events, anomaly, path)``, i.e. :func:`sim.reporting.timeline.plot_anomaly`.
TimelineDrawer = Callable[[list[dict[str, Any]], Any, Path], Path]

#: How a field reads in a sentence ("credit limit", not "credit_limit").
SYSTEM_WORDS = {"sales": "Sales", "operations": "Operations", "hub": "the hub"}


@dataclass(frozen=True)
class Replay:
    """A scenario run once and judged: its events, trace hash and check report."""

    events: list[dict[str, Any]]
    trace_sha256: str
    report: Any  # sim.checker.CheckReport


def run_and_check(scenario: Any, only: Sequence[str] | None = None) -> Replay:
    """Run a loaded scenario with its own seed and judge the history (``p2c run``'s path)."""
    result = run_scenario(scenario, keep_events=True)
    events = result.events or []
    return Replay(events, result.trace_sha256, check_history(events, only=only))


def replay_file(path: Path) -> Replay:
    """Load a scenario file and run it as ``p2c run`` would."""
    return run_and_check(load_scenario(path))


def story_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per scripted save of scenario ``data``, in the order they are saved."""
    rows = []
    for index, save in enumerate(data.get("scripted", []), start=1):
        at_s = parse_when(save["at"])
        opened_s = parse_when(save.get("opened_at", save["at"]))
        rows.append(
            {
                "step": index,
                "opened_at": format_t(opened_s),
                "at": format_t(at_s),
                "form_open_s": at_s - opened_s,
                "actor": save.get("actor") or save["role"],
                "role": save["role"],
                "system": save["system"],
                "entity": save["entity"],
                "key": save["key"],
                "fields": ", ".join(f"{k}={v}" for k, v in save["fields"].items()),
            }
        )
    rows.sort(key=lambda row: (parse_when(row["opened_at"]), parse_when(row["at"]), row["step"]))
    return rows


def _save_order(save: dict[str, Any]) -> tuple[float, float]:
    """Stories read in the order forms are opened, then saved."""
    return parse_when(save.get("opened_at", save["at"])), parse_when(save["at"])


def sentence(save: dict[str, Any]) -> str:
    """One scripted save in words."""
    at_s = parse_when(save["at"])
    opened_s = parse_when(save.get("opened_at", save["at"]))
    who = save.get("actor") or save["role"]
    where = SYSTEM_WORDS.get(save["system"], save["system"])
    what = " and ".join(
        f"{field.replace('_', ' ')} to {value}" for field, value in save["fields"].items()
    )
    if save["role"] == "migration":
        values = ", ".join(
            f"{field.replace('_', ' ')} {value}" for field, value in save["fields"].items()
        )
        return (
            f"{format_t(at_s)}: the migration creates {save['entity']} {save['key']} "
            f"in {where} ({values})."
        )
    if opened_s < at_s:
        return (
            f"{format_t(opened_s)}: {who} opens {save['entity']} {save['key']} in "
            f"{where}; at {format_t(at_s)} sets {what} and saves."
        )
    return f"{format_t(at_s)}: {who} sets {what} on {save['entity']} {save['key']} in {where}."


def _minutes(seconds: float) -> str:
    minutes = seconds / 60.0
    return f"{minutes:g} minute{'' if minutes == 1 else 's'}"


def fault_sentence(fault: dict[str, Any]) -> str:
    """One fault in words: who or what it hits, from when, for how long."""
    start = parse_when(fault.get("at", 0.0))
    duration_s = float(fault.get("duration_s", 3600))
    kind = fault["kind"]
    if kind == "client_pause":
        who = fault.get("actor", "a user")
        return (
            f"{format_t(start)}: {who}'s computer freezes for {_minutes(duration_s)} "
            f"(client_pause): nothing they save goes out before "
            f"{format_t(start + duration_s)}; a save made meanwhile is sent then, under "
            "whatever lock they took before."
        )
    if kind in ("outage", "crash") and fault.get("system"):
        where = SYSTEM_WORDS.get(fault["system"], fault["system"])
        verb = "is down" if kind == "outage" else "crashes and restarts"
        return f"{format_t(start)}: {where} {verb} for {_minutes(duration_s)} ({kind})."
    if kind == "partition" and fault.get("between"):
        a, b = (SYSTEM_WORDS.get(s, s) for s in fault["between"][:2])
        return (
            f"{format_t(start)}: the network between {a} and {b} is cut for "
            f"{_minutes(duration_s)} (partition)."
        )
    where = (
        fault.get("system")
        or "/".join(fault.get("between") or [])
        or ", ".join(fault.get("maps") or [])
        or "every map"
    )
    return f"{format_t(start)}: fault {kind} ({where}) for {_minutes(duration_s)}."


def story_steps(data: dict[str, Any]) -> list[str]:
    """The saves and faults of scenario ``data`` in words, in time order (a fault before
    a save at the same moment: it is what the save runs into)."""
    timed = [(*_save_order(save), 1, sentence(save)) for save in data.get("scripted", [])]
    for fault in data.get("faults") or []:
        start = parse_when(fault.get("at", 0.0))
        timed.append((start, start, 0, fault_sentence(fault)))
    return [text for *_order, text in sorted(timed, key=lambda item: item[:3])]


def story_markdown(
    title: str,
    data: dict[str, Any],
    anomalies: Sequence[tuple[str, Any]],
    replay_command: str,
    notes: Sequence[str] = (),
) -> str:
    """``story.md``: the saves and faults step by step, what the checker found."""
    lines = [f"# {title}", ""]
    lines += [*notes, ""] if notes else []
    design = data.get("design")
    design_name = (
        design
        if isinstance(design, str)
        else ((design or {}).get("extends") or (design or {}).get("name") or "the design")
    )
    lines += [
        f"Design: `{design_name}`. Every save below is scripted at an exact time; "
        "nothing else happens (no random workload).",
        "",
        "## What happens",
        "",
    ]
    lines += [f"{i}. {text}" for i, text in enumerate(story_steps(data), start=1)]
    lines += ["", "## What the checker finds", ""]
    lines += [f"- **{name}** ({anomaly.code}): {anomaly.explain()}" for name, anomaly in anomalies]
    lines += ["", "## Replay", "", "```sh", replay_command, "```", ""]
    return "\n".join(lines)


def dump_scenario(data: dict[str, Any], header: str) -> str:
    """A scenario as YAML text with a comment header (one ``#`` line per header line)."""
    comment = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
    return comment + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def write_folder(
    out: Path,
    files: Mapping[str, str | bytes],
    pictures: Callable[[Path], list[Path]] | None = None,
) -> list[Path]:
    """Write ``files`` (name -> text) and the pictures into ``out``, all or nothing: they
    are made in a scratch folder beside ``out`` and moved in only when all are done, so an
    interrupted command leaves ``out`` as it was. Returns the paths written."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for name, content in files.items():
            target = scratch / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content, encoding="utf-8")
        if pictures is not None:
            pictures(scratch)
        made = sorted(p.relative_to(scratch) for p in scratch.rglob("*") if p.is_file())
        for relative in made:
            target = out / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(scratch / relative, target)
        return [out / relative for relative in made]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
