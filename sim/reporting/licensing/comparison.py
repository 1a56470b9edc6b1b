"""The comparison: every option run on the same seeds, priced, judged, as plain data."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.reporting.licensing.costing import (
    LicenceCosting,
    fixed_licences_off_sale,
    license_option,
)
from sim.reporting.licensing.figures import (
    DATAVERSE_SYSTEMS,
    REQUESTS_PER_SAVE,
    RunFigures,
    mean_figures,
    run_option,
    working_days,
)
from sim.reporting.licensing.options import Option, load_options
from sim.reporting.licensing.recommendation import (
    DEFAULT_MAX_RISK_PER_1000,
    pareto_front,
    recommend,
)
from sim.reporting.licensing.sensitivity import candidate_entries, mix_text, rests_on
from sim.reporting.licensing.text import money, number
from sim.scenario.yamlio import InputError, load_yaml

WORKING_DAYS_PER_MONTH = 21
REPORT_FORMAT = "p2c-licensing-report/1"
IMAGES = {"cost_vs_risk": "cost_vs_risk.png", "cost_breakdown": "cost_breakdown.png"}


@dataclass
class OptionResult:
    """One option after its runs: per-seed figures, their means, its licence bill."""

    option: Option
    runs: list[RunFigures]
    figures: dict[str, float | None]
    licensing: LicenceCosting

    @property
    def broken_promises(self) -> list[str]:
        return sorted({name for run in self.runs for name in run.broken_promises})


@dataclass
class Comparison:
    """Every option of a scenario, run on the same seeds, priced and judged."""

    scenario: Any
    seeds: list[int]
    max_risk_per_1000: float
    results: list[OptionResult]
    recommendation: dict[str, Any]
    front: list[str]
    data: dict[str, Any]

    @property
    def failed(self) -> bool:
        """True when some option broke an invariant its design promises."""
        return any(result.broken_promises for result in self.results)

    def rows(self) -> list[dict[str, Any]]:
        """The options table: one flat dict per option (name, design, flags, figures)."""
        return [
            {
                "option": option["name"],
                "design": option["design"],
                "recommended": option["recommended"],
                "on_front": option["on_front"],
                "compliant": option["compliant"],
                **option["row"],
            }
            for option in self.data["options"]
        ]

    def frame(self):
        """The options table as a pandas DataFrame indexed by option (needs pandas)."""
        # Imported when used: p2c builds its parser from this package (p2c --help stays fast).
        import pandas as pd

        return pd.DataFrame(self.rows()).set_index("option")

    def to_json(self) -> dict[str, Any]:
        """Everything the report shows (the ``report.json``)."""
        return self.data

    def table_lines(self) -> list[str]:
        """The options table as plain text."""
        # Imported when used: p2c builds its parser from this package (p2c --help stays fast).
        from sim.reporting.summary import table

        header = [
            "option",
            "design",
            "$/month",
            "lost fields/1k",
            "confl/1k",
            "risk/1k",
            "p95 stale min",
            "blocked min",
            "handoffs",
            "refusals",
            "front",
        ]
        rows = []
        for option in self.data["options"]:
            row = option["row"]
            rows.append(
                [
                    option["name"],
                    option["design"],
                    money(row["cost_usd_month"]),
                    number(row["lost_per_1000"]),
                    number(row["conflicts_per_1000"]),
                    number(row["risk_per_1000"]),
                    number(row["p95_staleness_min"]),
                    number(row["blocked_user_minutes"]),
                    number(row["handoffs"], 0),
                    number(row["refusals"], 0),
                    "yes" if option["on_front"] else "",
                ]
            )
        return table(rows, header, "ll" + "r" * (len(header) - 2))


def _seeds(scenario: Any, seeds: int | Sequence[int]) -> list[int]:
    if isinstance(seeds, int):
        if seeds < 1:
            raise InputError("--seeds must be at least 1")
        return [scenario.spec.seed + i for i in range(seeds)]
    chosen = [int(seed) for seed in seeds]
    if not chosen:
        raise InputError("at least one seed is needed")
    return chosen


def compare_options(
    scenario: Any,
    seeds: int | Sequence[int] = 1,
    *,
    max_risk_per_1000: float = DEFAULT_MAX_RISK_PER_1000,
    progress: Callable[[str], None] | None = None,
) -> Comparison:
    """Run every option of ``scenario`` (a path or a loaded scenario) on the same seeds.

    ``seeds`` is a count (the scenario's seed and the next ones) or a list of seeds.
    """
    # Imported when used: p2c builds its parser from this package (p2c --help stays fast).
    from sim.scenario.spec import load_scenario

    linemap = None
    if isinstance(scenario, str | Path):
        path = Path(scenario)
        scenario = load_scenario(path)
        linemap = load_yaml(path)[1]
    if not (
        isinstance(max_risk_per_1000, int | float)
        and math.isfinite(max_risk_per_1000)
        and max_risk_per_1000 >= 0
    ):
        raise InputError(f"--max-risk must be a number >= 0, got {max_risk_per_1000!r}")
    chosen = _seeds(scenario, seeds)
    options = load_options(scenario, linemap)
    results = []
    for option in options:
        runs = []
        for seed in chosen:
            if progress is not None:
                progress(f"running option {option.name} ({option.design}), seed {seed}")
            runs.append(run_option(option, seed))
        results.append(OptionResult(option, runs, mean_figures(runs), _bill(option, runs)))
    data = _report_data(scenario, chosen, max_risk_per_1000, results)
    return Comparison(
        scenario,
        chosen,
        max_risk_per_1000,
        results,
        data["recommendation"],
        data["pareto_front"],
        data,
    )


def _bill(
    option: Option, runs: Sequence[RunFigures], book: Any = None, compare_fixed: bool = True
) -> LicenceCosting:
    """An option's licence bill (with ``book`` instead of the scenario's, if given), its
    requests per user taken on the busiest seed."""
    requests = {
        role: max(run.requests_per_user_per_day.get(role, 0.0) for run in runs)
        for role in option.scenario.spec.roles
    }
    integration = max(run.integration_requests_per_day for run in runs)
    return license_option(
        option.scenario,
        requests,
        integration,
        option.extra_costs,
        option.build,
        book=book,
        compare_fixed=compare_fixed,
    )


def _round(value: Any, digits: int = 3) -> Any:
    """JSON-friendly numbers: rounded floats, no NaN or infinities."""
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return round(value, digits)
    if isinstance(value, dict):
        return {key: _round(inner, digits) for key, inner in value.items()}
    if isinstance(value, list | tuple):
        return [_round(inner, digits) for inner in value]
    return value


def _role_changes(changes: Mapping[str, Mapping[str, Any]]) -> list[dict[str, str]]:
    """An option's role overrides as readable lines: role, key, new value."""
    out = []

    def walk(role: str, path: str, value: Any) -> None:
        if isinstance(value, dict) and value:
            for key, inner in value.items():
                walk(role, f"{path}.{key}" if path else str(key), inner)
        else:
            text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
            out.append({"role": role, "key": path, "value": text})

    for role, change in changes.items():
        walk(role, "", change)
    return out


