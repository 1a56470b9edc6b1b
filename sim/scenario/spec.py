"""Scenario files: an organisation, a design, a workload, validated when loaded.

A scenario is plain YAML (one record per thing, STYLE.md 5). Everything is checked
before anything runs: unknown keys, wrong types, impossible values (negative rates, a
batch interval under 60 s), and references to things that do not exist (an undefined
role, entity, system or action). Each problem is reported as ``file:line: field.path:
message``; the CLI turns that into exit code 2 with nothing written.

The design is named (``design: p2c-2017``) or extended and partly overridden::

    design:
      extends: p2c-2017
      batch: {interval_s: 300}
      maps:
        accounts_hub_to_operations: {interval_s: 120}

Designs are looked up in ``designs/`` beside the scenario (or beside its folder), then
in the catalogue shipped with the package (:mod:`sim.catalogue`, edited as
``scenarios/designs/``). Every relative path in a scenario (a price-book file, a design
file) is taken relative to the scenario file, never to the working directory.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import json
import re
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from models.actions import resolve_action
from models.clock import parse_when
from models.design import DesignSpec
from models.entities import STANDARD_ENTITIES, Catalogue, custom_entity
from models.generators import ValueGen
from models.licensing import PriceBookError
from models.strict import Strict
from sim import catalogue
from sim.scenario.merge import deep_merge
from sim.scenario.pricebooks import load_price_book
from sim.scenario.rhythm import check_timezone, hours_range, profile_weights
from sim.scenario.yamlio import InputError, LineMap, PathKey, load_yaml, validation_error

WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
Weekday = Literal["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
#: A role's workdays unless it says otherwise.
WORKWEEK: tuple[Weekday, ...] = ("Mon", "Tue", "Wed", "Thu", "Fri")


class FormOpen(Strict):
    """How long a form stays open between reading and saving: log-normal."""

    median_s: float = Field(90.0, gt=0, le=86_400)
    sigma: float = Field(0.8, ge=0, le=3, description="log-normal shape; 0 = always median")


class PeakWindow(Strict):
    """An hour-of-day profile as a busy window: ``factor`` times busier inside it."""

    peak: str = Field(description="local hours, '10:00-12:00'")
    factor: float = Field(2.0, gt=0, le=100)

    @field_validator("peak")
    @classmethod
    def _peak(cls, value: str) -> str:
        hours_range(value)
        return value

    @property
    def window_s(self) -> tuple[float, float]:
        return hours_range(self.peak)


class MonthEnd(Strict):
    """The last ``last_days`` local days of each month are ``factor`` times busier."""

    last_days: int = Field(3, ge=1, le=28)
    factor: float = Field(2.0, gt=0, le=100)


class Role(Strict):
    """A group of alike users: how many, where they work, when, and how often they act.

    Rhythms (:mod:`sim.engine.rhythm`, the data in :mod:`sim.scenario.rhythm`): ``timezone``
    (IANA name; working hours and workdays are local, the run clock is UTC),
    ``hourly_profile`` (24 weights for local hours 0-23, or a peak window; normalised so the
    mean working hour has weight 1) and ``month_end`` (a multiplier on the last days of each
    month).
    """

    headcount: int = Field(ge=0, le=1_000_000)
    home_system: str
    other_systems: list[str] = Field(default_factory=list)
    working_hours: str = "08:00-17:00"
    workdays: list[Weekday] = Field(default_factory=lambda: list(WORKWEEK))
    actions: dict[str, Annotated[float, Field(ge=0, le=3600)]] = Field(
        default_factory=dict, description="action -> rate per user per working hour"
    )
    form_open: FormOpen = Field(default_factory=FormOpen)
    licences: list[str] | None = Field(
        None, description="SKU ids every user of the role holds; unset: not checked"
    )
    timezone: str | None = Field(None, description="IANA time zone of the role's hours")
    hourly_profile: (
        Annotated[list[Annotated[float, Field(ge=0, le=1000)]], Field(min_length=24, max_length=24)]
        | PeakWindow
        | None
    ) = Field(None, description="24 weights for local hours 0-23, or {peak: 'HH:MM-HH:MM', factor}")
    month_end: MonthEnd | None = None
    description: str = ""

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            check_timezone(value)
        return value

    @property
    def has_rhythm(self) -> bool:
        """True when the role's hours follow more than a flat UTC working day."""
        return (
            self.timezone is not None
            or self.hourly_profile is not None
            or self.month_end is not None
        )

    @field_validator("working_hours")
    @classmethod
    def _hours(cls, value: str) -> str:
        hours_range(value)
        return value

    @property
    def systems(self) -> list[str]:
        return [self.home_system, *self.other_systems]


