"""The plan: every configuration of a sweep, built and validated before any run."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from sim.engine.runner import run_size
from sim.scenario.variants import catalogue_names
from sim.scenario.yamlio import InputError, LineMap, PathKey, load_yaml, validation_error
from sim.study.configure import Configured, configure
from sim.study.executors import RunTask
from sim.study.sweep.sampling import grid_values, latin_hypercube, replication_seed
from sim.study.sweep.spec import SweepSpec


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
    #: one run's size, :func:`sim.engine.runner.run_size` (user-days, initial records,
    #: estimated seconds): what ``p2c sweep`` adds up before it starts
    size: tuple[float, int, float] = (0.0, 0, 0.0)

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

    def task(
        self, configuration: Configuration, replication: int, keep_delays: bool = False
    ) -> RunTask:
        return RunTask(
            raw=self.scenario_raw,
            overrides=configuration.overrides,
            design=configuration.design,
            seed=self.seed(replication),
            replication=replication,
            config_hash=configuration.config_hash,
            near=str(self.scenario_path.parent),
            source=str(self.scenario_path),
            check=self.spec.check,
            keep_delays=keep_delays,
            label=configuration.label,
        )


def load_sweep(path: Path | str) -> SweepPlan:
    """Read, validate and plan a sweep file (:class:`InputError` naming file and line)."""
    path = Path(path)
    data, linemap = load_yaml(path)
    return plan_sweep(data, linemap, path.parent, path)


def _check_metric_names(spec: SweepSpec, linemap: LineMap) -> None:
    """Every metric the sweep names is one the simulator measures (before any run)."""
    from sim.study.regression import unknown_metric  # regression imports the sweep package

    named: list[tuple[PathKey, str]] = [(("metrics", i), m) for i, m in enumerate(spec.metrics)]
    named += [(("objectives", m), m) for m in spec.objectives]
    if spec.adaptive is not None:
        named.append((("adaptive", "metric"), spec.adaptive.metric))
    for where, name in named:
        problem = unknown_metric(name)
        if problem:
            raise linemap.error(where, problem)


def plan_sweep(
    data: Any, linemap: LineMap | None = None, near: Path | None = None, path: Path | None = None
) -> SweepPlan:
    """Validate sweep data (a parsed file, or a dict from the API) and build the plan."""
    linemap = linemap or LineMap(str(path) if path else "sweep")
    if not isinstance(data, dict):
        raise linemap.error((), "a sweep file must be a mapping of keys to values")
    try:
        spec = SweepSpec.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, linemap) from None
    _check_metric_names(spec, linemap)
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
                raise linemap.error(
                    ("designs", i), f"unknown design {name!r} (known: {', '.join(known)})"
                )
        if not chosen:
            raise linemap.error(("designs",), "list at least one design")
        designs = list(chosen)
    scenario_path = (near or Path.cwd()) / spec.scenario
    raw, scenario_lines = load_yaml(scenario_path)
    if not isinstance(raw, dict):
        raise scenario_lines.error((), "a scenario file must be a mapping of keys to values")
    # The scenario with the fixed overrides alone: valid on its own, and its seed is the
    # default root seed.
    base = _configure_for_plan(
        raw, dict(spec.overrides), None, scenario_path, scenario_lines, linemap, {}
    )
    root_seed = spec.seed if spec.seed is not None else base.scenario.spec.seed

    if spec.sampler == "grid":
        factor_names = list(spec.factors)
        points = [
            dict(zip(factor_names, combo, strict=True))
            for combo in itertools.product(*(grid_values(spec.factors[n]) for n in factor_names))
        ]
    else:
        assert spec.samples is not None
        points = latin_hypercube(spec.factors, spec.samples, root_seed)
    short = _short_names(list(spec.factors))
    configurations: list[Configuration] = []
    seen: dict[str, int] = {}
    for point, design in itertools.product(points, designs):
        overrides = {**spec.overrides, **point}
        configured = _configure_for_plan(
            raw, overrides, design, scenario_path, scenario_lines, linemap, point
        )
        if configured.config_hash in seen:
            continue  # two points that resolve to one scenario are one configuration
        seen[configured.config_hash] = len(configurations)
        parts = [design] if design else []
        parts += [f"{short[k]}={_fmt_value(v)}" for k, v in point.items()]
        label = " ".join(parts)
        configurations.append(
            Configuration(
                index=len(configurations),
                design=design,
                values=tuple(point.items()),
                overrides=tuple(overrides.items()),
                config_hash=configured.config_hash,
                label=label or configured.scenario.name,
                dropped=tuple(configured.dropped),
                size=run_size(configured.scenario),
            )
        )
    return SweepPlan(
        spec=spec,
        path=path,
        scenario_path=scenario_path,
        scenario_raw=raw,
        scenario_name=base.scenario.name,
        root_seed=root_seed,
        configurations=configurations,
    )


def _configure_for_plan(
    raw: dict[str, Any],
    overrides: dict[str, Any],
    design: str | None,
    scenario_path: Path,
    scenario_lines: LineMap,
    linemap: LineMap,
    point: dict[str, Any],
) -> Configured:
    """:func:`configure`, with an error that names the sweep file's line and the values."""
    try:
        return configure(
            raw,
            overrides,
            design,
            near=scenario_path.parent,
            source=scenario_path,
            linemap=scenario_lines,
        )
    except InputError as exc:
        culprit = next((("factors", k) for k in point), None) or (
            ("overrides", next(iter(overrides))) if overrides else ("scenario",)
        )
        setting = ", ".join(f"{k}={v!r}" for k, v in overrides.items()) or "no overrides"
        under = f" under design {design}" if design else ""
        raise InputError(
            f"{linemap.where(culprit)}: the configuration {setting}{under} "
            f"is not a valid scenario:\n  {exc.message}"
        ) from None


def _short_names(names: list[str]) -> dict[str, str]:
    """The shortest dotted suffix of each name that no other name ends with:
    ``interval_s`` for ``design.batch.interval_s``; ``sales_rep.actions.edit_account``
    when ``credit_controller.actions.edit_account`` is a factor too."""
    short = {}
    for name in names:
        parts = name.split(".")
        for size in range(1, len(parts) + 1):
            suffix = ".".join(parts[-size:])
            if not any(
                other != name and (other == suffix or other.endswith("." + suffix))
                for other in names
            ):
                break
        short[name] = suffix
    return short


def _fmt_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