def _project_relative(path: Path | None) -> str | None:
    """A path as the user gave it, relative to where they ran ``p2c report`` when it lies
    below it (stable across machines for a report made from the project's root)."""
    if path is None:
        return None
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _licence_issues(roles: Sequence[Mapping[str, Any]]) -> list[str]:
    """Why an option's fixed licences fall short, one phrase per role."""
    issues = []
    for role in roles:
        parts = []
        if role["missing"]:
            parts.append("no right to " + ", ".join(role["missing"]))
        if role["problems"]:
            parts.append("not a valid licence set: " + "; ".join(role["problems"]))
        if parts and role["headcount"]:
            issues.append(f"{role['role']}: {', '.join(parts)}")
    return issues


def is_custom_design(design: Any) -> bool:
    """A design no product provides, built as a custom integration. The design catalogue
    marks these with ``exempt_from_operations_throttling: false`` (Operations throttles
    custom integrations; Data Integrator and dual-write are exempt)."""
    return not design.exempt_from_operations_throttling


def _mean_explained(runs: Sequence[RunFigures]) -> list[dict[str, Any]]:
    """Each explained count (kind, role, entity) as its mean over the seeds."""
    total: dict[tuple[str, str, str], dict[str, Any]] = {}
    for run in runs:
        for row in run.explained:
            key = (row["kind"], row["role"], row["entity"])
            entry = total.setdefault(key, {**row, "count": 0.0})
            entry["count"] += row["count"] / len(runs)
    return list(total.values())


