"""The notebook API: tidy DataFrames of runs, summaries with intervals, and the plots."""

from __future__ import annotations

import json
import math

import matplotlib
import numpy as np
import pytest
from conftest import ROOT, SEED_SCENARIO

from sim import api
from sim.engine.runner import run_scenario
from sim.reporting import plots
from sim.scenario.spec import load_scenario
from sim.scenario.variants import design_variant
from sim.study.stats import mean_interval

matplotlib.use("Agg")

SIGNATURE = ROOT / "scenarios" / "signatures" / "concurrent_account_edit.yaml"
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


@pytest.fixture(scope="module")
def small_comparison():
    return api.compare(
        SEED_SCENARIO,
        ["p2c-2017", "dual-write-async", "readonly-workaround"],
        seeds=3,
        overrides=SMALL,
        workers=0,
    )


def test_run_gives_one_row_with_the_same_trace_as_the_runner():
    row = api.run(SIGNATURE, design="dual-write-async")
    scenario = load_scenario(SIGNATURE)
    direct = run_scenario(scenario.with_design(design_variant(scenario, "dual-write-async").design))
    assert len(row) == 1
    assert row.loc[0, "trace_sha256"] == direct.trace_sha256
    assert row.loc[0, "design"] == "dual-write-async" and row.loc[0, "seed"] == 11
    assert row.loc[0, "conflicts"] == direct.metrics["conflicts"]
    assert row.loc[0, "invariant.no_lost_update"] == "holds"
    assert list(row.columns[:8]) == [
        "scenario",
        "design",
        "seed",
        "replication",
        "config_hash",
        "trace_sha256",
        "quiescent",
        "failed",
    ]


def test_compare_is_one_row_per_design_and_seed_with_common_random_numbers(small_comparison):
    runs = small_comparison
    assert len(runs) == 9
    seeds = runs.groupby("design")["seed"].apply(list)
    assert seeds["p2c-2017"] == seeds["dual-write-async"] == seeds["readonly-workaround"]
    assert len(set(seeds["p2c-2017"])) == 3
    # A counter a run never incremented is 0, not missing; a delay of a flow with no
    # traffic stays NaN.
    assert (runs.loc[runs.design == "dual-write-async", "overwritten_writes"] == 0).all()
    assert runs["overwritten_writes"].notna().all()
    assert runs.loc[runs.design == "p2c-2017", "messages_sent"].eq(0).all()
    assert (
        runs.loc[runs.design == "dual-write-async", "propagation_p95_s.account:sales->hub"]
        .isna()
        .all()
    )
    assert set(runs["invariant.ownership"]) == {"holds"}
    assert {"invariant.no_lost_update.violations", "invariant.no_lost_update.sanctioned"} <= set(
        runs.columns
    )


def test_compare_gives_the_same_frame_in_worker_processes_as_in_this_one(small_comparison):
    parallel = api.compare(
        SEED_SCENARIO,
        ["p2c-2017", "dual-write-async", "readonly-workaround"],
        seeds=3,
        overrides=SMALL,
        workers=2,
    )
    assert parallel.equals(small_comparison)


def test_summarize_gives_the_t_interval_per_group(small_comparison):
    summary = api.summarize(small_comparison, ["overwritten_writes", "writes"])
    assert set(summary.columns) == {
        "design",
        "metric",
        "n",
        "mean",
        "half_width",
        "ci_low",
        "ci_high",
    }
    row = summary[(summary.design == "p2c-2017") & (summary.metric == "writes")].iloc[0]
    values = small_comparison.loc[small_comparison.design == "p2c-2017", "writes"]
    expected = mean_interval(values)
    assert (row.n, row["mean"]) == (3, pytest.approx(expected.mean))
    assert row.ci_high == pytest.approx(expected.high)
    with pytest.raises(KeyError, match="no_such_metric"):
        api.summarize(small_comparison, ["no_such_metric"])


def test_pareto_marks_the_undominated_alternatives(small_comparison):
    means = small_comparison.groupby("design")[["overwritten_writes", "saves_rejected"]].mean()
    front = api.pareto(means, {"overwritten_writes": "min", "saves_rejected": "min"})
    assert front["dual-write-async"]
    assert not front["readonly-workaround"]  # more refusals and no fewer overwrites


def test_propagation_delays_are_the_samples_behind_the_percentile_metrics(small_comparison):
    delays = api.propagation_delays(
        SEED_SCENARIO, ["p2c-2017"], seeds=3, overrides=SMALL, workers=0
    )
    assert list(delays.columns) == ["design", "seed", "flow", "delay_s"]
    flow = "account:sales->operations"
    for seed, group in delays[delays.flow == flow].groupby("seed"):
        metric = small_comparison.loc[
            (small_comparison.design == "p2c-2017") & (small_comparison.seed == seed),
            f"propagation_p95_s.{flow}",
        ].iloc[0]
        assert round(float(np.percentile(group.delay_s, 95)), 3) == metric


def test_a_sweep_from_a_dict_returns_runs_with_factor_columns(tmp_path):
    runs = api.sweep(
        {
            "name": "api",
            "scenario": str(SEED_SCENARIO),
            "overrides": SMALL,
            "factors": {"design.batch.interval_s": [300, 1800]},
            "replications": 2,
            "metrics": ["overwritten_writes"],
        },
        workers=0,
        out=tmp_path / "out",
    )
    assert len(runs) == 4
    assert sorted(runs["design.batch.interval_s"]) == [300, 300, 1800, 1800]
    assert runs.attrs["factors"] == ["design.batch.interval_s"]
    stored = api.load(tmp_path / "out" / "results.sqlite")
    assert sorted(stored.trace_sha256) == sorted(runs.trace_sha256)


