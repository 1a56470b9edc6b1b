"""Loading a design to lint (a design file or a scenario's design) and its replica graph:
one node per (system, entity) copy, one edge per map.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import networkx as nx

from models.design import DesignSpec
from models.entities import Catalogue
from sim.scenario.spec import load_design, scenario_from_data
from sim.scenario.yamlio import LineMap, load_yaml

#: One entity's copy in one system: ``(system, entity)``.
Replica = tuple[str, str]


def _looks_like_design(data: dict[str, Any]) -> bool:
    """A design file has systems/editable/maps at the top; a scenario names a design."""
    return "design" not in data and any(
        key in data for key in ("systems", "maps", "editable", "extends")
    )


def lint_target(path: Path | str) -> tuple[DesignSpec, Catalogue]:
    """Load what ``p2c lint`` was pointed at: a design file or a scenario file.

    A design file (``scenarios/designs/*.yaml``: ``systems``, ``editable``, ``maps``,
    possibly ``extends``) is validated like a scenario's design and checked against the
    standard entity catalogue; a scenario file is loaded whole, so its custom entities
    and design overrides count. Any problem raises :class:`InputError` naming
    ``file:line: field.path``.
    """
    path = Path(path)
    data, linemap = load_yaml(path)
    if not isinstance(data, dict):
        raise linemap.error(
            (),
            "expected a design (systems, editable, maps) or a scenario "
            "(a mapping with a 'design' key)",
        )
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
    for name, spec in maps.items() if isinstance(maps, dict) else ():
        for end in ("source", "target"):
            value = spec.get(end) if isinstance(spec, dict) else None
            if isinstance(value, str) and value not in systems:
                raise linemap.error(
                    ("maps", name, end), f"unknown system {value!r} (the design has {declared})"
                )
    editable = data.get("editable")
    for entity, where in editable.items() if isinstance(editable, dict) else ():
        for system in where if isinstance(where, dict) else ():
            if system not in systems:
                raise linemap.error(
                    ("editable", entity, system),
                    f"unknown system {system!r} (the design has {declared})",
                )


def _check_entities(design: DesignSpec, catalogue: Catalogue, linemap: LineMap) -> None:
    """The design's entity and field names exist in the catalogue (scenarios do this too)."""
    known = ", ".join(catalogue.names())
    for name, spec in design.maps.items():
        where = ("maps", name)
        if spec.entity not in catalogue:
            raise linemap.error(
                where + ("entity",), f"unknown entity {spec.entity!r} (known: {known})"
            )
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
                    raise linemap.error(
                        ("editable", entity, system, field), f"{entity} has no field {field!r}"
                    )


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
    graph = nx.DiGraph(design=design.name, systems=tuple(design.systems), entities=tuple(entities))
    for node in sorted(replicas, key=lambda n: (entity_rank[n[1]], system_rank[n[0]])):
        condition = replicas[node]
        graph.add_node(
            node,
            system=node[0],
            entity=node[1],
            editable=condition is not None,
            condition=condition,
        )
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
            source,
            target,
            map=name,
            maps=(name,),
            transport=spec.transport,
            transports=(spec.transport,),
            echo_suppression=spec.echo_suppression,
            offset_s=batch.offset_s if batch else None,
            interval_s=batch.interval_s if batch else None,
            latency_median_s=spec.latency.median_s if spec.latency else None,
            when=spec.when,
        )
    return graph


def replicas_of(graph: nx.DiGraph, entity: str) -> list[Replica]:
    return [node for node in graph.nodes if node[1] == entity]


def sorted_systems(graph: nx.DiGraph, nodes: Iterable[Replica]) -> list[str]:
    rank = {s: i for i, s in enumerate(graph.graph["systems"])}
    return sorted({node[0] for node in nodes}, key=lambda s: rank.get(s, len(rank)))