def _build_warning(option: Mapping[str, Any]) -> list[str]:
    if not option["custom_design"] or option["licences"]["build"] is not None:
        return []
    return [
        f"{option['name']} uses {option['design']}, a custom integration (no product "
        "provides it), but the option gives no build or run cost: its "
        f"{money(option['row']['cost_usd_month'])} a month is licences only. Building and "
        "running it is not free; give the option a build: {one_off_usd, run_usd_year, "
        "amortise_years, basis} before relying on this comparison."
    ]


def _option_entry(result: OptionResult, days: float) -> dict[str, Any]:
    """One option as the report shows it (``on_front`` and ``recommended`` set later)."""
    option, figures, costing = result.option, result.figures, result.licensing
    writes_per_day = (figures["writes"] or 0.0) / days
    risk = figures["risk_per_1000"]
    per_month = None if risk is None else risk / 1000.0 * writes_per_day * WORKING_DAYS_PER_MONTH
    row = {
        "cost_usd_month": costing.cost_usd_month,
        "cost_usd_year": costing.cost_usd_year,
        "licences_usd_month": costing.licences_usd_month,
        "build_usd_month": costing.build["usd_month"] if costing.build else None,
    }
    row.update(
        {
            key: figures[key]
            for key in (
                "lost_per_1000",
                "conflicts_per_1000",
                "abandoned_per_1000",
                "risk_per_1000",
            )
        }
    )
    row["risk_per_month"] = per_month
    row.update(
        {
            key: figures[key]
            for key in ("p95_staleness_min", "blocked_user_minutes", "handoffs", "refusals")
        }
    )
    risks = [
        run.figures["risk_per_1000"]
        for run in result.runs
        if run.figures["risk_per_1000"] is not None
    ]
    return {
        "name": option.name,
        "description": option.description,
        "design": option.design,
        "design_description": option.scenario.design.description,
        "custom_design": is_custom_design(option.scenario.design),
        "role_changes": _role_changes(option.roles),
        "row": row,
        "risk_range_per_1000": [min(risks), max(risks)] if risks else None,
        "figures": figures,
        "compliant": costing.compliant,
        "broken_promises": result.broken_promises,
        "on_front": False,
        "recommended": False,
        "licences": _licences_entry(costing),
        "runs": [_run_entry(run) for run in result.runs],
        "notes": list(
            dict.fromkeys(
                [*option.notes, *costing.notes, *(p for run in result.runs for p in run.problems)]
            )
        ),
        "handoffs_per_day": (figures["handoffs"] or 0.0) / days,
        "explained": _mean_explained(result.runs),
    }


def _licences_entry(costing: LicenceCosting) -> dict[str, Any]:
    return {
        "roles": [
            {
                "role": r.role,
                "headcount": r.headcount,
                "fixed": r.fixed,
                "lines": r.lines,
                "per_user_usd_month": r.per_user_usd_month,
                "cost_usd_month": r.cost_usd_month,
                "required": r.required,
                "compliant": r.compliant,
                "missing": r.missing,
                "problems": r.problems,
                "cheapest": r.cheapest,
                "cheapest_per_user_usd_month": r.cheapest_per_user_usd_month,
                "requests_per_user_per_day": r.requests_per_user_per_day,
                "requests_entitled_per_user_per_day": r.requests_entitled_per_user_per_day,
                "over_entitlement": r.over_entitlement,
            }
            for r in costing.roles
        ],
        "seats": costing.seats,
        "padding_usd_month": costing.padding_usd_month,
        "licences_usd_month": costing.licences_usd_month,
        "extra_costs": costing.extra_costs,
        "build": costing.build,
        "cost_usd_month": costing.cost_usd_month,
        "cost_usd_year": costing.cost_usd_year,
        "pool_requests_per_day": costing.pool_requests_per_day,
        "integration_requests_per_day": costing.integration_requests_per_day,
        "pool_exceeded": costing.integration_requests_per_day > costing.pool_requests_per_day,
        "notes": costing.notes,
    }


