"""Hostile and malformed YAML is refused quickly, with file:line, exit 2 (issue 11, 4-6).

Every YAML file the tool reads goes through one loader (sim/scenario/yamlio.py): the
cases below put each hostile construct into each kind of file (scenario, design, price
book, sweep, suite) and run the command a user would. Each must end with exit 2, a
message naming the file and line, no traceback, nothing written, in under 5 s; the alias
bombs are also run in a child process whose peak memory is measured (under 500 MB).
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
import yaml
from conftest import ROOT, SEED_SCENARIO

from sim.cli.main import main


def bomb(key: str = "x-bomb") -> str:
    """A 'billion laughs': 9 levels of 9 aliases each, 9**9 strings once expanded."""
    lines = [f"{key}:", '  a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 9):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"  {cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines) + "\n"


SEED = SEED_SCENARIO.read_text(encoding="utf-8")


def line_of(text: str, needle: str) -> int:
    """The 1-based line of ``needle`` in ``text`` (worked out here, not by the tool)."""
    return text[: text.index(needle)].count("\n") + 1


#: (case, scenario text, expected line, expected words)
SCENARIOS = [
    ("alias bomb", SEED + bomb(), None, "alias bomb"),
    ("recursive alias", SEED + "loop: &loop [*loop]\n", SEED.count("\n") + 1, "recursive alias"),
    (
        "python tag on a scalar",
        SEED.replace("name: prospect_to_cash", "name: !!python/name:os.system", 1),
        line_of(SEED, "name: prospect_to_cash"),
        "tag '!!python/name:os.system' is not allowed",
    ),
    (
        "python tag on a mapping",
        SEED.replace("initial_data:", "initial_data: !!python/object:os.system", 1),
        line_of(SEED, "initial_data:"),
        "tag '!!python/object:os.system' is not allowed",
    ),
    (
        "local tag on a sequence",
        SEED.replace("scripted:", "scripted: !mine", 1),
        line_of(SEED, "scripted:"),
        "tag '!mine' is not allowed",
    ),
    (
        "NaN",
        SEED.replace("quiescence_max_s: 14400", "quiescence_max_s: .nan", 1),
        line_of(SEED, "quiescence_max_s: 14400"),
        "'.nan' is not a finite number",
    ),
    (
        "infinity",
        SEED.replace("duration_days: 5", "duration_days: .inf", 1),
        line_of(SEED, "duration_days: 5"),
        "'.inf' is not a finite number",
    ),
]


def refused(capsys, argv, expect_in_err, started=None):
    # CPU time of this process: the machine's other load does not count against it.
    started = time.process_time() if started is None else started
    code = main(argv)
    elapsed = time.process_time() - started
    err = capsys.readouterr().err
    assert code == 2, err
    assert expect_in_err in err and "Traceback" not in err, err
    assert elapsed < 5, f"refused only after {elapsed:.1f} s"
    return err


@pytest.mark.parametrize("case,text,line,words", SCENARIOS, ids=[c[0] for c in SCENARIOS])
def test_hostile_scenarios_are_refused(tmp_path, capsys, case, text, line, words):
    assert text != SEED, f"case {case!r} no longer changes the seed scenario"
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    err = refused(capsys, ["run", str(path), "--out", str(out)], words)
    if line is not None:
        assert err.startswith(f"error: {path}:{line}: "), err
    assert list(tmp_path.iterdir()) == [path]


def test_a_clock_skew_of_nan_is_refused(tmp_path, capsys):
    data = yaml.safe_load(SEED)
    data["faults"] = [{"kind": "clock_skew", "system": "operations", "skew_s": 1.0}]
    text = yaml.safe_dump(data, sort_keys=False).replace("skew_s: 1.0", "skew_s: .nan")
    path = tmp_path / "skew.yaml"
    path.write_text(text, encoding="utf-8")
    refused(
        capsys,
        ["run", str(path), "--out", str(tmp_path / "out")],
        "faults[0].skew_s: '.nan' is not a finite number",
    )


def test_an_alias_bomb_in_a_price_book_is_refused(tmp_path, capsys):
    book = (ROOT / "scenarios" / "pricebooks" / "2017.yaml").read_text(encoding="utf-8")
    (tmp_path / "book.yaml").write_text(book + bomb(), encoding="utf-8")
    data = yaml.safe_load(SEED)
    data["licensing"] = {**(data.get("licensing") or {}), "price_book": "book.yaml"}
    path = tmp_path / "priced.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    err = refused(capsys, ["run", str(path), "--out", str(tmp_path / "out")], "alias bomb")
    assert "book.yaml" in err


def test_a_tag_in_a_design_file_is_refused(tmp_path, capsys):
    design = (ROOT / "scenarios" / "designs" / "p2c-2017.yaml").read_text(encoding="utf-8")
    (tmp_path / "mine.yaml").write_text(
        design + "x-extra: !!python/object/apply:os.system ['true']\n", encoding="utf-8"
    )
    text = SEED.replace("  extends: p2c-2017", "  extends: ./mine.yaml", 1)
    assert text != SEED
    path = tmp_path / "scenario.yaml"
    path.write_text(text, encoding="utf-8")
    err = refused(capsys, ["run", str(path), "--out", str(tmp_path / "out")], "is not allowed")
    assert "mine.yaml" in err


def test_a_bomb_in_a_sweep_and_a_tag_in_a_suite_are_refused(tmp_path, capsys):
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(
        yaml.safe_dump({"name": "s", "scenario": str(SEED_SCENARIO)}) + bomb(), encoding="utf-8"
    )
    refused(capsys, ["sweep", str(sweep), "--out", str(tmp_path / "out")], "alias bomb")
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        (ROOT / "scenarios" / "suite" / "seed_overwrite.yaml")
        .read_text()
        .replace("seed: 7", "seed: !!python/int 7"),
        encoding="utf-8",
    )
    refused(capsys, ["check", str(suite)], "is not allowed")
    assert not (tmp_path / "out").exists()


def test_unknown_metric_names_are_refused_before_any_run_with_the_closest_name(tmp_path, capsys):
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(
        yaml.safe_dump(
            {
                "name": "s",
                "scenario": str(SEED_SCENARIO),
                "replications": 40,
                "metrics": ["writes", "overwriten_writes"],
            }
        ),
        encoding="utf-8",
    )
    err = refused(
        capsys,
        ["sweep", str(sweep), "--out", str(tmp_path / "out")],
        "metrics[1]: unknown metric 'overwriten_writes'; did you mean 'overwritten_writes'?",
    )
    assert f"{sweep}:" in err
    assert not (tmp_path / "out").exists(), "the sweep started before refusing"
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        (ROOT / "scenarios" / "suite" / "seed_overwrite.yaml")
        .read_text()
        .replace("overwritten_writes: {min: 1", "overwriten_writes: {min: 1"),
        encoding="utf-8",
    )
    refused(capsys, ["check", str(suite)], "did you mean 'overwritten_writes'?")
    bad_invariant = tmp_path / "inv.yaml"
    bad_invariant.write_text(
        (ROOT / "scenarios" / "suite" / "seed_overwrite.yaml")
        .read_text()
        .replace("no_lost_update: sanctioned", "no_lost_updates: sanctioned"),
        encoding="utf-8",
    )
    refused(capsys, ["check", str(bad_invariant)], "did you mean 'no_lost_update'?")


def test_the_bombs_stay_fast_and_small_in_a_process_of_their_own(tmp_path):
    """The worst cases, measured: wall time and the child's peak memory (ru_maxrss)."""
    scenario = tmp_path / "bomb.yaml"
    scenario.write_text(SEED + bomb(), encoding="utf-8")
    # The child reports its own peak memory and CPU. ru_maxrss will not do: Linux keeps it
    # across fork and exec, so a child of a large test process reports the parent's size
    # (RUSAGE_CHILDREN is worse: the largest child ever waited for). VmHWM is the peak of
    # the child's own address space, which exec starts afresh.
    child = (
        "import os, resource, sys\n"
        "from sim.cli.main import main\n"
        "try:\n"
        "    code = main(sys.argv[1:])\n"
        "finally:\n"
        "    u = resource.getrusage(resource.RUSAGE_SELF)\n"
        "    peak = u.ru_maxrss\n"
        "    if os.path.exists('/proc/self/status'):\n"
        "        for line in open('/proc/self/status'):\n"
        "            if line.startswith('VmHWM:'):\n"
        "                peak = int(line.split()[1])\n"
        "    print(f'RUSAGE {u.ru_utime + u.ru_stime} {peak}', file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", child, "run", str(scenario), "--out", str(tmp_path / "out")],
        cwd=ROOT,
        capture_output=True,
        timeout=60,
    )
    usage = [line for line in done.stderr.decode().splitlines() if line.startswith("RUSAGE ")]
    assert usage, done.stderr
    elapsed, maxrss_kb = (float(x) for x in usage[-1].split()[1:])  # CPU s, KiB
    peak_mb = maxrss_kb / 1024
    assert done.returncode == 2 and b"alias bomb" in done.stderr, done.stderr
    assert elapsed < 5 and peak_mb < 500, (elapsed, peak_mb)


