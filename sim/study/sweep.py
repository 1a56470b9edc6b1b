"""Sweeps: one scenario, many configurations, replicated runs, confidence intervals.

A single run answers "what happened this week"; an architect's question is usually
"what happens *as* something changes": the batch interval, how often sales reps edit
accounts, the design. A sweep file names a scenario and the **factors** to vary; every
combination of factor values (a **configuration**) is run several times, once per
**replication**, and each metric of interest is reported per configuration as a mean
with a 95% confidence interval.

.. code-block:: yaml

    name: batch_interval
    scenario: ../prospect_to_cash.yaml       # relative to this file
    overrides: {duration_days: 2}            # applied to every configuration
    designs: [p2c-2017, readonly-workaround] # optional: the design is a factor too
    factors:
      design.batch.interval_s: [300, 900, 1800]            # levels
      roles.sales_rep.actions.edit_account: {low: 0.2, high: 1.6, points: 3}  # a range
    sampler: grid                            # or latin_hypercube with samples: N
    replications: 5
    seed: 7                                  # root seed of the replications
    metrics: [overwritten_edits, blocked_user_s]
    objectives: {overwritten_edits: min, blocked_user_s: min}
    adaptive: {metric: overwritten_edits, relative_half_width: 0.1, max_replications: 20}

**Factors are dotted paths into the scenario file** (``design.batch.interval_s``,
``roles.sales_rep.headcount``, ``duration_days``); :func:`apply_overrides` sets them on
a copy of the scenario's data (a design given by name becomes ``{extends: NAME}``
first) and :func:`configure` validates the result exactly as ``p2c run`` would. Every
configuration is built and validated before the first run starts, so a typo fails in a
second with ``file:line`` and exit code 2, not after an hour.

**Samplers.** ``grid`` crosses every level of every factor (a range contributes
``points`` evenly spaced values, geometrically spaced with ``log: true``).
``latin_hypercube`` draws ``samples`` points: each factor's range is cut into
``samples`` equal strata and every stratum is used exactly once, in an order shuffled
per factor, so a few points cover every factor's whole range (McKay, Beckman and
Conover, 1979). The draw is seeded by the sweep's root seed. The design factor is never
sampled: every sample point runs under every listed design, so designs are compared
on identical configurations.

**Replications and common random numbers.** Replication ``r`` runs with seed
:func:`replication_seed` ``(root, r)`` in *every* configuration. Two configurations then
see the same users opening the same forms at the same moments wherever the
configurations do not change that, so their difference measures the configuration and
not the luck of the draw (the variance of a paired difference is smaller than that of
two independent runs).

**Confidence intervals** use Student's t distribution with ``n - 1`` degrees of freedom:
``mean +- t(0.975, n-1) * s / sqrt(n)``. With **adaptive** replication, configurations
whose interval for the chosen metric is wider than ``relative_half_width`` times the
mean get more replications (in rounds, up to ``max_replications``); since the decisions
depend only on results, a resumed sweep makes the same decisions.

**Objectives and the Pareto front.** With ``objectives`` (metric -> min or max), a
configuration is on the Pareto front when no other configuration is at least as good on
every objective and strictly better on one (comparing means): the set of defensible
trade-offs, for example fewer overwritten edits against more blocked user time.

**Results** go to a SQLite store keyed by (configuration hash, seed), committed after
every run (:mod:`sim.study.store`), so a killed sweep resumes with ``--resume`` without losing
or repeating a finished run. ``reports/sweeps/<name>/`` receives ``results.sqlite``,
``summary.csv``, ``summary.json`` and ``runs.csv``; the summary table is printed.
Runs are executed by :mod:`sim.study.executors` (local processes, or a Dask cluster with
``--scheduler``).
"""

from __future__ import annotations

import argparse
import copy
import csv
import itertools
import json
import math
import os
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sim.scenario.yamlio import InputError, LineMap, load_yaml, validation_error

if TYPE_CHECKING:
    from sim.scenario.spec import Scenario
    from sim.study.executors import Executor, RunTask
    from sim.study.store import ResultStore, StoredRun

EXIT_OK, EXIT_FAILED = 0, 1

#: Metrics reported when a sweep file names none: what architects compare first.
DEFAULT_METRICS = (
    "overwritten_edits", "conflicts", "saves_rejected", "handoffs", "blocked_user_s",
    "propagation_p95_s.account:sales->operations",
)


# ---------------------------------------------------------------- overrides


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
        where = ".".join(parts[:depth + 1])
        if isinstance(node, list):
            node = node[_index(part, node, where)]
        elif isinstance(node, dict):
            if node.get(part) is None:
                node[part] = {}
            node = node[part]
        else:
            raise ValueError(f"{'.'.join(parts[:depth]) or 'the scenario'} is "
                             f"{type(node).__name__}, not a mapping, so {where} cannot be set")
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
    raw: dict[str, Any], overrides: dict[str, Any], design: str | None = None, *,
    near: Path | None = None, source: Path | None = None, linemap: LineMap | None = None,
) -> Configured:
    """Build and validate the scenario for one configuration (raises :class:`InputError`).

    ``design`` names a catalogue design to run under instead of the scenario's own; the
    scenario's design overrides are applied to it where they fit (as ``p2c compare``
    does), and the ones that do not fit are listed in ``dropped``.
    """
    from sim.scenario.spec import scenario_from_data
    from sim.study.compare import design_variant

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


