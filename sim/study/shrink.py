"""Shrink: cut a real run down to the fewest scripted saves that still show one anomaly.

A week of a whole organisation holds thousands of saves; an incident report needs the
three that matter. :func:`shrink_run` takes a run folder and an anomaly (a write id or a
record key, as ``p2c verify --timeline-of`` takes) and:

1. finds the anomaly in the run's history (judged afresh by the checker) and the saves
   made on its record, each with when its form was opened and what it set;
2. builds a scenario of only those saves, ``scripted:`` at their exact times, with the
   run's resolved design, its organisation's roles (no random work), its seed, and no
   other records; where the run created the record in its initial load, the migration's
   save becomes a scripted save at t=0, so it counts as one of the story's saves;
3. cuts that list down by delta debugging (Zeller's ddmin), re-running every candidate
   scenario through the same engine and checker as ``p2c run``, keeping a cut only when
   the anomaly is still there: same invariant, code, record and field, and the same
   save (by who, where and when) as its subject;
4. keeps only the maps of the record's entity when the anomaly survives that too.

The result is ``incident.yaml`` (a scenario ``p2c run`` replays to the anomaly, checked
before it is written), ``story.md`` and ``timeline.png``.
"""

from __future__ import annotations

import copy
import math
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from models.clock import format_t, parse_when
from sim.checker.files import HistoryFileError, HistoryReader, check_file
from sim.checker.report import ordered_anomalies
from sim.scenario.spec import scenario_from_data
from sim.scenario.yamlio import InputError, LineMap, load_yaml
from sim.study.story import (
    TimelineDrawer,
    dump_scenario,
    replay_file,
    run_and_check,
    story_markdown,
    write_folder,
)

SETTLE_S = 3600.0


@dataclass
class Incident:
    """What :func:`shrink_run` made: the scenario, its story and the anomaly it shows."""

    run_dir: Path
    anomaly_id: str
    invariant: str
    anomaly: Any  # the run's Anomaly
    candidates: int  # saves on the record in the run
    scenario: dict[str, Any] = field(default_factory=dict)
    runs: int = 0
    replay_anomaly: Any = None
    events: list[dict[str, Any]] = field(default_factory=list)
    maps_kept: list[str] = field(default_factory=list)

    @property
    def saves(self) -> int:
        return len(self.scenario.get("scripted", []))


def _save_of(write: dict[str, Any]) -> dict[str, Any]:
    """A write event of the history as a scripted save (same actor, times and fields)."""
    save = {
        "at": format_t(write["t"]) if _whole(write["t"]) else write["t"],
        "role": write["role"],
        "actor": write["actor"],
        "system": write["system"],
        "entity": write["entity"],
        "key": write["key"],
        "fields": dict(write["fields"]),
    }
    # The shrunk story keeps only the saves, not the initial data they edited: a save may
    # find its record missing and create it, as before scripted saves had to say so.
    save["create"] = True
    opened = write.get("opened_t")
    if opened is not None and opened < write["t"]:
        save = {"opened_at": format_t(opened) if _whole(opened) else opened, **save}
    return save


def _whole(t_s: float) -> bool:
    return abs(t_s - round(t_s)) < 1e-9


def _find_anomaly(report: Any, wanted: str) -> tuple[str, Any]:
    for name, anomaly in ordered_anomalies(report):
        if wanted in anomaly.write_ids or anomaly.key == wanted:
            return name, anomaly
    kept = sum(len(v.anomalies) for v in report.verdicts.values())
    raise InputError(
        f"p2c shrink: the run has no anomaly naming {wanted!r} ({kept} "
        "anomalies kept; give a write id such as W-operations-165 or a "
        "record key)"
    )


