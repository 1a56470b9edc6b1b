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

from pydantic import Field, model_validator

from models.concurrency import RULE_NAMES
from models.events import INVARIANT_NAMES
from models.strict import Strict

#: Invariant names a design may promise or sanction (defined in models/events.py).
INVARIANTS = INVARIANT_NAMES

# The product's documented limits (FACTS.md section 1).
DATA_INTEGRATOR_MIN_INTERVAL_S = 60.0
DATA_INTEGRATOR_MAX_ROWS = 500_000


class BatchSettings(Strict):
    """Schedule and speed of a scheduled map. Speeds are not documented: parameters."""

    interval_s: float = Field(
        900.0,
        ge=DATA_INTEGRATOR_MIN_INTERVAL_S,
        description="time between scheduled ticks (>= 60 s)",
    )
    offset_s: float = Field(0.0, ge=0, description="first tick after the run starts")
    max_rows_per_run: int = Field(DATA_INTEGRATOR_MAX_ROWS, ge=1, le=DATA_INTEGRATOR_MAX_ROWS)
    run_overhead_s: float = Field(30.0, ge=0, description="fixed cost of a run (inferred)")
    row_time_s: float = Field(0.05, ge=0, description="time per row moved (inferred)")
    change_tracking: bool = Field(
        True, description="only rows changed since the last run; false = full export"
    )
    retry_failed_runs: bool = Field(
        True,
        description="false (a planted bug): a failed run still advances the "
        "watermark, so its rows are never sent",
    )


class Latency(Strict):
    """A delay distribution in seconds: log-normal by median and shape, or fixed."""

    distribution: Literal["lognormal", "fixed", "exponential"] = "lognormal"
    median_s: float = Field(2.0, ge=0, description="median (fixed: the value; exponential: mean)")
    sigma: float = Field(0.5, ge=0, le=3)


class LatencyOverride(Strict):
    """A design-wide override of every live and queue map's delay (``latency: {fixed_s:
    5}``): each delivery and each live write then takes exactly ``fixed_s`` seconds, so
    a scripted incident has one outcome whatever the seed (faults such as a latency
    spike or reordering still add to it)."""

    fixed_s: float = Field(ge=0, description="every live and queue delivery takes this long")


class MapSpec(Strict):
    """One map from one system to another: a scheduled batch, a live write or a queue.

    - ``batch``: a scheduled Data Integrator project (see the module docstring);
    - ``live``: dual-write's synchronous write: the save in the source writes the target
      inside the same transaction; if the target fails or a limit is exceeded, both
      roll back and the user's save fails;
    - ``queue``: an asynchronous message per change, delivered after ``latency``.
      ``echo_suppression`` (loopback control) stops a change applied by this sync from
      being sent back where it came from; without it a change bounces until
      ``max_hops`` (a simulation guard; a real loop goes on until someone notices).
    """

    entity: str
    source: str
    target: str
    transport: Literal["batch", "live", "queue"] = "batch"
    latency: Latency | None = Field(None, description="live and queue: delivery delay")
    echo_suppression: bool = True
    max_hops: int = Field(8, ge=1, le=1000)
    apply_mode: Literal["upsert", "insert"] = Field(
        "upsert",
        description="insert: a planted bug - every delivery creates a record, "
        "so a duplicated message makes a duplicate (used to show the checker catching it)",
    )
    priority: Literal["low", "medium", "high"] = Field(
        "medium", description="Operations priority-based throttling class of this client"
    )
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
        own = {
            k: v
            for k, v in self.model_dump().items()
            if k in BatchSettings.model_fields and v is not None
        }
        return defaults.model_copy(update=own)

    @model_validator(mode="after")
    def _distinct_ends(self) -> MapSpec:
        if self.source == self.target:
            raise ValueError("source and target must differ")
        return self


#: Every concurrency rule's name: the registry in models/concurrency/ (one module per
#: rule, each implementing the behaviour described under ``Concurrency`` below).
CONCURRENCY_MODES = RULE_NAMES