# --------------------------------------------------------------- the file


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Factor(_Strict):
    """One factor: a list of ``levels``, or a range ``{low, high}`` sampled by the sampler.

    A bare list is shorthand for ``{levels: [...]}``. ``points`` is how many evenly
    spaced values a range contributes to a grid (default 3); ``integer`` rounds drawn
    values (headcounts); ``log`` spaces or samples them geometrically (rates, intervals).
    """

    levels: list[Any] | None = None
    low: float | None = None
    high: float | None = None
    points: int | None = Field(None, ge=2, le=1000)
    integer: bool = False
    log: bool = False

    @model_validator(mode="before")
    @classmethod
    def _bare_list(cls, value: Any) -> Any:
        return {"levels": value} if isinstance(value, list) else value

    @model_validator(mode="after")
    def _one_form(self) -> Factor:
        ranged = self.low is not None or self.high is not None
        if self.levels is not None:
            if ranged or self.points is not None or self.integer or self.log:
                raise ValueError("give either levels or a range {low, high}, not both")
            if not self.levels:
                raise ValueError("levels must list at least one value")
            keys = [json.dumps(v, sort_keys=True, default=str) for v in self.levels]
            if len(set(keys)) != len(keys):
                raise ValueError("levels must be distinct")
            return self
        if self.low is None or self.high is None:
            raise ValueError("a factor needs levels: [...] or a range {low: .., high: ..}")
        if not self.low < self.high:
            raise ValueError(f"low must be below high (low {self.low}, high {self.high})")
        if self.log and self.low <= 0:
            raise ValueError("a log range needs low > 0")
        return self

    @property
    def is_range(self) -> bool:
        return self.levels is None


class Adaptive(_Strict):
    """Add replications until ``metric``'s confidence interval is narrow enough."""

    metric: str
    relative_half_width: float = Field(0.1, gt=0, le=10)
    max_replications: int = Field(20, ge=2, le=10_000)


class SweepSpec(_Strict):
    """The whole sweep file."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    description: str = ""
    scenario: str = Field(min_length=1)
    overrides: dict[str, Any] = Field(default_factory=dict)
    designs: list[str] | Literal["all"] | None = None
    factors: dict[str, Factor] = Field(default_factory=dict)
    sampler: Literal["grid", "latin_hypercube"] = "grid"
    samples: int | None = Field(None, ge=1, le=100_000)
    replications: int = Field(3, ge=1, le=10_000)
    seed: int | None = Field(None, ge=0, lt=2**63)
    metrics: list[str] = Field(default_factory=list)
    confidence: float = Field(0.95, gt=0, lt=1)
    objectives: dict[str, Literal["min", "max"]] = Field(default_factory=dict)
    adaptive: Adaptive | None = None
    check: bool = Field(True, description="run the invariant checker on every run")

    @model_validator(mode="after")
    def _coherent(self) -> SweepSpec:
        if self.sampler == "latin_hypercube" and self.samples is None:
            raise ValueError("sampler latin_hypercube needs samples: N")
        if self.sampler == "grid" and self.samples is not None:
            raise ValueError("samples is for sampler latin_hypercube (a grid is every "
                             "combination of levels)")
        if self.adaptive and self.adaptive.max_replications < self.replications:
            raise ValueError("adaptive.max_replications must be at least replications")
        return self

    def metric_names(self) -> list[str]:
        """Metrics of interest, with the objectives' and the adaptive metric added."""
        names = list(self.metrics or DEFAULT_METRICS)
        extra = list(self.objectives) + ([self.adaptive.metric] if self.adaptive else [])
        for name in extra:
            if name not in names:
                names.append(name)
        return names


# --------------------------------------------------------------- sampling


def replication_seed(root_seed: int, replication: int) -> int:
    """The seed of replication ``replication``: a child of ``root_seed`` (SeedSequence).

    The same in every configuration (common random numbers) and independent of how many
    replications are run, so adding replications never changes the earlier ones.
    """
    import numpy as np

    sequence = np.random.SeedSequence(entropy=int(root_seed), spawn_key=(int(replication),))
    high, low = (int(x) for x in sequence.generate_state(2, dtype=np.uint32))
    return ((high << 32) | low) & (2**63 - 1)


def _tidy(value: float, integer: bool) -> float | int:
    """Six significant digits (readable labels, stable hashes); ints for integer ranges."""
    if integer:
        return int(round(value))
    return float(f"{value:.6g}")


def grid_values(factor: Factor) -> list[Any]:
    """The values a factor contributes to a grid."""
    import numpy as np

    if factor.levels is not None:
        return list(factor.levels)
    points = factor.points or 3
    assert factor.low is not None and factor.high is not None
    spaced = (np.geomspace if factor.log else np.linspace)(factor.low, factor.high, points)
    values = [_tidy(float(x), factor.integer) for x in spaced]
    return list(dict.fromkeys(values))  # integer rounding can merge neighbours


