"""p2c shrink: a real run's anomaly cut down to the fewest saves that still show it.

The expectation is worked by hand from the seed post's incident under ``p2c-2017``: an
Operations credit-limit raise is lost only when (1) the record exists in Sales with a
credit limit of its own (the migration's save), (2) Operations raises it, and (3) a
later Sales save makes change tracking send the whole row again, so the hub -> Operations
upsert carries the migrated credit limit over the raise. Take away any one of the three
and nothing is lost, so three saves is the minimum.
"""

from __future__ import annotations

import itertools

import pytest
import yaml
from conftest import DATA, ROOT
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.cli.main import main
from sim.study.shrink import ddmin
from sim.study.story import replay_file


def _check_incident(out, actor, value):
    data = yaml.safe_load((out / "incident.yaml").read_text())
    saves = data["scripted"]
    assert len(saves) <= 3
    assert [(s["role"], s["system"]) for s in saves] == [
        ("migration", "sales"),
        ("credit_controller", "operations"),
        ("sales_rep", "sales"),
    ]
    assert saves[1]["actor"] == actor and saves[1]["fields"] == {"credit_limit": value}
    assert list(saves[2]["fields"]) == ["phone"]
    assert data["initial_data"]["accounts"] == 0
    assert all(role["headcount"] == 0 for role in data["roles"].values())
    assert {spec["entity"] for spec in data["design"]["maps"].values()} == {"account"}
    # p2c run's path replays it: the raise is overwritten by the migrated credit limit.
    verdict = replay_file(out / "incident.yaml").report.verdicts["no_lost_update"]
    assert verdict.status == "sanctioned" and verdict.count == 1
    assert f"({actor} set account" in verdict.anomalies[0].explain()
    assert f"credit_limit {value}" in verdict.anomalies[0].explain()
    assert (out / "timeline.png").stat().st_size > 10_000
    assert "the migration creates account" in (out / "story.md").read_text()


def test_the_scripted_seed_story_shrinks_to_its_three_saves(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["run", str(DATA / "seed_story.yaml"), "--out", str(run)]) == 0
    out = tmp_path / "incident"
    assert main(["shrink", str(run), "--anomaly", "W-operations-1", "--out", str(out)]) == 0
    assert "3 of the 3 saves on the record still show it" in capsys.readouterr().out
    _check_incident(out, "credit_controller-3", 95000)


@pytest.mark.slow
def test_the_seed_run_overwritten_credit_limit_shrinks_to_three_saves(tmp_path, capsys):
    run = tmp_path / "seed"
    main(["run", str(ROOT / "scenarios" / "prospect_to_cash.yaml"), "--out", str(run)])
    out = tmp_path / "incident"
    assert main(["shrink", str(run), "--anomaly", "W-operations-165", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "3 of the" in text
    _check_incident(out, "credit_controller-3", 95000)


def test_bad_input_is_exit_2_with_nothing_written(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["run", str(DATA / "seed_story.yaml"), "--out", str(run)]) == 0
    capsys.readouterr()
    out = tmp_path / "out"
    assert main(["shrink", str(run), "--anomaly", "W-sales-99", "--out", str(out)]) == 2
    assert "no anomaly naming 'W-sales-99'" in capsys.readouterr().err
    assert main(["shrink", str(tmp_path), "--anomaly", "W-operations-1", "--out", str(out)]) == 2
    assert "is not a run folder" in capsys.readouterr().err
    assert main(["shrink", str(run), "--out", str(out)]) == 2
    assert not out.exists()


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 9), st.sets(st.integers(0, 8), max_size=3))
def test_ddmin_finds_the_smallest_set_a_brute_force_search_finds(size, needed):
    """For a monotone test ("contains these items"), the 1-minimal answer is the unique
    smallest one: compared with trying every subset."""
    items = list(range(size))
    needed = {n for n in needed if n < size}

    def test(part):
        return needed <= set(part)

    smallest = next(
        list(c) for r in range(size + 1) for c in itertools.combinations(items, r) if test(c)
    )
    assert ddmin(items, test) == smallest
