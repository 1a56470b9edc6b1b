"""``p2c schema KIND``: the JSON Schema of each file kind, from the pydantic models.

Editors that speak the YAML language server (VS Code with the YAML extension, Neovim,
JetBrains) complete and check a scenario as it is typed when the file starts with
``# yaml-language-server: $schema=<path to scenarios/schema/scenario.json>``. The
schemas are committed under ``scenarios/schema/`` and a test keeps them equal to what
this command prints (``python -m sim.cli.schema --write`` regenerates them).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

KINDS = ("scenario", "design", "sweep", "suite", "pricebook")


def _scenario() -> dict[str, Any]:
    from sim.scenario.spec import ScenarioSpec

    return ScenarioSpec.model_json_schema()


def _design() -> dict[str, Any]:
    from models.design import DesignSpec

    return DesignSpec.model_json_schema()


def _sweep() -> dict[str, Any]:
    from sim.study.sweep.spec import SweepSpec

    return SweepSpec.model_json_schema()


def _suite() -> dict[str, Any]:
    """A suite file is a scenario whose ``expect:`` block follows the regression model."""
    from sim.study.regression import ExpectBlock

    schema = _scenario()
    expect = ExpectBlock.model_json_schema()
    defs = schema.setdefault("$defs", {})
    defs.update(expect.pop("$defs", {}))
    defs["ExpectBlock"] = expect
    schema["properties"]["expect"] = {"$ref": "#/$defs/ExpectBlock",
                                      "description": expect.get("description", "")}
    schema["required"] = sorted({*schema.get("required", []), "expect"})
    schema["title"] = "Suite case"
    return schema


def _pricebook() -> dict[str, Any]:
    from models.licensing import PriceBookFile

    return PriceBookFile.model_json_schema()


BUILDERS: dict[str, Callable[[], dict[str, Any]]] = {
    "scenario": _scenario, "design": _design, "sweep": _sweep, "suite": _suite,
    "pricebook": _pricebook,
}


def schema(kind: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12, as pydantic writes it) of one file kind."""
    document = {"$schema": "https://json-schema.org/draft/2020-12/schema", **BUILDERS[kind]()}
    return document


def schema_text(kind: str) -> str:
    return json.dumps(schema(kind), indent=2, sort_keys=True) + "\n"


def cmd_schema(args: argparse.Namespace) -> int:
    sys.stdout.write(schema_text(args.kind))
    return 0


def add_schema_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "schema", help="print the JSON Schema of a file kind (for editors and scripts)",
        description="Print the JSON Schema of scenario, design, sweep, suite or price-book "
                    "files, generated from the models that validate them. The same "
                    "schemas are committed in scenarios/schema/.")
    parser.add_argument("kind", choices=KINDS, help="which kind of file: " + ", ".join(KINDS))
    parser.set_defaults(func=cmd_schema)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m sim.cli.schema --write [FOLDER]`` rewrites the committed schemas."""
    parser = argparse.ArgumentParser(prog="python -m sim.cli.schema")
    parser.add_argument("--write", metavar="FOLDER", nargs="?", const="scenarios/schema",
                        help="write every kind's schema as FOLDER/KIND.json")
    args = parser.parse_args(argv)
    if args.write is None:
        parser.print_help()
        return 2
    folder = Path(args.write)
    folder.mkdir(parents=True, exist_ok=True)
    for kind in KINDS:
        (folder / f"{kind}.json").write_text(schema_text(kind), encoding="utf-8")
        print(folder / f"{kind}.json")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
