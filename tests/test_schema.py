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
        f"scenarios/schema/{kind}.json is stale: python -m sim.cli.schema --write")
    assert main(["schema", kind]) == 0
    assert capsys.readouterr().out == committed


def _files(pattern: str) -> list:
    return sorted(ROOT.glob(pattern))


# Only scenarios so far: suite files (``base:``), sweeps (list shorthand of a factor) and
# price books (YAML dates) use forms the models accept through validators that the
# generated schemas do not yet describe.
@pytest.mark.parametrize(("kind", "pattern"), [
    ("scenario", "scenarios/*.yaml"),
])
def test_every_reference_file_validates_against_its_schema(kind, pattern):
    validator = jsonschema.Draft202012Validator(schema(kind))
    files = _files(pattern)
    assert files
    for path in files:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        errors = [f"{'.'.join(map(str, e.path))}: {e.message}"
                  for e in validator.iter_errors(data)]
        assert errors == [], path


def test_the_schema_catches_what_the_loader_refuses():
    validator = jsonschema.Draft202012Validator(schema("scenario"))
    bad = {"name": "x", "design": "p2c-2017", "duration_days": -1, "colour": "red"}
    messages = " ".join(e.message for e in validator.iter_errors(bad))
    assert "colour" in messages and "-1" in messages
