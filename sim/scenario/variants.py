"""A scenario under another catalogue design: its own design overrides applied where they
fit (``p2c run --design``, ``p2c compare``, sweeps over designs, the licensing report's
options), and the catalogue's design names.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import ValidationError

from models.design import DesignSpec
from sim import catalogue
from sim.scenario.merge import deep_merge
from sim.scenario.spec import DESIGN_REPLACED_WHOLE, Scenario, load_design
from sim.scenario.yamlio import InputError, LineMap


def catalogue_names() -> list[str]:
    """Every design in the shipped catalogue (templates starting with ``_`` excluded)."""
    return catalogue.design_names()


@dataclass
class DesignVariant:
    """One column of a comparison: a design and the overrides that did not fit it."""

    design: DesignSpec
    dropped: list[str] = field(default_factory=list)


def design_variant(scenario: Scenario, name: str) -> DesignVariant:
    """``name`` with the scenario's own overrides applied where they fit."""
    near = scenario.path.parent if scenario.path else None
    base, raw = load_design(name, LineMap(f"design {name}"), near)
    ref = scenario.spec.design
    if not isinstance(ref, dict) or "extends" not in ref:
        return DesignVariant(base)
    overrides = {k: v for k, v in ref.items() if k not in ("extends", "name")}
    dropped = []
    if isinstance(overrides.get("maps"), dict):
        kept = {}
        for map_name, spec in overrides["maps"].items():
            if map_name in raw.get("maps", {}):
                kept[map_name] = spec
            else:
                dropped.append(f"maps.{map_name}")
        overrides["maps"] = kept
    try:
        design = DesignSpec.model_validate(deep_merge(raw, overrides, whole=DESIGN_REPLACED_WHOLE))
    except ValidationError as exc:
        raise InputError(
            f"the scenario's design overrides do not fit design {name!r}: {exc.errors()[0]['msg']}"
        ) from None
    return DesignVariant(design, dropped)
