"""Real rhythms per role (issue 13, point 2): hourly profile, month end, time zone.

Expectations are formulas worked by hand here, not the calendar's own output: actions
of a role arrive as a Poisson process whose rate in a local hour is ``rate x headcount x
weight(hour) x month-end factor``, with the weights normalised to a mean of 1 over the
working hours; the realised count lies within a few sqrt(expected) of it.
"""

from __future__ import annotations

import math
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import yaml

from sim.engine.runner import run_scenario
from sim.scenario.spec import load_scenario
from sim.scenario.yamlio import InputError

START = datetime(2024, 1, 29, tzinfo=UTC)  # a Monday; Jan 30 and 31 are the month's last 2


def write_scenario(tmp_path, data, name="rhythm.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def base(**roles):
    return {
        "name": "rhythm",
        "seed": 11,
        "design": "p2c-2017",
        "start_date": "2024-01-29",
        "duration_days": 3,
        "quiescence_max_s": 3600,
        "initial_data": {"accounts": 30, "contacts_per_account": 0, "products": 0, "bundles": 0},
        "roles": roles,
    }


def role(**extra):
    # One-second forms: the action's start and its save are the same hour.
    data = {
        "headcount": 12,
        "home_system": "sales",
        "form_open": {"median_s": 1, "sigma": 0},
        "actions": {"edit_account": 3.0},
    }
    data.update(extra)
    return data


def local_hour_counts(events, role_name, zone):
    counts: Counter = Counter()
    tz = ZoneInfo(zone)
    for e in events:
        if e["kind"] == "write" and e["role"] == role_name:
            local = (START + timedelta(seconds=e["opened_t"])).astimezone(tz)
            counts[(local.date().isoformat(), local.hour)] += 1
    return counts


def test_peak_window_month_end_and_time_zone_match_the_formula(tmp_path):
    """Chicago, 08:00-17:00 local, three times busier 10:00-12:00, twice as busy on the
    last two days of January: per local hour the count is Poisson around the formula."""
    path = write_scenario(
        tmp_path,
        base(
            rep=role(
                timezone="America/Chicago",
                hourly_profile={"peak": "10:00-12:00", "factor": 3},
                month_end={"last_days": 2, "factor": 2},
            )
        ),
    )
    result = run_scenario(load_scenario(path))
    counts = local_hour_counts(result.events, "rep", "America/Chicago")
    # Weights: 7 ordinary hours at 1 and 2 peak hours at 3, mean 13/9 -> normalised.
    mean_weight = (7 * 1 + 2 * 3) / 9
    total_expected = total_seen = 0.0
    # Local days the run covers (UTC Mon 00:00 - Thu 00:00 is Sun 18:00 - Wed 18:00 CST).
    for day, factor in (("2024-01-29", 1.0), ("2024-01-30", 2.0), ("2024-01-31", 2.0)):
        for hour in range(24):
            weight = (3 if 10 <= hour < 12 else 1) / mean_weight if 8 <= hour < 17 else 0.0
            expected = 3.0 * 12 * weight * factor
            seen = counts.get((day, hour), 0)
            if expected == 0:
                assert seen == 0, f"{seen} actions at {day} {hour}:00 Chicago, outside hours"
                continue
            assert abs(seen - expected) <= 4.5 * math.sqrt(expected), (
                f"{day} {hour}:00 Chicago: {seen} actions, formula {expected:.1f}: reproduce "
                "with pytest tests/test_rhythms.py -k formula"
            )
            total_expected += expected
            total_seen += seen
    # Day 2024-01-31 ends at 17:00 CST = 23:00 UTC, inside the run (which ends 00:00 UTC).
    assert abs(total_seen - total_expected) <= 3 * math.sqrt(total_expected)
    assert total_expected == pytest.approx(3 * 12 * 9 * (1 + 2 + 2))


def test_hourly_weights_shape_the_day(tmp_path):
    """24 weights (zero outside 09-13): the ratio of counts follows the weights."""
    weights = [0.0] * 24
    weights[9], weights[10], weights[11], weights[12] = 1, 2, 3, 4
    path = write_scenario(
        tmp_path, base(rep=role(working_hours="09:00-13:00", hourly_profile=weights))
    )
    result = run_scenario(load_scenario(path))
    counts = local_hour_counts(result.events, "rep", "UTC")
    for hour, w in zip((9, 10, 11, 12), (1, 2, 3, 4), strict=True):
        expected = 3.0 * 12 * (w / 2.5) * 3  # mean weight 2.5; three days
        seen = sum(v for (d, h), v in counts.items() if h == hour)
        assert abs(seen - expected) <= 4.5 * math.sqrt(expected), (hour, seen, expected)
    assert sum(v for (d, h), v in counts.items() if h not in (9, 10, 11, 12)) == 0


def test_a_daily_batch_outside_the_sales_working_day_delays_every_sales_edit_a_night(tmp_path):
    """Sales in Chicago (14:00-23:00 UTC in winter), Operations in Warsaw (07:00-16:00
    UTC), one daily account batch at 12:00 UTC: inside Warsaw's day, before Chicago's
    starts. Every Sales edit waits for the next day's batch: at least 13 hours (23:00 ->
    12:00 UTC), however early in the Chicago day it was made."""
    data = base(
        rep=role(timezone="America/Chicago", headcount=6, actions={"edit_account": 1.0}),
        clerk=role(
            timezone="Europe/Warsaw",
            home_system="operations",
            headcount=4,
            actions={"edit_credit": 1.0},
        ),
    )
    data["design"] = {
        "extends": "p2c-2017",
        "batch": {"interval_s": 86400},
        "maps": {
            "accounts_sales_to_hub": {"offset_s": 43200},
            "accounts_hub_to_operations": {"offset_s": 43500},
        },
    }
    result = run_scenario(load_scenario(write_scenario(tmp_path, data)))
    events = result.events
    for name, zone in (("rep", "America/Chicago"), ("clerk", "Europe/Warsaw")):
        hours = {h for (_, h) in local_hour_counts(events, name, zone)}
        assert hours and hours <= set(range(8, 17)), (name, hours)
    runs = [
        e["t"]
        for e in events
        if e["kind"] == "batch_start" and e["map"] == "accounts_sales_to_hub" and e["t"] > 0
    ]
    assert runs and all(t % 86400 == 43200 for t in runs)
    written = {e["write_id"]: e["t"] for e in events if e["kind"] == "write" and e["role"] == "rep"}
    arrived: dict[str, float] = {}
    for e in events:
        if e["kind"] == "apply" and e["system"] == "operations" and e["via"] != "user":
            for write_id in e["fields"].values():
                if write_id in written:
                    arrived.setdefault(write_id, e["t"])
    assert len(arrived) >= 20  # the latest of each field per night travels; day 3 never does
    delays_h = [(arrived[w] - written[w]) / 3600 for w in arrived]
    assert min(delays_h) >= 13.0 - 0.1, min(delays_h)
    # And Warsaw's clerks work while the batch runs: the 12:00 UTC run is 13:00 Warsaw.
    assert any(
        12 <= h < 13
        for h in {
            int(t % 86400 // 3600)
            for t in (
                e["opened_t"] for e in events if e["kind"] == "write" and e["role"] == "clerk"
            )
        }
    )


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("timezone", "America/Chicgo", "unknown time zone 'America/Chicgo'"),
        ("hourly_profile", [1.0] * 23, "at least 24"),
        ("hourly_profile", {"peak": "25:00-26:00"}, "no such time"),
        ("hourly_profile", [0.0] * 8 + [1.0] + [0.0] * 15, "no weight to any working hour"),
        ("month_end", {"last_days": 0, "factor": 2}, "greater than or equal to 1"),
    ],
)
def test_bad_rhythms_name_file_line_and_field(tmp_path, field, value, message):
    data = base(rep=role(working_hours="09:00-17:00", **{field: value}))
    path = write_scenario(tmp_path, data)
    with pytest.raises(InputError) as caught:
        load_scenario(path)
    text = str(caught.value)
    assert text.startswith(f"{path}:") and f"roles.rep.{field}" in text and message in text, text


def test_bad_zone_on_the_command_line_exits_2_with_file_line(tmp_path):
    data = base(rep=role(timezone="Mars/Olympus"))
    path = write_scenario(tmp_path, data)
    proc = subprocess.run(
        [sys.executable, "-m", "sim.cli", "run", str(path), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if "timezone" in text)
    assert f"{path}:{line}: roles.rep.timezone: unknown time zone" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "out").exists()


def test_day_one_must_be_a_monday(tmp_path):
    data = base(rep=role())
    data["start_date"] = "2024-01-30"
    with pytest.raises(InputError, match="start_date: 2024-01-30 is a Tue"):
        load_scenario(write_scenario(tmp_path, data))
