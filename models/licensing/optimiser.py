"""The cheapest compliant assignment for one user: exact branch and bound, and the
brute-force reference it is tested against."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Iterator
from collections.abc import Set as AbstractSet
from typing import cast

from models.licensing.assignment import Assignment, assemble, licence_set_problems, preference
from models.licensing.coverage import match_rights, reach_of
from models.licensing.pricebook import COST_EPS_USD, PriceBook, Sku
from models.licensing.rights import Right


class NoCompliantAssignment(ValueError):
    """No set of licences in the book grants every required right."""


def cheapest_assignment(
    required: Iterable[Right],
    book: PriceBook,
    *,
    users_per_device: float | None = None,
) -> Assignment:
    """The least-cost valid licence set for one user that grants every required right.

    Minimum seats are a tenant-wide rule and are ignored here (``cost_roles`` applies
    them). Device licences are considered only if the user works at a shared device:
    ``users_per_device`` people share each one.

    The search is exact. For every possible base (in the standalone era: none) it grows
    a set of licences by depth-first search: if the set does not yet cover the rights,
    some licence that grants one of the still-missing rights must be added (any other
    addition leaves the same gap), so only those are tried, in increasing price order and
    never before a licence already skipped at that depth; a branch stops as soon as its
    cost exceeds the best found. Every least-cost set is reachable this way because in a
    least-cost set with nothing removable each licence, added in that order, grants a
    right still missing at that point. ``exhaustive_cheapest`` checks this claim.

    Raises ``NoCompliantAssignment`` if no licence set in the book covers the rights.
    """
    required = as_rights(required)
    best = search(required, book, users_per_device=users_per_device)
    if best is None:
        raise NoCompliantAssignment(no_assignment_message(required, book))
    return best


def search(
    required: frozenset[Right],
    book: PriceBook,
    *,
    users_per_device: float | None,
    allowed: frozenset[str] | None = None,
    forced: frozenset[str] = frozenset(),
) -> Assignment | None:
    """Branch and bound over licence sets using only ``allowed`` SKUs and holding every
    SKU in ``forced`` (``cost_roles`` uses both to price minimum-seat choices)."""
    usable = [sku for sku in book.skus if allowed is None or sku.id in allowed]
    reach = {sku.id: reach_of(sku, required) for sku in usable}
    devices = [sku for sku in usable if sku.kind == "device"] if users_per_device else []
    device_ids = {sku.id for sku in devices}
    best: list[Assignment] = []

    def record(
        base: str | None, attaches: list[str], standalone: list[str], device: str | None
    ) -> None:
        candidate = assemble(
            book,
            required,
            base=base,
            attaches=attaches,
            standalone=standalone,
            device=device,
            users_per_device=users_per_device,
        )
        assert candidate is not None  # the caller checked coverage
        if not best or preference(candidate, book) < preference(best[0], book):
            best[:] = [candidate]

    def bound_usd_month() -> float:
        return best[0].cost_usd_month + COST_EPS_USD if best else math.inf

    # An option is (sku id, held as, price for this user); options are tried cheapest first.
    Option = tuple[str, str, float]

    def grow(chosen: list[Option], cost: float, options: list[Option], start: int) -> None:
        reaches = [reach[sku_id] for sku_id, _, _ in chosen]
        missing = required.difference(*(r.free for r in reaches))
        if not missing or not match_rights(reaches, missing)[1]:
            record(
                next((s for s, held, _ in chosen if held == "base"), None),
                [s for s, held, _ in chosen if held == "attach"],
                [s for s, held, _ in chosen if held == "standalone"],
                next((s for s, held, _ in chosen if held == "device"), None),
            )
            return
        editions = {book.sku(s).edition for s, held, _ in chosen if held != "device"}
        has_device = any(held == "device" for _, held, _ in chosen)
        for i in range(start, len(options)):
            sku_id, held_as, price = options[i]
            if cost + price > bound_usd_month():
                break
            if not reach[sku_id].any & missing:
                continue
            if held_as == "device" and has_device:
                continue
            if held_as != "device" and _mixes_editions(editions, book.sku(sku_id).edition):
                continue
            grow([*chosen, options[i]], cost + price, options, i + 1)

    device_options: list[Option] = [
        (sku.id, "device", book.price_usd_month(sku.id) / cast(float, users_per_device))
        for sku in devices
    ]
    starts = _starts(book, usable, forced, device_ids, users_per_device)
    for chosen, options in starts:
        held = [s for s, held_as, _ in chosen if held_as != "device"]
        editions = {book.sku(s).edition for s in held}
        if {"enterprise", "professional"} <= editions:
            continue
        if sum(1 for _, held_as, _ in chosen if held_as == "device") > 1:
            continue
        options = sorted(
            options + [o for o in device_options if o[0] not in forced],
            key=lambda option: (option[2], option[0]),
        )
        cost = sum(price for _, _, price in chosen)
        if cost <= bound_usd_month():
            grow(chosen, cost, options, 0)
    return best[0] if best else None


_Option = tuple[str, str, float]  # (sku id, held as, price for this user)


def _starts(
    book: PriceBook,
    usable: list[Sku],
    forced: frozenset[str],
    device_ids: set[str],
    users_per_device: float | None,
) -> list[tuple[list[_Option], list[_Option]]]:
    """Where the search begins: per possible base (in the standalone era: once) the
    licences held from the start (the base and the forced ones) and the ones that may be
    added (attaches, or standalone licences)."""
    starts: list[tuple[list[_Option], list[_Option]]] = []
    if book.licensing_model == "base_attach":
        for base in usable:
            if base.kind != "user" or not base.base:
                continue
            attachable = {
                sku.id
                for sku in usable
                if base.accepts_attaches
                and sku.kind == "user"
                and sku.id != base.id
                and sku.attach is not None
                and book.list_price_usd_month(sku.id) <= book.list_price_usd_month(base.id)
                and not _mixes_editions({base.edition}, sku.edition)
            }
            if not forced - {base.id} <= attachable | device_ids:
                continue
            chosen: list[_Option] = [(base.id, "base", book.price_usd_month(base.id))]
            chosen += [
                _forced_option(book, s, "device" if s in device_ids else "attach", users_per_device)
                for s in sorted(forced - {base.id})
            ]
            options = [
                (s, "attach", book.price_usd_month(s, "attach")) for s in attachable - forced
            ]
            starts.append((chosen, options))
        if forced <= device_ids:  # no user licence at all: everything done at the device
            starts.append(
                ([_forced_option(book, s, "device", users_per_device) for s in sorted(forced)], [])
            )
    else:
        user_ids = {sku.id for sku in usable if sku.kind == "user" and sku.base}
        if forced <= user_ids | device_ids:
            chosen = [
                _forced_option(
                    book, s, "device" if s in device_ids else "standalone", users_per_device
                )
                for s in sorted(forced)
            ]
            options = [(s, "standalone", book.price_usd_month(s)) for s in user_ids - forced]
            starts.append((chosen, options))
    return starts


def _forced_option(
    book: PriceBook, sku_id: str, held_as: str, users_per_device: float | None
) -> tuple[str, str, float]:
    if held_as == "device":
        return sku_id, held_as, book.price_usd_month(sku_id) / (users_per_device or 1.0)
    return sku_id, held_as, book.price_usd_month(sku_id, held_as)


def _mixes_editions(editions: AbstractSet[str], edition: str) -> bool:
    return {"enterprise", "professional"} <= editions | {edition}


def as_rights(required: Iterable[Right]) -> frozenset[Right]:
    required = frozenset(required)
    for right in required:
        if not isinstance(right, Right):
            raise TypeError(f"required rights must be Right objects, got {right!r}")
    return required


def no_assignment_message(required: frozenset[Right], book: PriceBook) -> str:
    everything = [reach_of(sku, required) for sku in book.skus]
    nobody = sorted(right for right in required if not any(right in r.any for r in everything))
    if nobody:
        listed = ", ".join(str(right) for right in nobody)
        return f"no licence in price book {book.era} (as of {book.as_of}) grants: {listed}"
    return (
        f"no valid licence set in price book {book.era} (as of {book.as_of}) grants all of "
        f"{sorted(str(r) for r in required)} together"
    )


def compliant_assignments(
    required: Iterable[Right],
    book: PriceBook,
    *,
    users_per_device: float | None = None,
) -> Iterator[Assignment]:
    """Every valid licence set for one user that covers ``required``, by brute force:
    every subset of the user licences, every choice of base among them, with or without
    each device licence, checked with ``licence_set_problems`` and ``coverage``.
    Exponential in the number of SKUs (a book has about ten): for tests and for showing
    the alternatives to a choice."""
    required = as_rights(required)
    user_ids = [sku.id for sku in book.user_skus]
    device_choices: list[str | None] = [None]
    if users_per_device:
        device_choices += [sku.id for sku in book.device_skus]
    for size in range(len(user_ids) + 1):
        for subset in itertools.combinations(user_ids, size):
            layouts: list[tuple[str | None, tuple[str, ...], tuple[str, ...]]]
            if book.licensing_model == "standalone":
                layouts = [(None, (), subset)]
            elif not subset:
                layouts = [(None, (), ())]
            else:
                layouts = [(base, tuple(s for s in subset if s != base), ()) for base in subset]
            for base, attaches, standalone in layouts:
                for device in device_choices:
                    if licence_set_problems(
                        book, base=base, attaches=attaches, standalone=standalone, device=device
                    ):
                        continue
                    assignment = assemble(
                        book,
                        required,
                        base=base,
                        attaches=attaches,
                        standalone=standalone,
                        device=device,
                        users_per_device=users_per_device,
                    )
                    if assignment is not None:
                        yield assignment


def exhaustive_cheapest(
    required: Iterable[Right],
    book: PriceBook,
    *,
    users_per_device: float | None = None,
) -> Assignment:
    """The cheapest of ``compliant_assignments``: the slow reference ``cheapest_assignment``
    is tested against (same tie-breaking, so both return the same assignment)."""
    required = as_rights(required)
    best = min(
        compliant_assignments(required, book, users_per_device=users_per_device),
        key=lambda assignment: preference(assignment, book),
        default=None,
    )
    if best is None:
        raise NoCompliantAssignment(no_assignment_message(required, book))
    return best
