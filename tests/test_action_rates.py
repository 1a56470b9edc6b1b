"""Configured action rates are delivered, whatever the form times (issue 12, point 1).

``actions:`` is a rate per user per working hour. The expectation is a formula, not an
earlier run: the number of actions started in a working day is Poisson with mean
``rate x users x hours``, so the realised count lies within a few standard deviations
(``sqrt(mean)``) of it, for short forms and for forms that stay open far longer than
the mean gap between actions (where a user who finished each form before drawing the
next gap would deliver well under half the rate).
"""

from __future__ import annotations

import math
from itertools import pairwise

import pytest
import yaml

from sim.engine.runner import run_scenario
from sim.scenario.spec import load_scenario

USERS, RATE_PER_H, HOURS = 20, 10.0, 9.0


def scenario(tmp_path, median_s: float, seed: int):
    data = {
        "name": f"rates_{int(median_s)}",
        "seed": seed,
        "design": "p2c-2017",
        "duration_days": 1,
        "quiescence_max_s": 3600,
        "initial_data": {"accounts": 50, "contacts_per_account": 0, "products": 0, "bundles": 0},
        "roles": {
            "sales_rep": {
                "headcount": USERS,
                "home_system": "sales",
                "working_hours": "08:00-17:00",
                "form_open": {"median_s": median_s, "sigma": 0.5},
                "actions": {"edit_account": RATE_PER_H},
            }
        },
    }
    path = tmp_path / f"rates_{int(median_s)}_{seed}.yaml"
    path.write_text(yaml.safe_dump(data))
    return load_scenario(path)


@pytest.mark.parametrize("median_s", [20.0, 180.0, 900.0])
@pytest.mark.parametrize("seed", [1, 2])
def test_realised_actions_are_within_poisson_tolerance_of_rate_users_hours(
    tmp_path, median_s, seed
):
    result = run_scenario(scenario(tmp_path, median_s, seed))
    expected = RATE_PER_H * USERS * HOURS  # 1,800 in the day
    tolerance = 4.0 * math.sqrt(expected)  # 4 sigma: 170
    started = result.metrics["actions_started.sales_rep"]
    # Every edit_account finds an account, so every action is one save (a write event):
    # the history's own count, independent of the workload's counter.
    saves = sum(1 for e in result.events if e["kind"] == "write" and e["role"] == "sales_rep")
    assert started == saves
    assert abs(saves - expected) <= tolerance, (
        f"{saves} saves against {expected:.0f} configured (form median {median_s} s): "
        f"reproduce with tests/test_action_rates.py -k '{median_s} and {seed}'"
    )


def test_long_forms_overlap_rather_than_delay_the_next_action(tmp_path):
    """With 15-minute forms and an action every 6 minutes, a user has forms open at once:
    the mean number open is rate x mean form time (Little's law), about 3.4 here."""
    result = run_scenario(scenario(tmp_path, 900.0, 3))
    opened: dict[str, list[tuple[float, float]]] = {}
    for e in result.events:
        if e["kind"] == "write" and e["role"] == "sales_rep":
            opened.setdefault(e["actor"], []).append((e["opened_t"], e["t"]))
    overlapping = 0
    for spans in opened.values():
        spans.sort()
        overlapping += sum(1 for (_, end), (start, _) in pairwise(spans) if start < end)
    assert overlapping > 0.5 * sum(len(s) for s in opened.values())
    mean_form_s = 900.0 * math.exp(0.5**2 / 2)
    busy_s = sum(end - start for spans in opened.values() for start, end in spans)
    mean_open = busy_s / (USERS * HOURS * 3600.0)
    assert mean_open == pytest.approx(RATE_PER_H / 3600.0 * mean_form_s, rel=0.15)
