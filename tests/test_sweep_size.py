"""A sweep's size is estimated before it starts (issue 11 point 6, headcount).

As ``p2c run`` refuses a run over 20,000 user-days without ``--yes``, ``p2c sweep`` adds
up its runs still to do (configurations x replications x users x days) and refuses a
total over ``MAX_SWEEP_USER_DAYS``, or any single run over ``p2c run``'s limits, with the
estimate printed and exit 2, before anything is written. The expected figures here are
worked out from the scenario file itself (headcounts summed by this test), not taken from
the tool.
"""

from __future__ import annotations

import yaml
from conftest import SEED_SCENARIO

from sim.cli.main import main
from sim.study.sweep import run as sweep_run
from sim.study.sweep.plan import load_sweep

SEED = yaml.safe_load(SEED_SCENARIO.read_text(encoding="utf-8"))
USERS = sum(role["headcount"] for role in SEED["roles"].values())


def write(tmp_path, name: str, **content) -> str:
    data = {
        "name": name,
        "scenario": str(SEED_SCENARIO),
        "metrics": ["overwritten_edits"],
        **content,
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return str(path)


def test_a_large_sweep_is_refused_with_its_estimate_and_nothing_written(tmp_path, capsys):
    path = write(
        tmp_path,
        "big",
        overrides={"duration_days": 20},
        factors={"design.batch.interval_s": [300, 600]},
        replications=100,
    )
    user_days = USERS * 20 * 2 * 100
    assert user_days > sweep_run.MAX_SWEEP_USER_DAYS, "the case no longer exceeds the limit"
    code = main(["sweep", path, "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"{path}: a large sweep: 200 runs to do" in err, err
    assert f"{user_days:,} user-days in all (limit 200,000)" in err, err
    assert "--yes" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_a_sweep_of_one_huge_run_is_refused_even_when_the_total_is_small(tmp_path, capsys):
    path = write(tmp_path, "huge", overrides={"roles.sales_rep.headcount": 100_000}, replications=1)
    others = USERS - SEED["roles"]["sales_rep"]["headcount"]
    days = SEED["duration_days"]
    code = main(["sweep", path, "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"its largest run has {(100_000 + others) * days:,} user-days (limit 20,000)" in err
    assert not (tmp_path / "out").exists()


def test_runs_already_stored_do_not_count_on_resume(tmp_path):
    path = write(
        tmp_path,
        "resumed",
        overrides={"duration_days": 3},
        factors={"design.batch.interval_s": [300, 600, 900]},
        replications=10,
    )
    plan = load_sweep(path)
    assert sweep_run.sweep_size(plan)[:2] == (30, USERS * 3 * 30)
    first = plan.configurations[0]
    done = {(first.config_hash, plan.seed(r)) for r in range(10)}
    done.add((plan.configurations[1].config_hash, plan.seed(4)))
    runs, user_days, seconds, largest, _ = sweep_run.sweep_size(plan, done)
    assert (runs, user_days, largest) == (19, USERS * 3 * 19, USERS * 3)
    assert seconds > 0


def test_yes_runs_a_sweep_the_limit_would_refuse(tmp_path, capsys, monkeypatch):
    small = {
        "duration_days": 1,
        "initial_data.accounts": 20,
        "initial_data.products": 10,
        "roles.sales_rep.headcount": 2,
        "roles.sales_product_manager.headcount": 1,
        "roles.ops_clerk.headcount": 1,
        "roles.credit_controller.headcount": 1,
        "roles.product_team.headcount": 1,
    }
    path = write(tmp_path, "tiny", overrides=small, replications=2)
    monkeypatch.setattr(sweep_run, "MAX_SWEEP_USER_DAYS", 10)  # 2 runs x 6 users x 1 day
    out = tmp_path / "out"
    assert main(["sweep", path, "--workers", "0", "--out", str(out)]) == 2
    assert "12 user-days in all (limit 10)" in capsys.readouterr().err
    assert not out.exists()
    assert main(["sweep", path, "--workers", "0", "--out", str(out), "--yes", "--json"]) == 0
    assert '"executed": 2' in capsys.readouterr().out