class ScriptedAction(Strict):
    """One save at an exact time, for replaying an incident."""

    at: str | float
    role: str
    actor: str | None = None
    system: str
    entity: str
    key: str
    fields: dict[str, Any]
    opened_at: str | float | None = Field(
        None, description="when the form was opened (its base); default: at"
    )
    create: bool = Field(
        False,
        description="the save creates the record; without it, a "
        "save to a record that does not exist is an error",
    )

    @field_validator("at", "opened_at")
    @classmethod
    def _when(cls, value: str | float | None) -> str | float | None:
        if value is not None:
            parse_when(value)
        return value

    @field_validator("fields")
    @classmethod
    def _some_fields(cls, value: dict[str, Any]) -> dict[str, Any]:
        if not value:
            raise ValueError("a scripted save must set at least one field")
        return value

    @property
    def at_s(self) -> float:
        return parse_when(self.at)

    @property
    def opened_s(self) -> float:
        return parse_when(self.opened_at) if self.opened_at is not None else self.at_s


class InitialData(BaseModel):
    """Master data present before the run starts, loaded into every replica at t=0.

    Custom entities are counted by name (``delivery_slot: 200``): made after the standard
    ones, in the catalogue's reference order, in the system that masters them.
    """

    model_config = ConfigDict(extra="allow", frozen=True)
    __pydantic_extra__: dict[str, Annotated[int, Field(ge=0, le=10_000_000)]]

    @property
    def custom(self) -> dict[str, int]:
        """Counts of custom entities, as given."""
        return dict(self.model_extra or {})

    accounts: int = Field(200, ge=0, le=10_000_000)
    contacts_per_account: float = Field(2.0, ge=0, le=100)
    products: int = Field(100, ge=0, le=10_000_000)
    bundles: int = Field(10, ge=0, le=1_000_000)
    bundle_lines_per_bundle: int = Field(3, ge=0, le=100)


class Objectives(Strict):
    """Service objectives the checker judges (staleness per flow, p99 seconds)."""

    staleness_p99_s: dict[str, Annotated[float, Field(gt=0)]] = Field(default_factory=dict)


class LicenceHandoff(Strict):
    """A save the user's licences do not allow goes to a licensed colleague, or not."""

    median_delay_s: float = Field(3600.0, ge=0)
    sigma: float = Field(0.8, ge=0, le=3)
    give_up_probability: float = Field(0.2, ge=0, le=1)


class Licensing(Strict):
    """Which price book prices the licences, negotiated prices, and licence handoffs."""

    price_book: str = Field("current", description="2017, 2019, current, or a file path")
    overrides: dict[str, Annotated[float, Field(ge=0)]] = Field(
        default_factory=dict, description="SKU id (or 'id.attach') -> negotiated price"
    )
    billed_monthly: bool = False
    handoff: LicenceHandoff = Field(default_factory=LicenceHandoff)


FAULT_KINDS = (
    "outage",
    "crash",
    "partition",
    "latency_spike",
    "duplicate",
    "reorder",
    "loss",
    "pause",
    "clock_skew",
    "client_pause",
)