def latin_hypercube(factors: dict[str, Factor], samples: int, seed: int) -> list[dict[str, Any]]:
    """``samples`` points, each factor's range cut into ``samples`` strata used once each.

    A stratum is ``[i/n, (i+1)/n)`` of the unit interval; each point draws uniformly
    inside its stratum; each factor gets its own shuffle of strata to points. The unit
    value maps onto ``[low, high]`` (geometrically for ``log``), or picks among
    ``levels`` (each level gets an equal share of strata).
    """
    import numpy as np

    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(
        entropy=int(seed), spawn_key=(0x4C4853,))))  # "LHS": apart from replication seeds
    points: list[dict[str, Any]] = [{} for _ in range(samples)]
    for name, factor in factors.items():
        strata = rng.permutation(samples)
        unit = (strata + rng.random(samples)) / samples
        for point, u in zip(points, unit, strict=True):
            if factor.levels is not None:
                point[name] = factor.levels[min(int(u * len(factor.levels)),
                                                len(factor.levels) - 1)]
                continue
            assert factor.low is not None and factor.high is not None
            if factor.log:
                value = math.exp(math.log(factor.low)
                                 + u * (math.log(factor.high) - math.log(factor.low)))
            else:
                value = factor.low + u * (factor.high - factor.low)
            point[name] = _tidy(value, factor.integer)
    return points


# ----------------------------------------------------------------- the plan


@dataclass(frozen=True)
class Configuration:
    """One point of the sweep: a design (or the scenario's own) and factor values."""

    index: int
    design: str | None
    values: tuple[tuple[str, Any], ...]
    overrides: tuple[tuple[str, Any], ...]
    config_hash: str
    label: str
    dropped: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return dict(self.values)


@dataclass
class SweepPlan:
    """A validated sweep: the spec, its scenario data and every configuration."""

    spec: SweepSpec
    path: Path | None
    scenario_path: Path
    scenario_raw: dict[str, Any]
    scenario_name: str
    root_seed: int
    configurations: list[Configuration]

    @property
    def metrics(self) -> list[str]:
        return self.spec.metric_names()

    @property
    def factor_names(self) -> list[str]:
        return list(self.spec.factors)

    def seed(self, replication: int) -> int:
        return replication_seed(self.root_seed, replication)

    def task(self, configuration: Configuration, replication: int,
             keep_delays: bool = False) -> RunTask:
        from sim.study.executors import RunTask

        return RunTask(
            raw=self.scenario_raw, overrides=configuration.overrides,
            design=configuration.design, seed=self.seed(replication),
            replication=replication, config_hash=configuration.config_hash,
            near=str(self.scenario_path.parent),
            source=str(self.scenario_path), check=self.spec.check, keep_delays=keep_delays,
            label=configuration.label)


def load_sweep(path: Path | str) -> SweepPlan:
    """Read, validate and plan a sweep file (:class:`InputError` naming file and line)."""
    path = Path(path)
    data, linemap = load_yaml(path)
    return plan_sweep(data, linemap, path.parent, path)


def plan_sweep(data: Any, linemap: LineMap | None = None, near: Path | None = None,
               path: Path | None = None) -> SweepPlan:
    """Validate sweep data (a parsed file, or a dict from the API) and build the plan."""
    from sim.study.compare import catalogue_names

    linemap = linemap or LineMap(str(path) if path else "sweep")
    if not isinstance(data, dict):
        raise linemap.error((), "a sweep file must be a mapping of keys to values")
    try:
        spec = SweepSpec.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, linemap) from None
    for name in spec.factors:
        if name == "design" or name.startswith("design.extends"):
            raise linemap.error(("factors", name), "vary the design with designs: [...]")
        if name in spec.overrides:
            raise linemap.error(("factors", name), "is also fixed under overrides")
    known = catalogue_names()
    designs: list[str | None]
    if spec.designs is None:
        designs = [None]
    else:
        chosen = known if spec.designs == "all" else list(dict.fromkeys(spec.designs))
        for i, name in enumerate(chosen):
            if name not in known:
                raise linemap.error(("designs", i), f"unknown design {name!r} "
                                                    f"(known: {', '.join(known)})")
        if not chosen:
            raise linemap.error(("designs",), "list at least one design")
        designs = list(chosen)
    scenario_path = (near or Path.cwd()) / spec.scenario
    raw, scenario_lines = load_yaml(scenario_path)
    if not isinstance(raw, dict):
        raise scenario_lines.error((), "a scenario file must be a mapping of keys to values")
    # The scenario with the fixed overrides alone: valid on its own, and its seed is the
    # default root seed.
    base = _configure_for_plan(raw, dict(spec.overrides), None, scenario_path,
                               scenario_lines, linemap, {})
    root_seed = spec.seed if spec.seed is not None else base.scenario.spec.seed

    if spec.sampler == "grid":
        factor_names = list(spec.factors)
        points = [dict(zip(factor_names, combo, strict=True)) for combo in itertools.product(
            *(grid_values(spec.factors[n]) for n in factor_names))]
    else:
        assert spec.samples is not None
        points = latin_hypercube(spec.factors, spec.samples, root_seed)
    short = _short_names(list(spec.factors))
    configurations: list[Configuration] = []
    seen: dict[str, int] = {}
    for point, design in itertools.product(points, designs):
        overrides = {**spec.overrides, **point}
        configured = _configure_for_plan(raw, overrides, design, scenario_path, scenario_lines,
                                         linemap, point)
        if configured.config_hash in seen:
            continue  # two points that resolve to one scenario are one configuration
        seen[configured.config_hash] = len(configurations)
        parts = [design] if design else []
        parts += [f"{short[k]}={_fmt_value(v)}" for k, v in point.items()]
        label = " ".join(parts)
        configurations.append(Configuration(
            index=len(configurations), design=design, values=tuple(point.items()),
            overrides=tuple(overrides.items()), config_hash=configured.config_hash,
            label=label or configured.scenario.name, dropped=tuple(configured.dropped)))
    return SweepPlan(spec=spec, path=path, scenario_path=scenario_path, scenario_raw=raw,
                     scenario_name=base.scenario.name,
                     root_seed=root_seed, configurations=configurations)


