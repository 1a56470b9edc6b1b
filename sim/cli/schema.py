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
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import BaseModel

KINDS = ("scenario", "design", "sweep", "suite", "pricebook")


def _partial(schema: dict[str, Any], prefix: str = "Partial") -> dict[str, Any]:
    """A deep-partial copy: no property is required at any depth (overrides merge in).

    ``$defs`` entries get ``prefix`` and the copy's ``$ref``s follow them, so the full
    definitions stay strict where they are used whole."""

    def strip(node: Any) -> Any:
        if isinstance(node, dict):
            out = {}
            for key, value in node.items():
                if key == "required":
                    continue
                if key == "$ref" and isinstance(value, str) and value.startswith("#/$defs/"):
                    out[key] = "#/$defs/" + prefix + value[len("#/$defs/") :]
                else:
                    out[key] = strip(value)
            return out
        if isinstance(node, list):
            return [strip(item) for item in node]
        return node

    body = {k: v for k, v in schema.items() if k != "$defs"}
    defs = {prefix + name: strip(value) for name, value in schema.get("$defs", {}).items()}
    return {**strip(body), "$defs": defs}


def _merge_defs(target: dict[str, Any], source: dict[str, Any]) -> dict[str, Any]:
    """Move ``source``'s ``$defs`` into ``target``'s; the rest of ``source``."""
    defs = target.setdefault("$defs", {})
    for name, value in source.get("$defs", {}).items():
        if name in defs and defs[name] != value:
            raise ValueError(f"two different schema definitions named {name}")
        defs[name] = value
    return {k: v for k, v in source.items() if k != "$defs"}


def _design_forms(target: dict[str, Any]) -> list[dict[str, Any]]:
    """The two forms of a design mapping, with their definitions added to ``target``:
    written out in full (``DesignSpec``), or ``extends: NAME`` plus overrides that merge
    into the named design (any part of a design, nothing required)."""
    # Imported when the command runs, not when p2c builds its parser: p2c --help stays fast.
    from models.design import DesignSpec

    full = DesignSpec.model_json_schema()
    body = _merge_defs(target, full)
    target["$defs"]["DesignSpec"] = body
    extension = _merge_defs(target, _partial(full))
    extension["properties"] = {
        "extends": {
            "type": "string",
            "minLength": 1,
            "description": "the design this one starts from (a catalogue name or a "
            "designs/ file beside the scenario)",
        },
        **extension["properties"],
    }
    extension["required"] = ["extends"]
    extension["title"] = "Design extension"
    extension["description"] = (
        "extends: NAME, and any part of a design to override "
        "(mappings merge into the named design's; lists and values "
        "replace them)"
    )
    target["$defs"]["DesignExtension"] = extension
    return [{"$ref": "#/$defs/DesignSpec"}, {"$ref": "#/$defs/DesignExtension"}]


def _option_spec() -> type[BaseModel]:
    """The model of one ``options:`` entry (where the licensing report keeps it)."""
    # Imported when the command runs, not when p2c builds its parser: p2c --help stays fast.
    from sim.reporting.licensing.options import OptionSpec

    return OptionSpec


def _scenario() -> dict[str, Any]:
    """The scenario file; ``design``, ``options`` and ``expect`` take the schemas of the
    models that validate them where they are used (the design loader, the licensing
    report, the regression suite)."""
    # Imported when the command runs, not when p2c builds its parser: p2c --help stays fast.
    from sim.scenario.spec import ScenarioSpec
    from sim.study.regression import ExpectBlock

    schema = ScenarioSpec.model_json_schema()
    properties = schema["properties"]
    properties["design"] = {
        "anyOf": [
            {
                "type": "string",
                "minLength": 1,
                "description": "a design name (scenarios/designs/, or designs/ beside "
                "the scenario)",
            },
            *_design_forms(schema),
        ],
        "description": "the integration design: a name, extends: NAME with overrides, or "
        "a design written out in full",
        "title": "Design",
    }
    option = _merge_defs(schema, _option_spec().model_json_schema())
    schema["$defs"]["OptionSpec"] = option
    properties["options"] = {
        "type": "array",
        "items": {"$ref": "#/$defs/OptionSpec"},
        "description": properties["options"].get("description", ""),
        "title": "Options",
    }
    expect = _merge_defs(schema, ExpectBlock.model_json_schema())
    schema["$defs"]["ExpectBlock"] = expect
    properties["expect"] = {
        "anyOf": [{"$ref": "#/$defs/ExpectBlock"}, {"type": "null"}],
        "default": None,
        "title": "Expect",
        "description": "regression expectations (p2c check)",
    }
    return schema


