"""Sweeps: factors into scenarios, samplers, seeds, intervals, Pareto fronts, the command.

The runs here use the seed organisation shrunk to a dozen people for one day (about
0.05 s a run), so statistics have real spread without costing CI time.
"""

from __future__ import annotations

import csv
import json
import math
import sqlite3

import pytest
import yaml
from conftest import ROOT, SEED_SCENARIO

from sim.cli.main import main
from sim.scenario.yamlio import InputError, load_yaml
from sim.study.configure import apply_overrides
from sim.study.stats import mean_interval, pareto_front, t_quantile
from sim.study.store import ResultStore
from sim.study.sweep.plan import load_sweep, plan_sweep
from sim.study.sweep.run import sweep_from_args
from sim.study.sweep.sampling import grid_values, latin_hypercube, replication_seed
from sim.study.sweep.spec import Factor

#: The seed organisation, one day, a dozen people: fast runs with real randomness.
SMALL = {
    "duration_days": 1,
    "initial_data.accounts": 40,
    "initial_data.products": 20,
    "roles.sales_rep.headcount": 6,
    "roles.sales_product_manager.headcount": 1,
    "roles.ops_clerk.headcount": 2,
    "roles.credit_controller.headcount": 2,
    "roles.product_team.headcount": 1,
}


def write_sweep(tmp_path, **content) -> str:
    data = {"name": "small", "scenario": str(SEED_SCENARIO), "overrides": dict(SMALL), **content}
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return str(path)


# ---------------------------------------------------------------- overrides


def test_a_dotted_override_turns_a_named_design_into_an_extension_and_sets_the_value():
    raw = {"name": "x", "design": "p2c-2017", "roles": {"rep": {"headcount": 3}}}
    data = apply_overrides(
        raw, {"design.batch.interval_s": 300, "roles.rep.headcount": 9, "duration_days": 2}
    )
    assert data["design"] == {"extends": "p2c-2017", "batch": {"interval_s": 300}}
    assert data["roles"]["rep"]["headcount"] == 9 and data["duration_days"] == 2
    assert raw["design"] == "p2c-2017", "the original data is left alone"


def test_an_override_through_a_scalar_is_refused_with_the_path_named():
    with pytest.raises(ValueError, match="name is 'x', not a mapping"):
        apply_overrides({"name": "x"}, {"name.first": 1})


def test_an_override_indexes_lists_and_refuses_an_index_past_the_end():
    raw = {"scripted": [{"at": "day 1 10:00"}]}
    assert apply_overrides(raw, {"scripted.0.at": "day 1 11:00"})["scripted"][0]["at"] == (
        "day 1 11:00"
    )
    with pytest.raises(ValueError, match="not an index"):
        apply_overrides(raw, {"scripted.3.at": "day 1 11:00"})


# ----------------------------------------------------------------- sampling


def test_a_range_contributes_evenly_spaced_points_and_integer_ranges_round():
    assert grid_values(Factor(low=300, high=900)) == [300.0, 600.0, 900.0]
    assert grid_values(Factor(low=100, high=10_000, points=3, log=True)) == [100.0, 1000.0, 10000.0]
    assert grid_values(Factor(low=1, high=2, points=5, integer=True)) == [1, 2]


def test_latin_hypercube_uses_every_stratum_of_every_factor_exactly_once():
    factors = {
        "a": Factor(low=0, high=1),
        "b": Factor(low=10, high=20),
        "c": Factor(levels=["x", "y"]),
    }
    points = latin_hypercube(factors, samples=8, seed=3)
    assert len(points) == 8
    for name, low, high in (("a", 0, 1), ("b", 10, 20)):
        strata = sorted(int((p[name] - low) / (high - low) * 8) for p in points)
        assert strata == list(range(8))
    assert sorted(p["c"] for p in points) == ["x"] * 4 + ["y"] * 4
    assert latin_hypercube(factors, 8, seed=3) == points, "seeded: the same draw every time"
    assert latin_hypercube(factors, 8, seed=4) != points


def test_replication_seeds_do_not_depend_on_how_many_replications_are_asked_for():
    seeds = [replication_seed(42, r) for r in range(5)]
    assert len(set(seeds)) == 5 and all(0 <= s < 2**63 for s in seeds)
    assert [replication_seed(42, r) for r in range(3)] == seeds[:3]
    assert replication_seed(43, 0) != seeds[0]


# --------------------------------------------------------------- statistics


@pytest.mark.parametrize(
    ("dof", "expected"),
    [(1, 12.7062), (2, 4.3027), (4, 2.7764), (9, 2.2622), (29, 2.0452), (1000, 1.9623)],
)
def test_t_quantiles_match_the_published_table(dof, expected):
    assert t_quantile(0.975, dof) == pytest.approx(expected, abs=1e-4)
    assert t_quantile(0.025, dof) == pytest.approx(-expected, abs=1e-4)


