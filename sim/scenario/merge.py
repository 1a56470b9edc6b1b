"""Deep merge: one data tree laid over another, the one way every file layering does it.

A design that ``extends`` another, a scenario's ``design:`` overrides, a regression-suite
file with a ``base:`` scenario, and a licensing report's option changing a role all lay an
override over a base with :func:`deep_merge`. Its rules:

- two mappings **merge**, key by key and recursively: a key only in the base is kept, a
  key only in the override is added, a key in both is merged by these same rules;
- anything else in the override **replaces** the base's value whole: scalars, ``None``,
  and lists (a list is never merged element by element, nor appended to), and a mapping
  over a non-mapping or a non-mapping over a mapping;
- a mapping at one of the ``whole`` paths replaces the base's whole too (a path is a
  tuple of keys from the top, ``"*"`` standing for any one key): the design's
  :data:`sim.scenario.spec.DESIGN_REPLACED_WHOLE` makes ``editable: {account: {sales:
  {}}}`` mean accounts are editable in Sales only, whatever the base said;
- **nothing is shared**: neither argument is changed, and the result is a deep copy, so
  changing it later never changes the base or the override (nor they it).

May import: nothing of ours (the standard library).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

#: A path in a data tree: the keys from the top, ``"*"`` matching any one key.
Path = tuple[str, ...]


def deep_merge(base: Any, override: Any, *, whole: Iterable[Path] = ()) -> Any:
    """``override`` laid over ``base`` (module docstring: mappings merge, everything else,
    lists included, replaces; mappings at ``whole`` paths replace; nothing is shared)."""
    return copy.deepcopy(_merged(base, override, (), tuple(whole)))


def _merged(base: Any, override: Any, path: Path, whole: tuple[Path, ...]) -> Any:
    """The merge without copying: the result may share values with both arguments."""
    if isinstance(base, dict) and isinstance(override, dict) and not _matches(path, whole):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = (
                _merged(base[key], value, (*path, str(key)), whole) if key in base else value
            )
        return merged
    return override


def _matches(path: Path, whole: tuple[Path, ...]) -> bool:
    """True when ``path`` is one of the ``whole`` paths (``"*"`` matching any key)."""
    return any(
        len(path) == len(rule) and all(r in ("*", p) for r, p in zip(rule, path, strict=True))
        for rule in whole
    )