class Fault(Strict):
    """One fault at a fixed time (``faults:``). What each kind does:

    - ``outage`` / ``crash``: ``system`` is down for ``duration_s``: saves there fail,
      runs and deliveries to or from it fail and are retried, live writes roll back
      (a crash also fails the batch runs it interrupts);
    - ``partition``: the two systems ``between`` cannot reach each other;
    - ``latency_spike``: queue and live latency of ``maps`` (default all) times ``factor``;
    - ``duplicate``: each delivery on ``maps`` is made twice with ``probability``;
    - ``reorder``: each delivery is delayed by up to ``max_extra_s`` more (reordering);
    - ``loss``: a delivery is lost with ``probability`` and redelivered after
      ``redelivery_s`` (at-least-once);
    - ``pause``: dual-write maintenance: ``maps`` stop delivering; changes queue up to
      the design's pause limits (1 day, 1 GB), later ones are blocked; on resume the queue
      catches up;
    - ``clock_skew``: ``system``'s clock is off by ``skew_s`` for the whole run;
    - ``client_pause``: ``actor``'s client stalls for ``duration_s`` (a frozen laptop, a
      long GC pause): a save that user would make meanwhile happens when it resumes,
      still under the lease it took before (which may have expired by then).
    """

    kind: Literal[FAULT_KINDS]  # type: ignore[valid-type]
    at: str | float = 0.0
    duration_s: float = Field(3600.0, gt=0)
    system: str | None = None
    between: list[str] | None = Field(None, min_length=2, max_length=2)
    maps: list[str] | None = None
    factor: float = Field(10.0, ge=1)
    probability: float = Field(0.1, ge=0, le=1)
    max_extra_s: float = Field(30.0, ge=0)
    redelivery_s: float = Field(60.0, gt=0)
    skew_s: float = 0.0
    actor: str | None = Field(None, description="client_pause: the user whose client stalls")

    @field_validator("at")
    @classmethod
    def _when(cls, value: str | float) -> str | float:
        parse_when(value)
        return value

    @property
    def at_s(self) -> float:
        return parse_when(self.at)


class Swarm(Strict):
    """Faults drawn from the seed: which, when, how long and how strong."""

    faults_per_day: float = Field(2.0, gt=0, le=1000)
    kinds: list[Literal[FAULT_KINDS]] = Field(  # type: ignore[valid-type]
        default_factory=lambda: [
            "outage",
            "partition",
            "latency_spike",
            "duplicate",
            "reorder",
            "loss",
        ]
    )
    max_duration_s: float = Field(3600.0, gt=0)


class IntRange(Strict):
    min: int = 0
    max: int = 100

    @model_validator(mode="after")
    def _ordered(self) -> IntRange:
        if self.min > self.max:
            raise ValueError("min must not exceed max")
        return self


class FloatRange(Strict):
    min: float = 0.0
    max: float = 1000.0

    @model_validator(mode="after")
    def _ordered(self) -> FloatRange:
        if self.min > self.max:
            raise ValueError("min must not exceed max")
        return self


class FieldGenerator(Strict):
    """A custom entity's field with its value generator: exactly one of ``int: {min,
    max}``, ``float: {min, max}``, ``choice: [...]``, ``text: true`` or ``reference:
    entity`` (models.generators says how each draws)."""

    int_: IntRange | None = Field(None, alias="int")
    float_: FloatRange | None = Field(None, alias="float")
    choice: list[str | int | float] | None = Field(None, min_length=1)
    text: bool | None = None
    reference: str | None = None
    status: list[str] | None = Field(
        None, min_length=1, description="a status field with these values"
    )

    model_config = ConfigDict(populate_by_name=True)

    @model_validator(mode="after")
    def _one(self) -> FieldGenerator:
        given = [
            k
            for k in ("int_", "float_", "choice", "text", "reference", "status")
            if getattr(self, k) is not None
        ]
        if len(given) != 1:
            raise ValueError("give exactly one of int, float, choice, text, reference, status")
        return self

    @property
    def type(self) -> str:
        if self.int_ is not None:
            return "int"
        if self.float_ is not None:
            return "float"
        if self.status is not None:
            return "status"
        return "str"

    def generator(self) -> ValueGen:
        if self.int_ is not None:
            return ValueGen("int", self.int_.min, self.int_.max)
        if self.float_ is not None:
            return ValueGen("float", self.float_.min, self.float_.max)
        if self.choice is not None:
            return ValueGen("choice", options=tuple(self.choice))
        if self.status is not None:
            return ValueGen("choice", options=tuple(self.status))
        if self.reference is not None:
            return ValueGen("reference", entity=self.reference)
        return ValueGen("text")


