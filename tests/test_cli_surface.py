"""The command line as a user meets it: help for every option, the version, units."""

from __future__ import annotations

import argparse
import json

import pytest
from conftest import DATA

import sim
from sim.cli.main import build_parser, main


def _commands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {"p2c": parser, **{f"p2c {name}": p for name, p in sub.choices.items()}}


def test_every_option_and_argument_of_every_command_has_help_text():
    missing = []
    for command, parser in _commands().items():
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction | argparse._HelpAction):
                continue
            if not (action.help or "").strip() or action.help == argparse.SUPPRESS:
                missing.append(f"{command} {'/'.join(action.option_strings) or action.dest}")
    assert missing == []


def test_help_pages_print_percent_signs_once():
    for command, parser in _commands().items():
        text = parser.format_help()
        assert "%%" not in text, command
    assert "95% t-intervals" in " ".join(_commands()["p2c sweep"].format_help().split())


def test_version_prints_the_installed_distribution_version(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    from importlib import metadata

    assert capsys.readouterr().out.strip() == f"p2c {metadata.version('p2c-testbed')}"
    assert sim.__version__ == metadata.version("p2c-testbed")


def test_every_run_manifest_records_the_p2c_version(tmp_path):
    scenario = DATA / "seed_story.yaml"
    assert main(["run", str(scenario), "--out", str(tmp_path / "run"), "--json"]) in (0, 1)
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["p2c_version"] == sim.__version__
    assert manifest["packages"]["p2c-testbed"] == sim.__version__


def test_scheduler_without_dask_says_to_install_the_cluster_extra(monkeypatch, tmp_path, capsys):
    import sys

    from conftest import ROOT

    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    code = main(
        [
            "sweep",
            str(ROOT / "scenarios" / "sweeps" / "bench.yaml"),
            "--scheduler",
            "tcp://127.0.0.1:9",
            "--out",
            str(tmp_path / "sweep"),
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "pip install 'p2c-testbed[cluster]'" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "argv",
    [
        [
            "verify",
            "reports/runs/x",
            "--out",
            "out dir",
            "--timeline-of",
            "W-operations-165",
            "--timeline-of",
            "ACC-00012",
        ],
        [
            "verify",
            "h.jsonl.gz",
            "--only",
            "convergence",
            "--timeline",
            "3",
            "--out",
            "o",
            "--explain",
            "9",
        ],
        ["verify", "-"],
    ],
)
def test_verify_reproduce_line_gives_back_every_option_it_was_called_with(argv):
    import shlex

    from sim.cli.verify import reproduce_command

    args = build_parser().parse_args(argv)
    words = shlex.split(reproduce_command(args))
    assert words[:1] == ["p2c"]
    assert vars(build_parser().parse_args(words[1:])) == vars(args)


def test_run_prints_the_scripted_incident_and_its_verdict_before_the_invariants(tmp_path, capsys):
    # The seed story (tests/data/seed_story.yaml), worked by hand: credit_controller-3's
    # credit limit (the first Operations write) is overwritten by the batch run that the
    # phone edit triggers: it upserts the whole row, so the field comes back with the
    # migration's value (W-sales-1), which never saw the raise; the phone edit survives.
    assert main(["run", str(DATA / "seed_story.yaml"), "--out", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    head, _, rest = out.partition("Scripted saves (2)")
    assert rest, out
    assert "quiescence:" not in head and "quiescence:" in rest
    incident, phone = rest.splitlines()[1:3]
    assert incident.startswith("  - no_lost_update (sanctioned): W-operations-1 ")
    assert "credit_limit 95000" in incident and "carrying W-sales-1" in incident
    # Named by its actor, as the checker names the saves in its explanations.
    assert phone.startswith("  - W-sales-4 (sales_rep-7 set account ACC-00001 phone")
    assert phone.endswith("no invariant names it")
    assert "p95 (min)" in out


def test_ci_runs_exactly_the_readme_test_command_and_it_includes_the_slow_set():
    from conftest import ROOT

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = [
        line
        for line in readme.splitlines()
        if line.startswith("python3 -m venv") and "pytest" in line
    ]
    assert len(commands) == 1, commands
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert commands[0] in ci
    assert "python -m pytest -m slow || test $? -eq 5" in commands[0]
