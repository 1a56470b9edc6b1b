"""Regression suites: expect blocks, confidence-interval checks, and regressions caught.

The quality tests here plant a change the suite must notice (STYLE.md 10): a suite file
whose expectations hold, then the same file with one design parameter changed (the
batch interval, the concurrency control), run through exactly what ``p2c check`` runs.
"""

from __future__ import annotations

import argparse
import json
import math

import pytest
import yaml
from conftest import ROOT

from sim.cli.check import add_check_parser
from sim.scenario.yamlio import InputError
from sim.study.executors import RunOutcome
from sim.study.regression import (
    ExpectBlock,
    MetricBound,
    judge,
    known_metric,
    load_suite_file,
)

SUITE = ROOT / "scenarios" / "suite"
SIGNATURE = ROOT / "scenarios" / "signatures" / "concurrent_account_edit.yaml"


def p2c_check(*argv: str) -> tuple[int, str]:
    """``p2c check ARGS`` through the function the CLI calls; (exit code, stdout)."""
    import contextlib
    import io

    parser = argparse.ArgumentParser(prog="p2c")
    add_check_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["check", *argv])
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = args.func(args)
    return code, buffer.getvalue()


def write(path, data) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return str(path)


def batch_suite(tmp_path, name: str, interval_s: int) -> str:
    """The seed incident under p2c-2017 with a batch interval; expects 15-minute batches."""
    data = yaml.safe_load((SUITE / "seed_overwrite.yaml").read_text())
    data["name"] = name
    data["design"] = {"extends": "p2c-2017", "batch": {"interval_s": interval_s}}
    return write(tmp_path / "suite" / f"{name}.yaml", data)


# ----------------------------------------------------------- regressions caught


def test_a_longer_batch_interval_is_caught_as_a_staleness_regression(tmp_path):
    good = batch_suite(tmp_path, "batch_900", 900)
    code, printed = p2c_check(good, "--workers", "0", "--out", str(tmp_path / "repro"))
    assert code == 0, printed
    assert "PASS batch_900.yaml::p2c-2017" in printed

    changed = batch_suite(tmp_path, "batch_3600", 3600)
    code, printed = p2c_check(changed, "--workers", "0", "--out", str(tmp_path / "repro"))
    assert code == 1
    assert "FAIL batch_3600.yaml::p2c-2017" in printed
    assert "metric propagation_p95_s.account:sales->operations" in printed
    assert "expected: value >= 900 and value <= 1000" in printed
    assert "observed: value 2730" in printed and "> 1000" in printed
    reproduce = tmp_path / "repro" / "batch_3600-p2c-2017.yaml"
    assert f"reproduce: p2c run {reproduce} --seed 7" in printed
    assert yaml.safe_load(reproduce.read_text())["design"]["batch"]["interval_s"] == 3600


def test_switching_the_concurrency_control_off_is_caught_as_lost_updates(tmp_path):
    expect = {
        "invariants": {"no_lost_update": "holds"},
        "metrics": {"conflicts": {"min": 1}, "overwritten_writes": {"max": 0}},
    }
    guarded = write(
        tmp_path / "suite" / "guarded.yaml",
        {"base": str(SIGNATURE), "design": "optimistic-version-check", "expect": expect},
    )
    assert p2c_check(guarded, "--workers", "0", "--out", str(tmp_path / "repro"))[0] == 0

    # The same design with its concurrency control turned to last-writer-wins.
    unguarded = write(
        tmp_path / "suite" / "unguarded.yaml",
        {
            "base": str(SIGNATURE),
            "design": {
                "extends": "optimistic-version-check",
                "concurrency": {"mode": "lww_arrival"},
            },
            "expect": expect,
        },
    )
    code, printed = p2c_check(
        unguarded, "--workers", "0", "--json", "--out", str(tmp_path / "repro")
    )
    assert code == 1
    report = json.loads(printed)
    [case] = report["cases"]
    subjects = {m["subject"]: m for m in case["mismatches"]}
    assert "metric conflicts" in subjects
    assert subjects["metric conflicts"]["expected"] == "value >= 1"
    assert subjects["metric conflicts"]["observed"].startswith("value 0")