def shrink_run(run_dir: str | Path, anomaly_id: str, *, max_runs: int = 400) -> Incident:
    """Shrink the anomaly naming ``anomaly_id`` in the run folder ``run_dir`` (see the
    module docstring). ``max_runs`` bounds the candidate scenarios run."""
    folder = Path(run_dir)
    resolved = folder / "scenario.resolved.yaml"
    if not folder.is_dir() or not resolved.is_file():
        raise InputError(f"p2c shrink: {folder} is not a run folder (no scenario.resolved.yaml)")
    try:
        report = check_file(folder)
        invariant, anomaly = _find_anomaly(report, anomaly_id)
        subject = anomaly.write_ids[0] if anomaly.write_ids else None
        record = (anomaly.entity, anomaly.key)
        writes = []
        subject_write = None
        for event in HistoryReader(folder / "history.jsonl.gz"):
            if event.get("kind") != "write":
                continue
            if event.get("write_id") == subject:
                subject_write = event
            if (event.get("entity"), event.get("key")) == record:
                writes.append(event)
    except HistoryFileError as exc:
        raise InputError(str(exc)) from None
    if subject_write is not None and record == (None, None):
        record = (subject_write["entity"], subject_write["key"])
        writes = [w for w in _all_writes(folder) if (w["entity"], w["key"]) == record]
    if not writes:
        raise InputError(f"p2c shrink: no save in the run touches the record of {anomaly_id!r}")
    raw, _ = load_yaml(resolved)
    base = _base_scenario(raw)
    resolver = (raw.get("design") or {}).get("concurrency", {}).get("resolver_role")
    # Saves the run's own machinery makes again by itself (a handoff's colleague, a
    # conflict's resolver) are not scripted: the scripted refused save brings them back.
    saves = [w for w in writes if not str(w["actor"]).endswith("handoff") and w["role"] != resolver]
    incident = Incident(folder, anomaly_id, invariant, anomaly, len(saves))
    target = _Target(invariant, anomaly, subject_write)

    def reproduces(subset: Sequence[dict[str, Any]], maps: Sequence[str] | None = None) -> bool:
        if incident.runs >= max_runs:
            return False
        incident.runs += 1
        data = _candidate(base, raw, subset, maps)
        return target.found_in(data) is not None

    if not reproduces(saves):
        raise InputError(
            f"p2c shrink: the {len(saves)} saves on {record[0]} {record[1]} alone do not "
            f"reproduce the anomaly ({anomaly.code}): it depends on other records"
        )
    fixed = [w for w in saves if subject_write is not None and w is subject_write]
    rest = [w for w in saves if w not in fixed]
    kept = ddmin(rest, lambda part: reproduces(_in_order(fixed + part)))
    chosen = _in_order(fixed + kept)
    entity_maps = [
        name for name, spec in raw["design"]["maps"].items() if spec.get("entity") == record[0]
    ]
    maps = entity_maps if entity_maps and reproduces(chosen, entity_maps) else None
    data = _candidate(base, raw, chosen, maps, name=f"{raw.get('name', 'run')}-incident")
    found = _replay_from_file(data, target)
    if found is None:  # pragma: no cover - the candidate reproduced it a moment ago
        raise RuntimeError("p2c shrink: the incident did not replay from its file (a bug)")
    incident.scenario = data
    incident.replay_anomaly, incident.events = found
    incident.maps_kept = list(maps or raw["design"]["maps"])
    return incident


def _all_writes(folder: Path) -> list[dict[str, Any]]:
    return [e for e in HistoryReader(folder / "history.jsonl.gz") if e.get("kind") == "write"]


