"""The shape of the code: imports form a line, and every package says what it may import.

Data flows one way: scenario -> engine -> models -> history -> checker -> metrics ->
study -> reporting -> cli. In imports that is a ladder (:data:`ORDER`): each unit may
import only units before it, and names them in its ``__init__`` (or module) docstring as
``May import: ``a``, ``b``.`` This test reads every module under ``models/`` and ``sim/``
with :mod:`ast`, counting imports inside functions and under ``if TYPE_CHECKING:`` too (a
cycle of annotations is still two modules that need each other), and fails on

- any import cycle between modules;
- ``models/`` importing ``sim`` or simpy (the system under test is plain Python);
- a unit importing one its docstring does not list, or a docstring listing a unit that
  comes after it in :data:`ORDER`;
- an import inside a function without a comment saying why (they are allowed only where
  they keep ``p2c --help`` fast or break what would otherwise be a cycle).

There are no exceptions: the last upstream imports (scenario -> engine for a role's
rhythm, checker -> engine for the history file, study -> reporting for an incident's
timeline) were removed, so every import against the flow fails.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import networkx as nx
import pytest
from conftest import ROOT

#: Leaves below every unit, which any unit may import and which import nothing of ours:
#: ``sim`` itself (``sim/__init__.py``: the version) and the words for loss.
BASE = ("sim", "sim.glossary")

#: The units, upstream first.
ORDER = (
    "models",
    "sim.history",
    "sim.catalogue",
    "sim.scenario",
    "sim.lint",
    "sim.engine",
    "sim.checker",
    "sim.study",
    "sim.calibration",
    "sim.reporting",
    "sim.api",
    "sim.pytest_plugin",
    "sim.bench",
    "sim.cli",
    "sim.docs",
)


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int
    in_function: bool
    type_only: bool
    commented: bool


def _modules() -> dict[str, Path]:
    found = {}
    for top in ("models", "sim"):
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The module ``name`` lives in (``sim.study.stats.Interval`` -> ``sim.study.stats``)."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def _imports(module: str, path: Path) -> list[Import]:
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    tree = ast.parse(source)
    in_function: set[int] = set()
    type_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            in_function |= {id(n) for n in ast.walk(node)}
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            type_only |= {id(n) for n in ast.walk(node)}
    # A comment on the line before a run of consecutive imports (or on one of their lines)
    # explains the whole run.
    explained: set[int] = set()
    blocks = [
        getattr(node, name)
        for node in ast.walk(tree)
        for name in ("body", "orelse", "finalbody")
        if isinstance(getattr(node, name, None), list)
    ]
    for block in blocks:
        run: list[ast.stmt] = []
        for statement in [*block, None]:
            if isinstance(statement, ast.Import | ast.ImportFrom):
                run.append(statement)
                continue
            if run:
                text = lines[run[0].lineno - 2 : run[-1].end_lineno or run[-1].lineno]
                if any("#" in line for line in text):
                    explained |= {id(n) for n in run}
                run = []
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
                for alias in node.names
            ]
        else:
            continue
        commented = id(node) in explained
        for target in dict.fromkeys(targets):
            found.append(
                Import(
                    module,
                    target,
                    node.lineno,
                    id(node) in in_function,
                    id(node) in type_only,
                    commented,
                )
            )
    return found


IMPORTS = [i for module, path in MODULES.items() for i in _imports(module, path)]
INTERNAL = [(i, _resolve(i.imported)) for i in IMPORTS]
INTERNAL = [(i, target) for i, target in INTERNAL if target is not None and target != i.importer]


def _unit(module: str) -> str:
    for unit in ORDER:
        if module == unit or module.startswith(unit + "."):
            return unit
    return module


def _declared(unit: str) -> list[str] | None:
    """The units named after ``May import:`` in the unit's docstring (None: not declared)."""
    path = MODULES.get(unit)
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) if path else None
    match = re.search(r"May import:(.*?)(?:\n\n|\.\s|\.$|$)", doc or "", re.S)
    if match is None:
        return None
    return re.findall(r"``([\w.]+)``", match.group(1))


def test_no_import_cycles_counting_imports_inside_functions_and_type_checking():
    graph = nx.DiGraph()
    for i, target in INTERNAL:
        graph.add_edge(i.importer, target)
    cycles = [sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1]
    assert not cycles, "import cycles (each a set of modules that import one another):\n" + (
        "\n".join(" <-> ".join(c) for c in cycles)
    )


def test_models_never_imports_sim_or_simpy():
    bad = [
        f"{i.importer}:{i.line} imports {i.imported}"
        for i in IMPORTS
        if i.importer.split(".")[0] == "models" and i.imported.split(".")[0] in ("sim", "simpy")
    ]
    assert not bad, "models/ must stay plain Python:\n" + "\n".join(bad)


def test_every_unit_says_what_it_may_import_and_names_only_upstream_units():
    for unit in ORDER:
        declared = _declared(unit)
        assert declared is not None, (
            f"{MODULES[unit].relative_to(ROOT)}: the docstring must say 'May import: ...'"
        )
        later = [
            d for d in declared if d != unit and d in ORDER and ORDER.index(d) >= ORDER.index(unit)
        ]
        assert not later, f"{unit} declares downstream units {later} (order: {ORDER})"
        unknown = [d for d in declared if d not in ORDER and d != "sim"]
        assert not unknown, f"{unit} declares {unknown}, which are not units of {ORDER}"


