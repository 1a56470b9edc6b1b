"""The Pareto front and the recommendation: pure functions of each option's figures."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from sim.reporting.licensing.text import money, risk_text
from sim.study.stats import pareto_front as front_mask

#: Writes at risk (lost + conflicting + abandoned) per 1,000 saves an option may have
#: and still be recommended on cost alone.
DEFAULT_MAX_RISK_PER_1000 = 1.0


def pareto_front(points: Sequence[tuple[float, float | None]]) -> list[int]:
    """Indices of the (cost, risk) points no other point dominates, both minimised.

    The dominance rule is :func:`sim.study.stats.pareto_front`'s: equal points do not dominate
    each other, so both stay on the front; a missing (None or NaN) coordinate keeps a
    point off it.
    """
    clean = [tuple(math.nan if v is None else float(v) for v in point) for point in points]
    return [i for i, on in enumerate(front_mask(clean, ["min", "min"])) if on]


def _risk_parts(option: Mapping[str, Any]) -> str:
    """``" (2.2 lost, 10.2 abandoned)"``: what an option's writes at risk are made of."""
    parts = [
        f"{option[key]:.1f} {word}"
        for key, word in (
            ("lost_per_1000", "lost"),
            ("conflicts_per_1000", "conflicting"),
            ("abandoned_per_1000", "abandoned"),
        )
        if option.get(key)
    ]
    return f" ({', '.join(parts)})" if parts else ""


def _handed(option: Mapping[str, Any]) -> str:
    per_day = option.get("handoffs_per_day")
    return (
        f", and hands about {per_day:.0f} edits a working day to colleagues"
        if per_day and per_day >= 0.5
        else ""
    )


def _exclusions(options: Sequence[Mapping[str, Any]]) -> list[tuple[Mapping[str, Any], list[str]]]:
    """The options that cannot be recommended, each with why."""
    excluded = []
    for option in options:
        why = []
        if not option["compliant"]:
            issues = option.get("licence_issues") or []
            why.append(
                "its licences do not cover what its users do"
                + (f" ({'; '.join(issues)})" if issues else "")
            )
        if option["broken_promises"]:
            why.append(
                "the checker found it breaking what its design promises ("
                + ", ".join(option["broken_promises"])
                + ")"
            )
        if option["risk_per_1000"] is None:
            why.append("its risk could not be measured")
        if why:
            excluded.append((option, why))
    return excluded


def _pick(
    eligible: Sequence[Mapping[str, Any]], max_risk_per_1000: float
) -> tuple[Mapping[str, Any], Mapping[str, Any] | None, list[str]]:
    """The recommended option, the runner-up under the threshold (if any), and the
    reasons that say so."""
    under = [o for o in eligible if o["risk_per_1000"] <= max_risk_per_1000 + 1e-12]
    if not under:
        pick = min(eligible, key=lambda o: (o["risk_per_1000"], o["cost_usd_month"], o["name"]))
        return (
            pick,
            None,
            [
                f"No option keeps writes at risk under {max_risk_per_1000:g} per 1,000 saves. "
                f"{pick['name']} puts the fewest at risk ({risk_text(pick['risk_per_1000'])} per "
                f"1,000, {money(pick['cost_usd_month'])} a month); the trade-off against the "
                "cheaper options follows."
            ],
        )
    ranked = sorted(under, key=lambda o: (o["cost_usd_month"], o["risk_per_1000"], o["name"]))
    pick = ranked[0]
    reasons = [
        f"{pick['name']} is the cheapest option whose writes at risk (lost, conflicting "
        f"or never made) stay at or under {max_risk_per_1000:g} per 1,000 saves: "
        f"{risk_text(pick['risk_per_1000'])} per 1,000 at {money(pick['cost_usd_month'])} "
        "a month."
    ]
    if len(ranked) == 1:
        reasons.append("It is the only option under the threshold.")
        return pick, None, reasons
    runner_up = ranked[1]
    gap = runner_up["cost_usd_month"] - pick["cost_usd_month"]
    reasons.append(
        f"The next option under the threshold, {runner_up['name']}, costs "
        f"{money(gap)} a month more ({risk_text(runner_up['risk_per_1000'])} per 1,000 at "
        f"risk); only costs missing from this report that {pick['name']} has and "
        f"{runner_up['name']} has not, above {money(gap)} a month, would change the choice."
    )
    return pick, runner_up, reasons


