"""``p2c schema``: the committed JSON Schemas equal the models', and the reference files
validate against them (checked with the jsonschema library, independently of pydantic)."""

from __future__ import annotations

import pytest
import yaml
from conftest import ROOT

from sim.cli.main import main
from sim.cli.schema import KINDS, schema, schema_text

jsonschema = pytest.importorskip("jsonschema")  # nbformat, a test dependency, brings it


@pytest.mark.parametrize("kind", KINDS)
def test_the_committed_schema_is_what_p2c_schema_prints(kind, capsys):
    committed = (ROOT / "scenarios" / "schema" / f"{kind}.json").read_text(encoding="utf-8")
    assert committed == schema_text(kind), (
        f"scenarios/schema/{kind}.json is stale: python -m sim.cli.schema --write"
    )
    assert main(["schema", kind]) == 0
    assert capsys.readouterr().out == committed


class _EditorLoader(yaml.SafeLoader):
    """YAML as an editor's language server reads it (YAML 1.2 core schema): an unquoted
    ``2024-10-01`` is a string, which the schema checks with ``format: date``."""


_EditorLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _editor_yaml(text: str):
    return yaml.load(text, Loader=_EditorLoader)  # noqa: S506 - a SafeLoader subclass


#: Every reference YAML file and the kind of file it is.
REFERENCE_FILES = {
    "scenario": ["scenarios/*.yaml", "scenarios/signatures/*.yaml"],
    "design": ["scenarios/designs/*.yaml"],
    "sweep": ["scenarios/sweeps/*.yaml"],
    "suite": ["scenarios/suite/*.yaml"],
    "pricebook": ["scenarios/pricebooks/*.yaml"],
}


def _files(kind: str) -> list:
    return sorted(p for pattern in REFERENCE_FILES[kind] for p in ROOT.glob(pattern))


def _errors(validator, data) -> list[str]:
    return [
        f"{'.'.join(map(str, e.path)) or '(top)'}: {e.message[:300]}"
        for e in validator.iter_errors(data)
    ]


def _all_messages(validator, data) -> str:
    """Every error with the reasons under each ``anyOf`` branch (what an editor shows)."""

    def walk(errors):
        for error in errors:
            yield error.message
            yield from walk(error.context or [])

    return " | ".join(walk(validator.iter_errors(data)))


def _validator(kind: str):
    return jsonschema.Draft202012Validator(
        schema(kind), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


@pytest.mark.parametrize("kind", KINDS)
def test_every_reference_file_validates_against_its_schema(kind):
    validator = _validator(kind)
    files = _files(kind)
    assert files
    for path in files:
        assert _errors(validator, _editor_yaml(path.read_text(encoding="utf-8"))) == [], path


def test_every_reference_yaml_names_its_schema_on_its_first_line():
    listed = {p for kind in KINDS for p in _files(kind)}
    assert listed == set(ROOT.glob("scenarios/**/*.yaml")), "a YAML file of no known kind"
    for kind in KINDS:
        for path in _files(kind):
            first = path.read_text(encoding="utf-8").splitlines()[0]
            assert first.startswith("# yaml-language-server: $schema="), path
            target = (path.parent / first.split("=", 1)[1].strip()).resolve()
            assert target == (ROOT / "scenarios" / "schema" / f"{kind}.json").resolve(), path


@pytest.mark.parametrize(
    ("kind", "text", "needle"),
    [
        # The shorthand forms are accepted, but only in their own shape.
        ("sweep", "name: s\nscenario: x.yaml\nfactors: {a: 3}\n", "a"),
        ("design", "extends: p2c-2017\ncolour: red\n", "colour"),
        ("design", "batch: {interval_s: 300}\n", "'systems' is a required property"),
        ("scenario", "name: x\ndesign: {extends: p2c-2017, batch: {interval_s: -5}}\n", "-5"),
        ("scenario", "name: x\ndesign: p2c-2017\noptions: [{name: a, colour: red}]\n", "colour"),
        ("scenario", "name: x\ndesign: p2c-2017\nexpect: {replications: 0}\n", "0"),
        ("suite", "base: x.yaml\nroles: {r: {headcount: 1}}\n", "'expect' is a required property"),
        ("suite", "base: x.yaml\nexpect: {invariants: {convergence: fine}}\n", "fine"),
        ("pricebook", "name: x\nvalid_from: 2024-13-45\n", "2024-13-45"),
    ],
)
def test_the_schemas_refuse_what_the_loaders_refuse(kind, text, needle):
    data = _editor_yaml(text)
    assert _errors(_validator(kind), data)
    messages = _all_messages(_validator(kind), data)
    assert needle in messages, messages


@pytest.mark.parametrize(
    ("kind", "text"),
    [
        ("sweep", "name: s\nscenario: x.yaml\nfactors: {design.batch.interval_s: [300, 900]}\n"),
        ("design", "extends: p2c-2017\nbatch: {interval_s: 300}\n"),
        (
            "scenario",
            "name: x\ndesign: {extends: dual-write-async, latency: {fixed_s: 5}}\n"
            "options: [{name: a, design: field-merge}]\n"
            "expect: {invariants: {convergence: holds}}\n",
        ),
        (
            "suite",
            "base: ../prospect_to_cash.yaml\nduration_days: 1\n"
            "roles: {ops_clerk: {headcount: 1}}\nexpect: {invariants: {convergence: holds}}\n",
        ),
    ],
)
def test_the_schemas_accept_the_shorthand_forms_the_loaders_accept(kind, text):
    assert _errors(_validator(kind), _editor_yaml(text)) == []


def test_the_schema_catches_what_the_loader_refuses():
    validator = jsonschema.Draft202012Validator(schema("scenario"))
    bad = {"name": "x", "design": "p2c-2017", "duration_days": -1, "colour": "red"}
    messages = " ".join(e.message for e in validator.iter_errors(bad))
    assert "colour" in messages and "-1" in messages
