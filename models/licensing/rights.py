"""Rights: one thing a user must be allowed to do, ``Right(system, entity, access)``.

Plain data, no price book: the vocabulary every other module of the package speaks.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import cast

SYSTEMS = ("sales", "operations")
"""``sales``: customer engagement on Dataverse; ``operations``: the former AX (Finance, SCM)."""

STANDARD_ENTITIES = (
    "account",
    "contact",
    "product",
    "bundle",
    "bundle_line",
    "quote",
    "quote_line",
    "order",
    "order_line",
    "invoice",
    "invoice_line",
)
"""The entities the prospect-to-cash flow moves between the systems."""

CUSTOM_PREFIX = "custom:"
RECORD_ACCESS = ("read", "write")
TASK_ACCESS = ("approve", "self_service", "light_task")
ACCESS_LEVELS = RECORD_ACCESS + TASK_ACCESS

_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")


def custom_entity(name: str) -> str:
    """The entity name of a custom entity: ``custom_entity("delivery_slot")`` is
    ``"custom:delivery_slot"``. The prefix keeps custom entities apart from the standard
    ones, which matters because licences cap how many custom entities a user may write."""
    if not _IDENTIFIER.match(name):
        raise ValueError(f"custom entity name must be lowercase letters, digits, _: {name!r}")
    return CUSTOM_PREFIX + name


def is_custom_entity(entity: str) -> bool:
    return entity.startswith(CUSTOM_PREFIX)


def valid_entity_name(entity: str) -> bool:
    if is_custom_entity(entity):
        return bool(_IDENTIFIER.match(entity[len(CUSTOM_PREFIX) :]))
    return bool(_IDENTIFIER.match(entity))


@dataclass(frozen=True, order=True)
class Right:
    """One thing a user must be allowed to do: an access level on an entity in a system.

    ``read`` and ``write`` apply to records, so the entity must be a standard testbed
    entity or a ``custom:`` one; the task accesses (``approve``, ``self_service``,
    ``light_task``) accept any lowercase subject name. A role's needs are a frozenset of
    rights; see ``required_rights`` to build one from what the role does.
    """

    system: str
    entity: str
    access: str

    def __post_init__(self) -> None:
        if self.system not in SYSTEMS:
            raise ValueError(f"unknown system {self.system!r}; expected one of {SYSTEMS}")
        if self.access not in ACCESS_LEVELS:
            raise ValueError(f"unknown access {self.access!r}; expected one of {ACCESS_LEVELS}")
        if not isinstance(self.entity, str) or not valid_entity_name(self.entity):
            raise ValueError(f"bad entity name {self.entity!r}")
        if (
            self.access in RECORD_ACCESS
            and self.entity not in STANDARD_ENTITIES
            and not is_custom_entity(self.entity)
        ):
            raise ValueError(
                f"{self.access} needs a standard entity {STANDARD_ENTITIES} or "
                f"'{CUSTOM_PREFIX}<name>', got {self.entity!r}"
            )

    def __str__(self) -> str:
        return f"{self.access} {self.entity} in {self.system}"


def rights(
    systems: str | Iterable[str],
    entities: Iterable[str] = STANDARD_ENTITIES,
    accesses: str | Iterable[str] = RECORD_ACCESS,
) -> frozenset[Right]:
    """Every combination of the given systems, entities and accesses.

    ``rights("sales")`` is full use of the standard Sales entities (read and write);
    ``rights("operations", accesses="read")`` is a read-only Operations user.
    """
    systems = (systems,) if isinstance(systems, str) else tuple(systems)
    accesses = (accesses,) if isinstance(accesses, str) else tuple(accesses)
    return frozenset(
        Right(system, entity, access)
        for system in systems
        for entity in entities
        for access in accesses
    )


def required_rights(
    actions: Mapping[str, tuple[str, str, str] | Iterable[tuple[str, str, str]]],
) -> frozenset[Right]:
    """The rights a role needs, from what it does.

    ``actions`` maps an action name to the ``(system, entity, access)`` triple it needs,
    or to several triples::

        required_rights({
            "fix customer address": ("sales", "account", "write"),
            "check invoice status": [("operations", "invoice", "read"),
                                     ("operations", "invoice_line", "read")],
        })

    The action names only make error messages point at the culprit.
    """
    needed: set[Right] = set()
    for action, need in actions.items():
        triples = [need] if _is_triple(need) else list(need)
        for triple in triples:
            try:
                system, entity, access = cast(tuple[str, str, str], triple)
                needed.add(Right(system, entity, access))
            except (TypeError, ValueError) as exc:
                raise ValueError(f"action {action!r}: {exc}") from None
    return frozenset(needed)


def _is_triple(value: object) -> bool:
    return isinstance(value, tuple) and len(value) == 3 and all(isinstance(v, str) for v in value)