def _trade_off(other: Mapping[str, Any], pick: Mapping[str, Any]) -> str:
    """One sentence: what choosing ``other`` instead of ``pick`` would change."""
    delta = other["cost_usd_month"] - pick["cost_usd_month"]
    monthly = other.get("risk_per_month")
    scale = f", about {monthly:,.0f} a month at the simulated pace" if monthly else ""
    at_risk = f"{risk_text(other['risk_per_1000'])} writes per 1,000 at risk{_risk_parts(other)}"
    if delta < 0:
        return (
            f"{other['name']} would save {money(-delta)} a month ({money(-12 * delta)} "
            f"a year) but puts {at_risk}{scale}{_handed(other)}."
        )
    if other["risk_per_1000"] >= pick["risk_per_1000"]:
        more = f"costs {money(delta)} a month more" if delta > 0 else "costs the same"
        return f"{other['name']} {more} and is no safer: {at_risk}{_handed(other)}."
    saved = (pick.get("risk_per_month") or 0) - (other.get("risk_per_month") or 0)
    per = (
        f", {money(delta / saved)} per write at risk avoided"
        if saved and saved > 0 and delta > 0
        else ""
    )
    return (
        f"{other['name']} is safer still ({risk_text(other['risk_per_1000'])} per 1,000) "
        f"for {money(delta)} a month more{per}."
    )


def _closing(options: Sequence[Mapping[str, Any]], pick: Mapping[str, Any]) -> list[str]:
    """What the comparison as a whole leaves out or rests on."""
    reasons = []
    costs = [o["cost_usd_month"] for o in options]
    spread = max(costs) - min(costs)
    if max(costs) > 0 and spread <= 0.05 * max(costs):
        reasons.append(
            f"The monthly costs differ by at most {money(spread)} "
            f"({100 * spread / max(costs):.0f}% of the largest): the choice rests on risk "
            "and on costs the report does not have."
        )
    if pick.get("handoffs_per_day"):
        delay = pick.get("mean_handoff_delay_min")
        when = f", each about {delay:.0f} minutes later" if delay else ""
        reasons.append(
            f"{pick['name']} relies on colleagues: about "
            f"{pick['handoffs_per_day']:.0f} edits a working day are handed "
            f"over{when}; that people time is not in the bill."
        )
    return reasons


def recommend(options: Sequence[Mapping[str, Any]], max_risk_per_1000: float) -> dict[str, Any]:
    """Pick an option and say why, from each option's summary.

    Each summary needs ``name``, ``cost_usd_month``, ``risk_per_1000``, ``compliant``,
    ``broken_promises`` and may have ``risk_per_month`` (writes at risk a month),
    ``handoffs_per_day``, ``mean_handoff_delay_min`` and ``warnings`` (sentences shown
    beside the recommendation when that option is picked). Returns ``{"option": name or
    None, "reasons": [sentences, each said once], "warnings": [...], "eligible": [names],
    "front": [names]}``.
    """
    excluded = _exclusions(options)
    eligible = [o for o in options if all(o is not e for e, _ in excluded)]
    front_idx = pareto_front([(o["cost_usd_month"], o["risk_per_1000"]) for o in eligible])
    result: dict[str, Any] = {
        "option": None,
        "reasons": [],
        "warnings": [],
        "eligible": [o["name"] for o in eligible],
        "front": [eligible[i]["name"] for i in front_idx],
        "max_risk_per_1000": max_risk_per_1000,
    }
    if not eligible:
        result["reasons"] = [
            "No option can be recommended: "
            + "; ".join(f"{o['name']}: {', '.join(why)}" for o, why in excluded)
            + "."
        ]
        return result
    pick, runner_up, reasons = _pick(eligible, max_risk_per_1000)
    result["option"] = pick["name"]
    for other in sorted(eligible, key=lambda o: (o["cost_usd_month"], o["name"])):
        if other is not pick and other is not runner_up:  # the runner-up is told already
            reasons.append(_trade_off(other, pick))
    reasons += [
        f"{option['name']} is not considered: {'; '.join(why)}." for option, why in excluded
    ]
    reasons += _closing(options, pick)
    result["reasons"] = list(dict.fromkeys(reasons))
    result["warnings"] = list(pick.get("warnings") or [])
    return result
