"""Option values out of range end in exit 2 with one line, never a traceback (issue 11
point 6: found by the corpus run over every command of ``p2c --help``)."""

from __future__ import annotations

import time

import pytest
import yaml
from conftest import SEED_SCENARIO

from sim.cli.main import main


@pytest.mark.parametrize(
    "argv,words",
    [
        (["run", str(SEED_SCENARIO), "--seed", "-5"], "a seed is from 0 to 2**63 - 1, got -5"),
        (["run", str(SEED_SCENARIO), "--seed", str(2**63)], "a seed is from 0 to 2**63 - 1"),
        (["compare", str(SEED_SCENARIO), "--seed", "-1"], "a seed is from 0 to 2**63 - 1"),
        (["explore", "p2c-2017", "--seed", "-1"], "a seed is from 0 to 2**63 - 1"),
        (["run", str(SEED_SCENARIO), "--timeline", "-1"], "a count is >= 0, got -1"),
        (["run", str(SEED_SCENARIO), "--explain", "-2"], "a count is >= 0, got -2"),
    ],
)
def test_out_of_range_options_are_usage_errors(tmp_path, capsys, argv, words):
    code = main([*argv, "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and words in err and "Traceback" not in err, err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "address,words",
    [
        ("garbage", "missing port number"),
        ("tcp://h:99999", "port 99999 is not from 1 to 65535"),
    ],
)
def test_a_scheduler_address_that_is_not_one_is_refused_at_once(tmp_path, capsys, address, words):
    pytest.importorskip("distributed")
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(yaml.safe_dump({"name": "s", "scenario": str(SEED_SCENARIO)}))
    started = time.process_time()
    code = main(["sweep", str(sweep), "--scheduler", address, "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"--scheduler {address}: not a scheduler address ({words}" in err, err
    assert time.process_time() - started < 5
    assert not (tmp_path / "out").exists()
