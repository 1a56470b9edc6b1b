"""One run of one option: the figures a decision rests on (risk, friction, requests)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sim.reporting.licensing.options import Option

#: Requests one user save attempt costs: the read that opened the form, and the write.
REQUESTS_PER_SAVE = 2
#: Systems on Dataverse, whose requests count against Power Platform entitlements.
DATAVERSE_SYSTEMS = ("sales", "hub")
#: The systems people work in; staleness is measured between them.
USER_SYSTEMS = ("sales", "operations")


@dataclass
class RunFigures:
    """The figures of one option under one seed (flat, JSON-friendly)."""

    seed: int
    trace_sha256: str
    quiescent: bool
    figures: dict[str, float | None]
    requests_per_user_per_day: dict[str, float]
    integration_requests_per_day: float
    invariants: dict[str, dict[str, Any]]
    broken_promises: list[str]
    examples: list[str]
    problems: list[str]
    explained: list[dict[str, Any]] = field(default_factory=list)


def working_days(duration_days: float) -> float:
    """Working days (Monday to Friday; a run starts on a Monday) in a run's duration."""
    whole = math.ceil(duration_days)
    days = sum(min(1.0, duration_days - day) for day in range(whole) if day % 7 < 5)
    return max(days, 1e-9)


def _per_1000(count: float, writes: float) -> float | None:
    return 1000.0 * count / writes if writes else None


def account_staleness_p95_s(metrics: Mapping[str, float]) -> float | None:
    """The larger p95 propagation delay of customer (account) changes between the two
    systems people work in (the hub is a stop on the way, not a destination)."""
    values = []
    prefix = "propagation_p95_s.account:"
    for key, value in metrics.items():
        if key.startswith(prefix):
            origin, _, target = key[len(prefix) :].partition("->")
            if origin in USER_SYSTEMS and target in USER_SYSTEMS:
                values.append(value)
    return max(values) if values else None


def figures_from_run(
    metrics: Mapping[str, float], lost_updates: float | None
) -> dict[str, float | None]:
    """The report's figures from a run's metrics and the checker's lost-update count."""
    get = metrics.get
    writes = float(get("writes", 0.0))
    lost = lost_updates
    conflicts = float(get("conflicts", 0.0))
    abandoned = (
        float(get("handoffs_abandoned", 0.0))
        + float(get("licence_refusals", 0.0))
        + float(get("lock_abandoned", 0.0))
    )
    handoffs = float(get("handoffs", 0.0)) + float(get("licence_handoffs", 0.0))
    handoff_delay_s = float(get("handoff_delay_s", 0.0)) + float(
        get("licence_handoff_delay_s", 0.0)
    )
    staleness = account_staleness_p95_s(metrics)
    at_risk = None if lost is None else lost + conflicts + abandoned
    return {
        "writes": writes,
        "lost_updates": lost,
        "conflicts": conflicts,
        "abandoned_edits": abandoned,
        "lost_per_1000": None if lost is None else _per_1000(lost, writes),
        "conflicts_per_1000": _per_1000(conflicts, writes),
        "abandoned_per_1000": _per_1000(abandoned, writes),
        "risk_per_1000": None if at_risk is None else _per_1000(at_risk, writes),
        "p95_staleness_min": None if staleness is None else staleness / 60.0,
        "blocked_user_minutes": float(get("blocked_user_s", 0.0)) / 60.0,
        "handoffs": handoffs,
        "design_handoffs": float(get("handoffs", 0.0)),
        "licence_handoffs": float(get("licence_handoffs", 0.0)),
        "mean_handoff_delay_min": handoff_delay_s / handoffs / 60.0 if handoffs else None,
        "refusals": float(get("saves_rejected", 0.0)) + float(get("licence_refusals", 0.0)),
        "saves_refused": float(get("saves_rejected", 0.0)),
        "licence_refusals": float(get("licence_refusals", 0.0)),
    }