FieldType = Literal["str", "text", "int", "float", "status"]


class CustomEntity(Strict):
    """An entity the templates do not have (real templates always need extending).

    Each field is a type (``str``, ``text``, ``int``, ``float``, ``status``) or a
    generator (:class:`FieldGenerator`); ``reference: entity`` makes it a reference.
    """

    key_prefix: str = Field(min_length=1, max_length=8)
    fields: dict[str, FieldType | FieldGenerator] = Field(min_length=1)
    references: dict[str, str] = Field(
        default_factory=dict, description="field -> entity (or write {reference: entity})"
    )
    description: str = ""

    def field_types(self) -> dict[str, str]:
        return {
            name: ("str" if spec == "text" else spec) if isinstance(spec, str) else spec.type
            for name, spec in self.fields.items()
        }

    def all_references(self) -> dict[str, str]:
        refs = dict(self.references)
        for name, spec in self.fields.items():
            if isinstance(spec, FieldGenerator) and spec.reference is not None:
                refs[name] = spec.reference
        return refs

    def generators(self) -> dict[str, ValueGen]:
        return {
            name: spec.generator()
            for name, spec in self.fields.items()
            if isinstance(spec, FieldGenerator) and spec.reference is None
        }


class ScenarioSpec(Strict):
    """The whole scenario file."""

    name: str = Field(min_length=1)
    description: str = ""
    seed: int = Field(1, ge=0, lt=2**63)
    design: str | dict[str, Any]
    start_date: date = Field(
        date(2024, 1, 1),
        description="the run's day 1 (a Monday; month ends and time zone offsets follow from it)",
    )
    duration_days: float = Field(5.0, gt=0, le=366)
    quiescence_max_s: float = Field(86_400.0, ge=0, description="bound on the drain phase")
    initial_data: InitialData = Field(default_factory=InitialData)
    initial_sync: Literal["instant", "timed"] = Field(
        "instant",
        description="instant: the initial data crosses every map in zero-time "
        "runs at t=0 (the default); timed: the migration saves at t=0 and the maps carry "
        "it like any other change (scheduled runs taking their row time, queued messages "
        "their latency), so a migration or first sync can be studied",
    )
    entities: dict[str, CustomEntity] = Field(default_factory=dict)
    roles: dict[str, Role] = Field(default_factory=dict)
    scripted: list[ScriptedAction] = Field(default_factory=list)
    objectives: Objectives = Field(default_factory=Objectives)
    licensing: Licensing = Field(default_factory=Licensing)
    faults: list[Fault] = Field(default_factory=list)
    swarm: Swarm | None = None
    options: list[dict[str, Any]] = Field(
        default_factory=list,
        description="alternatives a report compares (validated by sim.reporting.licensing)",
    )
    expect: dict[str, Any] | None = Field(
        None, description="regression expectations (validated by sim/study/regression.py)"
    )


