"""The Python API for notebooks: runs, comparisons and sweeps as pandas DataFrames.

Architects work in notebooks. This module is the one door they need: every function
takes a scenario file (or a sweep file) and returns a tidy :class:`pandas.DataFrame`,
**one row per run**, ready for ``groupby``, ``pivot`` and the plots in
:mod:`sim.reporting.plots`.

Columns of a run row, in order:

- ``scenario``, ``design``, ``seed``, ``replication``, ``config_hash`` (the identity of
  the fully resolved scenario the run used) and, for sweeps, ``label`` and one column per
  factor (its dotted path, e.g. ``design.batch.interval_s``);
- ``trace_sha256`` (same scenario + seed gives the same hash, in any process),
  ``quiescent``, ``failed`` (a promised invariant was violated);
- every metric of the run (``overwritten_writes``, ``blocked_user_s``,
  ``propagation_p95_s.account:sales->operations``, ...). A counter a run never
  incremented is 0; a delay percentile of a flow that carried nothing is NaN;
- per invariant: ``invariant.<name>`` (``holds``, ``violated``, ``sanctioned`` or
  ``unknown``), ``invariant.<name>.violations`` and ``invariant.<name>.sanctioned``.

Comparisons use **common random numbers**: every design runs with the same seeds, so the
users, their forms and their timing are identical and only the design differs. Runs go
through :mod:`sim.study.executors`: ``workers=0`` runs them in the notebook's own process,
``None`` (the default) on every local core, ``scheduler="tcp://host:8786"`` on a Dask
cluster.

.. code-block:: python

    from sim import api
    from sim.reporting import plots

    runs = api.compare("scenarios/prospect_to_cash.yaml", seeds=3,
                       overrides={"duration_days": 1})
    api.summarize(runs, ["overwritten_writes", "blocked_user_s"])
    plots.staleness(api.propagation_delays("scenarios/prospect_to_cash.yaml"))

May import: ``models``, ``sim.catalogue``, ``sim.scenario``, ``sim.engine``,
``sim.checker``, ``sim.study``, ``sim.calibration``, ``sim.reporting``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from sim.scenario.yamlio import InputError, load_yaml
from sim.study.configure import configure
from sim.study.stats import mean_interval, metric_value, pareto_front
from sim.study.sweep.plan import Configuration
from sim.study.sweep.run import sweep_from_args
from sim.study.sweep.sampling import replication_seed

if TYPE_CHECKING:
    from sim.study.executors import RunOutcome
    from sim.study.store import StoredRun

__all__ = [
    "Finding",
    "anomalies",
    "compare",
    "designs",
    "explore",
    "load",
    "pareto",
    "propagation_delays",
    "replication_seeds",
    "run",
    "run_folder",
    "summarize",
    "sweep",
]

_LEADING = ("scenario", "design", "seed", "replication", "config_hash", "label")
#: Counters every frame has, even when no run incremented them (then they are 0), so a
#: notebook can always select them.
HEADLINE_METRICS = (
    "writes",
    "saves_rejected",
    "overwritten_writes",
    "conflicts",
    "handoffs",
    "handoffs_abandoned",
    "lock_abandoned",
    "blocked_user_s",
    "batch_runs",
    "messages_sent",
)
_TRAILING_RUN = ("trace_sha256", "quiescent", "failed")


def designs() -> list[str]:
    """Every design in the catalogue (``scenarios/designs``), by name."""
    # Imported when called: importing sim.api in a notebook stays light.
    from sim.scenario.variants import catalogue_names

    return catalogue_names()


def replication_seeds(root_seed: int, replications: int) -> list[int]:
    """The seeds of ``replications`` replications derived from ``root_seed`` (as sweeps do)."""
    return [replication_seed(root_seed, r) for r in range(int(replications))]


def run(
    scenario_path: str | Path,
    seed: int | None = None,
    design: str | None = None,
    *,
    overrides: dict[str, Any] | None = None,
    check: bool = True,
) -> pd.DataFrame:
    """Run one scenario once (in this process); a DataFrame with one row.

    ``design`` runs it under a catalogue design instead of its own; ``overrides`` sets
    dotted paths first (``{"duration_days": 1, "design.batch.interval_s": 300}``).
    """
    return _runs(scenario_path, [design], seed, overrides, check, workers=0)


def run_folder(
    scenario_path: str | Path,
    out: str | Path,
    seed: int | None = None,
    design: str | None = None,
    *,
    overrides: dict[str, Any] | None = None,
) -> Path:
    """Run one scenario once and write its run folder at ``out``, as ``p2c run`` does
    (resolved scenario, manifest, history, metrics, verdict); return the folder.

    For looking into one run: :func:`anomalies` of the folder lists what went wrong,
    and ``p2c verify`` / ``p2c replay`` take it as they take any run folder.
    """
    # Imported when called: importing sim.api in a notebook stays light.
    from sim.checker import verdict_files
    from sim.engine.runner import run_to_folder

    path = Path(scenario_path)
    raw, lines = load_yaml(path)
    if not isinstance(raw, dict):
        raise lines.error((), "a scenario file must be a mapping of keys to values")
    if design is not None and design not in designs():
        raise InputError(f"unknown design {design!r} (known: {', '.join(designs())})")
    scenario = configure(
        raw, dict(overrides or {}), design, near=path.parent, source=path, linemap=lines
    ).scenario
    chosen = scenario.spec.seed if seed is None else seed
    run_to_folder(scenario, Path(out), chosen, finish=verdict_files)
    return Path(out)


def compare(
    scenario_path: str | Path,
    designs: Sequence[str] | None = None,
    seeds: int | Iterable[int] | None = None,
    *,
    overrides: dict[str, Any] | None = None,
    check: bool = True,
    workers: int | None = None,
    scheduler: str | None = None,
) -> pd.DataFrame:
    """The scenario under each design (default: the whole catalogue) and each seed.

    ``seeds`` is a list of seeds, or a number of replications whose seeds derive from
    the scenario's own seed, or ``None`` for just the scenario's seed. One row per
    design x seed.
    """
    return _runs(
        scenario_path,
        list(designs) if designs is not None else None,
        seeds,
        overrides,
        check,
        workers=workers,
        scheduler=scheduler,
    )


def propagation_delays(
    scenario_path: str | Path,
    designs: Sequence[str] | None = None,
    seeds: int | Iterable[int] | None = None,
    *,
    overrides: dict[str, Any] | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
) -> pd.DataFrame:
    """Every single propagation delay, for staleness distributions.

    One row per (design, seed, flow, write that reached the flow's destination), with
    ``delay_s`` from the save in the origin system to the first apply of that write in
    the destination: the samples behind the run's ``propagation_p95_s.*`` metrics.
    """
    outcomes, tasks = _execute(
        scenario_path,
        list(designs) if designs is not None else None,
        seeds,
        overrides,
        check=False,
        keep_delays=True,
        workers=workers,
        scheduler=scheduler,
    )
    names = {task.config_hash: task.design for task in tasks}
    records: list[dict[str, Any]] = []
    for outcome in outcomes:
        design = names.get(outcome.config_hash) or outcome.design
        for flow, samples in sorted((outcome.delays or {}).items()):
            records.extend(
                {"design": design, "seed": outcome.seed, "flow": flow, "delay_s": value}
                for value in samples
            )
    return pd.DataFrame.from_records(records, columns=["design", "seed", "flow", "delay_s"])


def sweep(
    spec_or_path: str | Path | dict[str, Any],
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    out: str | Path | None = None,
    resume: bool = False,
    fresh: bool = False,
    progress: bool = False,
    yes: bool = False,
) -> pd.DataFrame:
    """Run a sweep (a sweep file, or the same content as a dict) and return its runs.

    Exactly what ``p2c sweep`` does (results store, summary.csv and summary.json under
    ``out``, default ``reports/sweeps/<name>/``), but returning one row per run with a
    column per factor. A dict's ``scenario`` is relative to the working directory.
    :func:`summarize` turns the rows into means with confidence intervals. A store that
    already holds finished runs needs ``resume=True`` (keep them, run what is missing)
    or ``fresh=True`` (discard them); without either it is refused (InputError). A sweep
    larger than ``p2c sweep`` runs without ``--yes`` is refused too unless ``yes=True``.
    """
    result = sweep_from_args(
        spec_or_path if isinstance(spec_or_path, dict) else Path(spec_or_path),
        workers=workers,
        scheduler=scheduler,
        out=out,
        resume=resume,
        fresh=fresh,
        progress=progress,
        yes=yes,
    )
    plan = result.plan
    order = {c.config_hash: c for c in plan.configurations}
    rows = sorted(
        result.runs,
        key=lambda r: (order[r.config_hash].index if r.config_hash in order else -1, r.replication),
    )
    frame = _frame([_stored_row(plan.scenario_name, r, order.get(r.config_hash)) for r in rows])
    frame.attrs["factors"] = plan.factor_names
    frame.attrs["metrics"] = plan.metrics
    frame.attrs["objectives"] = dict(plan.spec.objectives)
    frame.attrs["out_dir"] = str(result.out_dir)
    return frame


def load(store_path: str | Path) -> pd.DataFrame:
    """The runs in a sweep's results store (``reports/sweeps/<name>/results.sqlite``).

    Safe to call while the sweep is still running: it reads what has been committed.
    """
    # Imported when called: importing sim.api in a notebook stays light.
    from sim.study.store import read_store

    return _frame([_stored_row(None, r, None) for r in read_store(store_path)])


def summarize(
    runs: pd.DataFrame,
    metrics: Sequence[str] | None = None,
    by: str | Sequence[str] = "design",
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Mean and t-distribution confidence interval of each metric per group.

    One row per group and metric: the ``by`` columns, ``metric``, ``n``, ``mean``,
    ``half_width``, ``ci_low``, ``ci_high``. The interval assumes the runs of a group are
    independent replications (different seeds), which they are in every frame this
    module returns.
    """
    keys = [by] if isinstance(by, str) else list(by)
    names = (
        list(metrics)
        if metrics is not None
        else [c for c in runs.attrs.get("metrics", []) if c in runs.columns]
    )
    missing = [c for c in [*keys, *names] if c not in runs.columns]
    if missing:
        raise KeyError(f"no column(s) {missing} in the runs (columns: {list(runs.columns)})")
    records = []
    for group, frame in runs.groupby(keys, sort=False, dropna=False):
        group = group if isinstance(group, tuple) else (group,)
        for name in names:
            interval = mean_interval(frame[name].astype(float), confidence)
            records.append(
                {
                    **dict(zip(keys, group, strict=True)),
                    "metric": name,
                    "n": interval.n,
                    "mean": interval.mean,
                    "half_width": interval.half_width,
                    "ci_low": interval.low,
                    "ci_high": interval.high,
                }
            )
    return pd.DataFrame.from_records(records)


def pareto(frame: pd.DataFrame, objectives: dict[str, str]) -> pd.Series:
    """Which rows no other row dominates on ``objectives`` (column -> ``min``/``max``).

    Pass one row per alternative (means from :func:`summarize` pivoted, or a frame you
    aggregated yourself); the result is a boolean Series aligned with ``frame``.
    """
    for column, sense in objectives.items():
        if column not in frame.columns:
            raise KeyError(f"no column {column!r}")
        if sense not in ("min", "max"):
            raise ValueError(f"objective {column}: {sense!r} is neither 'min' nor 'max'")
    points = frame[list(objectives)].astype(float).to_numpy().tolist()
    return pd.Series(
        pareto_front(points, list(objectives.values())), index=frame.index, name="pareto"
    )


# ---------------------------------------------------------------- internals


#: Columns of :func:`anomalies`, in order.
ANOMALY_COLUMNS = (
    "invariant",
    "status",
    "code",
    "t",
    "system",
    "entity",
    "key",
    "field",
    "via",
    "write",
    "displaced_by",
    "explanation",
)


def anomalies(history: str | Path, only: Sequence[str] | None = None) -> pd.DataFrame:
    """Every kept anomaly of a history (a run folder, or a ``history.jsonl[.gz]`` file),
    one row each: which invariant, ``violated`` or ``sanctioned``, its code, when (``t``,
    simulated seconds), where (system, entity, key, field), the apply path (``via``), the
    write it is about and the one that displaced it, and the explanation in words.

    The history is judged afresh in one streamed pass (as ``p2c verify`` does), so this
    works on any run folder, e.g. to count lost credit-limit edits per account::

        found = api.anomalies("reports/runs/prospect_to_cash-seed20170707")
        lost = found[found.invariant == "no_lost_update"]
        lost[lost.field == "credit_limit"].groupby("key").size()

    Up to 1,000 anomalies are kept per invariant (counts beyond that are in the verdict).
    A file that is not a history raises :class:`~sim.scenario.yamlio.InputError` naming the line.
    """
    # Imported when called: importing sim.api in a notebook stays light.
    from sim.checker.files import HistoryFileError, check_file
    from sim.checker.report import ordered_anomalies

    try:
        report = check_file(history, only)
    except HistoryFileError as exc:
        raise InputError(str(exc)) from None
    rows = [
        {
            "invariant": name,
            "status": report.verdicts[name].status,
            "code": a.code,
            "t": a.t,
            "system": a.system,
            "entity": a.entity,
            "key": a.key,
            "field": a.field,
            "via": a.via,
            "write": a.write_ids[0] if a.write_ids else None,
            "displaced_by": a.write_ids[1] if len(a.write_ids) > 1 else None,
            "explanation": a.explain(),
        }
        for name, a in ordered_anomalies(report)
    ]
    return pd.DataFrame(rows, columns=list(ANOMALY_COLUMNS))


@dataclass
class Finding:
    """What :func:`explore` found: ``found`` and, when it did, the story (one row per
    save: opened, saved, who, where, what), the counterexample ``scenario`` as a dict
    (what ``counterexample.yaml`` holds), the anomalies it shows, and what was searched."""

    found: bool
    invariants: list[str]
    broken: list[str]
    story: pd.DataFrame
    scenario: dict[str, Any] | None
    anomalies: pd.DataFrame
    stories_tried: int
    largest_story: int
    search_s: float
    shrink_s: float
    folder: Path | None


def explore(
    target: str | Path,
    invariants: Sequence[str] | None = None,
    *,
    budget_s: float = 30.0,
    seed: int | None = None,
    faults: Sequence[str] = (),
    max_saves: int = 6,
    max_stories: int | None = None,
    out: str | Path | None = None,
) -> Finding:
    """Search small stories against a design (a catalogue name, a design file, or a
    scenario file) for one that breaks one of ``invariants``; shrink it; return it.

    The same search as ``p2c explore`` (:mod:`sim.study.explore`): each story is a
    scenario of scripted saves run and judged as ``p2c run`` does. With ``out`` the
    finding's folder (``counterexample.yaml``, ``story.md``, ``timeline.png``) is written.
    """
    # Imported when called: importing sim.api in a notebook stays light.
    from sim.reporting.timeline import plot_anomaly
    from sim.study.explore import explore as search
    from sim.study.explore import write_finding

    result = search(
        target,
        invariants,
        budget_s=budget_s,
        seed=seed,
        faults=faults,
        max_saves=max_saves,
        max_stories=max_stories,
    )
    folder = None
    if result.found and out is not None:
        write_finding(result, Path(out), draw_timeline=plot_anomaly)
        folder = Path(out)
    rows = [
        {
            "invariant": name,
            "code": a.code,
            "t": a.t,
            "system": a.system,
            "key": a.key,
            "field": a.field,
            "write": a.write_ids[0] if a.write_ids else None,
            "explanation": a.explain(),
        }
        for name, a in result.anomalies
    ]
    return Finding(
        found=result.found,
        invariants=result.invariants,
        broken=result.broken,
        story=pd.DataFrame(result.story_rows()),
        scenario=result.scenario,
        anomalies=pd.DataFrame(rows),
        stories_tried=result.tried,
        largest_story=result.largest_story,
        search_s=result.search_s,
        shrink_s=result.shrink_s,
        folder=folder,
    )


def _seed_list(seeds: int | Iterable[int] | None, scenario_seed: int) -> list[int]:
    if seeds is None:
        return [scenario_seed]
    if isinstance(seeds, int):
        if seeds < 1:
            raise InputError(f"seeds: need at least one replication, got {seeds}")
        return replication_seeds(scenario_seed, seeds)
    values = [int(s) for s in seeds]
    if not values:
        raise InputError("seeds: the list is empty")
    return list(dict.fromkeys(values))


def _execute(
    scenario_path,
    design_names,
    seeds,
    overrides,
    *,
    check,
    keep_delays=False,
    workers=None,
    scheduler=None,
):
    # Imported when called: importing sim.api in a notebook stays light.
    from sim.scenario.variants import catalogue_names
    from sim.study.executors import RunTask, make_executor

    path = Path(scenario_path)
    raw, lines = load_yaml(path)
    if not isinstance(raw, dict):
        raise lines.error((), "a scenario file must be a mapping of keys to values")
    names: list[str | None] = (
        list(design_names) if design_names is not None else list(catalogue_names())
    )
    known = catalogue_names()
    for name in names:
        if name is not None and name not in known:
            raise InputError(f"unknown design {name!r} (known: {', '.join(known)})")
    overrides = dict(overrides or {})
    tasks = []
    configured = {}
    for name in names:
        configured[name] = configure(
            raw, overrides, name, near=path.parent, source=path, linemap=lines
        )
    scenario_seed = next(iter(configured.values())).scenario.spec.seed
    for replication, seed in enumerate(_seed_list(seeds, scenario_seed)):
        for name in names:
            tasks.append(
                RunTask(
                    raw=raw,
                    overrides=tuple(overrides.items()),
                    design=name,
                    seed=seed,
                    config_hash=configured[name].config_hash,
                    replication=replication,
                    near=str(path.parent),
                    source=str(path),
                    check=check,
                    keep_delays=keep_delays,
                    label=name or "",
                )
            )
    with make_executor(workers if len(tasks) > 1 else 0, scheduler) as executor:
        outcomes = list(executor.imap_unordered(tasks))
    position = {(t.config_hash, t.seed): i for i, t in enumerate(tasks)}
    outcomes.sort(key=lambda o: position[(o.config_hash, o.seed)])
    return outcomes, tasks


def _runs(
    scenario_path, design_names, seeds, overrides, check, *, workers=None, scheduler=None
) -> pd.DataFrame:
    outcomes, tasks = _execute(
        scenario_path,
        design_names,
        seeds,
        overrides,
        check=check,
        workers=workers,
        scheduler=scheduler,
    )
    scenario = Path(scenario_path)
    name = _scenario_name(scenario)
    by_key = {(t.config_hash, t.seed): t for t in tasks}
    return _frame([_outcome_row(name, o, by_key[(o.config_hash, o.seed)].design) for o in outcomes])


def _scenario_name(path: Path) -> str:
    raw, _ = load_yaml(path)
    return str(raw.get("name", path.stem)) if isinstance(raw, dict) else path.stem


def _outcome_row(scenario: str, outcome: RunOutcome, design: str | None) -> dict[str, Any]:
    row: dict[str, Any] = {
        "scenario": scenario,
        "design": design or outcome.design,
        "seed": outcome.seed,
        "replication": outcome.replication,
        "config_hash": outcome.config_hash,
        "trace_sha256": outcome.trace_sha256,
        "quiescent": outcome.quiescent,
        "failed": outcome.failed,
    }
    row.update({f"metric:{k}": v for k, v in outcome.metrics.items()})
    row.update(_verdict_columns(outcome.verdicts))
    return row


def _stored_row(
    scenario: str | None, run: StoredRun, configuration: Configuration | None
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "scenario": scenario,
        "design": run.design,
        "seed": run.seed,
        "replication": run.replication,
        "config_hash": run.config_hash,
        "label": run.label,
    }
    if configuration is not None and configuration.design:
        row["design"] = configuration.design
    row.update({f"factor:{k}": v for k, v in run.values.items()})
    row.update({"trace_sha256": run.trace_sha256, "quiescent": run.quiescent, "failed": run.failed})
    row.update({f"metric:{k}": v for k, v in run.metrics.items()})
    row.update(_verdict_columns(run.verdicts))
    return row


def _verdict_columns(verdicts: dict[str, dict[str, Any]]) -> dict[str, Any]:
    columns: dict[str, Any] = {}
    for name, verdict in verdicts.items():
        columns[f"invariant.{name}"] = verdict.get("status")
        columns[f"invariant.{name}.violations"] = verdict.get("violations", 0)
        columns[f"invariant.{name}.sanctioned"] = verdict.get("sanctioned", 0)
    return columns


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Rows to a DataFrame with the column order and missing-value rules above.

    Rows are built with ``metric:`` and ``factor:`` tags so a metric can never be mistaken
    for a factor or an identity column; the tags are dropped here.
    """
    frame = pd.DataFrame.from_records(rows)
    if rows:
        for name in HEADLINE_METRICS:
            if f"metric:{name}" not in frame.columns:
                frame[f"metric:{name}"] = float("nan")
    columns = list(frame.columns)
    factors = [c for c in columns if c.startswith("factor:")]
    metrics = sorted(c for c in columns if c.startswith("metric:"))
    invariants = [c for c in columns if c.startswith("invariant.")]
    leading = [c for c in _LEADING if c in columns]
    ordered = [
        *leading,
        *factors,
        *[c for c in _TRAILING_RUN if c in columns],
        *metrics,
        *invariants,
    ]
    numbers = frame[metrics].astype(float)
    counters = [c for c in metrics if not math.isnan(metric_value({}, c[len("metric:") :]))]
    numbers[counters] = numbers[counters].fillna(0.0)
    identity = [c for c in ordered if c not in numbers.columns and c not in invariants]
    frame = pd.concat([frame[identity], numbers, frame[invariants]], axis=1)[ordered].copy()
    frame.columns = [
        c.split(":", 1)[1] if c.startswith(("metric:", "factor:")) else c for c in ordered
    ]
    if "scenario" in frame.columns and frame["scenario"].isna().all():
        frame = frame.drop(columns=["scenario"])
    return frame.reset_index(drop=True)


def audit(run_dir: str | Path, out: str | Path) -> pd.DataFrame:
    """A run folder's user saves as an audit export (``p2c audit``): writes ``out``
    (CSV, one row per saved record) and returns it as a DataFrame."""
    # Imported when called: importing sim.api in a notebook stays light.
    from sim.calibration.audit import write_audit

    write_audit(Path(run_dir), Path(out))
    return pd.read_csv(out)


def calibrate(
    exports: str | Path | Sequence[str | Path],
    out: str | Path,
    *,
    roles: str | Path | None = None,
    refine: int = 2,
    design: str = "p2c-2017",
) -> Path:
    """A scenario fitted to audit exports (``p2c calibrate``), written to ``out``."""
    # Imported when called: importing sim.api in a notebook stays light.
    from sim.calibration.calibrate import calibrate as fit
    from sim.calibration.calibrate import write_scenario

    paths = [exports] if isinstance(exports, str | Path) else list(exports)
    fitted = fit(paths, roles_file=roles, refine=refine, design=design, name=Path(out).stem)
    write_scenario(fitted, out)
    return Path(out)