class Concurrency(Strict):
    """How the design treats concurrent edits of one record on several sides.

    - ``none``: an apply overwrites the mapped fields (upserts; last arrival wins);
    - ``lww_arrival``: the same, stated as the design's rule (dual-write live);
    - ``lww_clock``: per field, the version with the later wall-clock stamp of its origin
      system wins, ancestry ignored (so a skewed clock can let an older edit win);
    - ``primary_wins``: dual-write async: a change arriving at the ``primary`` side for
      a record that changed there since the sender's snapshot is rejected as a conflict
      (recorded); a message older than what the target already holds from the same
      origin is skipped as a concurrency failure, not retried;
    - ``version_check``: If-Match on the row: the message carries the row as the writer
      saw it; if the target changed since, the message becomes a conflict in a queue,
      resolved by ``resolver_role`` with a merge write after ``resolution``. With
      ``version_check: row`` (the default, as Dataverse's ETag and Operations' RecVersion
      are the whole row's) a change of any field the writer had not seen is a conflict;
      with ``field`` only a concurrent change of the same field is;
    - ``lease_lock``: opening a form takes a lease through the hub that makes the record
      read-only elsewhere; leases expire after ``lease_s``; with ``fencing`` a save
      under an expired lease is refused; a denied user retries every ``retry_s`` up to
      ``max_retries`` times, then abandons;
    - ``field_merge``: per-field hybrid logical clocks: each field keeps the version
      with the highest (clock, system) stamp; concurrent edits of different fields both
      survive; the same field gets a deterministic winner and a conflict record.
    """

    mode: Literal[CONCURRENCY_MODES] = "none"  # type: ignore[valid-type]
    primary: str | None = None
    resolver_role: str | None = None
    resolution: Latency = Field(default_factory=lambda: Latency(median_s=1800, sigma=0.6))
    lease_s: float = Field(600.0, gt=0)
    fencing: bool = True
    version_check: Literal["row", "field"] = Field(
        "row",
        description="version_check: row (If-Match / RecVersion: any change to the "
        "target row since the writer read it is a conflict, whichever field it touched) "
        "or field (only a concurrent change of a field the message carries)",
    )
    retry_s: float = Field(120.0, gt=0)
    max_retries: int = Field(3, ge=0)
    hold_until_replicated: bool = Field(
        True,
        description="false (a planted bug): a lease can be granted while the last "
        "holder's change is still on its way, so the next editor may not see it",
    )


class Handoff(Strict):
    """readonly-workaround: a refused user asks a colleague with edit rights to do it."""

    to_role: str
    delay: Latency = Field(default_factory=lambda: Latency(median_s=3600, sigma=0.8))
    give_up_probability: float = Field(0.2, ge=0, le=1)


class LiveLimits(Strict):
    """dual-write transaction and pause limits (FACTS.md section 2), and its payload.

    ``payload``: which fields a live write carries to the other side.
    ``mapped_row`` (the default): every mapped field of the source row as the save
    commits it. Documented for Dataverse -> Operations ("a change to any mapped column
    sends all mapped columns of the table map", data-sync-for-map-fields); the documents
    are silent for Operations -> Dataverse (inferred: the same) and on concurrent edits
    in live sync (inferred: the later commit overwrites the whole mapped row). A live
    commit is atomic here, so the row carries what the other side committed before it;
    it differs from ``changed_fields`` when the source row lags the target (a paused
    reverse map, a change that came another way): the stale fields go back over newer
    ones. ``changed_fields``: only the fields the save set.
    """

    payload: Literal["mapped_row", "changed_fields"] = Field(
        "mapped_row",
        description="fields a live write carries: every mapped field of the "
        "row (documented for Dataverse -> Operations) or only those the save set",
    )
    max_records: int = Field(1000, ge=1)
    max_transaction_s: float = Field(120.0, gt=0)
    max_pause_s: float = Field(86_400.0, gt=0)
    max_pause_bytes: int = Field(1_000_000_000, ge=1)
    catch_up_error_retention_s: float = Field(86_400.0, gt=0)


class RetryPolicy(Strict):
    """What a sender does when a delivery fails: exponential backoff with full jitter
    (drawn from the map's own stream), honouring a Retry-After when the server sends
    one; after ``max_attempts`` or ``max_age_s`` the message is dead-lettered with its
    last failure as the reason."""

    base_s: float = Field(2.0, gt=0)
    cap_s: float = Field(600.0, gt=0)
    max_attempts: int = Field(40, ge=1)
    max_age_s: float = Field(86_400.0, gt=0)
    redeliver_lost: bool = Field(
        True, description="false (a planted bug): at-most-once; a lost delivery vanishes"
    )


