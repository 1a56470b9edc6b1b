"""Static analysis of an integration design: what its topology allows before anything runs.

A design (``models/design.py``) says where users may save each entity (``editable``) and
which maps copy it from one system to another. Before simulating a single day, the shape
of that data already answers some of the architects' questions, the way a type checker
answers some questions about a program before it runs:

- a system where users may save a customer, but from which no map carries the change
  anywhere, keeps the edit to itself until the next upsert from the other side replaces
  it (the 2017 seed post's nagging question);
- two systems that both accept saves and feed each other will lose concurrent edits
  unless the design controls concurrency;
- a loop of live or queued maps without echo suppression bounces every change;
- a contact copied into a system where its account never arrives points at nothing.

**The replica graph.** Each node is a *replica*: one entity's copy in one system,
``(system, entity)``. A system holds a replica of an entity when a map reads or writes
the entity there, or when users may save the entity there. Each edge is a map from the
source replica to the target replica, carrying the map's transport and schedule. Edges
only ever join replicas of the same entity, so "can a change made here reach there" is
plain graph reachability (networkx), and echo loops are the graph's directed cycles.

**Findings.** :func:`lint` returns :class:`Finding` records: a severity (``error`` when
the design cannot keep its data right, ``warning`` when it can but something is likely
to hurt, ``info`` for facts worth knowing), a stable ``code``, the entity and systems
involved, a message in business words and a ``why`` sentence that teaches the concept.
The analysis is deliberately conservative and cheap: it reads only the design and the
entity catalogue, never a history, and it ignores row filters (``when``) when judging
reachability, so "no path" is certain while "a path exists" may still be narrowed by a
filter (reported separately as ``filtered-edits``).

``p2c lint DESIGN_OR_SCENARIO`` prints the findings, draws the graph (:func:`render_png`)
and exits 1 when any finding is an error (wire it with :func:`add_lint_parser`).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import tempfile
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import networkx as nx

from sim.scenario.yamlio import InputError, LineMap, load_yaml

if TYPE_CHECKING:  # imported lazily at run time: `p2c --help` stays quick
    from models.design import DesignSpec, MapSpec
    from models.entities import Catalogue

Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")
#: One entity's copy in one system: ``(system, entity)``.
Replica = tuple[str, str]

EXIT_OK, EXIT_FAILED = 0, 1
#: How fast each transport delivers, fastest first (reference-order compares them).
TRANSPORT_SPEED = {"live": 0, "queue": 1, "batch": 2}
FAST_TRANSPORTS = ("live", "queue")

#: The ``why`` sentence of each kind of finding (some codes have variants).
WHY = {
    "isolated-writable-replica": (
        "A save in a copy that no map reads from stays where it was made: the next upsert "
        "from the side that feeds this copy replaces every mapped field without telling "
        "anyone, and the other copies never see the edit; this is the 2017 seed post's "
        "question about customers edited in Operations."),
    "unguarded-multi-writer": (
        "When two copies both accept saves and each sends its changes to the other, two "
        "people can edit the same record before a sync has carried the first edit across; "
        "with no concurrency control the later arrival silently overwrites the earlier "
        "edit (a lost update)."),
    "unguarded-multi-writer/lww": (
        "Last-writer-wins by arrival settles concurrent edits by discarding the one that "
        "arrived first: the design sanctions it, but the first editor's change is still "
        "gone and nobody is told."),
    "guarded-multi-writer": (
        "Concurrent edits of a record in two connected copies are detected or resolved by "
        "the design's concurrency control instead of being silently overwritten; the "
        "simulation measures what that costs users."),
    "ownership-handoff": (
        "Each record has one writable copy at a time, handed over as its status moves "
        "forward (FACTS 1: an order is read-only in Sales once activated), so two people "
        "cannot edit it concurrently as long as the status only moves forward."),
    "echo-cycle": (
        "Without echo suppression (loopback control) a change applied by the sync counts "
        "as a new change in the receiving system and is sent on again; around a loop of "
        "live or queued maps it comes back within seconds and keeps going until a hop "
        "limit stops it, multiplying writes and API requests."),
    "echo-cycle/batch": (
        "Without echo suppression a row applied by one batch run is picked up as changed "
        "by the next run of the map going back: every change makes a round trip, and a "
        "stale copy coming back can overwrite an edit saved in between (FACTS 1: two-way "
        "sync needs custom logic against 'multiple writes of the same record')."),
    "reference-order/never": (
        "A record whose referenced record never reaches the same system points at "
        "nothing there: the real products fail the upsert or leave the lookup empty, and "
        "referential integrity can never hold."),
    "reference-order": (
        "Maps run independently: a map that delivers records before the map carrying "
        "what they reference leaves those references dangling until the referenced "
        "record's next delivery (FACTS 6: saves blocked because reference data is "
        "missing on the other side)."),
    "filtered-edits": (
        "A map with a 'when' filter skips rows outside it: an edit saved while the row is "
        "outside every outbound filter stays in its system until the row changes into "
        "one, or for good if it never does."),
    "local-only-entity": (
        "An entity that no map carries lives only where it is edited: users of the other "
        "systems never see it and no sync keeps it consistent with anything."),
    "never-editable": (
        "An entity no user may save anywhere only ever holds its initial load: its maps "
        "move nothing after go-live, or the design forgot where it is mastered."),
    "idle-map": (
        "A map whose source copy nobody edits and no other map feeds only ever carries "
        "the initial load."),
    "system-without-maps": (
        "A system that no map reads or writes holds no synchronised data: the design is "
        "incomplete, or the system is listed by mistake."),
    "entities-not-in-design": (
        "The design decides, per entity, where users may save and where copies flow; an "
        "entity it never mentions is read-only everywhere and never synchronised, so any "
        "workload action on it is refused."),
    "broken-promise": (
        "A design lists the invariants it promises; when its own topology breaks one, "
        "every run the checker judges reports that promise violated, whatever the "
        "workload."),
}


@dataclass(frozen=True)
class Finding:
    """One thing the analysis noticed about a design, in business words.

    ``systems`` are the replicas involved (with ``entity``): the picture highlights them
    when the finding is an error. ``maps`` names the maps involved, ``breaks`` the
    invariants (``models.design.INVARIANTS``) that the finding makes impossible to keep,
    which is how ``broken-promise`` findings are derived.
    """

    severity: Severity
    code: str
    entity: str | None
    systems: tuple[str, ...]
    message: str
    why: str
    maps: tuple[str, ...] = ()
    breaks: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """A plain dict for ``--json`` (tuples become lists)."""
        return {"severity": self.severity, "code": self.code, "entity": self.entity,
                "systems": list(self.systems), "message": self.message, "why": self.why,
                "maps": list(self.maps), "breaks": list(self.breaks)}


# ------------------------------------------------------------------- loading


def _looks_like_design(data: dict[str, Any]) -> bool:
    """A design file has systems/editable/maps at the top; a scenario names a design."""
    return "design" not in data and any(
        key in data for key in ("systems", "maps", "editable", "extends"))


def lint_target(path: Path | str) -> tuple[DesignSpec, Catalogue]:
    """Load what ``p2c lint`` was pointed at: a design file or a scenario file.

    A design file (``scenarios/designs/*.yaml``: ``systems``, ``editable``, ``maps``,
    possibly ``extends``) is validated like a scenario's design and checked against the
    standard entity catalogue; a scenario file is loaded whole, so its custom entities
    and design overrides count. Any problem raises :class:`InputError` naming
    ``file:line: field.path``.
    """
    from models.entities import Catalogue
    from sim.scenario.spec import load_design, scenario_from_data

    path = Path(path)
    data, linemap = load_yaml(path)
    if not isinstance(data, dict):
        raise linemap.error((), "expected a design (systems, editable, maps) or a scenario "
                                "(a mapping with a 'design' key)")
    if not _looks_like_design(data):
        scenario = scenario_from_data(data, linemap, path.parent, path)
        return scenario.design, scenario.catalogue
    if "extends" not in data:
        _check_systems(data, linemap)
    design, _ = load_design(data, linemap, path.parent, ())
    catalogue = Catalogue()
    _check_entities(design, catalogue, linemap)
    return design, catalogue


def _check_systems(data: dict[str, Any], linemap: LineMap) -> None:
    """Maps and editable entries name declared systems: said at their own line.

    DesignSpec checks this too, but as a whole-model rule whose error has no field path;
    checking the raw data first points the user at the offending line.
    """
    systems = data.get("systems")
    if not isinstance(systems, list):
        return  # DesignSpec reports the missing or malformed list
    declared = ", ".join(str(s) for s in systems)
    maps = data.get("maps")
    for name, spec in (maps.items() if isinstance(maps, dict) else ()):
        for end in ("source", "target"):
            value = spec.get(end) if isinstance(spec, dict) else None
            if isinstance(value, str) and value not in systems:
                raise linemap.error(("maps", name, end),
                                    f"unknown system {value!r} (the design has {declared})")
    editable = data.get("editable")
    for entity, where in (editable.items() if isinstance(editable, dict) else ()):
        for system in (where if isinstance(where, dict) else ()):
            if system not in systems:
                raise linemap.error(("editable", entity, system),
                                    f"unknown system {system!r} (the design has {declared})")


def _check_entities(design: DesignSpec, catalogue: Catalogue, linemap: LineMap) -> None:
    """The design's entity and field names exist in the catalogue (scenarios do this too)."""
    known = ", ".join(catalogue.names())
    for name, spec in design.maps.items():
        where = ("maps", name)
        if spec.entity not in catalogue:
            raise linemap.error(where + ("entity",),
                                f"unknown entity {spec.entity!r} (known: {known})")
        fields = catalogue[spec.entity].field_names
        for key in ("fields", "when"):
            for field in getattr(spec, key) or ():
                if field not in fields:
                    raise linemap.error(where + (key,), f"{spec.entity} has no field {field!r}")
    for entity, where_editable in design.editable.items():
        if entity not in catalogue:
            raise linemap.error(("editable", entity), f"unknown entity {entity!r} (known: {known})")
        for system, condition in where_editable.items():
            for field in condition or {}:
                if field not in catalogue[entity].field_names:
                    raise linemap.error(("editable", entity, system, field),
                                        f"{entity} has no field {field!r}")


# ------------------------------------------------------------- replica graph


def _entity_order(design: DesignSpec, catalogue: Catalogue) -> list[str]:
    """Entities the design mentions: catalogue load order first, then unknown ones."""
    mentioned = list(design.editable) + [spec.entity for spec in design.maps.values()]
    mentioned = list(dict.fromkeys(mentioned))
    ordered = [e for e in catalogue.load_order if e in mentioned]
    return ordered + [e for e in mentioned if e not in ordered]


def replica_graph(design: DesignSpec, catalogue: Catalogue) -> nx.DiGraph:
    """The design's replicas and maps as a directed graph.

    Nodes are ``(system, entity)`` with attributes ``system``, ``entity``, ``editable``
    (users may save there) and ``condition`` (the editable condition, ``{}`` when
    unconditional, None when read-only). Edges are maps, source replica to target
    replica, with ``map`` (name), ``transport``, ``echo_suppression``, ``offset_s`` and
    ``interval_s`` (effective schedule of a batch map; None for live and queue),
    ``latency_median_s`` (live and queue), ``when`` (row filter) and ``maps``: when
    several maps join the same two replicas, ``maps`` and ``transports`` list them all,
    ``echo_suppression`` is true only if every one suppresses echoes, and the other
    attributes describe the first. Graph attributes: ``design``, ``systems`` (design
    order), ``entities`` (catalogue load order).
    """
    entities = _entity_order(design, catalogue)
    system_rank = {s: i for i, s in enumerate(design.systems)}
    entity_rank = {e: i for i, e in enumerate(entities)}
    replicas: dict[Replica, dict[str, Any] | None] = {}
    for entity, where in design.editable.items():
        for system, condition in where.items():
            replicas[(system, entity)] = dict(condition or {})
    for spec in design.maps.values():
        for system in (spec.source, spec.target):
            replicas.setdefault((system, spec.entity), None)
    graph = nx.DiGraph(design=design.name, systems=tuple(design.systems),
                       entities=tuple(entities))
    for node in sorted(replicas, key=lambda n: (entity_rank[n[1]], system_rank[n[0]])):
        condition = replicas[node]
        graph.add_node(node, system=node[0], entity=node[1], editable=condition is not None,
                       condition=condition)
    for name, spec in design.maps.items():
        source, target = (spec.source, spec.entity), (spec.target, spec.entity)
        if graph.has_edge(source, target):
            data = graph.edges[source, target]
            data["maps"] += (name,)
            data["transports"] += (spec.transport,)
            data["echo_suppression"] = data["echo_suppression"] and spec.echo_suppression
            continue
        batch = spec.settings(design.batch) if spec.transport == "batch" else None
        graph.add_edge(
            source, target, map=name, maps=(name,), transport=spec.transport,
            transports=(spec.transport,), echo_suppression=spec.echo_suppression,
            offset_s=batch.offset_s if batch else None,
            interval_s=batch.interval_s if batch else None,
            latency_median_s=spec.latency.median_s if spec.latency else None,
            when=spec.when)
    return graph


def _replicas_of(graph: nx.DiGraph, entity: str) -> list[Replica]:
    return [node for node in graph.nodes if node[1] == entity]


def _sorted_systems(graph: nx.DiGraph, nodes: Iterable[Replica]) -> list[str]:
    rank = {s: i for i, s in enumerate(graph.graph["systems"])}
    return sorted({node[0] for node in nodes}, key=lambda s: rank.get(s, len(rank)))


# ------------------------------------------------------------------ wording


def _join(items: Sequence[str], word: str = "or") -> str:
    """``["a", "b", "c"]`` -> ``"a, b or c"``."""
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {word} {items[-1]}"


def _possessive(name: str) -> str:
    return f"{name}'" if name.endswith("s") else f"{name}'s"


def _duration(seconds: float) -> str:
    """Plain durations: ``900`` -> ``15 min``, ``90`` -> ``90 s``, ``7200`` -> ``2 h``."""
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


# ------------------------------------------------------------------- checks


def _isolated_writable(design: DesignSpec, graph: nx.DiGraph) -> list[Finding]:
    """Editable replicas whose changes cannot reach some other replica of the entity."""
    findings = []
    for node, data in graph.nodes(data=True):
        if not data["editable"]:
            continue
        system, entity = node
        others = [n for n in _replicas_of(graph, entity) if n != node]
        reached = nx.descendants(graph, node)
        unreached = _sorted_systems(graph, (n for n in others if n not in reached))
        if not unreached:
            continue
        feeders = list(graph.predecessors(node))
        origins = _sorted_systems(graph, (n for n in nx.ancestors(graph, node)
                                          if graph.nodes[n]["editable"]))
        direct = _sorted_systems(graph, feeders)
        head = (f"{entity} is editable in {system}, but no map carries {_possessive(system)} "
                f"changes to {_join(unreached)}")
        if feeders:
            source = _join(origins or direct)
            via = [s for s in direct if s not in origins]
            if origins and via:
                source += f" (through {_join(via, 'and')})"
            message = (f"{head}: edits there are overwritten by the next upsert from "
                       f"{source} or never seen (the seed post's nagging question)")
            breaks = ("convergence", "no_lost_update")
        else:
            message = f"{head}: edits there are never seen in {_join(unreached, 'and')}"
            breaks = ("convergence",)
        maps = tuple(name for feeder in feeders for name in graph.edges[feeder, node]["maps"])
        findings.append(Finding("error", "isolated-writable-replica", entity, (system,),
                                message, WHY["isolated-writable-replica"], maps, breaks))
    return findings


def _disjoint(first: dict[str, list[Any]], second: dict[str, list[Any]]) -> str | None:
    """The field on which two editable conditions can never both hold, or None."""
    for field in first:
        if field in second and not any(value in second[field] for value in first[field]):
            return field
    return None


def _multi_writers(design: DesignSpec, graph: nx.DiGraph) -> list[Finding]:
    """Pairs of editable replicas that feed each other, judged by the concurrency mode."""
    findings = []
    mode = design.concurrency.mode
    sanctioned = "no_lost_update" in design.sanctioned
    for entity in graph.graph["entities"]:
        writers = [n for n in _replicas_of(graph, entity) if graph.nodes[n]["editable"]]
        for first, second in combinations(writers, 2):
            if not (nx.has_path(graph, first, second) and nx.has_path(graph, second, first)):
                continue
            a, b = first[0], second[0]
            cond_a, cond_b = graph.nodes[first]["condition"], graph.nodes[second]["condition"]
            field = _disjoint(cond_a, cond_b)
            if field is not None:
                message = (f"{entity} changes owner on {field}: editable in {a} while {field} "
                           f"is {_join([str(v) for v in cond_a[field]])}, in {b} while it is "
                           f"{_join([str(v) for v in cond_b[field]])}; never both at once")
                findings.append(Finding("info", "ownership-handoff", entity, (a, b), message,
                                        WHY["ownership-handoff"]))
                continue
            both = (f"{entity} is editable in both {a} and {b}, and each sends its changes "
                    "to the other")
            primary = design.concurrency.primary
            unguarded = mode == "none" or (mode == "primary_wins" and primary not in (a, b))
            if unguarded:
                detail = ("no concurrency control" if mode == "none" else
                          f"primary_wins names {primary}, neither of the two")
                note = " (the design sanctions lost updates)" if sanctioned else ""
                message = (f"{both} with {detail}: when both edit the same {entity} between "
                           f"syncs, the later arrival overwrites the other edit{note}")
                findings.append(Finding("error", "unguarded-multi-writer", entity, (a, b),
                                        message, WHY["unguarded-multi-writer"],
                                        breaks=("no_lost_update",)))
            elif mode == "lww_arrival":
                message = (f"{both}: concurrent edits are settled by last-writer-wins on "
                           f"arrival, so lost updates are sanctioned, not prevented")
                findings.append(Finding("warning", "unguarded-multi-writer", entity, (a, b),
                                        message, WHY["unguarded-multi-writer/lww"],
                                        breaks=("no_lost_update",)))
            else:
                message = f"{both}: concurrent edits are handled by {mode}"
                findings.append(Finding("info", "guarded-multi-writer", entity, (a, b),
                                        message, WHY["guarded-multi-writer"]))
    return findings


def _echo_cycles(design: DesignSpec, graph: nx.DiGraph) -> list[Finding]:
    """Directed cycles of maps of one entity with echo suppression off somewhere."""
    findings = []
    rank = {s: i for i, s in enumerate(graph.graph["systems"])}
    for entity in graph.graph["entities"]:
        sub = graph.subgraph(_replicas_of(graph, entity))
        cycles = []
        for cycle in nx.simple_cycles(sub):
            start = min(range(len(cycle)), key=lambda i: rank.get(cycle[i][0], len(rank)))
            cycles.append(cycle[start:] + cycle[:start])  # start at the first system
        for cycle in sorted(cycles, key=lambda c: [rank.get(n[0], len(rank)) for n in c]):
            edges = list(zip(cycle, cycle[1:] + cycle[:1], strict=True))
            maps = tuple(name for edge in edges for name in graph.edges[edge]["maps"])
            loud = tuple(name for name in maps if not design.maps[name].echo_suppression)
            if not loud:
                continue
            fast = all(any(t in FAST_TRANSPORTS for t in graph.edges[edge]["transports"])
                       for edge in edges)
            loop = " -> ".join([n[0] for n in cycle] + [cycle[0][0]])
            systems = tuple(n[0] for n in cycle)
            if fast:
                hops = min(design.maps[name].max_hops for name in loud)
                message = (f"{entity} changes loop {loop} over live/queued maps with echo "
                           f"suppression off ({_join(loud, 'and')}): every applied change is "
                           f"sent on again until the hop limit ({hops}) stops it")
                findings.append(Finding("error", "echo-cycle", entity, systems, message,
                                        WHY["echo-cycle"], maps, ("bounded_echo",)))
            else:
                message = (f"{entity} rows loop {loop} through batch runs with echo "
                           f"suppression off ({_join(loud, 'and')}): each change makes a round "
                           "trip, and a stale copy coming back can overwrite a newer edit")
                findings.append(Finding("warning", "echo-cycle", entity, systems, message,
                                        WHY["echo-cycle/batch"], maps))
    return findings


def _late_reference(spec: MapSpec, design: DesignSpec,
                    ref_maps: list[tuple[str, MapSpec]]) -> str | None:
    """Why ``spec`` delivers records before every one of ``ref_maps``, or None."""
    speed = TRANSPORT_SPEED[spec.transport]
    if all(TRANSPORT_SPEED[m.transport] > speed for _, m in ref_maps):
        name, slowest = ref_maps[0]
        how = ("with the next batch run" if slowest.transport == "batch"
               else f"by {slowest.transport}")
        return (f"{spec.entity} arrives by {spec.transport} within seconds, but "
                f"{slowest.entity} only {how} ({name})")
    if spec.transport != "batch":
        return None  # both fast: arrival order is the latency's, not the design's
    mine = spec.settings(design.batch)
    late = []
    for name, ref in ref_maps:
        if ref.transport != "batch":
            return None  # the referenced record travels faster
        theirs = ref.settings(design.batch)
        if theirs.interval_s < mine.interval_s:
            return None  # it runs more often: it is there in time
        if theirs.interval_s > mine.interval_s:
            late.append(f"{name} runs every {_duration(theirs.interval_s)}, {spec.entity} "
                        f"every {_duration(mine.interval_s)}")
            continue
        phase_mine = mine.offset_s % mine.interval_s
        phase_theirs = theirs.offset_s % theirs.interval_s
        if phase_theirs <= phase_mine:
            return None
        late.append(f"{name} ticks {_duration(phase_theirs - phase_mine)} after it in every "
                    f"{_duration(mine.interval_s)} interval, so a new {spec.entity}'s "
                    f"{ref.entity} arrives up to {_duration(phase_theirs - phase_mine)} later")
    return late[0] if late else None


def _reference_order(design: DesignSpec, catalogue: Catalogue,
                     graph: nx.DiGraph) -> list[Finding]:
    """Maps that deliver a record where, or before, the records it references arrive."""
    findings = []
    for name, spec in design.maps.items():
        if spec.entity not in catalogue:
            continue
        for field, ref in catalogue[spec.entity].references.items():
            if ref == spec.entity or (spec.fields is not None and field not in spec.fields):
                continue  # a self-reference, or a reference the map does not carry
            target = spec.target
            if (target, ref) not in graph:
                message = (f"{spec.entity} is copied into {target} ({name}), but no map brings "
                           f"{ref} to {target} and no one may create it there: every "
                           f"{_possessive(spec.entity)} {field} points at a {ref} {target} "
                           "does not have (references dangle forever)")
                findings.append(Finding("error", "reference-order", spec.entity, (target,),
                                        message, WHY["reference-order/never"], (name,),
                                        ("referential_integrity",)))
                continue
            into = [(n, m) for n, m in design.maps.items()
                    if m.entity == ref and m.target == target]
            if not into:
                continue  # the referenced entity is created in the target itself
            same_source = [(n, m) for n, m in into if m.source == spec.source]
            reason = _late_reference(spec, design, same_source or into)
            if reason is not None:
                message = (f"{spec.entity} reaches {target} before its {ref} ({name}): "
                           f"{reason}; its {field} dangles until then")
                findings.append(Finding("warning", "reference-order", spec.entity, (target,),
                                        message, WHY["reference-order"],
                                        (name, *(n for n, _ in same_source or into))))
    # Records created where no map delivers them must find their references there too.
    mapped_into = {(m.target, m.entity) for m in design.maps.values()}
    for node, data in graph.nodes(data=True):
        system, entity = node
        if not data["editable"] or node in mapped_into or entity not in catalogue:
            continue
        for field, ref in catalogue[entity].references.items():
            if ref != entity and (system, ref) not in graph:
                message = (f"{entity} is created in {system}, but no map brings {ref} to "
                           f"{system} and no one may create it there: its {field} cannot "
                           f"point at any {ref} {system} has")
                findings.append(Finding("error", "reference-order", entity, (system,),
                                        message, WHY["reference-order/never"],
                                        breaks=("referential_integrity",)))
    return findings


def _filtered_edits(design: DesignSpec, catalogue: Catalogue,
                    graph: nx.DiGraph) -> list[Finding]:
    """Editable states that no outbound map's ``when`` filter lets out."""
    findings = []
    for node, data in graph.nodes(data=True):
        outbound = [design.maps[name] for succ in graph.successors(node)
                    for name in graph.edges[node, succ]["maps"]]
        if not data["editable"] or not outbound or any(not m.when for m in outbound):
            continue
        system, entity = node
        shared = set.intersection(*(set(m.when) for m in outbound))
        for field in sorted(shared):
            allowed = data["condition"].get(field)
            if allowed is None and field == "status" and entity in catalogue:
                allowed = catalogue[entity].status_order  # unconditioned: every status
            if not allowed:
                continue
            passed = list(dict.fromkeys(v for m in outbound for v in m.when[field]))
            stuck = [str(v) for v in allowed if v not in passed]
            if stuck:
                message = (f"{entity} edits saved in {system} while {field} is {_join(stuck)} "
                           f"stay in {system} until {field} becomes "
                           f"{_join([str(v) for v in passed])}: no map sends such rows before")
                names = tuple(n for n, m in design.maps.items() if m in outbound)
                findings.append(Finding("info", "filtered-edits", entity, (system,), message,
                                        WHY["filtered-edits"], names))
    return findings


def _housekeeping(design: DesignSpec, catalogue: Catalogue, graph: nx.DiGraph) -> list[Finding]:
    """Cheap facts: unused systems, unsynced or uneditable entities, maps with no input."""
    findings = []
    mapped_systems = {s for m in design.maps.values() for s in (m.source, m.target)}
    for system in design.systems:
        if system not in mapped_systems:
            findings.append(Finding(
                "info", "system-without-maps", None, (system,),
                f"{system} is in the design but no map reads from or writes to it: it "
                "holds no synchronised copy",
                WHY["system-without-maps"]))
    for entity in graph.graph["entities"]:
        replicas = _replicas_of(graph, entity)
        editable = [n for n in replicas if graph.nodes[n]["editable"]]
        has_maps = any(graph.out_degree(n) for n in replicas)
        if not has_maps and len(replicas) == 1:
            system = replicas[0][0]
            findings.append(Finding(
                "info", "local-only-entity", entity, (system,),
                f"{entity} lives only in {system}: no map carries it to another system",
                WHY["local-only-entity"]))
        if has_maps and not editable:
            findings.append(Finding(
                "warning", "never-editable", entity, tuple(_sorted_systems(graph, replicas)),
                f"{entity} is copied between systems but no user may save it anywhere",
                WHY["never-editable"]))
        if not editable:
            continue
        for node in replicas:
            if graph.nodes[node]["editable"] or graph.in_degree(node):
                continue
            for succ in graph.successors(node):
                for name in graph.edges[node, succ]["maps"]:
                    findings.append(Finding(
                        "warning", "idle-map", entity, (node[0], succ[0]),
                        f"{name} copies {entity} from {node[0]} to {succ[0]}, but no one "
                        f"edits {entity} in {node[0]} and no map brings it there",
                        WHY["idle-map"], (name,)))
    silent = [e for e in catalogue.names() if e not in graph.graph["entities"]]
    if silent:
        findings.append(Finding(
            "info", "entities-not-in-design", None, (),
            f"the design says nothing about {_join(silent, 'and')}: no one may save them "
            "and no map carries them", WHY["entities-not-in-design"]))
    return findings


def _broken_promises(design: DesignSpec, findings: list[Finding]) -> list[Finding]:
    """Invariants the design promises that other findings already break."""
    broken = []
    for promise in design.promises:
        if promise in design.sanctioned:
            continue
        culprits = [f for f in findings if promise in f.breaks]
        if culprits:
            named = [f"{f.code} ({f.entity} in {'/'.join(f.systems)})" for f in culprits]
            broken.append(Finding(
                "error", "broken-promise", None, (),
                f"the design promises {promise}, but its topology breaks it: "
                f"{_join(named, 'and')}", WHY["broken-promise"],
                tuple(dict.fromkeys(m for f in culprits for m in f.maps)), (promise,)))
    return broken




def lint(design: DesignSpec, catalogue: Catalogue) -> list[Finding]:
    """Every finding about ``design``, errors first, in a stable order.

    Codes: ``isolated-writable-replica``, ``unguarded-multi-writer`` (error without
    concurrency control, warning under last-writer-wins), ``guarded-multi-writer`` and
    ``ownership-handoff`` (info), ``echo-cycle``, ``reference-order`` (error when the
    referenced entity never reaches the target, warning when it arrives later),
    ``filtered-edits``, ``local-only-entity``, ``never-editable``, ``idle-map``,
    ``system-without-maps``, ``entities-not-in-design`` and ``broken-promise`` (a
    promised invariant that the other findings break).
    """
    graph = replica_graph(design, catalogue)
    findings = [
        *_isolated_writable(design, graph),
        *_multi_writers(design, graph),
        *_echo_cycles(design, graph),
        *_reference_order(design, catalogue, graph),
        *_filtered_edits(design, catalogue, graph),
        *_housekeeping(design, catalogue, graph),
    ]
    findings += _broken_promises(design, findings)
    entity_rank = {e: i for i, e in enumerate(graph.graph["entities"])}
    system_rank = {s: i for i, s in enumerate(design.systems)}
    return sorted(findings, key=lambda f: (
        SEVERITIES.index(f.severity), f.code, entity_rank.get(f.entity, -1),
        [system_rank.get(s, len(system_rank)) for s in f.systems], f.maps))


# ------------------------------------------------------------------- picture

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


def render_png(graph: nx.DiGraph, findings: Sequence[Finding], path: Path | str) -> Path:
    """Draw the replica graph: systems as columns, entities as rows, maps as arrows.

    Arrows are coloured by transport (dashed where echo suppression is off) and labelled
    with a batch map's offset or a live/queued map's median latency; maps to the right
    arc above the row, maps to the left below it. Editable replicas are shaded; replicas
    and maps in error findings are red. Written atomically (a temporary file renamed).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Patch
    from matplotlib.path import Path as CurvePath

    path = Path(path)
    systems = list(graph.graph.get("systems", ()))
    entities = list(graph.graph.get("entities", ()))
    column_dx, box_w, box_h = 2.2, 0.95, 0.42
    x_of = {s: i * column_dx for i, s in enumerate(systems)}
    y_of = {e: -float(i) for i, e in enumerate(entities)}
    red_nodes, red_maps = _error_replicas(findings)
    counts = {s: sum(f.severity == s for f in findings) for s in SEVERITIES}
    errors = [f for f in findings if f.severity == "error"]

    width_in = max(7.0, 2.1 * len(systems) + 3.0)
    notes = textwrap.wrap("; ".join(
        f"{f.code} ({f.entity} in {'/'.join(f.systems)})" if f.entity else f.code
        for f in errors), width=int(width_in * 14)) if errors else []
    height_in = max(3.5, 0.8 * len(entities) + 1.8)
    fig = Figure(figsize=(width_in, height_in))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.set_xlim(-column_dx / 2, column_dx * (max(len(systems), 1) - 0.5))
    ax.set_ylim(-max(len(entities), 1) + 0.4, 0.65)
    for i, system in enumerate(systems):  # lanes
        if i % 2 == 0:
            ax.axvspan(x_of[system] - column_dx / 2, x_of[system] + column_dx / 2,
                       color="#f2f2f2", zorder=0)
    ax.set_xticks([x_of[s] for s in systems], systems, fontsize=11, fontweight="bold")
    ax.xaxis.tick_top()
    ax.set_yticks([y_of[e] for e in entities], entities, fontsize=10)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    if not entities:
        ax.text(0.5, 0.5, "no replicas: the design edits and maps nothing",
                transform=ax.transAxes, ha="center", va="center")

    for node, data in graph.nodes(data=True):
        system, entity = node
        if system not in x_of or entity not in y_of:
            continue
        x, y = x_of[system], y_of[entity]
        red = node in red_nodes
        face = "#f8d0d0" if red else ("#fff1bf" if data["editable"] else "white")
        ax.add_patch(FancyBboxPatch(
            (x - box_w / 2, y - box_h / 2), box_w, box_h,
            boxstyle="round,pad=0,rounding_size=0.08", facecolor=face,
            edgecolor=ERROR_RED if red else "#555555", linewidth=2.2 if red else 0.9,
            zorder=3))
        label = "editable" if data["editable"] else "copy"
        condition = _condition_text(data["condition"])
        ax.text(x, y + (0.07 if condition else 0), label, ha="center", va="center",
                fontsize=8, zorder=4, color=ERROR_RED if red else "black")
        if condition:
            ax.text(x, y - 0.11, condition, ha="center", va="center", fontsize=6, zorder=4,
                    color="#444444")

    rank = {s: i for i, s in enumerate(systems)}
    for source, target, data in graph.edges(data=True):
        if source[0] not in x_of or target[0] not in x_of or source[1] not in y_of:
            continue
        x0, x1, y = x_of[source[0]], x_of[target[0]], y_of[source[1]]
        direction = 1 if x1 > x0 else -1
        span = abs(rank[target[0]] - rank[source[0]])
        lift = direction * (0.2 + 0.16 * (span - 1))
        start = (x0 + direction * box_w / 2, y + direction * 0.05)
        end = (x1 - direction * box_w / 2, y + direction * 0.05)
        control = ((x0 + x1) / 2, y + 2 * lift)
        red = any(name in red_maps for name in data["maps"])
        colour = TRANSPORT_COLOURS.get(data["transport"], "#777777")
        ax.add_patch(FancyArrowPatch(
            path=CurvePath([start, control, end],
                           [CurvePath.MOVETO, CurvePath.CURVE3, CurvePath.CURVE3]),
            arrowstyle="-|>", mutation_scale=11, color=colour,
            linewidth=2.6 if red else 1.3, linestyle="-" if data["echo_suppression"] else "--",
            zorder=2))
        if data["transport"] == "batch":
            text = f"+{_duration(data['offset_s'])}" if data["offset_s"] else ""
        else:
            text = f"~{_duration(data['latency_median_s'] or 0)}"
        if text:
            ax.text((x0 + x1) / 2, y + lift + direction * 0.06, text, ha="center",
                    va="bottom" if direction > 0 else "top", fontsize=6.5, color=colour,
                    zorder=4, bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.3,
                                    "alpha": 0.8})

    used = sorted({t for _, _, d in graph.edges(data=True) for t in d["transports"]},
                  key=list(TRANSPORT_COLOURS).index)
    handles = [Line2D([], [], color=TRANSPORT_COLOURS[t], linewidth=1.6, label=f"{t} map")
               for t in used]
    if any(not d["echo_suppression"] for _, _, d in graph.edges(data=True)):
        handles.append(Line2D([], [], color="#555555", linestyle="--",
                              label="no echo suppression"))
    handles += [Patch(facecolor="#fff1bf", edgecolor="#555555", label="editable replica"),
                Patch(facecolor="white", edgecolor="#555555", label="read-only copy"),
                Patch(facecolor="#f8d0d0", edgecolor=ERROR_RED, label="in an error finding")]
    legend = ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.01),
                       ncol=min(len(handles), 4), fontsize=8, frameon=False)
    design_name = graph.graph.get("design", "design")
    ax.set_title(f"{design_name}: {counts['error']} errors, {counts['warning']} warnings, "
                 f"{counts['info']} notes (labels: batch offset, queue/live latency)",
                 fontsize=10, pad=28)
    if notes:  # under the legend, wherever its rows ended up
        box = legend.get_window_extent(fig.canvas.get_renderer())
        below = box.transformed(fig.transFigure.inverted()).y0
        fig.text(0.5, below - 0.01, "\n".join(["errors: " + notes[0], *notes[1:]]),
                 fontsize=7.5, color=ERROR_RED, ha="center", va="top")

    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    try:
        fig.savefig(temp, format="png", dpi=120, bbox_inches="tight")
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return path


# ---------------------------------------------------------------- command line


def default_png_path(design_name: str) -> Path:
    """``reports/lint/<design name>.png`` (unsafe characters replaced)."""
    return Path("reports") / "lint" / f"{re.sub(r'[^A-Za-z0-9._+-]', '_', design_name)}.png"


def report_lines(design: DesignSpec, findings: Sequence[Finding], target: Path | str,
                 png: Path | str | None) -> list[str]:
    """The readable report: a headline, then findings grouped by severity with their why."""
    counts = {s: sum(f.severity == s for f in findings) for s in SEVERITIES}
    lines = [f"design {design.name} ({target}): {len(design.systems)} systems, "
             f"{len(design.maps)} maps",
             f"{counts['error']} errors, {counts['warning']} warnings, {counts['info']} notes"]
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


def cmd_lint(args: argparse.Namespace) -> int:
    """``p2c lint TARGET [--png PATH] [--json]``: exit 1 when any finding is an error."""
    target = Path(args.target)
    design, catalogue = lint_target(target)
    findings = lint(design, catalogue)
    png = Path(args.png) if getattr(args, "png", None) else default_png_path(design.name)
    try:
        render_png(replica_graph(design, catalogue), findings, png)
    except OSError as exc:
        raise InputError(f"{png}: cannot write the picture ({exc.strerror or exc})") from None
    if getattr(args, "json", False):
        print(json.dumps({"design": design.name, "target": str(target),
                          "findings": [f.to_json() for f in findings], "png": str(png)},
                         sort_keys=True))
    else:
        print("\n".join(report_lines(design, findings, target, png)))
    return EXIT_FAILED if any(f.severity == "error" for f in findings) else EXIT_OK


def add_lint_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``lint`` to ``p2c``'s subcommands (``add_lint_parser(sub)`` in build_parser)."""
    parser = subparsers.add_parser(
        "lint", help="static analysis of a design's replicas and maps",
        description="Check a design's topology before running it: edits that never leave "
                    "their system, unguarded multi-writer entities, echo loops, references "
                    "that arrive before what they point at. Exit 1 when any finding is "
                    "an error.")
    parser.add_argument("target", help="a design (scenarios/designs/NAME.yaml) or a scenario")
    parser.add_argument("--png", help="picture of the replica graph "
                                      "(default: reports/lint/<design>.png)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=cmd_lint)
    return parser
