"""An integration design as data: which systems hold copies, who may edit, which maps move what.

A design file (``scenarios/designs/<name>.yaml``) is validated into :class:`DesignSpec`.
The same structure describes every design in the catalogue; a scenario names one and
may override parts of it (``design: {extends: p2c-2017, maps: {...}}``).

Semantics of the parts used by scheduled batch designs (``p2c-2017``):

- ``editable``: for each entity, the systems where a user's save is accepted, each with
  an optional condition on the row's current values (``order: {sales: {status:
  [Draft]}}``: a Sales user may edit an order only while it is Draft). A save anywhere
  else is refused and the user is told (a ``reject`` event).
- ``maps``: one scheduled Data Integrator project each: copy the rows of ``entity`` that
  changed in ``source`` since the previous run (change tracking) or all rows (full
  export) and upsert them, every mapped field, into ``target`` matched on the business
  key. Runs fire every ``interval_s`` (at least 60 s) and never overlap: a tick that
  finds the previous run of the same map still going is skipped. A run moves at most
  ``max_rows_per_run`` rows (500,000 in the product); the rest wait for the next run.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: Invariant names a design may promise or sanction (the checker's catalogue).
INVARIANTS = (
    "convergence",
    "no_lost_update",
    "ownership",
    "referential_integrity",
    "no_duplicate_keys",
    "monotone_lifecycle",
    "invoice_totals",
    "bounded_echo",
    "accounted_for",
    "staleness",
)

# The product's documented limits (FACTS.md section 1).
DATA_INTEGRATOR_MIN_INTERVAL_S = 60.0
DATA_INTEGRATOR_MAX_ROWS = 500_000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BatchSettings(_Strict):
    """Schedule and speed of a scheduled map. Speeds are not documented: parameters."""

    interval_s: float = Field(900.0, ge=DATA_INTEGRATOR_MIN_INTERVAL_S,
                              description="time between scheduled ticks (>= 60 s)")
    offset_s: float = Field(0.0, ge=0, description="first tick after the run starts")
    max_rows_per_run: int = Field(DATA_INTEGRATOR_MAX_ROWS, ge=1, le=DATA_INTEGRATOR_MAX_ROWS)
    run_overhead_s: float = Field(30.0, ge=0, description="fixed cost of a run (inferred)")
    row_time_s: float = Field(0.05, ge=0, description="time per row moved (inferred)")
    change_tracking: bool = Field(
        True, description="only rows changed since the last run; false = full export"
    )


class MapSpec(_Strict):
    """One scheduled map (a Data Integrator project task) from one system to another."""

    entity: str
    source: str
    target: str
    transport: Literal["batch"] = "batch"
    when: dict[str, list[Any]] | None = Field(
        None, description="only rows whose field values are in these lists"
    )
    fields: list[str] | None = Field(None, description="mapped fields; default all")
    interval_s: float | None = Field(None, ge=DATA_INTEGRATOR_MIN_INTERVAL_S)
    offset_s: float | None = Field(None, ge=0)
    max_rows_per_run: int | None = Field(None, ge=1, le=DATA_INTEGRATOR_MAX_ROWS)
    run_overhead_s: float | None = Field(None, ge=0)
    row_time_s: float | None = Field(None, ge=0)
    change_tracking: bool | None = None

    def settings(self, defaults: BatchSettings) -> BatchSettings:
        """This map's effective settings: its own values over the design's defaults."""
        own = {k: v for k, v in self.model_dump().items()
               if k in BatchSettings.model_fields and v is not None}
        return defaults.model_copy(update=own)

    @model_validator(mode="after")
    def _distinct_ends(self) -> MapSpec:
        if self.source == self.target:
            raise ValueError("source and target must differ")
        return self


class DesignSpec(_Strict):
    """A whole integration design. See the module docstring for the semantics."""

    name: str
    description: str = ""
    facts: list[str] = Field(default_factory=list, description="FACTS.md items it rests on")
    systems: list[str]
    editable: dict[str, dict[str, dict[str, list[Any]] | None]]
    batch: BatchSettings = Field(default_factory=BatchSettings)
    maps: dict[str, MapSpec]
    promises: list[Literal[INVARIANTS]] = Field(default_factory=list)  # type: ignore[valid-type]
    sanctioned: list[Literal[INVARIANTS]] = Field(default_factory=list)  # type: ignore[valid-type]
    echo_bound: int = Field(1, ge=1)
    local_version_check: list[str] = Field(
        default_factory=lambda: ["operations"],
        description="systems whose forms fail a save when the row changed since it was "
        "opened (Operations checks RecVersion; Dataverse forms just overwrite)",
    )

    @model_validator(mode="after")
    def _systems_known(self) -> DesignSpec:
        systems = set(self.systems)
        for name, spec in self.maps.items():
            for end in (spec.source, spec.target):
                if end not in systems:
                    raise ValueError(f"map {name!r} names unknown system {end!r}")
        for entity, where in self.editable.items():
            for system in where:
                if system not in systems:
                    raise ValueError(f"editable.{entity} names unknown system {system!r}")
        return self

    # ----------------------------------------------------------------- queries

    def edit_refusal(
        self, entity: str, system: str, row_values: dict[str, Any] | None
    ) -> str | None:
        """Why a user save of ``entity`` in ``system`` is refused, or None when allowed."""
        where = self.editable.get(entity)
        if where is None or system not in where:
            return f"{entity} is read-only in {system} under {self.name}"
        condition = where[system]
        if condition and row_values is not None:
            for field, allowed in condition.items():
                current = row_values.get(field)
                if current not in allowed:
                    return (f"{entity} is read-only in {system} while {field} is "
                            f"{current} (editable only when {field} in {allowed})")
        return None

    def copies(self) -> dict[str, list[str]]:
        """Per entity, every system that holds a copy through the maps (in system order)."""
        holders: dict[str, set[str]] = {}
        for spec in self.maps.values():
            holders.setdefault(spec.entity, set()).update((spec.source, spec.target))
        order = {s: i for i, s in enumerate(self.systems)}
        return {e: sorted(s, key=order.__getitem__) for e, s in holders.items()}