def _configure_for_plan(raw: dict[str, Any], overrides: dict[str, Any], design: str | None,
                        scenario_path: Path, scenario_lines: LineMap, linemap: LineMap,
                        point: dict[str, Any]) -> Configured:
    """:func:`configure`, with an error that names the sweep file's line and the values."""
    try:
        return configure(raw, overrides, design, near=scenario_path.parent,
                         source=scenario_path, linemap=scenario_lines)
    except InputError as exc:
        culprit = next((("factors", k) for k in point), None) or (
            ("overrides", next(iter(overrides))) if overrides else ("scenario",))
        setting = ", ".join(f"{k}={v!r}" for k, v in overrides.items()) or "no overrides"
        under = f" under design {design}" if design else ""
        raise InputError(f"{linemap.where(culprit)}: the configuration {setting}{under} "
                         f"is not a valid scenario:\n  {exc.message}") from None


def _short_names(names: list[str]) -> dict[str, str]:
    """The shortest dotted suffix of each name that no other name ends with:
    ``interval_s`` for ``design.batch.interval_s``; ``sales_rep.actions.edit_account``
    when ``credit_controller.actions.edit_account`` is a factor too."""
    short = {}
    for name in names:
        parts = name.split(".")
        for size in range(1, len(parts) + 1):
            suffix = ".".join(parts[-size:])
            if not any(other != name and (other == suffix or other.endswith("." + suffix))
                       for other in names):
                break
        short[name] = suffix
    return short


def _fmt_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


# ------------------------------------------------------------ statistics


def t_quantile(probability: float, dof: int) -> float:
    """The ``probability`` quantile of Student's t with ``dof`` degrees of freedom.

    Inverts the t distribution's CDF by bisection; the CDF is the regularized
    incomplete beta function, evaluated with Lentz's continued fraction. Accurate to
    about 1e-10, which is far below anything a sweep could notice.
    """
    if dof < 1:
        raise ValueError("Student's t needs at least one degree of freedom")
    if not 0 < probability < 1:
        raise ValueError("probability must be strictly between 0 and 1")
    if probability < 0.5:
        return -t_quantile(1 - probability, dof)
    low, high = 0.0, 1.0
    while _t_cdf(high, dof) < probability:
        high *= 2
    for _ in range(200):
        middle = (low + high) / 2
        if _t_cdf(middle, dof) < probability:
            low = middle
        else:
            high = middle
        if high - low < 1e-12 * max(1.0, high):
            break
    return (low + high) / 2


def _t_cdf(t: float, dof: int) -> float:
    x = dof / (dof + t * t)
    tail = 0.5 * _betainc(dof / 2, 0.5, x)
    return 1 - tail if t > 0 else tail


def _betainc(a: float, b: float, x: float) -> float:
    """Regularized incomplete beta I_x(a, b) (Numerical Recipes' betai and betacf)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                     + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1) / (a + b + 2):
        return front * _betacf(a, b, x) / a
    return 1 - front * _betacf(b, a, 1 - x) / b


def _betacf(a: float, b: float, x: float) -> float:
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1, a - 1
    c, d = 1.0, 1 - qab * x / qap
    d = 1 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        for aa in (m * (b - m) * x / ((qam + m2) * (a + m2)),
                   -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))):
            d = 1 + aa * d
            d = 1 / (d if abs(d) > tiny else tiny)
            c = 1 + aa / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1) < 3e-16:
            break
    return h


@dataclass(frozen=True)
class Interval:
    """A mean with its two-sided confidence interval (t distribution).

    With one observation the interval is unknown (``half_width`` is NaN): one run says
    nothing about the spread.
    """

    n: int
    mean: float
    half_width: float
    confidence: float = 0.95

    @property
    def low(self) -> float:
        return self.mean - self.half_width

    @property
    def high(self) -> float:
        return self.mean + self.half_width

    def text(self, digits: int = 3) -> str:
        if self.n == 0:
            return "no data"
        if self.n == 1 or math.isnan(self.half_width):
            return f"{self.mean:.{digits}g} (n=1, no interval)"
        return (f"{self.mean:.{digits}g} +- {self.half_width:.{digits}g} "
                f"[{self.low:.{digits}g}, {self.high:.{digits}g}] (n={self.n})")


def mean_interval(values: Iterable[float], confidence: float = 0.95) -> Interval:
    """Mean and t-distribution confidence interval of ``values`` (NaNs left out)."""
    data = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    n = len(data)
    if n == 0:
        return Interval(0, math.nan, math.nan, confidence)
    mean = math.fsum(data) / n
    if n == 1:
        return Interval(1, mean, math.nan, confidence)
    variance = math.fsum((x - mean) ** 2 for x in data) / (n - 1)
    half = t_quantile(0.5 + confidence / 2, n - 1) * math.sqrt(variance / n)
    return Interval(n, mean, half, confidence)


def metric_value(metrics: dict[str, float], name: str) -> float:
    """A metric of one run; a counter the run never incremented is 0, a percentile of a
    flow with no samples is NaN (there is no delay to report)."""
    if name in metrics:
        value = metrics[name]
        return math.nan if value is None else float(value)
    return math.nan if name.startswith("propagation_") else 0.0


def pareto_front(points: Sequence[Sequence[float]], senses: Sequence[str]) -> list[bool]:
    """Which points no other point dominates (better or equal everywhere, better once).

    ``senses`` says per coordinate whether lower (``min``) or higher (``max``) is
    better. Points with a NaN coordinate are never on the front.
    """
    signs = [1.0 if sense == "min" else -1.0 for sense in senses]
    keyed = [None if any(math.isnan(x) for x in p) else [s * x for s, x in zip(signs, p,
                                                                             strict=True)]
             for p in points]
    front = []
    for i, mine in enumerate(keyed):
        if mine is None:
            front.append(False)
            continue
        dominated = any(
            other is not None and j != i
            and all(o <= m for o, m in zip(other, mine, strict=True))
            and any(o < m for o, m in zip(other, mine, strict=True))
            for j, other in enumerate(keyed))
        front.append(not dominated)
    return front


# ----------------------------------------------------------------- running


@dataclass
class ConfigurationSummary:
    """One configuration's results: intervals per metric, verdict tallies, front flag."""

    configuration: Configuration
    seeds: list[int]
    intervals: dict[str, Interval]
    verdicts: dict[str, dict[str, int]]
    failed_runs: int
    check_errors: int
    pareto: bool = False