def _in_order(saves: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(saves, key=lambda w: (w["t"], str(w["write_id"])))


def ddmin(items: list[Any], test: Callable[[list[Any]], bool]) -> list[Any]:
    """Zeller's delta debugging: a 1-minimal sublist of ``items`` for which ``test``
    holds (``test(items)`` is assumed to hold; removing any one kept item breaks it)."""
    granularity = 2
    current = list(items)
    while len(current) >= 1:
        if not current:
            break
        size = max(1, math.ceil(len(current) / granularity))
        chunks = [current[i : i + size] for i in range(0, len(current), size)]
        reduced = False
        for chunk in chunks:  # try a chunk alone
            if len(chunks) > 1 and test(chunk):
                current, granularity, reduced = chunk, 2, True
                break
        if not reduced:
            for i in range(len(chunks)):  # try without a chunk
                complement = [x for j, c in enumerate(chunks) if j != i for x in c]
                if test(complement):
                    current = complement
                    granularity = max(granularity - 1, 2)
                    reduced = True
                    break
        if not reduced:
            if granularity >= len(current):
                break
            granularity = min(len(current), granularity * 2)
    if current and test([]):
        return []
    return current


def _base_scenario(raw: dict[str, Any]) -> dict[str, Any]:
    """The run's organisation without its work: roles with no headcount, no records."""
    keep = ("seed", "entities", "licensing", "objectives")
    base = {k: copy.deepcopy(raw[k]) for k in keep if k in raw}
    roles = {}
    for name, role in (raw.get("roles") or {}).items():
        role = dict(role)
        role["headcount"] = 0
        role["actions"] = {}
        roles[name] = role
    base["roles"] = roles
    base["initial_data"] = {"accounts": 0, "contacts_per_account": 0, "products": 0, "bundles": 0}
    return base


def _candidate(
    base: dict[str, Any],
    raw: dict[str, Any],
    saves: Sequence[dict[str, Any]],
    maps: Sequence[str] | None,
    name: str = "shrink-candidate",
) -> dict[str, Any]:
    data = copy.deepcopy(base)
    design = copy.deepcopy(raw["design"])
    if maps is not None:
        design["maps"] = {k: v for k, v in design["maps"].items() if k in maps}
    roles = data["roles"]
    for save in saves:
        if save["role"] not in roles:
            roles[save["role"]] = {"headcount": 0, "home_system": save["system"]}
    end_s = max([w["t"] for w in saves] or [0.0]) + SETTLE_S
    faults = [
        f
        for f in raw.get("faults") or []
        if _fault_end(f) <= end_s and (maps is None or set(f.get("maps") or ()) <= set(maps))
    ]
    out = {
        "name": name,
        **{k: data.pop(k) for k in ("seed",) if k in data},
        "design": design,
        "duration_days": round(end_s / 86_400.0 + 1e-6, 6),
        "quiescence_max_s": raw.get("quiescence_max_s", 86_400.0),
        **data,
        "scripted": [_save_of(w) for w in saves],
    }
    if faults:
        out["faults"] = faults
    return out


def _fault_end(fault: dict[str, Any]) -> float:
    return parse_when(fault.get("at", 0.0)) + float(fault.get("duration_s", 3600.0))


@dataclass
class _Target:
    """The anomaly to keep: invariant, code, record and field, and its subject save."""

    invariant: str
    anomaly: Any
    subject: dict[str, Any] | None

    def found_in(self, data: dict[str, Any]) -> tuple[Any, list[dict[str, Any]]] | None:
        replay = run_and_check(
            scenario_from_data(copy.deepcopy(data), LineMap("candidate")), only=[self.invariant]
        )
        return self.match(replay)

    def match(self, replay: Any) -> tuple[Any, list[dict[str, Any]]] | None:
        wanted = self.anomaly
        subject_id = None
        if self.subject is not None:
            for event in replay.events:
                if (
                    event.get("kind") == "write"
                    and event["actor"] == self.subject["actor"]
                    and event["t"] == self.subject["t"]
                    and event["key"] == self.subject["key"]
                ):
                    subject_id = event["write_id"]
                    break
            if subject_id is None:
                return None
        for anomaly in replay.report.verdicts[self.invariant].anomalies:
            if (anomaly.code, anomaly.entity, anomaly.key, anomaly.field) != (
                wanted.code,
                wanted.entity,
                wanted.key,
                wanted.field,
            ):
                continue
            if subject_id is None or (anomaly.write_ids and anomaly.write_ids[0] == subject_id):
                return anomaly, replay.events
        return None


def _replay_from_file(data: dict[str, Any], target: _Target):
    with tempfile.TemporaryDirectory(prefix="p2c-shrink-") as scratch:
        path = Path(scratch) / "incident.yaml"
        path.write_text(dump_scenario(data, ""), encoding="utf-8")
        return target.match(replay_file(path))


def write_incident(incident: Incident, out: Path, *, draw_timeline: TimelineDrawer) -> list[Path]:
    """``out/incident.yaml``, ``out/story.md`` and ``out/timeline.png``, all or nothing;
    the picture is drawn by ``draw_timeline`` (:func:`sim.reporting.timeline.plot_anomaly`)."""
    out = Path(out)
    header = (
        f"Shrunk by p2c shrink from {incident.run_dir}, anomaly {incident.anomaly_id}: "
        f"{incident.saves} of the {incident.candidates} saves on the record, "
        f"{incident.runs} candidate runs.\nReplay: p2c run {out / 'incident.yaml'}"
    )
    files = {"incident.yaml": dump_scenario(incident.scenario, header)}
    notes = [
        f"Cut down from run `{incident.run_dir}`: the anomaly there was",
        "",
        f"> {incident.anomaly.explain()}",
        "",
        f"{incident.saves} of the {incident.candidates} saves made on that record "
        f"still show it ({incident.runs} candidate scenarios run). Maps kept: "
        f"{', '.join(incident.maps_kept)}.",
    ]
    files["story.md"] = story_markdown(
        f"Incident: {incident.invariant} in {incident.saves} saves",
        incident.scenario,
        [(incident.invariant, incident.replay_anomaly)],
        f"p2c run {out / 'incident.yaml'}",
        notes,
    )

    def pictures(folder: Path) -> list[Path]:
        return [draw_timeline(incident.events, incident.replay_anomaly, folder / "timeline.png")]

    return write_folder(out, files, pictures)
