"""Recommendations that rest on a price-book figure nobody verified.

Every figure a bill can rest on (a price, an attach price, a minimum number of seats)
carries a confidence: ``verified`` (a Microsoft page), ``third_party`` or ``unverified``
(:meth:`models.licensing.PriceBook.entries`). For each figure that is not verified and
that could matter, every option is priced again without it
(:meth:`models.licensing.PriceBook.without`: no minimum; no attach offer, so the licence
is bought in full; no price, so the licence is not on sale) and the recommendation is
made again. When the recommended option, its licence mix or its monthly cost changes,
the recommendation rests on that figure: the report says so beside it, with what the
recommendation and its cost would be without the figure.

Which figures could matter: every minimum (dropping one can make a licence nobody holds
the cheapest), and the prices and attach prices some option's bill uses. A price no bill
uses cannot change anything when it is dropped: dropping it only removes a choice that
no least-cost bill made, so every bill stays what it was.

Risk figures do not depend on prices (licences fixed by an option are part of what is
simulated; those the optimiser picks grant what the role needs by construction), so the
simulations are not run again: only the bills.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from models.licensing import PriceBook, PriceEntry
from sim.reporting.licensing.recommendation import recommend
from sim.reporting.licensing.text import money

#: A change in the recommended option's monthly cost smaller than this is no change.
COST_TOLERANCE_USD = 0.005


def bill_keys(seats: Sequence[Mapping[str, Any]]) -> set[str]:
    """The price entries (``PriceEntry.key``) a bill's seat lines rest on."""
    return {
        f"{seat['sku']}.attach" if seat["held_as"] == "attach" else seat["sku"] for seat in seats
    }


def candidate_entries(
    book: PriceBook, bills: Sequence[Sequence[Mapping[str, Any]]]
) -> list[PriceEntry]:
    """The entries of ``book`` that are not verified and could change a bill when
    dropped: every minimum, and the prices that some bill (its seat lines) uses."""
    used = set().union(*(bill_keys(seats) for seats in bills)) if bills else set()
    return [
        entry
        for entry in book.entries()
        if not entry.verified and (entry.kind == "min_seats" or entry.key in used)
    ]


def mix_text(seats: Sequence[Mapping[str, Any]]) -> str:
    """``"20 finance (base), 7 sales_enterprise (attach)"``: seats paid per licence."""
    return ", ".join(
        f"{seat['seats_paid']} {seat['sku']} ({seat['held_as']})"
        for seat in sorted(seats, key=lambda s: (s["sku"], s["held_as"]))
    )


def _sentence(entry: PriceEntry, now: Mapping[str, Any], then: Mapping[str, Any]) -> str:
    label = {"third_party": "third party", "unverified": "unverified"}[entry.confidence]
    head = f"This rests on {entry.describe()} ({label}). Without it ({entry.dropped()}), "
    if then["option"] is None:
        return head + "no option could be recommended."
    if now["option"] is None:
        return (
            head + f"{then['option']} would be recommended, at "
            f"{money(then['cost_usd_month'])} a month."
        )
    if then["option"] != now["option"]:
        return (
            head + f"the recommendation would be {then['option']} at "
            f"{money(then['cost_usd_month'])} a month instead of {now['option']} at "
            f"{money(now['cost_usd_month'])}."
        )
    if abs(then["cost_usd_month"] - now["cost_usd_month"]) > COST_TOLERANCE_USD:
        return (
            head + f"{now['option']} would still be recommended, at "
            f"{money(then['cost_usd_month'])} a month instead of "
            f"{money(now['cost_usd_month'])} (licences: {then['mix']})."
        )
    return (
        head + f"{now['option']} would still be recommended at the same cost, with other "
        f"licences: {then['mix']} instead of {now['mix']}."
    )


def _outcome(summaries: Sequence[Mapping[str, Any]], max_risk_per_1000: float) -> dict[str, Any]:
    pick = recommend(summaries, max_risk_per_1000)["option"]
    chosen = next((s for s in summaries if s["name"] == pick), None)
    return {
        "option": pick,
        "cost_usd_month": None if chosen is None else chosen["cost_usd_month"],
        "mix": None if chosen is None else chosen["mix"],
    }


def rests_on(
    book: PriceBook,
    entries: Sequence[PriceEntry],
    reprice: Callable[[PriceBook], list[dict[str, Any]]],
    now: Sequence[Mapping[str, Any]],
    max_risk_per_1000: float,
) -> list[dict[str, Any]]:
    """The entries the recommendation rests on, each with what it would be without them.

    ``now`` holds each option's summary as :func:`recommend` takes it, plus ``mix`` (the
    bill's licences, :func:`mix_text`); ``reprice(book)`` gives the same list priced
    with another book (an option that cannot be priced in it is not compliant there).
    Returns one dict per entry on which the recommended option, its mix or its cost
    depends: the entry, its confidence and source, the recommendation with it and
    without it, the options that could not be priced without it, and a sentence.
    """
    current = _outcome(now, max_risk_per_1000)
    found = []
    for entry in entries:
        summaries = reprice(book.without(entry.key))
        then = _outcome(summaries, max_risk_per_1000)
        same_cost = (
            current["cost_usd_month"] is not None
            and then["cost_usd_month"] is not None
            and abs(then["cost_usd_month"] - current["cost_usd_month"]) <= COST_TOLERANCE_USD
        )
        if (
            then["option"] == current["option"]
            and then["mix"] == current["mix"]
            and (same_cost or current["option"] is None)
        ):
            continue
        found.append(
            {
                "entry": entry.key,
                "kind": entry.kind,
                "sku": entry.sku_id,
                "what": entry.describe(),
                "value": entry.value,
                "confidence": entry.confidence,
                "source": entry.source,
                "without": entry.dropped(),
                "now": current,
                "then": then,
                "not_priced": [s["name"] for s in summaries if s.get("not_priced")],
                "sentence": _sentence(entry, current, then),
            }
        )
    return found