def test_a_metric_bound_is_judged_on_the_confidence_interval_not_the_mean():
    case = load_suite_file(SUITE / "seed_overwrite.yaml")[0]

    def outcomes(values):
        return [
            RunOutcome(
                config_hash="h",
                seed=seed,
                design="d",
                trace_sha256="t",
                metrics={"overwritten_writes": v},
            )
            for seed, v in zip(range(len(values)), values, strict=True)
        ]

    case.seeds = [0, 1, 2, 3]
    case.expectation = ExpectBlock(metrics={"overwritten_writes": MetricBound(max=12)})
    # Mean 10 is below 12, but s = 3.65 over 4 runs gives t(0.975, 3) * s / 2 = 5.81:
    # the interval [4.19, 15.81] reaches above 12, so the data cannot vouch for the bound.
    result = judge(case, outcomes([8, 12, 6, 14]))
    [mismatch] = result.mismatches
    assert mismatch.observed == "mean 10, 95% CI [4.19, 15.81] (n=4): upper bound 15.81 > 12"
    assert mismatch.detail == ["per seed: 8, 12, 6, 14"]
    # A tight interval below the bound passes.
    assert judge(case, outcomes([9.5, 10, 10.5, 10])).passed
    case.expectation = ExpectBlock(metrics={"overwritten_writes": MetricBound(min=9)})
    assert not judge(case, outcomes([8, 12, 6, 14])).passed
    assert judge(case, outcomes([9.5, 10, 10.5, 10])).passed


def test_an_invariant_expectation_must_hold_in_every_replication():
    case = load_suite_file(SUITE / "seed_overwrite.yaml")[0]
    case.seeds = [1, 2, 3]
    case.expectation = ExpectBlock(invariants={"no_lost_update": ["holds", "sanctioned"]})

    def run(seed, status, count=0):
        return RunOutcome(
            config_hash="h",
            seed=seed,
            design="d",
            trace_sha256="t",
            metrics={},
            verdicts={"no_lost_update": {"status": status, "violations": count, "sanctioned": 0}},
        )

    assert judge(case, [run(1, "holds"), run(2, "sanctioned"), run(3, "holds")]).passed
    result = judge(case, [run(1, "holds"), run(2, "violated", 4), run(3, "holds")])
    [mismatch] = result.mismatches
    assert mismatch.expected == "holds or sanctioned"
    assert "violated in 1 of 3 run(s) (4 anomalies) [seeds 2]" in mismatch.observed
    assert mismatch.seed == 2


def test_a_misspelt_metric_is_reported_instead_of_read_as_zero():
    assert known_metric("overwritten_writes") and known_metric("writes.sales.account")
    assert known_metric("propagation_p95_s.account:sales->operations")
    assert not known_metric("overwriten_edits")
    case = load_suite_file(SUITE / "seed_overwrite.yaml")[0]
    case.expectation = ExpectBlock(metrics={"overwriten_edits": MetricBound(max=3)})
    [mismatch] = judge(case, [RunOutcome("h", 7, "d", "t", {"writes": 2.0})]).mismatches
    assert "misspelt" in mismatch.observed


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("expect", "message"),
    [
        ({"invariants": {"no_lost_updates": "holds"}}, "unknown invariant"),
        ({"invariants": {"ownership": "fine"}}, "expect.invariants.ownership"),
        ({"metrics": {"writes": {}}}, "give min, max or both"),
        ({"metrics": {"writes": {"min": 5, "max": 1}}}, "min 5.0 is above max 1.0"),
        ({"designs": ["p2c-2017", "no-such-design"]}, "unknown design 'no-such-design'"),
        ({"seeds": [1, 2], "replications": 3}, "not both"),
        ({"replication": 3}, "unknown key"),
    ],
)
def test_a_bad_expect_block_is_refused_with_file_line_and_field(tmp_path, expect, message):
    path = write(tmp_path / "suite" / "bad.yaml", {"base": str(SIGNATURE), "expect": expect})
    with pytest.raises(InputError) as caught:
        load_suite_file(path)
    assert message in caught.value.message
    assert caught.value.message.startswith(f"{path}:")


