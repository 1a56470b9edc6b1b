"""Audit export and calibration (issue 13, points 3 and 4).

The round trip is the proof: simulate the seed organisation, export its audit,
calibrate, simulate the calibrated scenario under another seed; per-role save counts,
per-entity counts and the hourly profile agree within sampling error. The tolerance is
computed from the counts: a save count is a compound Poisson total (actions of 1-6
saves), whose variance is the sum of the squared saves per action; two independent runs
differ by N(0, var1 + var2), and 4 standard deviations is the bound.
"""

from __future__ import annotations

import csv
import math
from collections import Counter, defaultdict

import pytest
import yaml
from conftest import DATA  # noqa: I001

from sim.calibration.calibrate import calibrate, classify, cluster_users, read_exports
from sim.calibration.calibrate import transactions as group_transactions
from sim.cli.main import main

SEED = DATA.parent.parent / "scenarios" / "prospect_to_cash.yaml"


def audit(path):
    return list(csv.DictReader(path.open(encoding="utf-8")))


def spread(rows, key):
    """Per group: (saves, variance of the saves) from the actions' sizes."""
    actions: dict[tuple, int] = Counter((r["userid"], r["createdon"], r["system"]) for r in rows)
    group_of = {(r["userid"], r["createdon"], r["system"]): key(r) for r in rows}
    total: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    for action, size in actions.items():
        entry = total[group_of[action]]
        entry[0] += size
        entry[1] += size * size
    return total


def assert_agree(original, calibrated, key, what):
    a, b = spread(original, key), spread(calibrated, key)
    for group in sorted(set(a) | set(b)):
        (n1, v1), (n2, v2) = a.get(group, (0, 0.0)), b.get(group, (0, 0.0))
        tolerance = 4 * math.sqrt(max(v1 + v2, 1.0))
        assert abs(n1 - n2) <= tolerance, (
            f"{what} {group}: {n1} saves in the original, {n2} calibrated (tolerance "
            f"{tolerance:.0f}): reproduce with pytest tests/test_calibration.py -k round_trip"
        )


@pytest.mark.slow
def test_round_trip_on_the_seed_organisation(tmp_path, capsys):
    run, export, fitted, again, export2 = (
        tmp_path / n for n in ("run", "audit.csv", "calibrated.yaml", "run2", "audit2.csv")
    )
    assert main(["run", str(SEED), "--out", str(run)]) == 0
    assert main(["audit", str(run), "--out", str(export)]) == 0
    assert main(["calibrate", str(export), "--out", str(fitted)]) == 0
    assert main(["run", str(fitted), "--seed", "4242", "--out", str(again)]) == 0
    assert main(["audit", str(again), "--out", str(export2)]) == 0
    original, calibrated = audit(export), audit(export2)
    # Roles found by clustering: the seed's five roles, each user in the one of its kind.
    scenario = yaml.safe_load(fitted.read_text())
    seed = yaml.safe_load(SEED.read_text())
    role_of = {}
    for role, spec in seed["roles"].items():
        for i in range(spec["headcount"]):
            role_of[f"{role}-{i + 1}"] = role
    headcounts = sorted(r["headcount"] for r in scenario["roles"].values())
    assert headcounts == sorted(r["headcount"] for r in seed["roles"].values())
    # Users are named after the calibrated roles in the second run: compare per role by
    # the partition (each calibrated role is exactly one seed role).
    fitted_users = Counter()
    rows = read_exports([export])
    found = cluster_users(group_transactions(rows))
    for user, cluster in found.items():
        fitted_users[(cluster, role_of[user])] += 1
    assert len(fitted_users) == len(seed["roles"])  # a one-to-one partition
    rename = {cluster: role for cluster, role in fitted_users}

    def role(r):
        user = r["userid"]
        return role_of.get(user) or rename[user.rsplit("-", 1)[0]]

    assert_agree(original, calibrated, role, "role")
    assert_agree(original, calibrated, lambda r: r["objecttypecode"], "entity")
    assert_agree(original, calibrated, lambda r: r["createdon"][11:13], "hour")
    text = fitted.read_text()
    assert "form_open: {median_s: 90, sigma: 0.8}  # not in an export" in text


def test_every_fitted_number_says_its_sample_size(tmp_path):
    export = tmp_path / "a.csv"
    rows = ["createdon,system,userid,objecttypecode,objectid,operation,changedfields,changedata"]
    for day in range(29, 32):  # Mon 29 - Wed 31 January: a month end
        for hour in range(9, 17):
            for user in ("ann", "bob"):
                rows.append(
                    f"2024-01-{day}T{hour:02d}:10:00Z,sales,{user},account,"
                    f'ACC-{day}{hour},Update,phone,"{{""phone"":""1""}}"'
                )
    rows.append("2024-02-01T09:00:00Z,sales,ann,account,ACC-9,Update,phone,")
    export.write_text("\n".join(rows) + "\n")
    text = calibrate([export]).text
    for line in text.splitlines():
        value = line.split("#")[0].partition(":")[2]
        if any(c.isdigit() for c in value) and not line.lstrip().startswith(
            ("name", "seed", "quiescence", "form_open", "start_date")
        ):
            assert "#" in line, line
    assert "month_end: {last_days: 3" in text
    assert "edit_account:" in text and "headcount: 2" in text


def test_classify_names_the_workload_actions():
    from datetime import UTC, datetime

    from sim.calibration.calibrate import Row

    t = datetime(2024, 1, 1, tzinfo=UTC)

    def row(entity, op, values):
        return Row(t, "sales", "u", entity, "K", op, tuple(values), values)

    assert classify([row("account", "update", {"credit_limit": 1})]) == "edit_credit"
    assert classify([row("account", "update", {"city": "Oslo"})]) == "edit_account"
    assert classify([row("order", "update", {"status": "Active"})]) == "activate_order"
    assert classify([row("order", "update", {"status": "Packed"})]) == "advance_order"
    assert (
        classify([row("invoice", "create", {}), row("order", "update", {"status": "Invoiced"})])
        == "invoice_order"
    )
    assert classify([row("bundle_line", "create", {})]) == "edit_bundle"


HEADER = "createdon,system,userid,objecttypecode,objectid,operation,changedfields,changedata"


@pytest.mark.parametrize(
    "body, message",
    [
        ("", ":1: empty file"),
        (HEADER + "\n", ":2: no rows after the header"),
        (
            "createdon,userid,objectid\n2024-01-01T08:00:00Z,a,ACC-1\n",
            ":1: missing column(s) objecttypecode, operation",
        ),
        (
            HEADER + "\nyesterday,sales,a,account,ACC-1,Update,phone,\n",
            ":2: createdon: unparseable date 'yesterday'",
        ),
        (
            HEADER + "\n2024-01-01T08:00:00Z,sales,a,account,ACC-1,Update,phone,\n"
            "2024-01-01T08:00:00Z,sales,a,spaceship,SPC-1,Update,phone,\n",
            ":3: objecttypecode: unknown entity 'spaceship'",
        ),
        (
            HEADER + "\n2024-01-01T08:00:00Z,sales,a,account,ACC-1,Delete,,\n",
            ":2: operation: 'Delete' is not Create/Insert or Update",
        ),
    ],
)
def test_bad_exports_name_file_and_line_and_exit_2(tmp_path, capsys, body, message):
    export = tmp_path / "bad.csv"
    export.write_text(body)
    out = tmp_path / "s.yaml"
    assert main(["calibrate", str(export), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{export}{message}" in err and "Traceback" not in err, err
    assert not out.exists()