def test_the_interval_of_a_mean_uses_the_t_distribution_and_one_value_has_none():
    interval = mean_interval([10, 12, 14, 16])
    # s = 2.582, s/sqrt(4) = 1.291, t(0.975, 3) = 3.1824
    assert interval.mean == 13 and interval.half_width == pytest.approx(4.108, abs=1e-3)
    single = mean_interval([5.0])
    assert single.n == 1 and math.isnan(single.half_width)
    assert mean_interval([float("nan"), 1.0, 3.0]).n == 2


def test_the_pareto_front_keeps_exactly_the_undominated_points():
    points = [(1, 9), (2, 2), (3, 1), (3, 3), (9, 0.5), (2, 2)]
    assert pareto_front(points, ["min", "min"]) == [True, True, True, False, True, True]
    assert pareto_front([(1, 1), (2, 2)], ["max", "max"]) == [False, True]
    assert pareto_front([(1, float("nan")), (2, 2)], ["min", "min"]) == [False, True]


# ---------------------------------------------------------- validation, exit 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"factors": {"roles.sales_rep.headcount": {"low": 5}}}, "levels: [...] or a range"),
        ({"factors": {"design.batch.interval_s": [300, 300]}}, "levels must be distinct"),
        ({"sampler": "latin_hypercube"}, "needs samples"),
        ({"designs": ["p2c-2017", "no-such-design"]}, "unknown design 'no-such-design'"),
        ({"replications": 0}, "greater than or equal to 1"),
        ({"objectives": {"overwritten_writes": "least"}}, "objectives.overwritten_writes"),
        ({"factors": {"design.batch.interval_s": [30]}}, "design.batch.interval_s=30"),
        ({"factors": {"roles.nobody.actions.edit_account": [1.0]}}, "not a valid scenario"),
        ({"replications_typo": 3}, "unknown key"),
    ],
)
def test_a_bad_sweep_file_is_refused_with_file_line_and_field(tmp_path, content, message):
    path = write_sweep(tmp_path, **content)
    with pytest.raises(InputError) as caught:
        load_sweep(path)
    assert message in caught.value.message
    assert caught.value.message.startswith(f"{path}:"), caught.value.message


def test_the_command_exits_2_on_bad_input_and_writes_nothing(tmp_path, capsys):
    path = write_sweep(tmp_path, factors={"design.batch.interval_s": [10]})
    out = tmp_path / "out"
    assert main(["sweep", path, "--out", str(out)]) == 2
    assert "error:" in capsys.readouterr().err
    assert not out.exists()


def test_the_plan_crosses_designs_with_factor_levels_and_labels_each_configuration(tmp_path):
    plan = load_sweep(
        write_sweep(
            tmp_path,
            designs=["p2c-2017", "readonly-workaround"],
            factors={"design.batch.interval_s": [300, 900, 1800]},
        )
    )
    assert [c.label for c in plan.configurations] == [
        "p2c-2017 interval_s=300",
        "readonly-workaround interval_s=300",
        "p2c-2017 interval_s=900",
        "readonly-workaround interval_s=900",
        "p2c-2017 interval_s=1800",
        "readonly-workaround interval_s=1800",
    ]
    assert len({c.config_hash for c in plan.configurations}) == 6


def test_the_shipped_sweep_files_are_valid():
    files = sorted((ROOT / "scenarios" / "sweeps").glob("*.yaml"))
    assert files
    for file in files:
        assert load_sweep(file).configurations


# --------------------------------------------------------------- running


def test_a_sweep_writes_store_and_summaries_with_intervals_and_a_pareto_front(tmp_path):
    path = write_sweep(
        tmp_path,
        designs=["p2c-2017", "dual-write-async"],
        factors={"design.batch.interval_s": [300, 1800]},
        replications=3,
        seed=5,
        metrics=["overwritten_writes", "writes"],
        objectives={
            "overwritten_writes": "min",
            "propagation_p95_s.account:sales->operations": "min",
        },
    )
    result = sweep_from_args(path, workers=0, out=tmp_path / "out")
    assert (result.executed, result.skipped) == (12, 0)
    with sqlite3.connect(tmp_path / "out" / "results.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM runs").fetchone() == (12,)
    rows = list(csv.DictReader(open(tmp_path / "out" / "summary.csv", encoding="utf-8")))
    assert [r["label"] for r in rows] == [c.label for c in result.plan.configurations]
    for row, summary in zip(rows, result.summaries, strict=True):
        interval = summary.intervals["writes"]
        assert float(row["writes.ci_low"]) == pytest.approx(interval.low)
        assert (
            float(row["writes.ci_low"]) < float(row["writes.mean"]) < float(row["writes.ci_high"])
        )
    document = json.loads((tmp_path / "out" / "summary.json").read_text())
    # The queued design never overwrites and delivers in seconds: it dominates p2c-2017.
    assert document["pareto_front"] == [
        "dual-write-async interval_s=300",
        "dual-write-async interval_s=1800",
    ]
    # Common random numbers: replication r has one seed across configurations.
    seeds_by_replication = {}
    for run in result.runs:
        seeds_by_replication.setdefault(run.replication, set()).add(run.seed)
    assert all(len(seeds) == 1 for seeds in seeds_by_replication.values())