def test_a_suite_file_without_expect_or_with_a_bad_scenario_is_refused(tmp_path):
    plain = write(tmp_path / "suite" / "plain.yaml", {"base": str(SIGNATURE)})
    with pytest.raises(InputError, match="needs an expect: block"):
        load_suite_file(plain)
    broken = write(
        tmp_path / "suite" / "broken.yaml",
        {"base": str(SIGNATURE), "duration_days": -1, "expect": {}},
    )
    with pytest.raises(InputError, match="duration_days"):
        load_suite_file(broken)


def test_bad_input_reaches_the_command_as_an_input_error_which_p2c_maps_to_exit_2(tmp_path):
    path = write(
        tmp_path / "suite" / "bad.yaml", {"base": str(SIGNATURE), "expect": {"replications": 0}}
    )
    with pytest.raises(InputError, match="expect.replications"):
        p2c_check(path, "--workers", "0")
    with pytest.raises(InputError, match="no such file or folder"):
        p2c_check(str(tmp_path / "missing"), "--workers", "0")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no suite files"):
        p2c_check(str(tmp_path / "empty"), "--workers", "0")


def test_per_design_expectations_add_to_the_common_ones():
    cases = {c.design: c for c in load_suite_file(SUITE / "concurrent_account_edit.yaml")}
    lock = cases["cross-system-lock"].expectation
    assert lock.invariants["convergence"] == "holds"  # common
    assert lock.invariants["no_lost_update"] == "holds"  # its own
    assert set(lock.metrics) == {"lock_denials", "blocked_user_s", "overwritten_writes"}
    # One replication: the scenario's own seed, exactly what `p2c run` runs.
    assert cases["p2c-2017"].seeds == [11]
    many = load_suite_file(SUITE / "prospect_to_cash.yaml")[0]
    assert len(many.seeds) == 4 and len(set(many.seeds)) == 4
    assert not math.isnan(float(many.seeds[0]))


def test_the_pytest_plugin_collects_each_case_as_an_item_and_fails_with_the_diff(tmp_path):
    import subprocess
    import sys

    batch_suite(tmp_path, "batch_900", 900)
    batch_suite(tmp_path, "batch_3600", 3600)
    (tmp_path / "suite" / "notes.yaml").write_text("just: data\n")  # no expect: not ours
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(tmp_path / "suite"),
            "-v",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(tmp_path),
            "-o",
            "addopts=",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=tmp_path,
    )
    assert out.returncode == 1, out.stdout + out.stderr
    assert "batch_900.yaml::p2c-2017 PASSED" in out.stdout
    assert "batch_3600.yaml::p2c-2017 FAILED" in out.stdout
    assert "observed: value 2730 (1 run, no interval): value > 1000" in out.stdout
    assert "notes.yaml" not in out.stdout


def test_a_suite_design_override_follows_the_design_override_rules(tmp_path):
    """Who may edit an entity replaces the base's whole (Operations alone, not Operations
    added to the base's editors), and a design named anew with ``extends`` drops the
    base's overrides."""
    base = yaml.safe_load(SIGNATURE.read_text())
    base.pop("expect", None)
    base["design"]["editable"] = {"account": {"sales": {}, "operations": {}}}
    base_file = write(tmp_path / "base.yaml", base)
    only_operations = write(
        tmp_path / "suite" / "only_operations.yaml",
        {
            "base": base_file,
            "design": {"editable": {"account": {"operations": {}}}},
            "expect": {"invariants": {"ownership": "holds"}},
        },
    )
    (case,) = load_suite_file(only_operations)
    design = case.configured.scenario.design
    assert design.editable["account"] == {"operations": {}}
    assert design.latency.fixed_s == 5  # the base's other overrides still apply

    renamed = write(
        tmp_path / "suite" / "renamed.yaml",
        {
            "base": base_file,
            "design": {"extends": "p2c-2017"},
            "expect": {"invariants": {"ownership": "holds"}},
        },
    )
    (case,) = load_suite_file(renamed)
    design = case.configured.scenario.design
    assert design.latency is None  # p2c-2017 sets none: the base's went with its design
