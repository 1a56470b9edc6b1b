"""YAML with line numbers, and input errors that name file, line and field path.

Scenario files are validated when loaded. A user who mistypes a key needs to be told
where: ``scenarios/x.yaml:14: roles.sales_rep.actions.edit_acount: unknown key``. To do
that we compose the YAML into nodes (which carry their positions), build plain Python
data from them, and remember the line of every path. Validation errors from pydantic
carry a location path (``("roles", "sales_rep", "headcount")``), which we look up.

**Hostile or broken YAML is refused, quickly** (every YAML file the tool reads comes
through :func:`load_yaml`: scenarios, designs, price books, sweeps, suites). Composing
into nodes is linear in the text; building data from them is where an alias bomb
("billion laughs": each level an alias of ten of the last) would explode, so the
builder counts the values it makes, aliases expanded, and stops at :data:`MAX_NODES`.
A recursive alias (``loop: &loop [*loop]``) is reported, not recursed into. Only the
standard tags are accepted (strings, numbers, booleans, null, timestamps, mappings,
sequences, ``<<`` merges); any other (``!!python/object:...``, ``!custom``), on a
scalar, mapping or sequence, is refused. NaN and infinity are refused as numbers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

# PyYAML is imported where a file is read, and pydantic only names types here: every p2c
# command imports InputError from this module, and p2c --help reads no YAML (issue 17:
# p2c starts fast; tests/test_imports.py).
if TYPE_CHECKING:
    import yaml
    from pydantic import ValidationError
    from pydantic_core import ErrorDetails

PathKey = tuple[str | int | float, ...]

#: The most values (mapping entries, sequence items, scalars; aliases counted each time
#: they are expanded) one YAML file may hold. The largest shipped file has about 500;
#: 100,000 are built in about 0.4 s, so an alias bomb is refused in well under a second.
MAX_NODES = 100_000

_STANDARD = "tag:yaml.org,2002:"
_ALLOWED_TAGS = frozenset(
    _STANDARD + name for name in ("str", "int", "float", "bool", "null", "timestamp", "map", "seq")
)


class InputError(Exception):
    """Bad input from a user: reported as one clear message and exit code 2."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def format_path(path: Iterable[str | int | float]) -> str:
    """``("roles", "rep", "actions", 0)`` -> ``roles.rep.actions[0]``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text or "(top level)"


class LineMap:
    """Line (1-based) of every mapping key and sequence item in one YAML document."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.lines: dict[PathKey, int] = {}

    def line(self, path: Sequence[str | int | float]) -> int | None:
        """The line of ``path``, or of its nearest ancestor that has one."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), None)

    def where(self, path: Sequence[str | int | float]) -> str:
        line = self.line(path)
        return f"{self.file}:{line}" if line is not None else self.file

    def error(self, path: Sequence[str | int | float], message: str) -> InputError:
        return InputError(f"{self.where(path)}: {format_path(path)}: {message}")


class _Builder:
    """Plain data from composed nodes, with the line of every path (see module doc)."""

    def __init__(self, file: str, lines: dict[PathKey, int]) -> None:
        self.file = file
        self.lines = lines
        self.count = 0
        self.open: set[int] = set()  # ids of the nodes being built (a cycle re-enters one)
        import yaml  # when a file is read, not at import: see the note at the top

        self.scalars = yaml.SafeLoader("")

    def fail(self, node: yaml.Node, path: PathKey, message: str) -> InputError:
        return InputError(f"{self.file}:{node.start_mark.line + 1}: {format_path(path)}: {message}")

    def build(self, node: yaml.Node, path: PathKey, record: bool = True) -> Any:
        import yaml  # when a file is read, not at import: see the note at the top

        self.count += 1
        if self.count > MAX_NODES:
            raise self.fail(
                node,
                path,
                f"more than {MAX_NODES:,} values once aliases are "
                "expanded (an alias bomb?); refusing to build it",
            )
        if node.tag not in _ALLOWED_TAGS:
            raise self.fail(
                node,
                path,
                f"tag {node.tag.replace(_STANDARD, '!!')!r} is not "
                "allowed (only plain YAML: strings, numbers, booleans, "
                "null, dates, mappings, lists)",
            )
        if record:
            self.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node, path)
        if id(node) in self.open:
            raise self.fail(node, path, "recursive alias (the value contains itself)")
        self.open.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self.mapping(node, path, record)
            return [self.build(item, path + (i,), record) for i, item in enumerate(node.value)]
        finally:
            self.open.discard(id(node))

    def scalar(self, node: yaml.ScalarNode, path: PathKey) -> Any:
        # The safe loader's own rules (ints, floats, booleans, null, strings, dates).
        value = self.scalars.construct_object(node, deep=True)
        if isinstance(value, float) and not math.isfinite(value):
            raise self.fail(node, path, f"{node.value!r} is not a finite number")
        return value

    def mapping(self, node: yaml.MappingNode, path: PathKey, record: bool) -> dict[Any, Any]:
        import yaml  # when a file is read, not at import: see the note at the top

        result: dict[Any, Any] = {}
        merged: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _STANDARD + "merge":
                # "<<: *anchor": keys of the anchored mapping(s), explicit keys win.
                sources = (
                    value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
                )
                for source in sources:
                    value = self.build(source, path, record)
                    if not isinstance(value, dict):
                        raise self.fail(key_node, path, "'<<' needs a mapping")
                    for k, v in value.items():
                        merged.setdefault(k, v)
                continue
            key = self.build(key_node, path + ("<key>",), record=False)
            if not isinstance(key, str | int | float | bool) or key is None:
                raise self.fail(key_node, path, "keys must be plain scalars")
            if key in result:
                raise self.fail(key_node, path + (key,), "duplicate key")
            if record:
                self.lines[path + (key,)] = key_node.start_mark.line + 1
            result[key] = self.build(value_node, path + (key,), record)
        for k, v in merged.items():
            result.setdefault(k, v)
        return result


def load_yaml(path: Path | str) -> tuple[Any, LineMap]:
    """Read one YAML document; returns its data and the line of every path in it."""
    path = Path(path)
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{file}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{file}: is a directory, expected a YAML file") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{file}: not UTF-8 text ({exc.reason})") from None
    except OSError as exc:  # unreadable (permissions), a device that fails, ...
        raise InputError(f"{file}: cannot read: {exc.strerror or exc}") from None
    return loads_yaml(text, file)


def loads_yaml(text: str, file: str = "<string>") -> tuple[Any, LineMap]:
    """Like :func:`load_yaml` for text in memory (``file`` names it in messages)."""
    import yaml  # when a file is read, not at import: see the note at the top

    linemap = LineMap(file)
    try:
        nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = exc.problem or exc.context or "invalid YAML"
        raise InputError(f"{file}{line}: invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise InputError(f"{file}: invalid YAML: {exc}") from None
    except RecursionError:
        raise InputError(f"{file}: invalid YAML: nested too deeply") from None
    if len(nodes) != 1 or nodes[0] is None:
        raise InputError(f"{file}: expected exactly one YAML document, found {len(nodes)}")
    try:
        data = _Builder(file, linemap.lines).build(nodes[0], ())
    except RecursionError:
        raise InputError(f"{file}: invalid YAML: nested too deeply") from None
    return data, linemap


def _pydantic_message(error: ErrorDetails) -> str:
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    message = error.get("msg", "invalid value")
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    given = error.get("input")
    if kind not in ("missing",) and not isinstance(given, dict | list):
        message += f" (got {given!r})"
    return message


def validation_error(
    exc: ValidationError,
    linemap: LineMap,
    prefix: PathKey = (),
    label: Callable[[PathKey], str] | None = None,
) -> InputError:
    """Turn a pydantic error into an :class:`InputError`: one line per problem.

    Paths are cleaned of pydantic's internal union tags so they read like the file.
    ``label(path)`` may add a word after the path (``skus[3].min_seats (SKU finance)``).
    """
    messages = []
    for error in exc.errors():
        loc = prefix + tuple(p for p in error["loc"] if not _is_union_tag(p))
        named = format_path(loc) + (label(loc) if label is not None else "")
        messages.append(f"{linemap.where(loc)}: {named}: {_pydantic_message(error)}")
    # Deduplicate while keeping order: unions can report one problem several times.
    unique = list(dict.fromkeys(messages))
    return InputError("\n".join(unique))


def _is_union_tag(part: str | int) -> bool:
    if not isinstance(part, str):
        return False
    return part in {
        "str",
        "int",
        "float",
        "bool",
        "list[...]",
        "dict[...]",
        "function-after",
        "function-before",
        "function-wrap",
        "constrained-str",
        "none",
    } or (part.startswith(("list[", "dict[", "function-", "literal[", "tagged-union[")))
