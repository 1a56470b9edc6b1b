"""The lint rules: each reads the design and its replica graph and returns findings in
business words, with the ``why`` sentence that teaches the concept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any, Literal

import networkx as nx

from models.design import DesignSpec, MapSpec
from models.entities import Catalogue
from sim.lint.graph import replica_graph, replicas_of, sorted_systems

Severity = Literal["error", "warning", "info"]


SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")


#: How fast each transport delivers, fastest first (reference-order compares them).
TRANSPORT_SPEED = {"live": 0, "queue": 1, "batch": 2}


FAST_TRANSPORTS = ("live", "queue")


#: The ``why`` sentence of each kind of finding (some codes have variants).
WHY = {
    "isolated-writable-replica": (
        "A save in a copy that no map reads from stays where it was made: the next upsert "
        "from the side that feeds this copy replaces every mapped field without telling "
        "anyone, and the other copies never see the edit; this is the 2017 seed post's "
        "question about customers edited in Operations."
    ),
    "unguarded-multi-writer": (
        "When two copies both accept saves and each sends its changes to the other, two "
        "people can edit the same record before a sync has carried the first edit across; "
        "with no concurrency control the later arrival silently overwrites the earlier "
        "edit (a lost update)."
    ),
    "unguarded-multi-writer/lww": (
        "Last-writer-wins by arrival settles concurrent edits by discarding the one that "
        "arrived first: the design sanctions it, but the first editor's change is still "
        "gone and nobody is told."
    ),
    "guarded-multi-writer": (
        "Concurrent edits of a record in two connected copies are detected or resolved by "
        "the design's concurrency control instead of being silently overwritten; the "
        "simulation measures what that costs users."
    ),
    "ownership-handoff": (
        "Each record has one writable copy at a time, handed over as its status moves "
        "forward (FACTS 1: an order is read-only in Sales once activated), so two people "
        "cannot edit it concurrently as long as the status only moves forward."
    ),
    "echo-cycle": (
        "Without echo suppression (loopback control) a change applied by the sync counts "
        "as a new change in the receiving system and is sent on again; around a loop of "
        "live or queued maps it comes back within seconds and keeps going until a hop "
        "limit stops it, multiplying writes and API requests."
    ),
    "echo-cycle/batch": (
        "Without echo suppression a row applied by one batch run is picked up as changed "
        "by the next run of the map going back: every change makes a round trip, and a "
        "stale copy coming back can overwrite an edit saved in between (FACTS 1: two-way "
        "sync needs custom logic against 'multiple writes of the same record')."
    ),
    "reference-order/never": (
        "A record whose referenced record never reaches the same system points at "
        "nothing there: the real products fail the upsert or leave the lookup empty, and "
        "referential integrity can never hold."
    ),
    "reference-order": (
        "Maps run independently: a map that delivers records before the map carrying "
        "what they reference leaves those references dangling until the referenced "
        "record's next delivery (FACTS 6: saves blocked because reference data is "
        "missing on the other side)."
    ),
    "filtered-edits": (
        "A map with a 'when' filter skips rows outside it: an edit saved while the row is "
        "outside every outbound filter stays in its system until the row changes into "
        "one, or for good if it never does."
    ),
    "local-only-entity": (
        "An entity that no map carries lives only where it is edited: users of the other "
        "systems never see it and no sync keeps it consistent with anything."
    ),
    "never-editable": (
        "An entity no user may save anywhere only ever holds its initial load: its maps "
        "move nothing after go-live, or the design forgot where it is mastered."
    ),
    "idle-map": (
        "A map whose source copy nobody edits and no other map feeds only ever carries "
        "the initial load."
    ),
    "system-without-maps": (
        "A system that no map reads or writes holds no synchronised data: the design is "
        "incomplete, or the system is listed by mistake."
    ),
    "entities-not-in-design": (
        "The design decides, per entity, where users may save and where copies flow; an "
        "entity it never mentions is read-only everywhere and never synchronised, so any "
        "workload action on it is refused."
    ),
    "broken-promise": (
        "A design lists the invariants it promises; when its own topology breaks one, "
        "every run the checker judges reports that promise violated, whatever the "
        "workload."
    ),
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
        return {
            "severity": self.severity,
            "code": self.code,
            "entity": self.entity,
            "systems": list(self.systems),
            "message": self.message,
            "why": self.why,
            "maps": list(self.maps),
            "breaks": list(self.breaks),
        }


def _join(items: Sequence[str], word: str = "or") -> str:
    """``["a", "b", "c"]`` -> ``"a, b or c"``."""
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {word} {items[-1]}"


def _possessive(name: str) -> str:
    return f"{name}'" if name.endswith("s") else f"{name}'s"


def duration(seconds: float) -> str:
    """Plain durations: ``900`` -> ``15 min``, ``90`` -> ``90 s``, ``7200`` -> ``2 h``."""
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def _isolated_writable(design: DesignSpec, graph: nx.DiGraph) -> list[Finding]:
    """Editable replicas whose changes cannot reach some other replica of the entity."""
    findings = []
    for node, data in graph.nodes(data=True):
        if not data["editable"]:
            continue
        system, entity = node
        others = [n for n in replicas_of(graph, entity) if n != node]
        reached = nx.descendants(graph, node)
        unreached = sorted_systems(graph, (n for n in others if n not in reached))
        if not unreached:
            continue
        feeders = list(graph.predecessors(node))
        origins = sorted_systems(
            graph, (n for n in nx.ancestors(graph, node) if graph.nodes[n]["editable"])
        )
        direct = sorted_systems(graph, feeders)
        head = (
            f"{entity} is editable in {system}, but no map carries {_possessive(system)} "
            f"changes to {_join(unreached)}"
        )
        if feeders:
            source = _join(origins or direct)
            via = [s for s in direct if s not in origins]
            if origins and via:
                source += f" (through {_join(via, 'and')})"
            message = (
                f"{head}: edits there are overwritten by the next upsert from "
                f"{source} or never seen (the seed post's nagging question)"
            )
            breaks: tuple[str, ...] = ("convergence", "no_lost_update")
        else:
            message = f"{head}: edits there are never seen in {_join(unreached, 'and')}"
            breaks = ("convergence",)
        maps = tuple(name for feeder in feeders for name in graph.edges[feeder, node]["maps"])
        findings.append(
            Finding(
                "error",
                "isolated-writable-replica",
                entity,
                (system,),
                message,
                WHY["isolated-writable-replica"],
                maps,
                breaks,
            )
        )
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
        writers = [n for n in replicas_of(graph, entity) if graph.nodes[n]["editable"]]
        for first, second in combinations(writers, 2):
            if not (nx.has_path(graph, first, second) and nx.has_path(graph, second, first)):
                continue
            a, b = first[0], second[0]
            cond_a, cond_b = graph.nodes[first]["condition"], graph.nodes[second]["condition"]
            field = _disjoint(cond_a, cond_b)
            if field is not None:
                message = (
                    f"{entity} changes owner on {field}: editable in {a} while {field} "
                    f"is {_join([str(v) for v in cond_a[field]])}, in {b} while it is "
                    f"{_join([str(v) for v in cond_b[field]])}; never both at once"
                )
                findings.append(
                    Finding(
                        "info",
                        "ownership-handoff",
                        entity,
                        (a, b),
                        message,
                        WHY["ownership-handoff"],
                    )
                )
                continue
            both = (
                f"{entity} is editable in both {a} and {b}, and each sends its changes to the other"
            )
            primary = design.concurrency.primary
            unguarded = mode == "none" or (mode == "primary_wins" and primary not in (a, b))
            if unguarded:
                detail = (
                    "no concurrency control"
                    if mode == "none"
                    else f"primary_wins names {primary}, neither of the two"
                )
                note = " (the design sanctions lost updates)" if sanctioned else ""
                message = (
                    f"{both} with {detail}: when both edit the same {entity} between "
                    f"syncs, the later arrival overwrites the other edit{note}"
                )
                findings.append(
                    Finding(
                        "error",
                        "unguarded-multi-writer",
                        entity,
                        (a, b),
                        message,
                        WHY["unguarded-multi-writer"],
                        breaks=("no_lost_update",),
                    )
                )
            elif mode == "lww_arrival":
                message = (
                    f"{both}: concurrent edits are settled by last-writer-wins on "
                    f"arrival, so lost updates are sanctioned, not prevented"
                )
                findings.append(
                    Finding(
                        "warning",
                        "unguarded-multi-writer",
                        entity,
                        (a, b),
                        message,
                        WHY["unguarded-multi-writer/lww"],
                        breaks=("no_lost_update",),
                    )
                )
            else:
                message = f"{both}: concurrent edits are handled by {mode}"
                findings.append(
                    Finding(
                        "info",
                        "guarded-multi-writer",
                        entity,
                        (a, b),
                        message,
                        WHY["guarded-multi-writer"],
                    )
                )
    return findings


def _echo_cycles(design: DesignSpec, graph: nx.DiGraph) -> list[Finding]:
    """Directed cycles of maps of one entity with echo suppression off somewhere."""
    findings = []
    rank = {s: i for i, s in enumerate(graph.graph["systems"])}
    for entity in graph.graph["entities"]:
        sub = graph.subgraph(replicas_of(graph, entity))
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
            fast = all(
                any(t in FAST_TRANSPORTS for t in graph.edges[edge]["transports"]) for edge in edges
            )
            loop = " -> ".join([n[0] for n in cycle] + [cycle[0][0]])
            systems = tuple(n[0] for n in cycle)
            if fast:
                hops = min(design.maps[name].max_hops for name in loud)
                message = (
                    f"{entity} changes loop {loop} over live/queued maps with echo "
                    f"suppression off ({_join(loud, 'and')}): every applied change is "
                    f"sent on again until the hop limit ({hops}) stops it"
                )
                findings.append(
                    Finding(
                        "error",
                        "echo-cycle",
                        entity,
                        systems,
                        message,
                        WHY["echo-cycle"],
                        maps,
                        ("bounded_echo",),
                    )
                )
            else:
                message = (
                    f"{entity} rows loop {loop} through batch runs with echo "
                    f"suppression off ({_join(loud, 'and')}): each change makes a round "
                    "trip, and a stale copy coming back can overwrite a newer edit"
                )
                findings.append(
                    Finding(
                        "warning",
                        "echo-cycle",
                        entity,
                        systems,
                        message,
                        WHY["echo-cycle/batch"],
                        maps,
                    )
                )
    return findings


def _late_reference(
    spec: MapSpec, design: DesignSpec, ref_maps: list[tuple[str, MapSpec]]
) -> str | None:
    """Why ``spec`` delivers records before every one of ``ref_maps``, or None."""
    speed = TRANSPORT_SPEED[spec.transport]
    if all(TRANSPORT_SPEED[m.transport] > speed for _, m in ref_maps):
        name, slowest = ref_maps[0]
        how = (
            "with the next batch run" if slowest.transport == "batch" else f"by {slowest.transport}"
        )
        return (
            f"{spec.entity} arrives by {spec.transport} within seconds, but "
            f"{slowest.entity} only {how} ({name})"
        )
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
            late.append(
                f"{name} runs every {duration(theirs.interval_s)}, {spec.entity} "
                f"every {duration(mine.interval_s)}"
            )
            continue
        phase_mine = mine.offset_s % mine.interval_s
        phase_theirs = theirs.offset_s % theirs.interval_s
        if phase_theirs <= phase_mine:
            return None
        late.append(
            f"{name} ticks {duration(phase_theirs - phase_mine)} after it in every "
            f"{duration(mine.interval_s)} interval, so a new {spec.entity}'s "
            f"{ref.entity} arrives up to {duration(phase_theirs - phase_mine)} later"
        )
    return late[0] if late else None


def _reference_order(design: DesignSpec, catalogue: Catalogue, graph: nx.DiGraph) -> list[Finding]:
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
                message = (
                    f"{spec.entity} is copied into {target} ({name}), but no map brings "
                    f"{ref} to {target} and no one may create it there: every "
                    f"{_possessive(spec.entity)} {field} points at a {ref} {target} "
                    "does not have (references dangle forever)"
                )
                findings.append(
                    Finding(
                        "error",
                        "reference-order",
                        spec.entity,
                        (target,),
                        message,
                        WHY["reference-order/never"],
                        (name,),
                        ("referential_integrity",),
                    )
                )
                continue
            into = [
                (n, m) for n, m in design.maps.items() if m.entity == ref and m.target == target
            ]
            if not into:
                continue  # the referenced entity is created in the target itself
            same_source = [(n, m) for n, m in into if m.source == spec.source]
            reason = _late_reference(spec, design, same_source or into)
            if reason is not None:
                message = (
                    f"{spec.entity} reaches {target} before its {ref} ({name}): "
                    f"{reason}; its {field} dangles until then"
                )
                findings.append(
                    Finding(
                        "warning",
                        "reference-order",
                        spec.entity,
                        (target,),
                        message,
                        WHY["reference-order"],
                        (name, *(n for n, _ in same_source or into)),
                    )
                )
    # Records created where no map delivers them must find their references there too.
    mapped_into = {(m.target, m.entity) for m in design.maps.values()}
    for node, data in graph.nodes(data=True):
        system, entity = node
        if not data["editable"] or node in mapped_into or entity not in catalogue:
            continue
        for field, ref in catalogue[entity].references.items():
            if ref != entity and (system, ref) not in graph:
                message = (
                    f"{entity} is created in {system}, but no map brings {ref} to "
                    f"{system} and no one may create it there: its {field} cannot "
                    f"point at any {ref} {system} has"
                )
                findings.append(
                    Finding(
                        "error",
                        "reference-order",
                        entity,
                        (system,),
                        message,
                        WHY["reference-order/never"],
                        breaks=("referential_integrity",),
                    )
                )
    return findings


def _filtered_edits(design: DesignSpec, catalogue: Catalogue, graph: nx.DiGraph) -> list[Finding]:
    """Editable states that no outbound map's ``when`` filter lets out."""
    findings = []
    for node, data in graph.nodes(data=True):
        outbound = [
            design.maps[name]
            for succ in graph.successors(node)
            for name in graph.edges[node, succ]["maps"]
        ]
        if not data["editable"] or not outbound or any(not m.when for m in outbound):
            continue
        system, entity = node
        # Every outbound map has a filter here (an unfiltered one lets every state out).
        filters = [m.when or {} for m in outbound]
        shared = set.intersection(*(set(when) for when in filters))
        for field in sorted(shared):
            allowed = data["condition"].get(field)
            if allowed is None and field == "status" and entity in catalogue:
                allowed = catalogue[entity].status_order  # unconditioned: every status
            if not allowed:
                continue
            passed = list(dict.fromkeys(v for when in filters for v in when[field]))
            stuck = [str(v) for v in allowed if v not in passed]
            if stuck:
                message = (
                    f"{entity} edits saved in {system} while {field} is {_join(stuck)} "
                    f"stay in {system} until {field} becomes "
                    f"{_join([str(v) for v in passed])}: no map sends such rows before"
                )
                names = tuple(n for n, m in design.maps.items() if m in outbound)
                findings.append(
                    Finding(
                        "info",
                        "filtered-edits",
                        entity,
                        (system,),
                        message,
                        WHY["filtered-edits"],
                        names,
                    )
                )
    return findings


