"""One vocabulary of loss (issue 12, point 7): terms defined once, metrics named with
their unit, and the counts worked by hand on an incident where they differ.

Customer ACC-00001, p2c-2017 (accounts flow Sales -> hub -> Operations only):

- 10:14 credit_controller-1 sets credit_limit 60000 in Operations (W1);
- 10:16 credit_controller-2, form opened at 10:15 (so it saw W1), sets credit_limit
  70000 and payment_terms Net60 (W2);
- 10:20 sales_rep-1 changes the phone in Sales; the 10:35 hub -> Operations run upserts
  the migrated row over both Operations edits.

The run replaces W2's two fields directly (W1 was already superseded, knowingly, by
W2): overwritten_writes 1, overwritten_write_fields 2. At the end neither W1's nor W2's
versions survive anywhere: lost_write_fields 3 (W1 credit_limit, W2 credit_limit and
payment_terms), lost_writes 2.
"""

from __future__ import annotations

import json

import yaml
from conftest import ROOT

from sim.cli.main import main
from sim.glossary import LOSS_GLOSSARY, RENAMED_METRICS
from sim.study.regression import MetricBound, _judge_metric

EDITS = [
    {
        "at": "day 1 10:14",
        "role": "credit_controller",
        "actor": "credit_controller-1",
        "system": "operations",
        "entity": "account",
        "key": "ACC-00001",
        "fields": {"credit_limit": 60000},
    },
    {
        "opened_at": "day 1 10:15",
        "at": "day 1 10:16",
        "role": "credit_controller",
        "actor": "credit_controller-2",
        "system": "operations",
        "entity": "account",
        "key": "ACC-00001",
        "fields": {"credit_limit": 70000, "payment_terms": "Net60"},
    },
    {
        "at": "day 1 10:20",
        "role": "sales_rep",
        "actor": "sales_rep-1",
        "system": "sales",
        "entity": "account",
        "key": "ACC-00001",
        "fields": {"phone": "+1-555-000111"},
    },
]


def run_folder(tmp_path):
    data = {
        "name": "vocabulary",
        "seed": 5,
        "design": "p2c-2017",
        "duration_days": 1,
        "quiescence_max_s": 7200,
        "initial_data": {"accounts": 1, "contacts_per_account": 0, "products": 0, "bundles": 0},
        "roles": {
            "credit_controller": {"headcount": 0, "home_system": "operations"},
            "sales_rep": {"headcount": 0, "home_system": "sales"},
        },
        "scripted": EDITS,
    }
    path = tmp_path / "vocabulary.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    out = tmp_path / "run"
    assert main(["run", str(path), "--out", str(out)]) in (0, 1)
    return out


def test_the_counts_differ_as_worked_by_hand(tmp_path, capsys):
    out = run_folder(tmp_path)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["overwritten_writes"] == 1
    assert metrics["overwritten_write_fields"] == 2
    assert metrics["lost_write_fields"] == 3
    assert metrics["lost_writes"] == 2
    verdict = json.loads((out / "verdict.json").read_text())["verdicts"]["no_lost_update"]
    assert verdict["sanctioned"] == 3  # the verdict counts lost write fields
    printed = capsys.readouterr().out
    assert "Overwritten writes: 1 saves had a field replaced" in printed
    assert "3 write fields in 2 writes lost" in printed


def test_the_glossary_is_the_same_in_the_readme_and_in_p2c_run_help(capsys):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert LOSS_GLOSSARY in readme
    try:
        main(["run", "--help"])
    except SystemExit:
        pass
    assert LOSS_GLOSSARY.splitlines()[3].strip() in capsys.readouterr().out
    for name in (
        "overwritten_writes",
        "overwritten_write_fields",
        "lost_writes",
        "lost_write_fields",
    ):
        assert name in LOSS_GLOSSARY


def test_a_suite_naming_a_retired_metric_is_told_its_new_name():
    assert RENAMED_METRICS["overwritten_edits"] == "overwritten_writes"
    mismatch = _judge_metric("overwritten_edits", MetricBound(max=1), [], 0.95)
    assert mismatch is not None and "now called overwritten_writes" in str(mismatch)
