"""An input file the user may not read ends in exit 2 naming it (issue 11 point 8).

As root every file is readable, so the test takes the kernel's word from a process that
is not root: a forked child of this test process drops to ``nobody`` (uid 65534) and runs
the command there (the interpreter and every module it needs were loaded before the drop:
the child first runs the same command on a missing file, which walks the same code up to
the read). Run by an ordinary user, ``chmod 000`` alone makes a file unreadable and the
command runs in the child without a drop. Each case: exit 2, the unreadable path named
with the cause, no traceback, nothing written under ``--out``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import sys
import tempfile
import traceback
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, SEED_SCENARIO

from sim.cli.main import main

NOBODY = 65534

pytestmark = pytest.mark.skipif(
    not hasattr(os, "fork") or not hasattr(os, "geteuid"),
    reason="needs fork and POSIX users to make a file unreadable",
)


def in_child(warm: list[str], argv: list[str]) -> tuple[int, str]:
    """(exit code, stderr) of ``main(argv)`` in a forked child that is not root."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        result = {"code": -1, "err": ""}
        try:
            os.close(read_end)
            with (
                contextlib.redirect_stderr(io.StringIO()),
                contextlib.redirect_stdout(io.StringIO()),
            ):
                main(warm)
            if os.geteuid() == 0:
                try:
                    os.setgroups([])
                    os.setgid(NOBODY)
                    os.setuid(NOBODY)
                except OSError as exc:
                    result["skip"] = f"cannot drop root privileges here ({exc})"
                    raise
            err = io.StringIO()
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                result["code"] = main(argv)
            result["err"] = err.getvalue()
        except BaseException:  # noqa: BLE001 - reported to the parent, which fails
            result["err"] = traceback.format_exc()
        finally:
            with contextlib.suppress(BaseException):
                os.write(write_end, json.dumps(result).encode())
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    result = json.loads(data or b'{"code": -1, "err": "the child died"}')
    if "skip" in result:
        pytest.skip(result["skip"])
    return result["code"], result["err"]


