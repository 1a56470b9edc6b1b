"""Options: a scenario's ``options:`` validated with file:line errors and built into
scenarios (one per option, role changes merged, the design applied)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError

from models.strict import Strict
from sim.scenario.merge import deep_merge
from sim.scenario.yamlio import (
    InputError,
    LineMap,
    PathKey,
    format_path,
    load_yaml,
    validation_error,
)


class ExtraCost(Strict):
    """A monthly cost that is not a licence (running a custom integration, say)."""

    name: str = Field(min_length=1, max_length=120)
    usd_month: float = Field(ge=0, allow_inf_nan=False)
    note: str = ""


class BuildCost(Strict):
    """What building and running an option's integration costs, besides licences.

    ``one_off_usd`` (design, build, test, go-live) is spread evenly over
    ``amortise_years``; ``run_usd_year`` (hosting, monitoring, support) is paid every
    year. Their monthly share is part of the option's monthly cost. ``basis`` says where
    the figures come from: a quote, a source, or an estimate and how it was made.
    """

    one_off_usd: float = Field(ge=0, allow_inf_nan=False)
    run_usd_year: float = Field(ge=0, allow_inf_nan=False)
    amortise_years: float = Field(3.0, gt=0, le=20, allow_inf_nan=False)
    basis: str = Field(min_length=1)

    @property
    def usd_month(self) -> float:
        """The monthly share: one-off cost over the amortisation period, plus running."""
        return self.one_off_usd / (12.0 * self.amortise_years) + self.run_usd_year / 12.0


class OptionSpec(Strict):
    """One entry of a scenario's ``options:`` list.

    ``design`` names a design (``scenarios/designs/<name>.yaml``, or a ``designs/``
    folder beside the scenario); omitted, the scenario's own design is used. ``roles``
    maps an existing role to the keys it changes (any key a role has); mappings are
    merged into the role, lists and values replace it. ``build`` is the one-off and
    yearly cost of building and running the integration (:class:`BuildCost`);
    ``extra_costs`` are other monthly costs. Both are added to the option's monthly cost
    and listed separately.
    """

    name: str = Field(min_length=1, max_length=80)
    description: str = ""
    design: str | None = Field(None, min_length=1)
    roles: dict[str, dict[str, Any]] = Field(default_factory=dict)
    build: BuildCost | None = None
    extra_costs: list[ExtraCost] = Field(default_factory=list)


@dataclass(frozen=True)
class Option:
    """An option ready to run: its scenario has the role changes and the design applied."""

    index: int
    name: str
    description: str
    design: str
    scenario: Any  # sim.scenario.spec.Scenario
    roles: dict[str, dict[str, Any]] = field(default_factory=dict)
    extra_costs: tuple[ExtraCost, ...] = ()
    build: BuildCost | None = None
    notes: tuple[str, ...] = ()


def _option_linemap(linemap: LineMap, index: int, overrides: Mapping[str, Any]) -> LineMap:
    """Lines for the merged scenario: a role key an option changed points at the option.

    Errors that scenario validation finds in a merged role (a licence not in the price
    book, an action in the wrong system) then name the line in the option that caused it.
    """
    merged = LineMap(linemap.file)
    merged.lines = {
        path: line for path, line in linemap.lines.items() if not (path and path[0] == "options")
    }
    prefix: PathKey = ("options", index, "roles")

    def replace(path: tuple[str | int, ...], value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                replace(path + (key,), inner)
            return
        target = ("roles",) + path
        for old in [p for p in merged.lines if p[: len(target)] == target and p != target]:
            del merged.lines[old]

    for role, change in overrides.items():
        replace((role,), change)
    for path, line in linemap.lines.items():
        if path[:3] == prefix and len(path) > 3:
            merged.lines[("roles",) + path[3:]] = line
    return merged


def _known_designs(near: Path | None) -> set[str]:
    """Design names an option may use: the catalogue, and ``designs/`` folders beside
    the scenario (where ``sim.scenario.spec`` looks for them too)."""
    # Imported when used: p2c builds its parser from this package (p2c --help stays fast).
    from sim.scenario.variants import catalogue_names

    names = set(catalogue_names())
    for folder in [near / "designs", near.parent / "designs"] if near is not None else []:
        names |= {p.stem for p in folder.glob("*.yaml") if not p.stem.startswith("_")}
    return names


def load_options(scenario: Any, linemap: LineMap | None = None) -> list[Option]:
    """The scenario's options, validated and built (raises :class:`InputError`).

    ``linemap`` gives file lines for messages; by default the scenario file is read again
    for them. A scenario without options gives one option: the scenario as written.
    """
    if linemap is None:
        linemap = (
            load_yaml(scenario.path)[1]
            if scenario.path is not None
            else LineMap(f"scenario {scenario.name}")
        )
    raw_options = scenario.raw.get("options") or []
    if not raw_options:
        return [
            Option(
                0,
                scenario.design.name,
                scenario.spec.description or "",
                scenario.design.name,
                scenario,
                notes=("the scenario lists no options: it is reported as written",),
            )
        ]
    near = scenario.path.parent if scenario.path is not None else None
    seen: dict[str, int] = {}
    options = []
    for index, raw in enumerate(raw_options):
        spec = _option_spec(scenario, raw, index, seen, linemap)
        seen[spec.name] = index
        options.append(_build_option(scenario, spec, index, linemap, near))
    return options


def _option_spec(
    scenario: Any, raw: Any, index: int, seen: dict[str, int], linemap: LineMap
) -> OptionSpec:
    """``options[index]`` validated: its keys, a new name, roles the scenario has."""
    # Imported when used: p2c builds its parser from this package (p2c --help stays fast).
    from sim.scenario.spec import Role

    role_keys = set(Role.model_fields)
    where: PathKey = ("options", index)
    if not isinstance(raw, dict):
        raise linemap.error(where, "an option is a mapping: {name: ..., design: ..., roles: {...}}")
    try:
        spec = OptionSpec.model_validate(raw)
    except ValidationError as exc:
        raise validation_error(exc, linemap, where) from None
    if spec.name in seen:
        raise linemap.error(
            where + ("name",),
            f"duplicate option name {spec.name!r} (also options[{seen[spec.name]}])",
        )
    for role, change in spec.roles.items():
        if role not in scenario.spec.roles:
            raise linemap.error(
                where + ("roles", role),
                f"no role {role!r} in the scenario (roles: {', '.join(scenario.spec.roles)})",
            )
        unknown = sorted(key for key in change if key not in role_keys)
        if unknown:
            raise linemap.error(
                where + ("roles", role, unknown[0]),
                f"unknown role key (keys: {', '.join(sorted(role_keys))})",
            )
    return spec


def _build_option(
    scenario: Any, spec: OptionSpec, index: int, linemap: LineMap, near: Path | None
) -> Option:
    """The scenario with the option's role changes merged and its design applied."""
    # Imported when used: p2c builds its parser from this package (p2c --help stays fast).
    from sim.scenario.spec import scenario_from_data
    from sim.scenario.variants import design_variant

    where: PathKey = ("options", index)
    data = {key: copy.deepcopy(value) for key, value in scenario.raw.items() if key != "options"}
    roles = dict(data.get("roles") or {})
    for role, change in spec.roles.items():
        roles[role] = deep_merge(roles[role], change)
    data["roles"] = roles
    lines = _option_linemap(linemap, index, spec.roles)
    try:
        built = scenario_from_data(data, lines, near, scenario.path)
    except InputError as exc:
        raise InputError(
            f"{exc.message}\n  (in option {spec.name!r}, {format_path(where)})"
        ) from None
    notes: list[str] = []
    design_name = spec.design or scenario.design.name
    if spec.design is not None:
        known = _known_designs(near)
        if spec.design not in known:
            raise linemap.error(
                where + ("design",),
                f"unknown design {spec.design!r} (known: {', '.join(sorted(known))})",
            )
        try:
            variant = design_variant(built, spec.design)
        except InputError as exc:
            raise linemap.error(where + ("design",), exc.message) from None
        built = built.with_design(variant.design)
        notes += [
            f"scenario design override not applicable to {spec.design}: {item}"
            for item in variant.dropped
        ]
    return Option(
        index,
        spec.name,
        spec.description,
        design_name,
        built,
        {role: dict(change) for role, change in spec.roles.items()},
        tuple(spec.extra_costs),
        spec.build,
        tuple(notes),
    )
