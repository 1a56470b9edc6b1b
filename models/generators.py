"""Value generators for the fields of custom entities: what a user types into a field.

A scenario declares each field of a custom entity by type, optionally with a generator
(``sim.scenario.spec.CustomEntity``)::

    fields:
      account: {reference: account}        # a key of an existing account
      capacity: {int: {min: 1, max: 40}}   # uniform integer, both ends included
      fee: {float: {min: 0, max: 250}}     # uniform, rounded to cents
      window: {choice: [AM, PM, Evening]}  # one of the options, equally likely
      note: text                           # "<field> <number>"
      status: status                       # default choice: Open / Closed

A bare type takes the default generator of that type (``int`` 0-100, ``float`` 0-1000,
``str``/``text`` a numbered text, ``status`` Open/Closed). Generators draw from the
generator they are given (the user's own stream), nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: The options of a ``status`` field declared without ``choice``.
DEFAULT_STATUSES = ("Open", "Closed")


@dataclass(frozen=True, slots=True)
class ValueGen:
    """How values of one field are made up: ``kind`` is int, float, choice, text or
    reference (then ``entity`` names the referenced entity)."""

    kind: str
    low: float = 0.0
    high: float = 100.0
    options: tuple[Any, ...] = ()
    entity: str | None = None

    def value(self, rng, field: str, pick_key: Callable[[str], str | None]) -> Any:
        """One value for ``field``; ``pick_key(entity)`` gives an existing key (or None)."""
        if self.kind == "int":
            return int(self.low) + int(rng.random() * (int(self.high) - int(self.low) + 1))
        if self.kind == "float":
            return round(self.low + rng.random() * (self.high - self.low), 2)
        if self.kind == "choice":
            return self.options[int(rng.random() * len(self.options))]
        if self.kind == "reference":
            return pick_key(self.entity or "")
        return f"{field} {int(rng.random() * 1e6)}"


def default_gen(type_: str, reference: str | None = None) -> ValueGen:
    """The generator of a field declared by type only."""
    if reference is not None:
        return ValueGen("reference", entity=reference)
    if type_ == "int":
        return ValueGen("int", 0, 100)
    if type_ == "float":
        return ValueGen("float", 0.0, 1000.0)
    if type_ == "status":
        return ValueGen("choice", options=DEFAULT_STATUSES)
    return ValueGen("text")