@pytest.mark.slow
def test_resume_runs_only_what_is_missing(tmp_path):
    path = write_sweep(tmp_path, factors={"design.batch.interval_s": [300, 900]}, replications=2)
    first = sweep_from_args(path, workers=0, out=tmp_path / "out")
    assert first.executed == 4
    extended = write_sweep(
        tmp_path, factors={"design.batch.interval_s": [300, 900]}, replications=3
    )
    again = sweep_from_args(extended, workers=0, out=tmp_path / "out", resume=True)
    assert (again.executed, again.skipped) == (2, 4)
    assert {r.trace_sha256 for r in first.runs} <= {r.trace_sha256 for r in again.runs}
    with pytest.raises(InputError, match=r"holds 6 finished run\(s\).*--resume.*--fresh"):
        sweep_from_args(extended, workers=0, out=tmp_path / "out")
    fresh = sweep_from_args(extended, workers=0, out=tmp_path / "out", fresh=True)
    assert (fresh.executed, fresh.skipped) == (6, 0), "--fresh starts the store again"
    with sqlite3.connect(tmp_path / "out" / "results.sqlite") as db:
        assert db.execute("SELECT COUNT(DISTINCT session) FROM runs").fetchone() == (1,)


@pytest.mark.slow
def test_adaptive_replication_adds_runs_only_where_the_interval_is_too_wide(tmp_path):
    path = write_sweep(
        tmp_path,
        designs=["p2c-2017", "dual-write-async"],
        replications=2,
        metrics=["overwritten_writes"],
        adaptive={
            "metric": "overwritten_writes",
            "relative_half_width": 0.3,
            "max_replications": 6,
        },
    )
    result = sweep_from_args(path, workers=0, out=tmp_path / "out")
    counts = {s.configuration.design: len(s.seeds) for s in result.summaries}
    # dual-write-async never overwrites: 0 +- 0 is as narrow as it gets after 2 runs.
    assert counts["dual-write-async"] == 2
    lost = result.summaries[0].intervals["overwritten_writes"]
    assert counts["p2c-2017"] == 6 or lost.half_width <= 0.3 * lost.mean
    assert counts["p2c-2017"] > 2
    # Replications stay contiguous, so a resumed sweep makes the same decisions.
    reps = sorted(r.replication for r in result.runs if r.design == "p2c-2017")
    assert reps == list(range(counts["p2c-2017"]))
    summary = (tmp_path / "out" / "summary.csv").read_text()
    resumed = sweep_from_args(path, workers=0, out=tmp_path / "out", resume=True)
    assert (resumed.executed, resumed.skipped) == (0, len(result.runs))
    assert (tmp_path / "out" / "summary.csv").read_text() == summary


def test_the_store_refuses_a_second_row_for_the_same_configuration_and_seed(tmp_path):
    from sim.study.executors import RunOutcome

    outcome = RunOutcome(
        config_hash="abc", seed=1, design="d", trace_sha256="t", metrics={"writes": 1.0}
    )
    with ResultStore(tmp_path / "r.sqlite") as store:
        store.add(outcome)
        with pytest.raises(sqlite3.IntegrityError):
            store.add(outcome)
        assert store.done() == {("abc", 1)} and len(store.rows()) == 1


def test_a_run_whose_checker_crashed_is_run_again_on_resume_and_replaced(tmp_path):
    from sim.study.executors import RunOutcome

    crashed = RunOutcome(
        config_hash="abc",
        seed=1,
        design="d",
        trace_sha256="t",
        metrics={"writes": 1.0},
        check_error="KeyError: 'x'",
    )
    with ResultStore(tmp_path / "r.sqlite") as store:
        store.add(crashed)
        assert store.done() == set()
    with ResultStore(tmp_path / "r.sqlite") as store:
        store.add(
            RunOutcome(
                config_hash="abc",
                seed=1,
                design="d",
                trace_sha256="t",
                metrics={"writes": 1.0},
                verdicts={"ownership": {"status": "holds"}},
            )
        )
        [row] = store.rows()
        assert row.check_error is None and row.verdicts == {"ownership": {"status": "holds"}}
        assert store.done() == {("abc", 1)} and store.sessions() == {2: 1}


def test_the_printed_table_names_every_configuration(tmp_path, capsys):
    path = write_sweep(
        tmp_path,
        factors={"design.batch.interval_s": [300, 900]},
        replications=2,
        metrics=["overwritten_writes"],
    )
    assert (
        main(["sweep", path, "--workers", "0", "--out", str(tmp_path / "out"), "--no-progress"])
        == 0
    )
    printed = capsys.readouterr().out
    assert "interval_s=300" in printed and "interval_s=900" in printed
    assert "95% t-interval" in printed
    data, _ = load_yaml(tmp_path / "sweep.yaml")
    assert plan_sweep(data, near=tmp_path).spec.name == "small"