def _run_entry(run: RunFigures) -> dict[str, Any]:
    return {
        "seed": run.seed,
        "trace_sha256": run.trace_sha256,
        "quiescent": run.quiescent,
        "figures": run.figures,
        "invariants": run.invariants,
        "broken_promises": run.broken_promises,
        "examples": run.examples,
        "problems": run.problems,
        "requests_per_user_per_day": run.requests_per_user_per_day,
        "integration_requests_per_day": run.integration_requests_per_day,
    }


def _summary(option: Mapping[str, Any]) -> dict[str, Any]:
    """What :func:`recommend` needs of one option."""
    row = option["row"]
    return {
        "name": option["name"],
        "cost_usd_month": row["cost_usd_month"],
        "risk_per_1000": row["risk_per_1000"],
        "risk_per_month": row["risk_per_month"],
        "lost_per_1000": row["lost_per_1000"],
        "conflicts_per_1000": row["conflicts_per_1000"],
        "abandoned_per_1000": row["abandoned_per_1000"],
        "compliant": option["compliant"],
        "broken_promises": option["broken_promises"],
        "licence_issues": _licence_issues(option["licences"]["roles"]),
        "handoffs_per_day": option["handoffs_per_day"],
        "mean_handoff_delay_min": option["figures"]["mean_handoff_delay_min"],
        "warnings": _build_warning(option),
    }


def _repriced(
    results: Sequence[OptionResult], options: Sequence[Mapping[str, Any]], book: Any
) -> list[dict[str, Any]]:
    """Each option's summary (as :func:`recommend` takes it) with its bill in ``book``.
    An option fixing a licence ``book`` does not sell cannot be priced: not compliant."""
    summaries = []
    for result, option in zip(results, options, strict=True):
        off_sale = fixed_licences_off_sale(result.option.scenario, book)
        if off_sale:
            summaries.append(
                {
                    **_summary(option),
                    "compliant": False,
                    "not_priced": True,
                    "mix": None,
                    "licence_issues": [f"it fixes {', '.join(off_sale)}, not on sale then"],
                }
            )
            continue
        costing = _bill(result.option, result.runs, book, compare_fixed=False)
        entry = {
            **option,
            "compliant": costing.compliant,
            "row": {**option["row"], "cost_usd_month": costing.cost_usd_month},
            "licences": {**option["licences"], "roles": _licences_entry(costing)["roles"]},
        }
        summaries.append({**_summary(entry), "mix": mix_text(costing.seats)})
    return summaries


def _rests_on(
    scenario: Any,
    results: Sequence[OptionResult],
    options: Sequence[Mapping[str, Any]],
    max_risk: float,
) -> list[dict[str, Any]]:
    """The unverified price-book entries the recommendation rests on (see
    :mod:`sim.reporting.licensing.sensitivity`)."""
    book = scenario.price_book
    entries = candidate_entries(book, [o["licences"]["seats"] for o in options])
    now = [{**_summary(o), "mix": mix_text(o["licences"]["seats"])} for o in options]
    return rests_on(
        book, entries, lambda variant: _repriced(results, options, variant), now, max_risk
    )