def test_the_base_modules_import_nothing_of_ours():
    bad = [
        f"{i.importer} imports {target}"
        for i, target in INTERNAL
        if i.importer in BASE and target not in BASE
    ]
    assert not bad, bad


def test_every_top_level_module_belongs_to_a_unit():
    strays = sorted(m for m in MODULES if m not in BASE and _unit(m) not in ORDER)
    assert not strays, f"modules outside every unit of ORDER (add them there): {strays}"


def test_each_unit_imports_only_what_its_docstring_allows():
    bad = []
    for i, target in INTERNAL:
        mine, theirs = _unit(i.importer), _unit(target)
        if theirs == mine or theirs in BASE:
            continue
        if theirs not in (_declared(mine) or []):
            bad.append(
                f"{MODULES[i.importer].relative_to(ROOT)}:{i.line}: {i.importer} "
                f"imports {target} ({theirs} is not in {mine}'s 'May import')"
            )
    assert not bad, "imports against the flow:\n" + "\n".join(bad)


def test_imports_inside_functions_say_why():
    bad = [
        f"{MODULES[i.importer].relative_to(ROOT)}:{i.line}: import {i.imported}"
        for i in IMPORTS
        if i.in_function and not i.type_only and not i.commented
    ]
    assert not bad, (
        "an import inside a function needs a comment (on its line or the one "
        "before) saying why it is not at the top:\n" + "\n".join(bad)
    )


@pytest.mark.parametrize("unit", ORDER)
def test_the_cycle_check_sees_function_level_imports(unit):
    """The walk is not vacuous: every unit's imports are found, and the known function-
    level import of the command line's parts is among them."""
    assert any(_unit(i.importer) == unit for i in IMPORTS), unit
    if unit == "sim.cli":
        assert any(
            i.in_function and i.importer == "sim.cli.sweep" and i.imported == "sim.study.sweep.run"
            for i in IMPORTS
        )


def test_the_cycle_check_sees_type_checking_imports():
    """Imports for annotations only are in the graph too: the printed sweep table's
    ``SweepResult`` is one."""
    assert any(
        i.type_only and i.importer == "sim.reporting.sweep" and target == "sim.study.sweep.result"
        for i, target in INTERNAL
    )


#: Functions allowed over 100 lines: the documented hot loops (at most two), each a single
#: pass whose locals are kept in one frame on purpose, each saying so in its docstring.
HOT_LOOPS = {
    "sim.checker.ledger.Ledger.feed": "the checker's one pass over every event",
    "sim.bench.synthetic.synthetic_history": "writes a million-event history for the bench",
}
#: Functions still over 100 lines, with their length today: they may shrink, not grow,
#: and the test fails when one is split (so the entry goes).
KNOWN_LONG = {
    # Lengths after the repo-wide ``ruff format`` (one argument per line lengthens calls).
}


def _functions() -> dict[str, int]:
    """Every function and method by qualified name, with its length in lines."""
    found = {}
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))

        def walk(node: ast.AST, prefix: str) -> None:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    name = f"{prefix}.{child.name}"
                    if not isinstance(child, ast.ClassDef):
                        found[name] = (child.end_lineno or child.lineno) - child.lineno + 1
                    walk(child, name)

        walk(tree, module)
    return found


def _docstring(qualified: str) -> str:
    module = _resolve(qualified)
    assert module is not None, qualified
    node: ast.AST = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    for part in qualified[len(module) + 1 :].split("."):
        node = next(n for n in ast.iter_child_nodes(node) if getattr(n, "name", None) == part)
    return ast.get_docstring(node) or ""  # type: ignore[arg-type]


def test_no_function_over_100_lines_but_the_hot_loops():
    assert len(HOT_LOOPS) <= 2
    for name in HOT_LOOPS:
        assert "hot" in _docstring(name), f"{name}: its docstring must say why it is long"
    sizes = _functions()
    long = {name: size for name, size in sizes.items() if size > 100}
    unexpected = {n: s for n, s in long.items() if n not in HOT_LOOPS and n not in KNOWN_LONG}
    assert not unexpected, f"functions over 100 lines (split them): {unexpected}"
    grown = {n: s for n, s in long.items() if n in KNOWN_LONG and s > KNOWN_LONG[n]}
    assert not grown, f"long functions that grew (lines now): {grown}"
    gone = sorted(n for n in KNOWN_LONG if sizes.get(n, 0) <= 100)
    assert not gone, f"no longer over 100 lines, remove from KNOWN_LONG: {gone}"


def _private_names() -> dict[str, set[str]]:
    """Per module, the private names (``_x``) it defines: functions, classes, assignments
    at any level, ``self._x`` attributes."""
    defined: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        names = defined.setdefault(module, set())
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
        defined[module] = {n for n in names if n.startswith("_") and not n.startswith("__")}
    return defined


def test_no_private_name_is_used_across_modules():
    defined = _private_names()
    bad = []
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and _resolve(node.module):
                bad += [
                    f"{path.relative_to(ROOT)}:{node.lineno}: imports {node.module}.{a.name}"
                    for a in node.names
                    if a.name.startswith("_") and not a.name.startswith("__")
                ]
            elif (
                isinstance(node, ast.Attribute)
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
                and node.attr not in defined[module]
                and any(node.attr in names for names in defined.values())
            ):
                bad.append(
                    f"{path.relative_to(ROOT)}:{node.lineno}: uses .{node.attr}, "
                    "private to another module"
                )
    assert not bad, "private names used across modules:\n" + "\n".join(bad)