def request_counts(
    events: Sequence[Mapping[str, Any]], headcounts: Mapping[str, int]
) -> tuple[dict[str, float], float]:
    """Requests per user per day for each role, and integration requests per day.

    The busiest simulated day counts (entitlements are per rolling 24 hours). A role's
    figure is that day's save attempts by the role times :data:`REQUESTS_PER_SAVE`,
    divided by its headcount; the integration's is the applies by maps into Dataverse
    systems that day.
    """
    saves: Counter[tuple[str, int]] = Counter()
    integration: Counter[int] = Counter()
    for event in events:
        kind = event["kind"]
        if kind == "write":
            role = event["role"]
            if role != "migration":
                saves[(role, int(event["t"] // 86_400))] += 1
        elif kind == "apply" and event["via"] != "user" and event["system"] in DATAVERSE_SYSTEMS:
            if event["t"] > 0:  # the initial load is a migration, not daily traffic
                integration[int(event["t"] // 86_400)] += 1
    per_user = {}
    for role, headcount in headcounts.items():
        busiest = max((n for (r, _), n in saves.items() if r == role), default=0)
        per_user[role] = REQUESTS_PER_SAVE * busiest / headcount if headcount else 0.0
    return per_user, float(max(integration.values(), default=0))


#: What each counted edit that did not happen as asked was, in the words of the report:
#: ``(metric prefix, column it adds to, sentence)``.
EXPLAINED = (
    ("handoffs", "handoffs", "handed to a colleague: the design refused the save there"),
    (
        "licence_handoffs",
        "handoffs",
        "handed to a colleague: the user's licences do not allow the save",
    ),
    ("saves_rejected", "refusals", "refused by the system (read-only, a changed row, ...)"),
    (
        "licence_refusals",
        "refusals and abandoned",
        "never made: no licensed colleague took it over, or the user gave up",
    ),
    ("handoffs_abandoned", "abandoned", "never made: the user gave up the handoff"),
)


def explain_counts(
    metrics: Mapping[str, float], events: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Handoffs, refusals and abandoned edits by the role that asked and the entity:
    ``[{"kind", "adds_to", "what", "role", "entity", "count"}]``, largest first.

    The engine counts handoffs and licence outcomes per ``<role>.<entity>``; refusals by
    the system are read from the history (each ``reject`` names a write, whose ``write``
    event names the role).
    """
    counted: Counter[tuple[str, str, str]] = Counter()
    for kind, _, _ in EXPLAINED:
        if kind == "saves_rejected":
            continue
        for key, value in metrics.items():
            role, _, entity = key[len(kind) + 1 :].partition(".")
            if key.startswith(kind + ".") and entity and "." not in entity and value:
                counted[(kind, role, entity)] += int(value)
    role_of: dict[str, str] = {}
    for event in events:
        if event["kind"] == "write":
            role_of[event["write_id"]] = event["role"]
        elif event["kind"] == "reject":
            role = role_of.get(event["write_id"], "unknown")
            counted[("saves_rejected", role, event["entity"])] += 1
    words = {kind: (adds_to, what) for kind, adds_to, what in EXPLAINED}
    order = [kind for kind, _, _ in EXPLAINED]
    return [
        {
            "kind": kind,
            "adds_to": words[kind][0],
            "what": words[kind][1],
            "role": role,
            "entity": entity,
            "count": count,
        }
        for (kind, role, entity), count in sorted(
            counted.items(),
            key=lambda item: (order.index(item[0][0]), -item[1], item[0][1], item[0][2]),
        )
    ]


def run_option(option: Option, seed: int) -> RunFigures:
    """Run one option with one seed, check its history, and take its figures."""
    # Imported when used: p2c builds its parser from this package (p2c --help stays fast).
    from sim.engine.runner import run_scenario

    result = run_scenario(option.scenario, seed, keep_events=True)
    events = result.events or []
    problems: list[str] = []
    invariants: dict[str, dict[str, Any]] = {}
    broken: list[str] = []
    examples: list[str] = []
    lost: float | None = None
    try:
        # Imported when used: p2c builds its parser from this package (p2c --help stays fast).
        from sim.checker import check_history

        check = check_history(events)
    except Exception as exc:  # the checker is young: a report still says what it can
        problems.append(f"the checker failed on this run: {type(exc).__name__}: {exc}")
        check = None
    if check is not None:
        result.check = check
        invariants.update(check.counts())
        broken = list(check.broken_promises)
        verdict = check.verdicts.get("no_lost_update")
        if verdict is not None and verdict.status == "unknown":
            problems.append(
                f"seed {seed}: lost updates could not be judged ({verdict.note}); "
                "the option's risk is left unmeasured"
            )
        elif verdict is not None:
            lost = float(verdict.violations + verdict.sanctioned)
            examples += [a.explain() for a in verdict.anomalies[:3]]
        for name in broken:
            examples += [a.explain() for a in check.verdicts[name].anomalies[:2]]
        problems += list(check.problems)
    if not result.quiescent:
        problems.append(
            f"seed {seed}: the run did not drain within quiescence_max_s "
            f"({option.scenario.spec.quiescence_max_s:g} s)"
        )
    headcounts = {name: role.headcount for name, role in option.scenario.spec.roles.items()}
    per_user, integration = request_counts(events, headcounts)
    return RunFigures(
        seed=seed,
        trace_sha256=result.trace_sha256,
        quiescent=result.quiescent,
        figures=figures_from_run(result.metrics, lost),
        requests_per_user_per_day=per_user,
        integration_requests_per_day=integration,
        invariants=invariants,
        broken_promises=broken,
        examples=examples,
        problems=problems,
        explained=explain_counts(result.metrics, events),
    )


def mean_figures(runs: Sequence[RunFigures]) -> dict[str, float | None]:
    """Each figure's mean over the seeds (None when no seed had it)."""
    keys = list(runs[0].figures) if runs else []
    out: dict[str, float | None] = {}
    for key in keys:
        values = [v for run in runs if (v := run.figures[key]) is not None]
        out[key] = sum(values) / len(values) if values else None
    return out
