"""One unit per quantity: every printed column says its unit; delays are minutes everywhere."""

from __future__ import annotations

import csv

import pytest
from test_sweep import write_sweep

from sim.cli.main import main
from sim.reporting.units import metric_unit


@pytest.mark.parametrize(
    ("name", "header", "divisor"),
    [
        (
            "propagation_p95_s.account:sales->operations",
            "propagation_p95 account:sales->operations (min)",
            60.0,
        ),
        ("blocked_user_s", "blocked_user (min)", 60.0),
        ("integration_requests_per_24h", "integration_requests (requests/24 h)", 1.0),
        ("requests_per_user_per_24h.sales_rep", "requests_per_user sales_rep (requests/24 h)", 1.0),
        ("overwritten_writes", "overwritten_writes (count)", 1.0),
        ("quiescent", "quiescent (share of runs)", 1.0),
    ],
)
def test_every_metric_has_a_header_with_its_unit(name, header, divisor):
    unit = metric_unit(name)
    assert (unit.header, unit.divisor) == (header, divisor)
    assert unit.value(120.0) == 120.0 / divisor


def test_a_sweep_prints_delays_in_minutes_with_units_in_every_metric_header(tmp_path, capsys):
    flow = "propagation_p95_s.account:sales->operations"
    path = write_sweep(
        tmp_path,
        factors={"design.batch.interval_s": [300, 1800]},
        replications=1,
        metrics=["overwritten_writes", flow],
        objectives={"overwritten_writes": "min", flow: "min"},
    )
    assert (
        main(["sweep", path, "--workers", "0", "--out", str(tmp_path / "out"), "--no-progress"])
        == 0
    )
    printed = capsys.readouterr().out.splitlines()
    header = next(line for line in printed if line.startswith("#"))
    assert "overwritten_writes (count)" in header
    assert "propagation_p95 account:sales->operations (min)" in header
    assert "_s" not in header.replace("interval_s", "")
    # The CSV keeps seconds; the table shows the same means in minutes.
    rows = list(csv.DictReader(open(tmp_path / "out" / "summary.csv", encoding="utf-8")))
    table = [line for line in printed if "interval_s=" in line and line.lstrip()[0].isdigit()]
    assert len(table) == len(rows) == 2
    for line, row in zip(table, rows, strict=True):
        seconds = float(row[f"{flow}.mean"])
        assert seconds > 120  # batch delays: minutes, so seconds would differ visibly
        minutes = float(line.split()[-2] if line.split()[-1] == "*" else line.split()[-1])
        assert minutes == pytest.approx(seconds / 60.0, rel=1e-3)
    goals = next(line for line in printed if line.startswith("pareto:"))
    assert "overwritten_writes (minimised)" in goals and "(min)," not in goals