def _housekeeping(design: DesignSpec, catalogue: Catalogue, graph: nx.DiGraph) -> list[Finding]:
    """Cheap facts: unused systems, unsynced or uneditable entities, maps with no input."""
    findings = []
    mapped_systems = {s for m in design.maps.values() for s in (m.source, m.target)}
    for system in design.systems:
        if system not in mapped_systems:
            findings.append(
                Finding(
                    "info",
                    "system-without-maps",
                    None,
                    (system,),
                    f"{system} is in the design but no map reads from or writes to it: it "
                    "holds no synchronised copy",
                    WHY["system-without-maps"],
                )
            )
    for entity in graph.graph["entities"]:
        replicas = replicas_of(graph, entity)
        editable = [n for n in replicas if graph.nodes[n]["editable"]]
        has_maps = any(graph.out_degree(n) for n in replicas)
        if not has_maps and len(replicas) == 1:
            system = replicas[0][0]
            findings.append(
                Finding(
                    "info",
                    "local-only-entity",
                    entity,
                    (system,),
                    f"{entity} lives only in {system}: no map carries it to another system",
                    WHY["local-only-entity"],
                )
            )
        if has_maps and not editable:
            findings.append(
                Finding(
                    "warning",
                    "never-editable",
                    entity,
                    tuple(sorted_systems(graph, replicas)),
                    f"{entity} is copied between systems but no user may save it anywhere",
                    WHY["never-editable"],
                )
            )
        if not editable:
            continue
        for node in replicas:
            if graph.nodes[node]["editable"] or graph.in_degree(node):
                continue
            for succ in graph.successors(node):
                for name in graph.edges[node, succ]["maps"]:
                    findings.append(
                        Finding(
                            "warning",
                            "idle-map",
                            entity,
                            (node[0], succ[0]),
                            f"{name} copies {entity} from {node[0]} to {succ[0]}, but no one "
                            f"edits {entity} in {node[0]} and no map brings it there",
                            WHY["idle-map"],
                            (name,),
                        )
                    )
    silent = [e for e in catalogue.names() if e not in graph.graph["entities"]]
    if silent:
        findings.append(
            Finding(
                "info",
                "entities-not-in-design",
                None,
                (),
                f"the design says nothing about {_join(silent, 'and')}: no one may save them "
                "and no map carries them",
                WHY["entities-not-in-design"],
            )
        )
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
            broken.append(
                Finding(
                    "error",
                    "broken-promise",
                    None,
                    (),
                    f"the design promises {promise}, but its topology breaks it: "
                    f"{_join(named, 'and')}",
                    WHY["broken-promise"],
                    tuple(dict.fromkeys(m for f in culprits for m in f.maps)),
                    (promise,),
                )
            )
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
    return sorted(
        findings,
        key=lambda f: (
            SEVERITIES.index(f.severity),
            f.code,
            entity_rank.get(f.entity, -1),
            [system_rank.get(s, len(system_rank)) for s in f.systems],
            f.maps,
        ),
    )