class Scenario:
    """A loaded, validated scenario with its design resolved and entities catalogued."""

    def __init__(
        self,
        spec: ScenarioSpec,
        design: DesignSpec,
        catalogue: Catalogue,
        path: Path | None,
        raw: dict[str, Any],
        design_raw: dict[str, Any],
        price_book: Any = None,
    ) -> None:
        self.spec = spec
        self.design = design
        self.catalogue = catalogue
        self.path = path
        self.raw = raw
        self.design_raw = design_raw
        self.price_book = price_book  # models.licensing.PriceBook, loaded at validation

    @property
    def name(self) -> str:
        return self.spec.name

    def resolved(self) -> dict[str, Any]:
        """The scenario with its design written out in full (saved in the run folder)."""
        data = dict(self.raw)
        data["design"] = self.design.model_dump(mode="json")
        return data

    def sha256(self) -> str:
        text = json.dumps(self.resolved(), sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def with_design(self, design: DesignSpec) -> Scenario:
        """The same organisation and workload under another design (comparisons)."""
        return Scenario(
            self.spec,
            design,
            self.catalogue,
            self.path,
            self.raw,
            design.model_dump(mode="json"),
            self.price_book,
        )


# ----------------------------------------------------------------- loading


_DESIGN_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


def _find_design(name: str, near: Path | None) -> Path:
    """The file of design ``name``: beside the scenario (``designs/``), else shipped.

    A design is named by its name; a value ending in ``.yaml``/``.yml`` is an explicit
    path to a file (relative to the file that names it). Path separators and ``..`` in
    a name are refused, so ``extends: ../../somewhere/file`` cannot reach any YAML file.
    """
    if name.endswith((".yaml", ".yml")):
        file = Path(name) if Path(name).is_absolute() or near is None else near / name
        if not file.is_file():
            raise LookupError(
                f"no design file {name!r}" + (f" (relative to {near})" if near is not None else "")
            )
        return file
    if not _DESIGN_NAME.match(name) or ".." in name:
        raise LookupError(
            f"{name!r} is not a design name (names have no '/', '\\' or "
            "'..'; to use a file, give its path ending in .yaml)"
        )
    candidates = []
    if near is not None:
        candidates += [near / "designs" / f"{name}.yaml", near.parent / "designs" / f"{name}.yaml"]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    shipped = catalogue.design_file(name)
    if shipped is not None:
        return shipped
    known = catalogue.design_names()
    raise LookupError(f"unknown design {name!r} (known: {', '.join(known)})")


#: Where a design override replaces the base design's value whole instead of merging into
#: it (:func:`sim.scenario.merge.deep_merge`'s ``whole``): who may edit an entity, and a
#: map's row filter and field list, are each one decision.
DESIGN_REPLACED_WHOLE = (("editable", "*"), ("maps", "*", "when"), ("maps", "*", "fields"))


def load_design(
    ref: str | dict[str, Any],
    linemap: LineMap,
    near: Path | None,
    path: PathKey = ("design",),
    depth: int = 0,
    chain: tuple[tuple[str, Path], ...] = (),
    origin: tuple[LineMap, PathKey] | None = None,
) -> tuple[DesignSpec, dict[str, Any]]:
    """Resolve ``design: NAME`` or ``design: {extends: NAME, ...overrides}``.

    ``chain`` holds the designs being extended (name and file), ``origin`` the scenario
    line that started the chain: a cycle is reported there, as ``a -> b -> a``.
    """
    if depth > 8:
        names = " -> ".join(n for n, _ in chain)
        start = origin or (linemap, path)
        raise start[0].error(start[1], f"design 'extends' chain is longer than 8: {names}")
    if isinstance(ref, str):
        name, overrides = ref, None
    elif "extends" not in ref:
        # A design written out in full (as in a run folder's scenario.resolved.yaml).
        try:
            return DesignSpec.model_validate(ref), ref
        except ValidationError as exc:
            raise validation_error(exc, linemap, path) from None
    else:
        name = ref["extends"]
        if not isinstance(name, str):
            raise linemap.error(path + ("extends",), "must be a design name")
        overrides = {k: v for k, v in ref.items() if k != "extends"}
    where = path if isinstance(ref, str) else path + ("extends",)
    origin = origin or (linemap, where)
    try:
        file = _find_design(name, near)
    except LookupError as exc:
        message = str(exc)
        if origin[0] is not linemap:  # deep in a chain: say which scenario line led here
            message += f" (reached from {origin[0].where(origin[1])})"
        raise linemap.error(where, message) from None
    resolved = file.resolve()
    if any(seen == resolved for _, seen in chain):
        cycle = " -> ".join([*(n for n, _ in chain), name])
        raise origin[0].error(
            origin[1], f"design 'extends' cycle: {cycle} (at {linemap.where(where)})"
        )
    chain = (*chain, (name, resolved))
    data, design_lines = load_yaml(file)
    if not isinstance(data, dict):
        raise InputError(f"{file}:1: a design file must be a mapping")
    if "extends" in data:
        _, parent_raw = load_design(data, design_lines, file.parent, (), depth + 1, chain, origin)
        data = deep_merge(
            parent_raw,
            {k: v for k, v in data.items() if k != "extends"},
            whole=DESIGN_REPLACED_WHOLE,
        )
    try:
        DesignSpec.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, design_lines) from None
    if overrides:
        data = deep_merge(data, overrides, whole=DESIGN_REPLACED_WHOLE)
    try:
        design = DesignSpec.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, linemap, path) from None
    return design, data


