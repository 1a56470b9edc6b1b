"""Regression suites: scenario files that say what their runs must show.

A regression suite pins down behaviour an architect relies on, so that a change to a
design template, to the models or to the simulator that alters it fails CI with a
readable explanation. Each suite file (``scenarios/suite/*.yaml``) is a scenario plus an
``expect:`` block:

.. code-block:: yaml

    base: ../prospect_to_cash.yaml       # optional: start from a reference scenario
    duration_days: 1                      # ...and override parts of it (deep merge)
    roles: {sales_rep: {headcount: 12}}
    expect:
      replications: 5                     # seeds derived from the scenario's seed
      invariants: {ownership: holds, no_lost_update: [holds, sanctioned]}
      metrics:
        overwritten_writes: {max: 40}      # the 95% CI upper bound must be <= 40
        writes: {min: 300}                # the 95% CI lower bound must be >= 300
      designs:                            # optional: run under these catalogue designs
        p2c-2017: {metrics: {overwritten_writes: {min: 1}}}
        dual-write-async: {invariants: {no_lost_update: holds}}

With ``base``, the suite file's keys merge into the base scenario's
(:func:`sim.scenario.merge.deep_merge`: mappings key by key, anything else replaces).
``design:`` follows the rules of a design override: a ``design`` that names a design
(``design: NAME`` or a mapping with ``extends:``) replaces the base's design whole, since
the base's overrides were written for the design it named; a mapping without ``extends``
is an override of the base's design, and who may edit an entity, a map's row filter and
its field list each replace the base's whole (``DESIGN_REPLACED_WHOLE``): ``editable:
{account: {sales: {}}}`` means Sales alone, not Sales added to the base's editors.

Without ``base`` the file is a complete scenario with ``expect:`` added. ``expect`` is
not part of a scenario (scenario files forbid unknown keys), so it is taken off before
the scenario is validated, and validated on its own here, with ``file:line`` errors.

**Invariant expectations** name a status or a list of acceptable statuses (``holds``,
``violated``, ``sanctioned``, ``unknown``); every replication must show one of them.

**Metric expectations are confidence-interval checks**, not point checks. A simulated
week is one draw from a random process; comparing one draw against a bound would flake
whenever the bound sits inside the natural spread. Instead the suite runs
``replications`` seeds (derived from the scenario's seed, or from ``seed``, as sweeps
derive them; one replication runs the scenario's own seed, as ``p2c run`` does;
``seeds: [..]`` lists them explicitly) and computes the Student-t interval of the mean: ``max: B``
passes when the upper end of the interval is at most ``B`` (the data are confident the
mean is below ``B``), ``min: B`` when the lower end is at least ``B``. Since the seeds are
fixed, the check is deterministic: it fails only when behaviour changed. With one
replication the single value is compared (no interval exists).

**Designs.** ``expect.designs`` lists catalogue designs (a list, ``all``, or a mapping
to extra expectations per design); each becomes its own case, run under that design
with the scenario's design overrides applied where they fit (as ``p2c compare`` does).
Per-design expectations add to, or replace, the common ones.

``p2c check scenarios/suite/`` runs every case (in parallel, :mod:`sim.study.executors`),
prints a diff for each regression (expected against observed, with the interval and the
value of every seed) and exits 1 on any regression, 0 otherwise, 2 on bad input. The
pytest plugin (:mod:`sim.pytest_plugin`) makes each case a test item.
"""

from __future__ import annotations

import difflib
import functools
import math
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import Field, ValidationError, model_validator
from tqdm import tqdm

import models
import sim
import sim.engine
from models.strict import Strict
from sim.checker import INVARIANTS
from sim.glossary import RENAMED_METRICS
from sim.scenario.merge import deep_merge
from sim.scenario.spec import DESIGN_REPLACED_WHOLE
from sim.scenario.variants import catalogue_names
from sim.scenario.yamlio import InputError, LineMap, load_yaml, validation_error
from sim.study.configure import Configured, configure
from sim.study.executors import InlineExecutor, RunTask, make_executor
from sim.study.stats import Interval, mean_interval, metric_value
from sim.study.sweep.sampling import replication_seed