def _design() -> dict[str, Any]:
    """A design file: written out in full, or ``extends:`` another with overrides."""
    schema: dict[str, Any] = {"title": "Design file"}
    schema["anyOf"] = _design_forms(schema)
    return schema


def _sweep() -> dict[str, Any]:
    """A sweep file; a factor may be a bare list of levels (shorthand for ``levels:``)."""
    # Imported when the command runs, not when p2c builds its parser: p2c --help stays fast.
    from sim.study.sweep.spec import SweepSpec

    schema = SweepSpec.model_json_schema()
    factor = schema["$defs"]["Factor"]
    schema["$defs"]["Factor"] = {
        "anyOf": [
            {"type": "array", "minItems": 1, "description": "levels: shorthand"},
            {k: v for k, v in factor.items() if k not in ("title", "description")},
        ],
        "title": factor.get("title", "Factor"),
        "description": factor.get("description", ""),
    }
    return schema


def _suite() -> dict[str, Any]:
    """A suite file: a scenario with ``expect:``, or ``base: FILE`` and any part of a
    scenario to merge into that file's, with ``expect:``."""
    scenario = _scenario()
    full = {k: v for k, v in scenario.items() if k != "$defs"}
    full["required"] = sorted({*full.get("required", []), "expect"})
    schema: dict[str, Any] = {"$defs": dict(scenario["$defs"]), "title": "Suite case"}
    schema["$defs"]["SuiteScenario"] = full
    partial = _merge_defs(schema, _partial(scenario))
    partial["properties"] = {
        "base": {
            "type": "string",
            "minLength": 1,
            "description": "a scenario file (relative to this one) to start from",
        },
        **partial["properties"],
    }
    partial["properties"]["expect"] = {"$ref": "#/$defs/ExpectBlock"}
    partial["required"] = ["base", "expect"]
    partial["title"] = "Suite case on a base scenario"
    schema["$defs"]["SuiteOnBase"] = partial
    schema["anyOf"] = [{"$ref": "#/$defs/SuiteScenario"}, {"$ref": "#/$defs/SuiteOnBase"}]
    return schema


def _pricebook() -> dict[str, Any]:
    # Imported when the command runs, not when p2c builds its parser: p2c --help stays fast.
    from models.licensing import PriceBookFile

    return PriceBookFile.model_json_schema()


BUILDERS: dict[str, Callable[[], dict[str, Any]]] = {
    "scenario": _scenario,
    "design": _design,
    "sweep": _sweep,
    "suite": _suite,
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
        "schema",
        help="print the JSON Schema of a file kind (for editors and scripts)",
        description="Print the JSON Schema of scenario, design, sweep, suite or price-book "
        "files, generated from the models that validate them. The same "
        "schemas are committed in scenarios/schema/.",
    )
    parser.add_argument("kind", choices=KINDS, help="which kind of file: " + ", ".join(KINDS))
    parser.set_defaults(func=cmd_schema)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m sim.cli.schema --write [FOLDER]`` rewrites the committed schemas."""
    parser = argparse.ArgumentParser(prog="python -m sim.cli.schema")
    parser.add_argument(
        "--write",
        metavar="FOLDER",
        nargs="?",
        const="scenarios/schema",
        help="write every kind's schema as FOLDER/KIND.json",
    )
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