def load_scenario(path: Path | str) -> Scenario:
    """Load and validate a scenario file; raises :class:`InputError` naming file and line."""
    path = Path(path)
    data, linemap = load_yaml(path)
    return scenario_from_data(data, linemap, path.parent, path)


def scenario_from_data(
    data: Any, linemap: LineMap, near: Path | None = None, path: Path | None = None
) -> Scenario:
    if not isinstance(data, dict):
        raise linemap.error((), "a scenario file must be a mapping of keys to values")
    try:
        spec = ScenarioSpec.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, linemap) from None
    design, design_raw = load_design(spec.design, linemap, near)
    catalogue = _catalogue(spec, linemap)
    _cross_check(spec, design, catalogue, linemap)
    book = _price_book(spec, linemap, near)
    return Scenario(spec, design, catalogue, path, data, design_raw, book)


def _price_book(spec: ScenarioSpec, linemap: LineMap, near: Path | None):
    """Load the scenario's price book and check every licence a role names exists."""
    licensing = spec.licensing
    where: PathKey = ("licensing", "price_book")
    try:
        book = load_price_book(
            licensing.price_book, billed_monthly=licensing.billed_monthly, near=near
        )
    except (PriceBookError, FileNotFoundError, KeyError, ValueError) as exc:
        raise linemap.error(where, str(exc)) from None
    # One override at a time, so a bad one is named at its own line (issue 11, 7a).
    for key, price in licensing.overrides.items():
        try:
            book = book.with_overrides({key: price})
        except PriceBookError as exc:
            sku_id = key.partition(".")[0]
            match = difflib.get_close_matches(sku_id, sorted(book.list_prices_usd_month), n=1)
            hint = f"; did you mean {match[0]!r}?" if match and match[0] != sku_id else ""
            raise linemap.error(("licensing", "overrides", key), f"{exc}{hint}") from None
    for role_name, role in spec.roles.items():
        for i, sku in enumerate(role.licences or ()):
            if not book.has(sku):
                known = ", ".join(s.id for s in book.user_skus + book.device_skus)
                raise linemap.error(
                    ("roles", role_name, "licences", i),
                    f"no licence {sku!r} in price book {licensing.price_book} (known: {known})",
                )
    return book


def _check_scripted_key(
    spec: ScenarioSpec,
    catalogue: Catalogue,
    action: ScriptedAction,
    linemap: LineMap,
    where: PathKey,
) -> None:
    """An update of a record the initial data does not hold (``ACC-99999`` of 200
    accounts) is refused before the run; one created during the run is checked when the
    save happens (sim/engine/workload.py)."""
    data = spec.initial_data
    counts = {
        "account": data.accounts,
        "product": data.products,
        "bundle": data.bundles,
        "contact": int(round(data.accounts * data.contacts_per_account)),
    }
    if action.entity not in counts:
        return
    prefix = catalogue[action.entity].key_prefix
    match = re.fullmatch(re.escape(prefix) + r"-(\d+)", action.key)
    created = any(
        other.create
        and (other.entity, other.key) == (action.entity, action.key)
        and other.at_s <= action.at_s
        for other in spec.scripted
    )
    if created:
        return
    if match is None:
        raise linemap.error(
            where + ("key",),
            f"no {action.entity} {action.key!r}: keys are "
            f"{prefix}-NNNNN; a save that creates the record says create: true",
        )
    # Records the workload creates during the run follow the initial ones; a key far
    # beyond the initial data (more than the initial count again) is a typo.
    if int(match.group(1)) > 2 * counts[action.entity] + 1000:
        raise linemap.error(
            where + ("key",),
            f"no {action.entity} {action.key!r}: the "
            f"initial data has {prefix}-00001..{prefix}-"
            f"{counts[action.entity]:05d}; a save that creates the record "
            "says create: true",
        )