def _prices_used(book: Any, options: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every licence some option holds, with its price, confidence and source."""
    used_skus = sorted(
        {line["sku"] for o in options for r in o["licences"]["roles"] for line in r["lines"]}
    )
    prices = []
    for sku_id in used_skus:
        sku = book.sku(sku_id)
        entry = {
            "sku": sku_id,
            "name": sku.name,
            "price_usd_month": book.price_usd_month(sku_id),
            "list_price_usd_month": book.list_price_usd_month(sku_id),
            "confidence": sku.confidence,
            "source": sku.source,
            "min_seats": sku.min_seats,
            "min_seats_confidence": sku.min_seats_confidence,
            "min_seats_source": sku.min_seats_source,
            "requests_per_day": sku.requests_per_day,
            "attach": None,
        }
        if sku.attach is not None:
            entry["attach"] = {
                "price_usd_month": book.price_usd_month(sku_id, "attach"),
                "confidence": sku.attach.confidence,
                "source": sku.attach.source,
            }
        prices.append(entry)
    return prices


def _provenance(
    scenario: Any, seeds: list[int], max_risk: float, options: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    # Imported when used: p2c builds its parser from this package (p2c --help stays fast).
    from sim.engine.runner import code_commit, package_versions

    book = scenario.price_book
    source = str(scenario.path) if scenario.path is not None else None
    consecutive = seeds == [scenario.spec.seed + i for i in range(len(seeds))]
    return {
        "seeds": seeds,
        "commit": code_commit(),
        "packages": package_versions(),
        "price_book": {
            "era": book.era,
            "title": book.title,
            "as_of": str(book.as_of),
            "licensing_model": book.licensing_model,
            "file": _project_relative(Path(book.source) if book.source else None),
            "billed_monthly": book.billed_monthly,
            "billing_uplift_fraction": book.billing_uplift_fraction,
            "requests_source": book.requests.source,
        },
        "overrides": [
            {"price": key, "list_usd_month": old, "negotiated_usd_month": new}
            for key, (old, new) in book.overridden.items()
        ],
        "prices": _prices_used(book, options),
        "reproduce": (
            f"p2c report {source} --seeds {len(seeds)} --max-risk {max_risk:g}"
            if source and consecutive
            else None
        ),
    }


def _report_data(
    scenario: Any, seeds: list[int], max_risk: float, results: Sequence[OptionResult]
) -> dict[str, Any]:
    """The whole report as plain data: what report.json holds and the page shows."""
    days = working_days(scenario.spec.duration_days)
    options = [_option_entry(result, days) for result in results]
    front_idx = pareto_front(
        [(o["row"]["cost_usd_month"], o["row"]["risk_per_1000"]) for o in options]
    )
    for i in front_idx:
        options[i]["on_front"] = True
    for option in options:
        option["warnings"] = _build_warning(option)
    recommendation = recommend([_summary(o) for o in options], max_risk)
    recommendation["rests_on"] = _rests_on(scenario, results, options, max_risk)
    for option in options:
        option["recommended"] = option["name"] == recommendation["option"]
    data = {
        "format": REPORT_FORMAT,
        "title": f"Licensing decision: {scenario.name}",
        "scenario": {
            "name": scenario.name,
            "description": scenario.spec.description,
            "file": str(scenario.path) if scenario.path is not None else None,
            "sha256": scenario.sha256(),
            "duration_days": scenario.spec.duration_days,
            "working_days": days,
            "headcount": sum(role.headcount for role in scenario.spec.roles.values()),
            "roles": [
                {
                    "role": name,
                    "headcount": role.headcount,
                    "home_system": role.home_system,
                    "description": role.description,
                }
                for name, role in scenario.spec.roles.items()
            ],
        },
        "seeds": seeds,
        "max_risk_per_1000": max_risk,
        "options": options,
        "pareto_front": [options[i]["name"] for i in front_idx],
        "recommendation": recommendation,
        "images": dict(IMAGES),
        "method": {
            "requests_per_save": REQUESTS_PER_SAVE,
            "dataverse_systems": list(DATAVERSE_SYSTEMS),
            "working_days_per_month": WORKING_DAYS_PER_MONTH,
            "risk": "lost + conflicting + abandoned edits per 1,000 accepted user saves",
            "cost": "licences + build and run (one-off cost spread over the option's stated "
            "years, plus yearly running cost) + extra costs, per month",
            "staleness": "larger p95 propagation delay of account changes between Sales "
            "and Operations",
        },
        "provenance": _provenance(scenario, seeds, max_risk, options),
    }
    return _round(data)
