"""YAML with line numbers, and input errors that name file, line and field path.

Scenario files are validated when loaded. A user who mistypes a key needs to be told
where: ``scenarios/x.yaml:14: roles.sales_rep.actions.edit_acount: unknown key``. To do
that we compose the YAML into nodes (which carry their positions), build plain Python
data from them, and remember the line of every path. Validation errors from pydantic
carry a location path (``("roles", "sales_rep", "headcount")``), which we look up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

PathKey = tuple[str | int, ...]


class InputError(Exception):
    """Bad input from a user: reported as one clear message and exit code 2."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def format_path(path: Iterable[str | int]) -> str:
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

    def line(self, path: Sequence[str | int]) -> int | None:
        """The line of ``path``, or of its nearest ancestor that has one."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), None)

    def where(self, path: Sequence[str | int]) -> str:
        line = self.line(path)
        return f"{self.file}:{line}" if line is not None else self.file

    def error(self, path: Sequence[str | int], message: str) -> InputError:
        return InputError(f"{self.where(path)}: {format_path(path)}: {message}")


def _construct(node: yaml.Node, path: PathKey, lines: dict[PathKey, int], file: str) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        merged: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                # "<<: *anchor": keys of the anchored mapping(s), explicit keys win.
                sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [
                    value_node]
                for source in sources:
                    value = _construct(source, path, lines, file)
                    if not isinstance(value, dict):
                        raise InputError(f"{file}:{key_node.start_mark.line + 1}: "
                                         f"{format_path(path)}: '<<' needs a mapping")
                    for k, v in value.items():
                        merged.setdefault(k, v)
                continue
            key = _construct(key_node, path + ("<key>",), {}, file)
            if not isinstance(key, str | int | float | bool) or key is None:
                raise InputError(f"{file}:{key_node.start_mark.line + 1}: "
                                 f"{format_path(path)}: keys must be plain scalars")
            if key in result:
                raise InputError(f"{file}:{key_node.start_mark.line + 1}: "
                                 f"{format_path(path + (key,))}: duplicate key")
            lines[path + (key,)] = key_node.start_mark.line + 1
            result[key] = _construct(value_node, path + (key,), lines, file)
        for k, v in merged.items():
            result.setdefault(k, v)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _construct(item, path + (i,), lines, file) for i, item in enumerate(node.value)
        ]
    # Scalars: the safe loader's own rules (ints, floats, booleans, null, strings).
    return yaml.SafeLoader("").construct_object(node, deep=True)


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
    return loads_yaml(text, file)


def loads_yaml(text: str, file: str = "<string>") -> tuple[Any, LineMap]:
    """Like :func:`load_yaml` for text in memory (``file`` names it in messages)."""
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
    if len(nodes) != 1 or nodes[0] is None:
        raise InputError(f"{file}: expected exactly one YAML document, found {len(nodes)}")
    data = _construct(nodes[0], (), linemap.lines, file)
    return data, linemap


def _pydantic_message(error: dict[str, Any]) -> str:
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    message = error.get("msg", "invalid value")
    if message.startswith("Value error, "):
        message = message[len("Value error, "):]
    given = error.get("input")
    if kind not in ("missing",) and not isinstance(given, dict | list):
        message += f" (got {given!r})"
    return message


def validation_error(
    exc: ValidationError, linemap: LineMap, prefix: PathKey = (),
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
    return part in {"str", "int", "float", "bool", "list[...]", "dict[...]", "function-after",
                    "function-before", "function-wrap", "constrained-str", "none"} or (
        part.startswith(("list[", "dict[", "function-", "literal[", "tagged-union[")))