def test_extends_names_a_design_not_any_file_and_a_cycle_is_printed(tmp_path, capsys):
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "file.yaml").write_text("name: x\n", encoding="utf-8")
    scenarios = tmp_path / "scenarios"
    (scenarios / "designs").mkdir(parents=True)
    text = SEED.replace("  extends: p2c-2017", "  extends: ../../elsewhere/file", 1)
    path = scenarios / "escape.yaml"
    path.write_text(text, encoding="utf-8")
    err = refused(
        capsys, ["run", str(path), "--out", str(tmp_path / "out")], "is not a design name"
    )
    assert err.startswith(f"error: {path}:{line_of(text, 'extends:')}: design.extends: "), err
    # a -> b -> a, reported at the scenario line that started the chain
    (scenarios / "designs" / "a.yaml").write_text("extends: b\n", encoding="utf-8")
    (scenarios / "designs" / "b.yaml").write_text("extends: a\n", encoding="utf-8")
    text = SEED.replace("  extends: p2c-2017", "  extends: a", 1)
    path = scenarios / "cycle.yaml"
    path.write_text(text, encoding="utf-8")
    err = refused(
        capsys,
        ["run", str(path), "--out", str(tmp_path / "out")],
        "design 'extends' cycle: a -> b -> a",
    )
    assert err.startswith(f"error: {path}:{line_of(text, 'extends: a')}: design.extends: "), err