def _catalogue(spec: ScenarioSpec, linemap: LineMap) -> Catalogue:
    entities = list(STANDARD_ENTITIES)
    known = {e.name for e in entities} | set(spec.entities)
    for name, custom in spec.entities.items():
        if name in {e.name for e in STANDARD_ENTITIES}:
            raise linemap.error(("entities", name), "a standard entity cannot be redefined")
        if not re.match(r"^[a-z][a-z0-9_]*$", name):
            raise linemap.error(
                ("entities", name),
                "an entity name is lowercase letters, digits and _ (delivery_slot)",
            )
        for field, target in custom.references.items():
            if field not in custom.fields:
                raise linemap.error(
                    ("entities", name, "references", field),
                    "references a field the entity does not declare",
                )
            if target not in known:
                raise linemap.error(
                    ("entities", name, "references", field), f"unknown entity {target!r}"
                )
        for field, target in custom.all_references().items():
            if target not in known:
                raise linemap.error(
                    ("entities", name, "fields", field, "reference"),
                    f"unknown entity {target!r} (known: {', '.join(sorted(known))})",
                )
        entities.append(
            custom_entity(
                name,
                custom.key_prefix,
                custom.field_types(),
                custom.all_references(),
                custom.generators(),
            )
        )
    try:
        return Catalogue(entities)
    except ValueError as exc:
        raise linemap.error(("entities",), str(exc)) from None


def _cross_check(
    spec: ScenarioSpec, design: DesignSpec, catalogue: Catalogue, linemap: LineMap
) -> None:
    """The scenario's references to the design and the catalogue, checked in a fixed order;
    the first one that does not resolve is the error."""
    need_system = functools.partial(_need_system, design, linemap)
    need_entity = functools.partial(_need_entity, catalogue, linemap)

    # The design's own references to entities and fields.
    for name, spec_map in design.maps.items():
        where: PathKey = ("design", "maps", name)
        need_entity(where + ("entity",), spec_map.entity)
        fields = set(catalogue[spec_map.entity].field_names)
        for field in list(spec_map.fields or []) + list(spec_map.when or {}):
            if field not in fields:
                raise linemap.error(where, f"{spec_map.entity} has no field {field!r}")
    for entity in design.editable:
        need_entity(("design", "editable", entity), entity)

    for entity in spec.initial_data.custom:
        if entity not in spec.entities:
            raise linemap.error(
                ("initial_data", entity),
                "not a custom entity of this scenario (standard entities are "
                "counted by accounts, products, ...; declared: "
                f"{', '.join(spec.entities) or 'none'})",
            )
    if spec.start_date.weekday() != 0:
        raise linemap.error(
            ("start_date",),
            f"{spec.start_date} is a "
            f"{WEEKDAY_NAMES[spec.start_date.weekday()]}: day 1 of a run is a "
            "Monday",
        )
    _check_roles(spec, catalogue, linemap, need_system)
    end_s = spec.duration_days * 86_400.0
    _check_scripted(spec, catalogue, linemap, need_system, need_entity, end_s)
    _check_faults(spec, design, linemap, need_system, end_s)
    for flow in spec.objectives.staleness_p99_s:
        where = ("objectives", "staleness_p99_s", flow)
        match = re.match(r"^([\w-]+):([\w-]+)->([\w-]+)$", flow)
        if not match:
            raise linemap.error(where, "a flow is named 'entity:origin->destination'")
        need_entity(where, match.group(1))
        need_system(where, match.group(2))
        need_system(where, match.group(3))