if TYPE_CHECKING:
    from sim.study.executors import Executor, RunOutcome, RunTask

Status = Literal["holds", "violated", "sanctioned", "unknown"]


class MetricBound(Strict):
    """Bounds on a metric's mean, checked against its confidence interval."""

    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _some_bound(self) -> MetricBound:
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        return self


class Expectation(Strict):
    """What runs must show: invariant statuses and metric bounds."""

    invariants: dict[str, Status | list[Status]] = Field(default_factory=dict)
    metrics: dict[str, MetricBound] = Field(default_factory=dict)


class ExpectBlock(Expectation):
    """The ``expect:`` block of a suite file."""

    replications: int = Field(1, ge=1, le=1000)
    seed: int | None = Field(
        None, ge=0, lt=2**63, description="root seed (default: the scenario's)"
    )
    seeds: list[int] | None = Field(
        None, min_length=1, description="explicit seeds instead of derived ones"
    )
    confidence: float = Field(0.95, gt=0, lt=1)
    slow: bool = Field(False, description="mark the case slow (left out of the default test run)")
    designs: list[str] | Literal["all"] | dict[str, Expectation | None] | None = None

    @model_validator(mode="after")
    def _one_way_to_seed(self) -> ExpectBlock:
        if self.seeds is not None and (self.seed is not None or self.replications != 1):
            raise ValueError("give explicit seeds, or replications (and a root seed), not both")
        if self.seeds is not None and len(set(self.seeds)) != len(self.seeds):
            raise ValueError("seeds must be distinct")
        return self

    def seed_list(self, scenario_seed: int) -> list[int]:
        """Explicit ``seeds``; else one replication runs the scenario's own seed (what
        ``p2c run`` runs); else seeds derived from the root seed as sweeps derive them."""
        if self.seeds is not None:
            return list(self.seeds)
        root = self.seed if self.seed is not None else scenario_seed
        if self.replications == 1:
            return [root]
        return [replication_seed(root, r) for r in range(self.replications)]


@dataclass
class SuiteCase:
    """One scenario under one design, with its expectations and replication seeds."""

    file: Path
    design: str | None
    design_name: str
    expectation: Expectation
    seeds: list[int]
    confidence: float
    slow: bool
    configured: Configured
    raw: dict[str, Any]
    near: Path

    @property
    def id(self) -> str:
        """``file.yaml::design``: how reports and pytest name the case."""
        return f"{self.file.name}::{self.design_name}"

    def tasks(self) -> list[RunTask]:
        return [
            RunTask(
                raw=self.raw,
                overrides=(),
                design=self.design,
                seed=seed,
                config_hash=self.configured.config_hash,
                replication=r,
                near=str(self.near),
                source=str(self.file),
                label=self.id,
            )
            for r, seed in enumerate(self.seeds)
        ]


# ------------------------------------------------------------------ loading


def suite_files(paths: Iterable[Path | str]) -> list[Path]:
    """The suite files named by ``paths`` (files, or folders whose ``*.yaml`` are taken)."""
    files: list[Path] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found = sorted([*path.glob("*.yaml"), *path.glob("*.yml")])
            if not found:
                raise InputError(f"{path}: no suite files (*.yaml) in this folder")
            files += found
        elif path.is_file():
            files.append(path)
        else:
            raise InputError(f"{path}: no such file or folder")
    return list(dict.fromkeys(files))


def load_suite(paths: Iterable[Path | str]) -> list[SuiteCase]:
    """Every case of every suite file under ``paths``, validated."""
    return [case for file in suite_files(paths) for case in load_suite_file(file)]


