"""Bad input never crashes: one message naming file, line and field; exit 2; nothing written."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import ROOT, SEED_SCENARIO

from sim.cli.main import main

# (what the user got wrong, text to replace, replacement, expected line, expected message)
CASES = [
    (
        "unknown key",
        "quiescence_max_s: 14400",
        "quiescence_max_s: 14400\nfoo: 1",
        18,
        "foo: unknown key",
    ),
    (
        "wrong type",
        "headcount: 36",
        "headcount: many",
        29,
        "roles.sales_rep.headcount: Input should be a valid integer",
    ),
    (
        "negative rate",
        "edit_account: 0.8",
        "edit_account: -0.8",
        34,
        "roles.sales_rep.actions.edit_account: Input should be greater than or equal to 0",
    ),
    (
        "batch interval under 60 s",
        "batch: {interval_s: 900}",
        "batch: {interval_s: 30}",
        15,
        "design.batch.interval_s: Input should be greater than or equal to 60",
    ),
    (
        "undefined role",
        "role: sales_rep, actor: sales_rep-7",
        "role: sales_reps, actor: x",
        83,
        "scripted[1].role: undefined role 'sales_reps'",
    ),
    (
        "undefined entity",
        "entity: account, key: ACC-00012, fields: {phone",
        "entity: acount, key: ACC-00012, fields: {phone",
        84,
        "scripted[1].entity: unknown entity 'acount'",
    ),
    (
        "unknown field of an entity",
        "fields: {credit_limit: 95000}",
        "fields: {credit_limt: 95000}",
        82,
        "scripted[0].fields.credit_limt: account has no field",
    ),
    (
        "unknown action",
        "create_bundle: 0.1",
        "create_bundel: 0.1",
        48,
        "roles.sales_product_manager.actions.create_bundel: unknown action",
    ),
    (
        "action in a system the role does not use",
        "confirm_order: 1.2",
        "confirm_order: 1.2\n      create_quote: 1",
        57,
        "roles.ops_clerk.actions.create_quote: create_quote runs in sales",
    ),
    (
        "unknown system",
        "    home_system: operations\n    form_open: {median_s: 60",
        "    home_system: opps\n    form_open: {median_s: 60",
        53,
        "roles.ops_clerk.home_system: unknown system 'opps'",
    ),
    (
        "unknown design",
        "  extends: p2c-2017",
        "  extends: p2c-2018",
        14,
        "design.extends: unknown design 'p2c-2018'",
    ),
    (
        "impossible working hours",
        "    home_system: sales\n    form_open: {median_s: 120",
        "    home_system: sales\n    working_hours: '17:00-08:00'\n    form_open: {median_s: 120",
        31,
        "roles.sales_rep.working_hours",
    ),
    (
        "negative duration",
        "duration_days: 5",
        "duration_days: -5",
        16,
        "duration_days: Input should be greater than 0",
    ),
    (
        "scripted action after the run",
        'at: "day 1 10:14"',
        'at: "day 9 10:14"',
        81,
        "scripted[0].at: after the run ends",
    ),
    ("broken YAML", "name: prospect_to_cash", "name: [prospect", 9, "invalid YAML"),
]


@pytest.mark.parametrize("what,old,new,line,message", CASES, ids=[c[0] for c in CASES])
def test_bad_scenarios_are_refused_with_file_line_and_field(
    tmp_path, capsys, what, old, new, line, message
):
    text = SEED_SCENARIO.read_text()
    assert old in text, f"test case {what!r} no longer matches the seed scenario"
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace(old, new, 1))
    out_dir = tmp_path / "run"
    code = main(["run", str(bad), "--out", str(out_dir)])
    err = capsys.readouterr().err
    assert code == 2
    assert f"{bad}:{line}: " in err, err
    assert message in err, err
    assert "Traceback" not in err
    assert not out_dir.exists()
    assert list(tmp_path.iterdir()) == [bad]  # nothing half-written beside it either


def test_a_missing_file_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nope.yaml")]) == 2
    assert "no such file" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["run"], ["run", "x.yaml", "--seed", "abc"], ["frobnicate"]])
def test_usage_errors_exit_2(argv, capsys):
    assert main(argv) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_the_installed_command_reports_bad_input_without_a_traceback(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(SEED_SCENARIO.read_text().replace("headcount: 36", "headcount: -1"))
    out = subprocess.run(
        [sys.executable, "-m", "sim.cli.main", "run", str(bad)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 2
    assert out.stdout == ""
    assert out.stderr.startswith(f"error: {bad}:29: roles.sales_rep.headcount:")
    assert "Traceback" not in out.stderr
