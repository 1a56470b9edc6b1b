"""A scenario with a configuration applied: dotted-path overrides, validated as ``p2c run``
would, and the configuration's identity (its hash).

Used by sweeps, the regression suite and the executors' workers alike.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.scenario.spec import Scenario, scenario_from_data
from sim.scenario.variants import design_variant
from sim.scenario.yamlio import InputError, LineMap


def set_path(data: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``value`` at ``dotted`` (``roles.sales_rep.headcount``) inside ``data``.

    Missing mappings on the way are created; a number indexes a list
    (``scripted.0.at``). A design given by name (``design: p2c-2017``) is turned into
    ``{extends: p2c-2017}`` first, so ``design.batch.interval_s`` overrides it.
    """
    parts = dotted.split(".")
    if not all(parts):
        raise ValueError(f"{dotted!r} is not a dotted path (empty part)")
    if parts[0] == "design" and len(parts) > 1 and isinstance(data.get("design"), str):
        data["design"] = {"extends": data["design"]}
    node: Any = data
    for depth, part in enumerate(parts[:-1]):
        where = ".".join(parts[: depth + 1])
        if isinstance(node, list):
            node = node[_index(part, node, where)]
        elif isinstance(node, dict):
            if node.get(part) is None:
                node[part] = {}
            node = node[part]
        else:
            raise ValueError(
                f"{'.'.join(parts[:depth]) or 'the scenario'} is "
                f"{type(node).__name__}, not a mapping, so {where} cannot be set"
            )
        if not isinstance(node, dict | list):
            raise ValueError(f"{where} is {node!r}, not a mapping, so {dotted} cannot be set")
    last = parts[-1]
    if isinstance(node, list):
        node[_index(last, node, dotted)] = value
    else:
        node[last] = value


def _index(part: str, items: list[Any], where: str) -> int:
    if not part.isdigit() or int(part) >= len(items):
        raise ValueError(f"{where}: {part!r} is not an index of a list of {len(items)}")
    return int(part)


def apply_overrides(raw: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of ``raw`` with every dotted-path override set (in the given order)."""
    data = copy.deepcopy(raw)
    data.pop("expect", None)  # a regression suite file can be swept like a scenario
    for dotted, value in overrides.items():
        set_path(data, dotted, copy.deepcopy(value))
    return data


@dataclass
class Configured:
    """A scenario with a configuration applied, and that configuration's identity.

    ``config_hash`` is the SHA-256 of the resolved scenario (organisation, workload and
    the design written out in full): two configurations that resolve to the same
    scenario are the same configuration, and editing a design file changes the hash, so
    a resumed sweep never mixes results from before and after the edit.
    """

    scenario: Scenario
    config_hash: str
    dropped: list[str] = field(default_factory=list)


def configure(
    raw: dict[str, Any],
    overrides: dict[str, Any],
    design: str | None = None,
    *,
    near: Path | None = None,
    source: Path | None = None,
    linemap: LineMap | None = None,
) -> Configured:
    """Build and validate the scenario for one configuration (raises :class:`InputError`).

    ``design`` names a catalogue design to run under instead of the scenario's own; the
    scenario's design overrides are applied to it where they fit (as ``p2c compare``
    does), and the ones that do not fit are listed in ``dropped``.
    """
    try:
        data = apply_overrides(raw, overrides)
    except ValueError as exc:
        raise InputError(f"{source or 'scenario'}: {exc}") from None
    linemap = linemap or LineMap(str(source) if source else "scenario")
    scenario = scenario_from_data(data, linemap, near, source)
    dropped: list[str] = []
    if design is not None:
        variant = design_variant(scenario, design)
        scenario = scenario.with_design(variant.design)
        dropped = list(variant.dropped)
    return Configured(scenario, scenario.sha256(), dropped)