def load_suite_file(path: Path | str) -> list[SuiteCase]:
    """The cases of one suite file (one per design it names, else one)."""
    path = Path(path)
    data, lines = load_yaml(path)
    if not isinstance(data, dict):
        raise lines.error((), "a suite file must be a mapping of keys to values")
    if "expect" not in data:
        raise lines.error((), "a suite file needs an expect: block (what its runs must show)")
    data = dict(data)
    expect_raw = data.pop("expect")
    try:
        expect = ExpectBlock.model_validate(expect_raw)
    except ValidationError as exc:
        raise validation_error(exc, lines, ("expect",)) from None
    raw, near = _scenario_data(path, data, lines)
    _check_invariant_names(expect, lines)

    known = catalogue_names()
    per_design: dict[str | None, Expectation | None]
    if expect.designs is None:
        per_design = {None: None}
    elif expect.designs == "all":
        per_design = dict.fromkeys(known)
    elif isinstance(expect.designs, list):
        per_design = dict.fromkeys(expect.designs)
    else:
        per_design = {name: extra for name, extra in expect.designs.items()}
    for name in per_design:
        if name is not None and name not in known:
            raise lines.error(
                ("expect", "designs", name), f"unknown design {name!r} (known: {', '.join(known)})"
            )

    cases = []
    for design, extra in per_design.items():
        configured = configure(raw, {}, design, near=near, source=path, linemap=lines)
        seeds = expect.seed_list(configured.scenario.spec.seed)
        cases.append(
            SuiteCase(
                file=path,
                design=design,
                design_name=design or _design_name(raw),
                expectation=_combine(expect, extra),
                seeds=seeds,
                confidence=expect.confidence,
                slow=expect.slow,
                configured=configured,
                raw=raw,
                near=near,
            )
        )
    return cases


def _scenario_data(path: Path, data: dict[str, Any], lines: LineMap) -> tuple[dict[str, Any], Path]:
    """The scenario a suite file describes: itself, or its ``base`` with it merged in."""
    base = data.pop("base", None)
    if base is None:
        return data, path.parent
    if not isinstance(base, str):
        raise lines.error(("base",), "must be the path of a scenario file")
    base_path = (path.parent / base).resolve()
    base_raw, base_lines = load_yaml(base_path)
    if not isinstance(base_raw, dict):
        raise base_lines.error((), "a scenario file must be a mapping of keys to values")
    base_raw = {k: v for k, v in base_raw.items() if k != "expect"}
    design = data.get("design")
    if isinstance(design, dict) and "extends" in design:
        base_raw.pop("design", None)  # a design named anew: the base's overrides go with it
    whole = tuple(("design", *rule) for rule in DESIGN_REPLACED_WHOLE)
    return deep_merge(base_raw, data, whole=whole), base_path.parent


def _design_name(raw: dict[str, Any]) -> str:
    design = raw.get("design")
    if isinstance(design, str):
        return design
    if isinstance(design, dict):
        return str(design.get("extends") or design.get("name") or "design")
    return "design"


def _combine(common: Expectation, extra: Expectation | None) -> Expectation:
    if extra is None:
        return Expectation(invariants=dict(common.invariants), metrics=dict(common.metrics))
    return Expectation(
        invariants={**common.invariants, **extra.invariants},
        metrics={**common.metrics, **extra.metrics},
    )


def _check_invariant_names(expect: ExpectBlock, lines: LineMap) -> None:
    blocks: list[tuple[tuple[str, ...], Expectation]] = [(("expect",), expect)]
    if isinstance(expect.designs, dict):
        blocks += [
            (("expect", "designs", name), extra)
            for name, extra in expect.designs.items()
            if extra is not None
        ]
    for where, block in blocks:
        for name in block.invariants:
            if name not in INVARIANTS:
                raise lines.error(
                    where + ("invariants", name),
                    f"unknown invariant{closest(name, INVARIANTS)} "
                    f"(known: {', '.join(INVARIANTS)})",
                )
        for name in block.metrics:
            problem = unknown_metric(name)
            if problem:
                raise lines.error(where + ("metrics", name), problem)