@dataclass
class SweepResult:
    """A finished (or resumed) sweep: the plan, every stored run, the summaries."""

    plan: SweepPlan
    runs: list[StoredRun]
    summaries: list[ConfigurationSummary]
    executed: int
    skipped: int
    elapsed_s: float
    executor: str
    out_dir: Path | None = None

    @property
    def failed_runs(self) -> int:
        return sum(s.failed_runs for s in self.summaries)


def run_sweep(
    plan: SweepPlan, executor: Executor, store: ResultStore, *, progress: bool = False,
) -> SweepResult:
    """Run every (configuration, replication) not yet in ``store``, then summarise.

    Tasks are ordered replication first (every configuration's replication 0, then
    every configuration's replication 1, ...), so an interrupted sweep has an even
    picture. Each finished run is committed to the store before the next is awaited.
    """
    started = time.perf_counter()
    spec = plan.spec
    done = store.done()
    stored_before = set(done)
    skipped_keys: set[tuple[str, int]] = set()
    wanted = {c.config_hash: spec.replications for c in plan.configurations}
    by_hash = {c.config_hash: c for c in plan.configurations}
    executed = skipped = 0
    bar = None
    try:
        while True:
            tasks, already = _missing_tasks(plan, wanted, done)
            skipped_keys |= already & stored_before
            skipped = len(skipped_keys)
            if progress and bar is None:
                bar = _progress_bar(plan, len(tasks), skipped)
            elif bar is not None:
                bar.total = executed + len(tasks)
                bar.refresh()
            for outcome in executor.imap_unordered(tasks):
                configuration = by_hash.get(outcome.config_hash)
                if configuration is None:
                    raise RuntimeError(f"a worker returned unknown configuration "
                                       f"{outcome.config_hash[:12]}")
                store.add(outcome, configuration)
                done.add((outcome.config_hash, outcome.seed))
                executed += 1
                if bar is not None:
                    bar.update(1)
            if spec.adaptive is None:
                break
            more = _adaptive_targets(plan, _planned(store.rows(), wanted), wanted)
            if not more:
                break
            wanted.update(more)
    finally:
        if bar is not None:
            bar.close()
    rows = _planned(store.rows(), wanted)
    summaries = summarise(plan, rows)
    return SweepResult(plan=plan, runs=rows, summaries=summaries, executed=executed,
                       skipped=skipped, elapsed_s=time.perf_counter() - started,
                       executor=getattr(executor, "description", type(executor).__name__))


def _progress_bar(plan: SweepPlan, total: int, skipped: int):
    """tqdm on stderr: runs done of runs planned, rate, and the ETA from the rate."""
    from tqdm import tqdm

    bar = tqdm(total=total, unit="run", desc=f"sweep {plan.spec.name}", file=sys.stderr,
               dynamic_ncols=True, smoothing=0.1)
    if skipped:
        bar.set_postfix_str(f"{skipped} already stored")
    return bar


def _missing_tasks(plan: SweepPlan, wanted: dict[str, int], done: set[tuple[str, int]]
                   ) -> tuple[list[RunTask], set[tuple[str, int]]]:
    """The runs still to do (replication first), and the keys of those already done."""
    tasks: list[RunTask] = []
    already: set[tuple[str, int]] = set()
    most = max(wanted.values(), default=0)
    for replication in range(most):
        seed = plan.seed(replication)
        for configuration in plan.configurations:
            if replication >= wanted[configuration.config_hash]:
                continue
            if (configuration.config_hash, seed) in done:
                already.add((configuration.config_hash, seed))
            else:
                tasks.append(plan.task(configuration, replication))
    return tasks, already


def _planned(rows: list[StoredRun], wanted: dict[str, int]) -> list[StoredRun]:
    """The stored runs this plan asks for: its configurations' first ``wanted`` replications.

    A store can hold more (a resumed sweep whose file now asks for fewer replications,
    or other configurations); they stay stored but are left out of this sweep's
    statistics, so a resumed sweep reports exactly what a fresh one would.
    """
    return [r for r in rows if r.replication < wanted.get(r.config_hash, 0)]