def test_an_unknown_price_override_is_named_at_its_own_line(tmp_path, capsys):
    """Issue 11, 7a: the override's own line (not the 'overrides:' line above it), its
    path, and the closest SKU of the price book."""
    text = SEED + (
        "licensing:\n  price_book: current\n  overrides:\n"
        "    finance: 150\n    sales_enterprize: 80\n"
    )
    path = tmp_path / "priced.yaml"
    path.write_text(text, encoding="utf-8")
    err = refused(
        capsys, ["run", str(path), "--out", str(tmp_path / "out")], "no SKU 'sales_enterprize'"
    )
    assert err.startswith(
        f"error: {path}:{line_of(text, 'sales_enterprize:')}: "
        "licensing.overrides.sales_enterprize: "
    ), err
    assert "did you mean 'sales_enterprise'?" in err
    # a bad part after the dot is named the same way
    path.write_text(text.replace("sales_enterprize: 80", "finance.discount: 3"), encoding="utf-8")
    err = refused(capsys, ["run", str(path), "--out", str(tmp_path / "out")], ".attach")
    assert err.startswith(
        f"error: {path}:{line_of(text, 'sales_enterprize:')}: "
        "licensing.overrides.finance.discount: "
    ), err
    assert list(tmp_path.iterdir()) == [path]
