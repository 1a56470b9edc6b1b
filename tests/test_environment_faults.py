"""The machine misbehaves: full disk, read-only folder, closed pipe, odd encodings (issue 11,
points 6, 8, 12), and inputs a run must refuse before it starts.

Every case: the exit code the README documents (2 for the environment, 141 for a closed
pipe), one line naming the path and the cause, no traceback, nothing partial left.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import yaml
from conftest import ROOT, SEED_SCENARIO
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.cli.main import main

SEED = SEED_SCENARIO.read_text(encoding="utf-8")


def small_scenario_data() -> dict:
    data = yaml.safe_load(SEED)
    data["duration_days"] = 1
    data["initial_data"].update({"accounts": 30, "products": 10, "bundles": 2})
    for role in data["roles"].values():
        role["headcount"] = min(role["headcount"], 2)
    return data


@pytest.fixture
def mounted(tmp_path):
    """mounted(options) -> a small tmpfs under tmp_path (skipped where mount is refused)."""
    mounts = []

    def mount(options: str):
        point = tmp_path / f"mnt{len(mounts)}"
        point.mkdir()
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounts.append(point)
        return point

    yield mount
    for point in mounts:
        subprocess.run(["umount", "-l", str(point)], capture_output=True, timeout=10, check=False)


def one_line_error(capsys, code, path) -> str:
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert str(path) in err, err
    return err


def test_a_run_on_a_read_only_folder(mounted, tmp_path, capsys):
    folder = mounted("ro,size=1m")
    out = folder / "run"
    code = main(["run", str(SEED_SCENARIO), "--out", str(out)])
    err = one_line_error(capsys, code, folder)
    assert "Read-only file system" in err
    assert list(folder.iterdir()) == []


def test_a_run_on_a_full_disk_leaves_nothing(mounted, tmp_path, capsys):
    folder = mounted("size=64k")
    out = folder / "run"
    code = main(["run", str(SEED_SCENARIO), "--out", str(out)])
    err = one_line_error(capsys, code, out)
    assert "No space left on device" in err
    assert list(folder.iterdir()) == [], "partial output left on the full disk"


@pytest.mark.parametrize(
    "command",
    [
        ["verify", "{run}", "--out", "{file}"],
        ["compare", str(SEED_SCENARIO), "--design", "p2c-2017", "--out", "{file}"],
        ["sweep", str(ROOT / "scenarios" / "sweeps" / "bench.yaml"), "--out", "{file}"],
        ["report", str(SEED_SCENARIO), "--out", "{file}"],
    ],
    ids=["verify", "compare", "sweep", "report"],
)
def test_out_naming_an_existing_file_is_one_line_and_exit_2(tmp_path, capsys, command):
    run = tmp_path / "history.jsonl"
    import orjson
    from checker_histories import seed_story

    run.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in seed_story().events))
    file = tmp_path / "taken.txt"
    file.write_text("mine")
    started = time.perf_counter()
    code = main([part.format(run=run, file=file) for part in command])
    one_line_error(capsys, code, file)
    assert time.perf_counter() - started < 5
    assert file.read_text() == "mine"


def test_a_closed_pipe_ends_quietly(tmp_path):
    scenario = tmp_path / "small.yaml"
    scenario.write_text(yaml.safe_dump(small_scenario_data()), encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, "-m", "sim.cli", "run", str(scenario), "--out", str(tmp_path / "o")],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    process.stdout.close()  # `| true`: nobody reads what it prints
    err = process.stderr.read()
    process.wait(timeout=60)
    assert process.returncode == 141, err
    assert b"Traceback" not in err and b"BrokenPipeError" not in err, err


def test_text_the_terminal_cannot_encode_is_replaced(tmp_path):
    data = small_scenario_data()
    data["name"] = "prospect_to_cash_Zürich_東京"
    scenario = tmp_path / "unicode.yaml"
    scenario.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "sim.cli", "run", str(scenario), "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        timeout=120,
        env={**os.environ, "PYTHONIOENCODING": "ascii"},
    )
    assert done.returncode in (0, 1), done.stderr
    assert b"UnicodeEncodeError" not in done.stderr
    assert b"prospect_to_cash_Z?rich_??" in done.stdout
    assert (out / "manifest.json").is_file()


# ------------------------------------------------------------ refused before the run


def test_an_update_of_a_missing_record_is_refused_unless_the_save_creates_it(tmp_path, capsys):
    text = SEED.replace(
        "key: ACC-00012, fields: {credit_limit", "key: ACC-99999, fields: {credit_limit", 1
    )
    assert text != SEED
    path = tmp_path / "missing.yaml"
    path.write_text(text, encoding="utf-8")
    line = text[: text.index("ACC-99999")].count("\n") + 1
    started = time.perf_counter()
    code = main(["run", str(path), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith(f"error: {path}:{line}: scripted[0].key: "), err
    assert "create: true" in err and time.perf_counter() - started < 5
    assert not (tmp_path / "out").exists()


def test_a_scripted_save_that_says_create_creates_the_record(tmp_path, capsys):
    data = small_scenario_data()
    data["scripted"] = [
        {
            "at": "day 1 10:00",
            "role": "credit_controller",
            "system": "operations",
            "entity": "account",
            "key": "ACC-99999",
            "create": True,
            "fields": {"credit_limit": 1000},
        }
    ]
    path = tmp_path / "create.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    code = main(["run", str(path), "--out", str(tmp_path / "out"), "--json"])
    assert code in (0, 1), capsys.readouterr().err
    import gzip

    import orjson

    with gzip.open(tmp_path / "out" / "history.jsonl.gz") as handle:
        writes = [
            e for e in map(orjson.loads, handle) if e["kind"] == "write" and e["key"] == "ACC-99999"
        ]
    assert writes and writes[0]["op"] == "create"


def test_a_huge_headcount_is_refused_with_its_estimate_unless_yes(tmp_path, capsys):
    text = SEED.replace("headcount: 36", "headcount: 1000000", 1)
    assert text != SEED
    path = tmp_path / "huge.yaml"
    path.write_text(text, encoding="utf-8")
    started = time.perf_counter()
    code = main(["run", str(path), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "user-days" in err and "--yes" in err, err
    # 1,000,000 reps + the 74 other people, for 5 days: the estimate's own arithmetic.
    others = sum(
        r["headcount"] for name, r in yaml.safe_load(SEED)["roles"].items() if name != "sales_rep"
    )
    assert f"{(1_000_000 + others) * 5:,} user-days" in err
    assert time.perf_counter() - started < 5 and not (tmp_path / "out").exists()


# -------------------------------------------------------- mutated scenario files

MUTATIONS = st.sampled_from(["delete", "type", "tag", "alias", "nan", "huge"])


def mutate(data: dict, path: list, how: str) -> str:
    """The scenario as YAML text with one value at ``path`` broken in one way."""
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    marker = "__MUTATED__"
    if how == "delete":
        del parent[last]
        return yaml.safe_dump(data, sort_keys=False)
    parent[last] = marker
    text = yaml.safe_dump(data, sort_keys=False)
    replacement = {
        "type": "[1, {a: b}]",
        "tag": "!!python/object:os.system {}",
        "alias": "*nowhere",
        "nan": ".nan",
        "huge": "1e400",
    }[how]
    return text.replace(marker, replacement, 1)


def leaf_paths(data, prefix=()) -> list[tuple]:
    if isinstance(data, dict):
        items = data.items()
    elif isinstance(data, list):
        items = enumerate(data)
    else:
        return [prefix]
    found = [prefix] if prefix else []
    for key, value in items:
        found += leaf_paths(value, prefix + (key,))
    return found


PATHS = leaf_paths(small_scenario_data())


@pytest.mark.slow
@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(path=st.sampled_from(PATHS), how=MUTATIONS)
def test_mutated_scenarios_exit_0_1_or_2_and_never_leave_partial_output(
    tmp_path_factory, path, how
):
    folder = tmp_path_factory.mktemp("mutant")
    scenario = folder / "mutant.yaml"
    scenario.write_text(mutate(small_scenario_data(), list(path), how), encoding="utf-8")
    out = folder / "out"
    started = time.perf_counter()
    code = main(["run", str(scenario), "--out", str(out)])
    assert code in (0, 1, 2)
    assert time.perf_counter() - started < 30
    left = sorted(p.name for p in folder.iterdir())
    assert left == (["mutant.yaml", "out"] if code in (0, 1) else ["mutant.yaml"]), left
    if code in (0, 1):
        assert (out / "manifest.json").is_file()