@pytest.fixture(scope="module")
def place():
    """A folder anyone may write (pytest's own are private to their user), a small
    scenario in it and a run folder of it."""
    folder = Path(tempfile.mkdtemp(prefix="p2c-unreadable-"))
    folder.chmod(0o777)
    try:
        yield _fill(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _fill(folder):
    data = yaml.safe_load(SEED_SCENARIO.read_text(encoding="utf-8"))
    data["duration_days"] = 1
    data["initial_data"].update({"accounts": 40, "products": 20})
    for role, count in {"sales_rep": 6, "ops_clerk": 2, "credit_controller": 2}.items():
        data["roles"][role]["headcount"] = count
    data["scripted"] = []
    scenario = folder / "small.yaml"
    scenario.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    run = folder / "run"
    assert main(["run", str(scenario), "--out", str(run)]) in (0, 1)
    for path in (folder, *folder.rglob("*")):
        path.chmod(0o777 if path.is_dir() else 0o666)
    return folder


def unreadable(path):
    path.chmod(0)
    return path


def copy_run(place, name: str):
    target = place / name
    shutil.copytree(place / "run", target)
    for path in (target, *target.rglob("*")):
        path.chmod(0o777 if path.is_dir() else 0o666)
    return target


def case_scenario(place, command: list[str]):
    bad = unreadable(place / "locked.yaml")
    return bad, command[:1] + [str(bad)] + command[1:]


CASES = {
    "run": lambda p: case_scenario(p, ["run", "--out", str(p / "out")]),
    "compare": lambda p: case_scenario(
        p, ["compare", "--design", "p2c-2017", "--design", "field-merge", "--out", str(p / "out")]
    ),
    "report": lambda p: case_scenario(p, ["report", "--out", str(p / "out")]),
    "explore": lambda p: case_scenario(p, ["explore", "--budget-s", "5", "--out", str(p / "out")]),
    "lint": lambda p: case_scenario(p, ["lint"]),
}


def prepare(place, case: str):
    """(the unreadable file, the argv) of one case."""
    small = (place / "small.yaml").read_text(encoding="utf-8")
    out = str(place / "out")
    if case in CASES:
        (place / "locked.yaml").write_text(small, encoding="utf-8")
        return CASES[case](place)
    if case == "sweep file":
        bad = place / "locked.yaml"
        bad.write_text(yaml.safe_dump({"name": "s", "scenario": "small.yaml"}))
        return unreadable(bad), ["sweep", str(bad), "--out", out]
    if case == "the sweep's scenario":
        (place / "locked.yaml").write_text(small, encoding="utf-8")
        bad = unreadable(place / "locked.yaml")
        sweep = place / "sweep.yaml"
        sweep.write_text(yaml.safe_dump({"name": "s", "scenario": "locked.yaml"}))
        sweep.chmod(0o666)
        return bad, ["sweep", str(sweep), "--out", out]
    if case == "suite":
        bad = place / "locked.yaml"
        bad.write_text((ROOT / "scenarios" / "suite" / "seed_overwrite.yaml").read_text())
        return unreadable(bad), ["check", str(bad), "--out", out]
    if case == "history file":
        bad = place / "history.jsonl.gz"
        shutil.copyfile(place / "run" / "history.jsonl.gz", bad)
        return unreadable(bad), ["verify", str(bad), "--out", out]
    if case == "run folder's history (verify)":
        folder = copy_run(place, "copy")
        return unreadable(folder / "history.jsonl.gz"), ["verify", str(folder), "--out", out]
    if case == "run folder's manifest (replay)":
        folder = copy_run(place, "copy")
        return unreadable(folder / "manifest.json"), ["replay", str(folder)]
    if case == "run folder's history (shrink)":
        folder = copy_run(place, "copy")
        return unreadable(folder / "history.jsonl.gz"), [
            "shrink",
            str(folder),
            "--anomaly",
            "ACC-0001",
            "--out",
            out,
        ]
    if case in ("design file", "price book"):
        file = "mine.yaml" if case == "design file" else "book.yaml"
        source = (
            ROOT / "scenarios" / "designs" / "p2c-2017.yaml"
            if case == "design file"
            else ROOT / "scenarios" / "pricebooks" / "2017.yaml"
        )
        bad = place / file
        shutil.copyfile(source, bad)
        data = yaml.safe_load(small)
        if case == "design file":
            data["design"] = {"extends": "./mine.yaml"}
        else:
            data["licensing"] = {**(data.get("licensing") or {}), "price_book": "book.yaml"}
        scenario = place / "uses.yaml"
        scenario.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        scenario.chmod(0o666)
        return unreadable(bad), ["run", str(scenario), "--out", out]
    raise AssertionError(case)


ALL = [
    *CASES,
    "sweep file",
    "the sweep's scenario",
    "suite",
    "history file",
    "run folder's history (verify)",
    "run folder's manifest (replay)",
    "run folder's history (shrink)",
    "design file",
    "price book",
]


@pytest.mark.parametrize("case", ALL)
def test_an_unreadable_input_is_named_with_exit_2(place, case):
    for leftover in (
        "out",
        "copy",
        "locked.yaml",
        "mine.yaml",
        "book.yaml",
        "uses.yaml",
        "history.jsonl.gz",
        "sweep.yaml",
    ):
        path = place / leftover
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    bad, argv = prepare(place, case)
    # the warm-up reads nothing (as root it could read the locked file): its input missing
    warm = [argv[0], str(place / "missing" / bad.name), *argv[2:]]
    code, err = in_child(warm, argv)
    assert "Traceback" not in err, err
    assert code == 2, err
    assert str(bad) in err and "Permission denied" in err, err
    assert not (place / "out").exists(), "something was written under --out"
    if sys.platform.startswith("linux") and os.geteuid() == 0:
        assert bad.stat().st_mode & 0o777 == 0  # really unreadable, and not by root's leave