def test_bad_input_is_an_input_error():
    from sim.scenario.yamlio import InputError

    with pytest.raises(InputError, match="unknown design"):
        api.compare(SIGNATURE, ["no-such-design"], workers=0)
    with pytest.raises(InputError, match="duration_days"):
        api.run(SIGNATURE, overrides={"duration_days": -1})


# ------------------------------------------------------------------- plots


def test_metric_vs_factor_draws_a_line_and_a_band_per_design(tmp_path):
    runs = api.sweep(
        {
            "name": "plot",
            "scenario": str(SEED_SCENARIO),
            "overrides": SMALL,
            "designs": ["p2c-2017", "readonly-workaround"],
            "factors": {"design.batch.interval_s": [300, 900, 1800]},
            "replications": 2,
            "metrics": ["overwritten_writes"],
        },
        workers=0,
        out=tmp_path / "out",
    )
    ax = plots.metric_vs_factor(
        runs,
        "design.batch.interval_s",
        "propagation_p95_s.account:sales->operations",
        scale=1 / 60,
        ylabel="p95 delay (min)",
    )
    assert len(ax.lines) == 2 and len(ax.collections) == 2
    xs, ys = ax.lines[0].get_data()
    assert list(xs) == [300, 900, 1800] and ys[0] < ys[-1]


def test_staleness_draws_one_ecdf_per_design():
    delays = api.propagation_delays(
        SEED_SCENARIO, ["p2c-2017", "dual-write-async"], overrides=SMALL, workers=0
    )
    ax = plots.staleness(delays, "account:sales->operations")
    curves = [line for line in ax.lines if not line.get_label().startswith("_")]
    assert [c.get_label().split(" (")[0] for c in curves] == ["dual-write-async", "p2c-2017"]
    for line in curves:
        _, fraction = line.get_data()
        assert fraction[-1] == 1.0 and np.all(np.diff(fraction) > 0)
    with pytest.raises(KeyError, match="no delays for flow"):
        plots.staleness(delays, "account:nowhere->else")


def test_cost_vs_risk_marks_the_pareto_front(small_comparison):
    frame = small_comparison.assign(cost=small_comparison["saves_rejected"] * 2.0)
    ax = plots.cost_vs_risk(frame, "cost", "overwritten_writes")
    labels = [t.get_text() for t in ax.texts]
    assert sorted(labels) == ["dual-write-async", "p2c-2017", "readonly-workaround"]
    colours = ax.collections[-1].get_facecolors()
    red = matplotlib.colors.to_rgba("tab:red")
    on_front = {
        label for label, colour in zip(labels, colours, strict=True) if tuple(colour) == red
    }
    assert "dual-write-async" in on_front and "readonly-workaround" not in on_front
    assert not math.isnan(ax.get_xlim()[0])


def test_anomalies_are_one_row_each_with_the_verdicts_counts(tmp_path):
    from checker_histories import ALL_INVARIANTS, seed_story

    from sim.checker import check_history
    from sim.history import HistoryRecorder

    events = seed_story(promises=ALL_INVARIANTS).events
    path = tmp_path / "history.jsonl.gz"
    recorder = HistoryRecorder(keep=False, path=path)
    for event in events:
        recorder.record(event)
    recorder.close()
    frame = api.anomalies(path)
    assert list(frame.columns) == list(api.ANOMALY_COLUMNS)
    report = check_history(events)
    assert len(frame) == sum(len(v.anomalies) for v in report.verdicts.values()) == 1
    row = frame.iloc[0]
    assert (row.invariant, row.status, row.code) == ("no_lost_update", "violated", "lost-update")
    assert (row.entity, row.key, row.field) == ("account", "ACC-0001", "credit_limit")
    assert (row.write, row.displaced_by) == ("W-operations-1", "W-sales-0")
    assert row.via == "accounts_hub_to_operations#1"
    assert row.explanation.startswith("W-operations-1 (ops_clerk-3 set account ACC-0001")
    only = api.anomalies(path, only=["ownership"])
    assert only.empty and list(only.columns) == list(api.ANOMALY_COLUMNS)
    (tmp_path / "bad.jsonl").write_text('{"kind": "write"}\n')
    with pytest.raises(api.InputError, match="bad.jsonl:1: write event: it has no field"):
        api.anomalies(tmp_path / "bad.jsonl")


def test_run_folder_writes_what_p2c_run_writes_and_anomalies_read_it(tmp_path):
    folder = api.run_folder(SEED_SCENARIO, tmp_path / "run", overrides={"duration_days": 1})
    assert sorted(p.name for p in folder.iterdir()) == [
        "history.jsonl.gz",
        "manifest.json",
        "metrics.json",
        "scenario.resolved.yaml",
        "verdict.json",
    ]
    cli_folder = tmp_path / "cli"
    text = SEED_SCENARIO.read_text().replace("duration_days: 5", "duration_days: 1")
    (tmp_path / "one_day.yaml").write_text(text)
    from sim.cli.main import main

    assert main(["run", str(tmp_path / "one_day.yaml"), "--out", str(cli_folder), "--json"]) == 0
    assert (folder / "verdict.json").read_bytes() == (cli_folder / "verdict.json").read_bytes()
    found = api.anomalies(folder)
    lost = found[found.invariant == "no_lost_update"]
    verdict = json.loads((folder / "verdict.json").read_text())["verdicts"]["no_lost_update"]
    assert len(lost) == verdict["sanctioned"] > 1 and set(lost.status) == {"sanctioned"}
    assert "ACC-00012" in set(lost.key)  # the seed post's scripted incident
    with pytest.raises(api.InputError, match="unknown design"):
        api.run_folder(SEED_SCENARIO, tmp_path / "x", design="no-such-design")
