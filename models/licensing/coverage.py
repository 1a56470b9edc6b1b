"""Coverage: do these licences grant those rights? (caps solved as a b-matching)"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from models.licensing.pricebook import PriceBook, Sku
from models.licensing.rights import Right


@dataclass(frozen=True)
class Reach:
    """What one SKU can contribute to one requirement: the required rights it grants
    without a cap, and per capped grant (cap, rights it could take)."""

    sku: Sku
    free: frozenset[Right]
    capped: tuple[tuple[int, frozenset[Right]], ...]
    any: frozenset[Right]


def reach_of(sku: Sku, required: frozenset[Right]) -> Reach:
    free: set[Right] = set()
    capped = []
    for grant in sku.rights:
        granted = frozenset(right for right in required if grant.covers(right))
        if grant.max_entities is None:
            free |= granted
        elif granted:
            capped.append((grant.max_entities, granted))
    free_rights = frozenset(free)
    everything = free_rights.union(*(granted for _, granted in capped))
    return Reach(sku, free_rights, tuple(capped), everything)


def match_rights(
    reaches: Sequence[Reach], required: frozenset[Right]
) -> tuple[dict[Right, str], frozenset[Right]]:
    """Assign every required right to a held SKU: ``(right -> SKU id, rights left over)``.

    A right granted without a cap goes to the first SKU that grants it (so the base is
    credited before its attaches). Rights only capped grants can give are a bipartite
    b-matching problem (each capped grant takes at most ``cap`` rights), solved exactly with
    augmenting paths; whatever the maximum matching leaves over cannot be covered.
    """
    covered: dict[Right, str] = {}
    pending: list[Right] = []
    for right in sorted(required):
        owner = next((reach.sku.id for reach in reaches if right in reach.free), None)
        if owner is None:
            pending.append(right)
        else:
            covered[right] = owner
    if not pending:
        return covered, frozenset()
    slots = [(reach.sku.id, cap, granted) for reach in reaches for cap, granted in reach.capped]
    options = {right: [i for i, slot in enumerate(slots) if right in slot[2]] for right in pending}
    load: list[list[Right]] = [[] for _ in slots]

    def augment(right: Right, seen: set[int]) -> bool:
        for i in options[right]:
            if i in seen:
                continue
            seen.add(i)
            if len(load[i]) < slots[i][1]:
                load[i].append(right)
                return True
            for k, other in enumerate(load[i]):
                if augment(other, seen):  # `other` moved to another slot
                    load[i][k] = right
                    return True
        return False

    left_over = frozenset(right for right in pending if not augment(right, set()))
    for i, taken in enumerate(load):
        for right in taken:
            covered[right] = slots[i][0]
    return covered, left_over


def coverage(
    book: PriceBook, sku_ids: Iterable[str], required: Iterable[Right]
) -> dict[Right, str] | None:
    """Which held SKU grants each required right, or None if some right is not granted.

    This is the compliance question the simulation asks before a user acts ("may a
    Team Members user write this account?"). Base + attach validity is a separate check,
    ``licence_set_problems``.
    """
    required = frozenset(required)
    reaches = [reach_of(book.sku(sku_id), required) for sku_id in sku_ids]
    covered, left_over = match_rights(reaches, required)
    return None if left_over else covered


def missing_rights(
    book: PriceBook, sku_ids: Iterable[str], required: Iterable[Right]
) -> frozenset[Right]:
    """The required rights the held SKUs cannot grant (empty if compliant). When a cap
    overflows (16 custom entities on Team Members), the rights left out are an arbitrary
    but deterministic choice among the capped ones."""
    required = frozenset(required)
    reaches = [reach_of(book.sku(sku_id), required) for sku_id in sku_ids]
    return match_rights(reaches, required)[1]