def _need_system(design: DesignSpec, linemap: LineMap, where: PathKey, system: str) -> None:
    if system not in design.systems:
        raise linemap.error(
            where, f"unknown system {system!r} (the design has {', '.join(design.systems)})"
        )


def _need_entity(catalogue: Catalogue, linemap: LineMap, where: PathKey, entity: str) -> None:
    if entity not in catalogue:
        raise linemap.error(
            where, f"unknown entity {entity!r} (known: {', '.join(catalogue.names())})"
        )


def _check_roles(
    spec: ScenarioSpec, catalogue: Catalogue, linemap: LineMap, need_system: Callable[..., None]
) -> None:
    """Each role's hourly profile, systems and actions."""
    for role_name, role in spec.roles.items():
        where = ("roles", role_name)
        if role.hourly_profile is not None:
            try:
                profile_weights(role.hourly_profile, *hours_range(role.working_hours))
            except ValueError as exc:
                raise linemap.error(
                    where + ("hourly_profile",), f"{exc} ({role.working_hours})"
                ) from None
        need_system(where + ("home_system",), role.home_system)
        for i, system in enumerate(role.other_systems):
            need_system(where + ("other_systems", i), system)
        for action in role.actions:
            try:
                action_def = resolve_action(action, catalogue)
            except ValueError as exc:
                raise linemap.error(where + ("actions", action), str(exc)) from None
            if not set(action_def.systems) & set(role.systems):
                raise linemap.error(
                    where + ("actions", action),
                    f"{action} runs in {'/'.join(action_def.systems)}, but the role works in "
                    f"{'/'.join(role.systems)}",
                )


def _check_scripted(
    spec: ScenarioSpec,
    catalogue: Catalogue,
    linemap: LineMap,
    need_system: Callable[..., None],
    need_entity: Callable[..., None],
    end_s: float,
) -> None:
    """Each scripted action's role, system, entity, fields, times and key."""
    for i, action in enumerate(spec.scripted):
        where = ("scripted", i)
        if action.role not in spec.roles:
            raise linemap.error(where + ("role",), f"undefined role {action.role!r}")
        need_system(where + ("system",), action.system)
        need_entity(where + ("entity",), action.entity)
        fields = catalogue[action.entity].field_names
        for field in action.fields:
            if field not in fields:
                raise linemap.error(
                    where + ("fields", field),
                    f"{action.entity} has no field {field!r} (fields: {', '.join(fields)})",
                )
        if action.at_s >= end_s:
            raise linemap.error(
                where + ("at",), f"after the run ends (duration_days {spec.duration_days:g})"
            )
        if action.opened_s > action.at_s:
            raise linemap.error(where + ("opened_at",), "a form cannot be opened after it is saved")
        if not action.create:
            _check_scripted_key(spec, catalogue, action, linemap, where)


def _check_faults(
    spec: ScenarioSpec,
    design: DesignSpec,
    linemap: LineMap,
    need_system: Callable[..., None],
    end_s: float,
) -> None:
    """Each fault's required target, systems, maps and end time."""
    for i, fault in enumerate(spec.faults):
        where = ("faults", i)
        needs = {
            "outage": "system",
            "crash": "system",
            "clock_skew": "system",
            "partition": "between",
            "client_pause": "actor",
        }.get(fault.kind)
        if needs and getattr(fault, needs) is None:
            raise linemap.error(where, f"a {fault.kind} fault needs '{needs}'")
        if fault.system is not None:
            need_system(where + ("system",), fault.system)
        for j, system in enumerate(fault.between or ()):
            need_system(where + ("between", j), system)
        for j, name in enumerate(fault.maps or ()):
            if name not in design.maps:
                raise linemap.error(where + ("maps", j), f"the design has no map {name!r}")
        if fault.kind != "clock_skew" and fault.at_s + fault.duration_s > end_s:
            raise linemap.error(
                where + ("duration_s",),
                "the fault must end before the "
                "workload does, so the quiescence phase can judge convergence",
            )