def closest(name: str, known: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for the known name closest to ``name`` (difflib), or ``""``."""
    match = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f"; did you mean {match[0]!r}?" if match else ""


# ----------------------------------------------------------------- judging


@dataclass
class Mismatch:
    """One expectation a case did not meet, in words."""

    subject: str
    expected: str
    observed: str
    detail: list[str] = field(default_factory=list)
    seed: int | None = None  # a seed that shows it, for the reproduce line


@dataclass
class CaseResult:
    """A case's runs (in seed order) and the expectations they did not meet."""

    case: SuiteCase
    outcomes: list[RunOutcome]
    mismatches: list[Mismatch]
    repro_file: Path | None = None

    @property
    def passed(self) -> bool:
        return not self.mismatches

    def lines(self) -> list[str]:
        """PASS in one line, or FAIL with the readable diff."""
        case = self.case
        seeds = ", ".join(str(s) for s in case.seeds)
        reps = f"{len(case.seeds)} replication(s)"
        if self.passed:
            return [f"PASS {case.id} ({reps})"]
        out = [
            f"FAIL {case.id}: {len(self.mismatches)} expectation(s) not met over {reps} "
            f"(seeds {seeds})"
        ]
        for mismatch in self.mismatches:
            out.append(f"  - {mismatch.subject}")
            out.append(f"      expected: {mismatch.expected}")
            out.append(f"      observed: {mismatch.observed}")
            out += [f"      {line}" for line in mismatch.detail]
        seed = next((m.seed for m in self.mismatches if m.seed is not None), case.seeds[0])
        if self.repro_file is not None:
            out.append(f"  reproduce: p2c run {self.repro_file} --seed {seed}")
        else:
            out.append(f"  reproduce: p2c check {case.file}")
        return out


def judge(case: SuiteCase, outcomes: Sequence[RunOutcome]) -> CaseResult:
    """Compare a case's runs with its expectations."""
    order = {seed: i for i, seed in enumerate(case.seeds)}
    runs = sorted(outcomes, key=lambda o: order.get(o.seed, len(order)))
    mismatches: list[Mismatch] = []
    crashed = [o for o in runs if o.check_error]
    if crashed and case.expectation.invariants:
        mismatches.append(
            Mismatch(
                "the invariant checker",
                "a verdict for every run",
                f"it crashed on seed {crashed[0].seed}: {crashed[0].check_error}",
                seed=crashed[0].seed,
            )
        )
    for invariant, wanted in case.expectation.invariants.items():
        allowed = [wanted] if isinstance(wanted, str) else list(wanted)
        mismatch = _judge_invariant(invariant, allowed, [o for o in runs if not o.check_error])
        if mismatch is not None:
            mismatches.append(mismatch)
    for metric, bound in case.expectation.metrics.items():
        mismatch = _judge_metric(metric, bound, runs, case.confidence)
        if mismatch is not None:
            mismatches.append(mismatch)
    return CaseResult(case, list(runs), mismatches)


def _judge_invariant(
    name: str, allowed: Sequence[str], runs: Sequence[RunOutcome]
) -> Mismatch | None:
    observed: dict[str, list[RunOutcome]] = {}
    for run in runs:
        status = run.verdicts.get(name, {}).get("status", "missing")
        observed.setdefault(status, []).append(run)
    wrong = {s: rs for s, rs in observed.items() if s not in allowed}
    if not wrong:
        return None
    parts = []
    for status, status_runs in observed.items():
        counts = ""
        if status in ("violated", "sanctioned"):
            numbers = [
                run.verdicts[name][status if status == "sanctioned" else "violations"]
                for run in status_runs
            ]
            counts = f" ({', '.join(str(n) for n in numbers)} anomalies)"
        seeds = ", ".join(str(r.seed) for r in status_runs)
        parts.append(
            f"{status} in {len(status_runs)} of {len(runs)} run(s){counts} [seeds {seeds}]"
        )
    first = next(iter(wrong.values()))[0]
    return Mismatch(f"invariant {name}", " or ".join(allowed), "; ".join(parts), seed=first.seed)


def _judge_metric(
    name: str, bound: MetricBound, runs: Sequence[RunOutcome], confidence: float
) -> Mismatch | None:
    values = [metric_value(run.metrics, name) for run in runs]
    reported = any(name in run.metrics for run in runs)
    expected = _bound_text(bound, confidence, len(values))
    per_seed = "per seed: " + ", ".join(f"{_fmt(v)}" for v in values)
    renamed = RENAMED_METRICS.get(name.split(".", 1)[0])
    if not reported and renamed is not None:
        return Mismatch(
            f"metric {name}",
            expected,
            f"this metric is now called {renamed} (README: Words for loss)",
        )
    if not reported and not known_metric(name):
        return Mismatch(
            f"metric {name}",
            expected,
            "no run reported this metric, and the simulator has no metric of that name (misspelt?)",
        )
    interval = mean_interval(values, confidence)
    if interval.n == 0:
        return Mismatch(
            f"metric {name}", expected, "no value in any run (nothing measured)", [per_seed]
        )
    single = interval.n == 1
    low = interval.mean if single else interval.low
    high = interval.mean if single else interval.high
    problems = []
    if bound.max is not None and high > bound.max:
        what = "value" if single else f"upper bound {_fmt(high)}"
        problems.append(f"{what} > {_fmt(bound.max)}")
    if bound.min is not None and low < bound.min:
        what = "value" if single else f"lower bound {_fmt(low)}"
        problems.append(f"{what} < {_fmt(bound.min)}")
    if not problems:
        return None
    observed = _interval_text(interval) + ": " + "; ".join(problems)
    worst = (
        max(runs, key=lambda r: metric_value(r.metrics, name))
        if bound.max is not None
        else min(runs, key=lambda r: metric_value(r.metrics, name))
    )
    return Mismatch(f"metric {name}", expected, observed, [per_seed], seed=worst.seed)


def _bound_text(bound: MetricBound, confidence: float, n: int) -> str:
    level = f"{confidence:.0%} CI"
    parts = []
    if bound.min is not None:
        parts.append(
            f"{level} lower bound >= {_fmt(bound.min)}" if n > 1 else f"value >= {_fmt(bound.min)}"
        )
    if bound.max is not None:
        parts.append(
            f"{level} upper bound <= {_fmt(bound.max)}" if n > 1 else f"value <= {_fmt(bound.max)}"
        )
    return " and ".join(parts)


def _interval_text(interval: Interval) -> str:
    if interval.n == 1:
        return f"value {_fmt(interval.mean)} (1 run, no interval)"
    return (
        f"mean {_fmt(interval.mean)}, {interval.confidence:.0%} CI "
        f"[{_fmt(interval.low)}, {_fmt(interval.high)}] (n={interval.n})"
    )


def _fmt(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.4g}"


@functools.lru_cache(maxsize=1)
def _source_text() -> str:
    # The installed packages' own sources (a wheel ships them too), not a checkout's.
    files = [
        p
        for package in (sim, models)
        for p in sorted(Path(next(iter(package.__path__))).rglob("*.py"))
    ]
    return "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in files)


def known_metric(name: str) -> bool:
    """Whether the simulator counts a metric called ``name`` (its first dotted part).

    Counters appear in a run's metrics only once incremented, so a metric missing from
    every run is usually just zero. A misspelt name is missing too; to tell them apart,
    the name's first part (``writes`` of ``writes.sales.account``) must occur as a
    string in the simulator's source (``counts["overwritten_writes"]``,
    ``f"propagation_p95_s.{flow}"``).
    """
    head = name.split(".", 1)[0]
    return re.search(r"[\"']" + re.escape(head) + r"[\"'.{]", _source_text()) is not None


def unknown_metric(name: str) -> str | None:
    """Why ``name`` is no metric of the simulator (with the closest one), or ``None``.

    Checked when a sweep or suite is loaded, before any run starts: a misspelt metric
    would otherwise be measured as 0 in every run.
    """
    if known_metric(name):
        return None
    head = name.split(".", 1)[0]
    return f"unknown metric {head!r}{closest(head, metric_heads())}"


@functools.cache
def metric_heads() -> list[str]:
    """The metric names (first dotted parts) the simulator's engine produces."""
    names: set[str] = set()
    for path in sorted(Path(next(iter(sim.engine.__path__))).glob("*.py")):
        text = path.read_text(encoding="utf-8", errors="replace")
        names.update(re.findall(r"counts\[[\"']([a-z][a-z0-9_]*)[\"']\]", text))
        names.update(re.findall(r"[\"']([a-z][a-z0-9_]*_(?:s|24h))[\"'.{]", text))
        names.update(re.findall(r"metrics\[[f]?[\"']([a-z][a-z0-9_]*)[\"'.{]", text))
    return sorted(names)


# ----------------------------------------------------------------- running


@dataclass
class SuiteResult:
    """Every case's result, in suite order."""

    results: list[CaseResult]

    @property
    def failed(self) -> list[CaseResult]:
        return [r for r in self.results if not r.passed]

    def lines(self) -> list[str]:
        out: list[str] = []
        for result in self.results:
            out += result.lines()
        runs = sum(len(r.outcomes) for r in self.results)
        verdict = f"{len(self.failed)} regression(s)" if self.failed else "no regressions"
        out += ["", f"p2c check: {len(self.results)} case(s), {runs} run(s): {verdict}"]
        return out


def run_cases(
    cases: Sequence[SuiteCase], executor: Executor | None = None, *, progress: bool = False
) -> SuiteResult:
    """Run every replication of every case (through ``executor``) and judge each case."""
    executor = executor or InlineExecutor()
    tasks = [task for case in cases for task in case.tasks()]
    by_case: dict[str, list[RunOutcome]] = {case.id: [] for case in cases}
    bar = None
    if progress:
        bar = tqdm(
            total=len(tasks), unit="run", desc="p2c check", file=sys.stderr, dynamic_ncols=True
        )
    try:
        for outcome in executor.imap_unordered(tasks):
            by_case[outcome.label].append(outcome)
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return SuiteResult([judge(case, by_case[case.id]) for case in cases])


def check_case(case: SuiteCase) -> CaseResult:
    """Run one case in this process and judge it (what a pytest item does)."""
    return run_cases([case]).results[0]


def check_paths(
    paths: Iterable[Path | str],
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    out: Path | str | None = None,
    progress: bool = False,
) -> SuiteResult:
    """What ``p2c check PATH...`` does: load, run, judge; write a resolved scenario for
    each failed case under ``out`` so the reproduce line works."""
    cases = load_suite(paths)
    ids = [case.id for case in cases]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise InputError(f"two suite files share a name: {', '.join(duplicates)}")
    runs = sum(len(case.seeds) for case in cases)
    with make_executor(workers if runs > 1 else 0, scheduler) as executor:
        result = run_cases(cases, executor, progress=progress)
    if out is not None:
        for case_result in result.failed:
            case_result.repro_file = write_resolved(case_result.case, Path(out))
    return result


def write_resolved(case: SuiteCase, out: Path) -> Path:
    """The case's scenario with its design written out, runnable with ``p2c run``."""
    out.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{case.file.stem}-{case.design_name}")
    target = out / f"{name}.yaml"
    with open(target, "w", encoding="utf-8") as handle:
        handle.write(f"# resolved from {case.file} under {case.design_name} by p2c check\n")
        yaml.safe_dump(
            case.configured.scenario.resolved(), handle, sort_keys=False, allow_unicode=True
        )
    return target