class ServiceProtection(Strict):
    """Dataverse service protection limits per identity (FACTS.md section 4)."""

    window_s: float = Field(300.0, gt=0)
    max_requests: int = Field(6000, ge=1)
    max_execution_s: float = Field(1200.0, gt=0)
    execution_s_per_request: float = Field(0.05, ge=0, description="inferred: a parameter")
    push_penalty: float = Field(
        2.0,
        ge=1,
        description="Retry-After growth for a client "
        "that keeps pushing (documented, size inferred)",
    )
    max_retry_after_s: float = Field(300.0, gt=0)


Priority = Literal["low", "medium", "high"]
#: Requests a second each priority class may make by default (parameters, see below).
_DEFAULT_PER_S: dict[Priority, float] = {"low": 5.0, "medium": 20.0, "high": 100.0}


class OperationsThrottling(Strict):
    """Operations priority-based throttling: requests per second per priority class.

    Microsoft documents the classes, not the numbers: these are parameters. Dual-write,
    the Data Integrator and data management are exempt (FACTS.md section 4)."""

    per_s: dict[Priority, float] = Field(default_factory=lambda: dict(_DEFAULT_PER_S))


class Limits(Strict):
    """Platform limits the transports obey; ``enabled: false`` turns throttling off."""

    enabled: bool = True
    service_protection: ServiceProtection = Field(default_factory=ServiceProtection)
    operations: OperationsThrottling = Field(default_factory=OperationsThrottling)
    record_bytes: int = Field(2048, ge=1, description="queued size of one record change")


class CatalogueSummary(Strict):
    """A design's transport and concurrency rule in a few words, for tables (the README's
    design catalogue is generated from them); the semantics are in ``description``."""

    transport: str = Field(min_length=1, description="how a change travels, in a few words")
    concurrency: str = Field(
        min_length=1, description="what decides between concurrent edits, in a few words"
    )


class DesignSpec(Strict):
    """A whole integration design. See the module docstring for the semantics."""

    name: str
    description: str = ""
    facts: list[str] = Field(default_factory=list, description="FACTS.md items it rests on")
    summary: CatalogueSummary | None = Field(
        None, description="transport and concurrency in a few words (catalogue designs)"
    )
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
    local_check_level: Literal["row", "field"] = Field(
        "row",
        description="row: any change since the form opened refuses the save; "
        "field: only a change to a field the save sets",
    )
    concurrency: Concurrency = Field(default_factory=Concurrency)
    latency: LatencyOverride | None = Field(
        None, description="fix every live and queue map's delay (scripted incidents)"
    )
    handoff: Handoff | None = None
    live: LiveLimits = Field(default_factory=LiveLimits)
    clock_skew_s: dict[str, float] = Field(
        default_factory=dict, description="per system clock offset (field-merge stamps)"
    )
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    limits: Limits = Field(default_factory=Limits)
    exempt_from_operations_throttling: bool = Field(
        True, description="Data Integrator and dual-write are exempt; custom integrations not"
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
        for name, spec in self.maps.items():
            if spec.transport != "batch" and spec.latency is None:
                raise ValueError(f"map {name!r}: a {spec.transport} map needs a latency")
        primary = self.concurrency.primary
        if self.concurrency.mode == "primary_wins" and primary not in systems:
            raise ValueError("concurrency.primary must name one of the design's systems")
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
                    return (
                        f"{entity} is read-only in {system} while {field} is "
                        f"{current} (editable only when {field} in {allowed})"
                    )
        return None

    def map_latency(self, spec: MapSpec) -> Latency:
        """The delay distribution of a live or queue map, after the design's override."""
        if self.latency is not None:
            return Latency(distribution="fixed", median_s=self.latency.fixed_s)
        if spec.latency is None:
            raise ValueError(f"map of {spec.entity} from {spec.source} has no latency")
        return spec.latency

    def copies(self) -> dict[str, list[str]]:
        """Per entity, every system that holds a copy through the maps (in system order)."""
        holders: dict[str, set[str]] = {}
        for spec in self.maps.values():
            holders.setdefault(spec.entity, set()).update((spec.source, spec.target))
        order = {s: i for i, s in enumerate(self.systems)}
        return {e: sorted(s, key=order.__getitem__) for e, s in holders.items()}