def _adaptive_targets(plan: SweepPlan, rows: list[StoredRun],
                      wanted: dict[str, int]) -> dict[str, int]:
    """Configurations whose interval is still too wide, with how many runs to aim for.

    The target is the classic sample-size estimate ``n = (t * s / (r * mean))^2`` from
    the current spread, at least one more run and at most double the current count (so
    one noisy estimate cannot commit a hundred runs), capped by ``max_replications``.
    """
    adaptive = plan.spec.adaptive
    assert adaptive is not None
    by_config = _rows_by_config(rows)
    targets = {}
    for configuration in plan.configurations:
        key = configuration.config_hash
        values = [metric_value(r.metrics, adaptive.metric) for r in by_config.get(key, [])]
        interval = mean_interval(values, plan.spec.confidence)
        n = interval.n
        if n >= adaptive.max_replications or n < wanted[key]:
            continue
        if _narrow_enough(interval, adaptive.relative_half_width):
            continue
        target = n + 1
        if n >= 2 and interval.mean != 0 and not math.isnan(interval.half_width):
            ratio = interval.half_width / (adaptive.relative_half_width * abs(interval.mean))
            target = max(n + 1, min(2 * n, math.ceil(n * ratio * ratio)))
        targets[key] = min(adaptive.max_replications, target)
    return targets


def _narrow_enough(interval: Interval, relative: float) -> bool:
    if interval.n < 2 or math.isnan(interval.half_width):
        return False
    return interval.half_width <= relative * abs(interval.mean)


def _rows_by_config(rows: Iterable[StoredRun]) -> dict[str, list[StoredRun]]:
    grouped: dict[str, list[StoredRun]] = {}
    for row in sorted(rows, key=lambda r: (r.config_hash, r.replication)):
        grouped.setdefault(row.config_hash, []).append(row)
    return grouped


def summarise(plan: SweepPlan, rows: list[StoredRun]) -> list[ConfigurationSummary]:
    """Per configuration (in plan order): intervals, verdict tallies, Pareto flags."""
    by_config = _rows_by_config(rows)
    summaries = []
    for configuration in plan.configurations:
        runs = by_config.get(configuration.config_hash, [])
        intervals = {name: mean_interval([metric_value(r.metrics, name) for r in runs],
                                         plan.spec.confidence)
                     for name in plan.metrics}
        verdicts: dict[str, dict[str, int]] = {}
        for run in runs:
            for invariant, verdict in run.verdicts.items():
                tally = verdicts.setdefault(invariant, {})
                tally[verdict["status"]] = tally.get(verdict["status"], 0) + 1
        summaries.append(ConfigurationSummary(
            configuration=configuration, seeds=[r.seed for r in runs], intervals=intervals,
            verdicts=verdicts, failed_runs=sum(1 for r in runs if r.failed),
            check_errors=sum(1 for r in runs if r.check_error)))
    objectives = plan.spec.objectives
    if objectives:
        points = [[s.intervals[name].mean for name in objectives] for s in summaries]
        for summary, on_front in zip(summaries, pareto_front(points, list(objectives.values())),
                                     strict=True):
            summary.pareto = on_front
    return summaries


# ---------------------------------------------------------------- output


def summary_records(result: SweepResult) -> list[dict[str, Any]]:
    """One flat record per configuration: the rows of summary.csv."""
    records = []
    for summary in result.summaries:
        configuration = summary.configuration
        record: dict[str, Any] = {"configuration": configuration.index,
                                  "config_hash": configuration.config_hash,
                                  "label": configuration.label,
                                  "design": configuration.design or ""}
        record.update(configuration.as_dict())
        record["runs"] = len(summary.seeds)
        for name, interval in summary.intervals.items():
            record[f"{name}.mean"] = _num(interval.mean)
            record[f"{name}.ci_low"] = _num(interval.low)
            record[f"{name}.ci_high"] = _num(interval.high)
            record[f"{name}.n"] = interval.n
        record["failed_runs"] = summary.failed_runs
        if result.plan.spec.objectives:
            record["pareto"] = summary.pareto
        for invariant, tally in sorted(summary.verdicts.items()):
            record[f"invariant.{invariant}"] = " ".join(
                f"{status}:{count}" for status, count in sorted(tally.items()))
        records.append(record)
    return records


def _num(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 6)


def write_outputs(result: SweepResult, out_dir: Path) -> dict[str, Path]:
    """summary.csv, summary.json and runs.csv beside the store.

    Each is written whole under a temporary name first; only when all three are written
    are they renamed over the old ones, so a full disk leaves the previous set (or, from
    the caller, none), never a 0-byte or half-written file.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    records = summary_records(result)
    paths = {"summary_csv": out_dir / "summary.csv", "summary_json": out_dir / "summary.json",
             "runs_csv": out_dir / "runs.csv"}
    plan = result.plan
    document = {
        "sweep": plan.spec.model_dump(mode="json"),
        "scenario": plan.scenario_name,
        "scenario_file": str(plan.scenario_path),
        "root_seed": plan.root_seed,
        "metrics": plan.metrics,
        "confidence": plan.spec.confidence,
        "objectives": plan.spec.objectives,
        "configurations": records,
        "pareto_front": [s.configuration.label for s in result.summaries if s.pareto],
        "runs": len(result.runs), "executed": result.executed, "skipped": result.skipped,
        "failed_runs": result.failed_runs,
    }
    run_records = []
    order = {c.config_hash: c.index for c in plan.configurations}
    for run in sorted(result.runs, key=lambda r: (order.get(r.config_hash, -1), r.replication)):
        record = {"config_hash": run.config_hash, "label": run.label, "design": run.design,
                  "replication": run.replication, "seed": run.seed,
                  **run.values, "trace_sha256": run.trace_sha256,
                  "quiescent": run.quiescent, "failed": run.failed}
        record.update({name: _num(metric_value(run.metrics, name)) for name in plan.metrics})
        run_records.append(record)
    temporary = {key: path.with_name(f".{path.name}.tmp-{os.getpid()}")
                 for key, path in paths.items()}
    try:
        _write_csv(temporary["summary_csv"], records)
        with open(temporary["summary_json"], "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=2, sort_keys=False, default=str)
            handle.write("\n")
        _write_csv(temporary["runs_csv"], run_records)
        for key, path in paths.items():
            os.replace(temporary[key], path)
    finally:
        for leftover in temporary.values():
            leftover.unlink(missing_ok=True)
    return paths


def _write_csv(path: Path, records: list[dict[str, Any]]) -> None:
    columns = list(dict.fromkeys(k for record in records for k in record))
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for record in records:
            writer.writerow({k: ("" if v is None else v) for k, v in record.items()})


def summary_lines(result: SweepResult, max_metrics: int = 4) -> list[str]:
    """The printed table: one row per configuration, mean +- half width per metric."""
    from sim.reporting.summary import table

    plan = result.plan
    metrics = plan.metrics[:max_metrics]
    header = ["#", "configuration", "runs", *metrics]
    if plan.spec.objectives:
        header.append("pareto")
    rows = []
    for summary in result.summaries:
        row = [str(summary.configuration.index), summary.configuration.label,
               str(len(summary.seeds))]
        for name in metrics:
            interval = summary.intervals[name]
            if interval.n == 0 or math.isnan(interval.mean):
                row.append("-")
            elif math.isnan(interval.half_width):
                row.append(f"{interval.mean:.4g}")
            else:
                row.append(f"{interval.mean:.4g} +- {interval.half_width:.2g}")
        if plan.spec.objectives:
            row.append("*" if summary.pareto else "")
        rows.append(row)
    confidence = f"{plan.spec.confidence:.0%}"
    lines = [f"p2c sweep {plan.spec.name}: {plan.scenario_name}, "
             f"{len(plan.configurations)} configuration(s), root seed {plan.root_seed} "
             f"(replication r uses the same seed in every configuration)",
             f"{result.executed} run(s) executed, {result.skipped} already stored, "
             f"{result.elapsed_s:.1f} s on {result.executor}", ""]
    lines += table(rows, header, "rl" + "r" * (len(header) - 2))
    lines.append(f"(mean +- half width of the {confidence} t-interval"
                 + (f"; {len(plan.metrics) - max_metrics} more metric(s) in summary.csv)"
                    if len(plan.metrics) > max_metrics else ")"))
    if plan.spec.objectives:
        goals = ", ".join(f"{k} ({v})" for k, v in plan.spec.objectives.items())
        lines.append(f"pareto: * = not dominated on {goals}")
    if result.failed_runs:
        lines.append(f"{result.failed_runs} run(s) broke an invariant their design promises "
                     "(see invariant.* in summary.csv)")
    errors = sum(s.check_errors for s in result.summaries)
    if errors:
        lines.append(f"WARNING: the checker crashed on {errors} run(s); their verdicts are "
                     "missing")
    dropped = sorted({f"{c.design}: {d}" for c in plan.configurations for d in c.dropped})
    if dropped:
        lines.append("scenario design overrides not applicable: " + "; ".join(dropped))
    return lines


# ------------------------------------------------------------------- the CLI


def default_out(name: str) -> Path:
    return Path("reports") / "sweeps" / name


def sweep_from_args(path: Path | str | dict[str, Any], *, workers: int | None = None,
                    scheduler: str | None = None, out: Path | str | None = None,
                    resume: bool = False, fresh: bool = False,
                    progress: bool = False) -> SweepResult:
    """Plan, run and write a sweep: what ``p2c sweep`` and :func:`sim.api.sweep` do.

    The order keeps a user's stored results safe: the plan is validated, the store
    checked (finished runs there and neither ``resume`` nor ``fresh``: refused, exit 2),
    the executor started (a Dask scheduler that cannot be reached fails here, before
    anything is touched), and only then is the store opened for writing. A ``fresh``
    store loses its earlier rows only when the first new run is committed. The derived
    files (summary.csv, summary.json, runs.csv) are always regenerated from the store,
    each written under a temporary name and renamed, even when the sweep stops early.
    """
    from sim.study.executors import make_executor
    from sim.study.store import ResultStore, stored_run_count

    if resume and fresh:
        raise InputError("p2c sweep: --resume keeps the stored runs and --fresh discards "
                         "them; give one of them")
    if isinstance(path, dict):
        plan = plan_sweep(path)
    else:
        plan = load_sweep(path)
    out_dir = Path(out) if out else default_out(plan.spec.name)
    store_path = out_dir / "results.sqlite"
    _check_out_dir(out_dir)
    stored = _store_call(store_path, stored_run_count, store_path)
    if stored and not (resume or fresh):
        raise InputError(
            f"{store_path}: holds {stored} finished run(s); keep them and run only what is "
            "missing with --resume, or discard them with --fresh")
    with make_executor(workers, scheduler) as executor:
        out_dir.mkdir(parents=True, exist_ok=True)
        store = _store_call(store_path, ResultStore, store_path, fresh=fresh and bool(stored),
                            meta={"sweep": plan.spec.name,
                                  "spec": json.dumps(plan.spec.model_dump(mode="json"),
                                                     sort_keys=True)})
        try:
            result = _store_call(store_path, run_sweep, plan, executor, store,
                                 progress=progress)
        except BaseException:
            executor.abort()  # no worker left running while the files are refreshed
            _refresh_outputs(plan, store, out_dir)
            raise
        finally:
            store.close()
    result.out_dir = out_dir
    write_outputs(result, out_dir)
    return result


def _check_out_dir(out_dir: Path) -> None:
    """Refuse an ``--out`` that cannot be a folder, before anything runs."""
    for folder in (*reversed(out_dir.parents), out_dir):
        if folder.exists() and not folder.is_dir():
            raise InputError(f"{out_dir}: cannot be the sweep's folder: {folder} is a file, "
                             "not a folder")


def _store_call(store_path: Path, function: Any, *args: Any, **kwargs: Any) -> Any:
    """``function(*args, **kwargs)``, with a SQLite failure reported as an environment
    error naming the store (``database or disk is full``, ``file is not a database``)."""
    import sqlite3

    try:
        return function(*args, **kwargs)
    except sqlite3.Error as exc:
        cause = f"results store: {exc}"
        if _nearly_full(store_path.parent):
            cause += " (the disk is full)"
        raise OSError(0, cause, str(store_path)) from None


def _nearly_full(folder: Path) -> bool:
    import shutil

    try:
        return shutil.disk_usage(folder).free < 1 << 20
    except OSError:
        return False


def _refresh_outputs(plan: SweepPlan, store: Any, out_dir: Path) -> None:
    """After a sweep stopped early: the derived files again from what the store holds,
    or, if they cannot be written (a full disk), none at all rather than stale ones."""
    paths = [out_dir / name for name in ("summary.csv", "summary.json", "runs.csv")]
    try:
        if store.fresh_pending:
            return  # nothing new committed: the store and its derived files still agree
        wanted = {c.config_hash: _most_replications(plan) for c in plan.configurations}
        rows = _planned(store.rows(), wanted)
        partial = SweepResult(plan=plan, runs=rows, summaries=summarise(plan, rows),
                              executed=0, skipped=len(rows), elapsed_s=0.0, executor="")
        write_outputs(partial, out_dir)
    except Exception:
        for stale in paths:
            stale.unlink(missing_ok=True)


def _most_replications(plan: SweepPlan) -> int:
    adaptive = plan.spec.adaptive
    return max(plan.spec.replications, adaptive.max_replications if adaptive else 0)


def cmd_sweep(args: argparse.Namespace) -> int:
    """``p2c sweep SWEEP.yaml``: run the sweep, write the outputs, print the table."""
    progress = (not args.json and sys.stderr.isatty()) if args.progress is None else args.progress
    try:
        result = sweep_from_args(args.sweep, workers=args.workers, scheduler=args.scheduler,
                                 out=args.out, resume=args.resume, fresh=args.fresh,
                                 progress=progress)
    except KeyboardInterrupt:
        print("interrupted: every finished run is stored; continue with --resume",
              file=sys.stderr)
        raise
    failed = bool(args.strict and result.failed_runs)
    assert result.out_dir is not None
    if args.json:
        print(json.dumps({
            "sweep": result.plan.spec.name, "out_dir": str(result.out_dir),
            "store": str(result.out_dir / "results.sqlite"),
            "executed": result.executed, "skipped": result.skipped,
            "elapsed_s": round(result.elapsed_s, 3), "executor": result.executor,
            "configurations": summary_records(result),
            "pareto_front": [s.configuration.label for s in result.summaries if s.pareto],
            "failed_runs": result.failed_runs, "failed": failed,
        }, sort_keys=True, default=str))
    else:
        lines = summary_lines(result)
        lines += ["", f"Results: {result.out_dir}/ (results.sqlite, summary.csv, "
                      "summary.json, runs.csv)",
                  f"Resume or extend: p2c sweep {args.sweep} --resume"]
        print("\n".join(lines))
    return EXIT_FAILED if failed else EXIT_OK


def add_sweep_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``sweep`` to ``p2c``'s subcommands (``add_sweep_parser(sub)`` in build_parser)."""
    parser = subparsers.add_parser(
        "sweep", help="run a scenario over factors and replications, with confidence intervals",
        description="Run every configuration of a sweep file (factors x designs) for several "
                    "replications with common random numbers; print means with 95% "
                    "t-intervals and the Pareto front; results in reports/sweeps/<name>/.")
    parser.add_argument("sweep", help="sweep YAML file, e.g. scenarios/sweeps/batch_interval.yaml")
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="local worker processes (default: every core; 0 = in this "
                             "process)")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="run on a Dask cluster, e.g. tcp://10.0.0.5:8786")
    parser.add_argument("--resume", action="store_true",
                        help="keep the stored results and run only what is missing")
    parser.add_argument("--fresh", action="store_true",
                        help="discard the stored results and start again (they are deleted "
                             "when the first new run is stored). Without --resume or --fresh "
                             "a store that holds finished runs is refused (exit 2)")
    parser.add_argument("--out", help="output folder (default reports/sweeps/<name>)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="progress bar with ETA on stderr (default: when a terminal)")
    parser.add_argument("--strict", action="store_true",
                        help="exit 1 when any run broke an invariant its design promises")
    parser.set_defaults(func=cmd_sweep)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m sim.study.sweep SWEEP.yaml ...``: the same as ``p2c sweep`` (and its
    errors, signals and exit codes are handled by the same code)."""
    from sim.cli.main import main as p2c  # the command line's one error path

    return p2c(["sweep", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

