"""The readable summary a run prints: what happened, in the words of the business."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from models.clock import format_t
from sim.checker.wording import value_words


def table(rows: list[list[str]], header: list[str], align: str | None = None) -> list[str]:
    """A plain-text table; ``align`` is one letter per column, ``l`` or ``r``."""
    align = align or "l" + "r" * (len(header) - 1)
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def fmt(row: list[str]) -> str:
        cells = [
            str(c).ljust(w) if a == "l" else str(c).rjust(w)
            for c, w, a in zip(row, widths, align, strict=True)
        ]
        return "  ".join(cells).rstrip()

    return [fmt(header), "  ".join("-" * w for w in widths), *(fmt(r) for r in rows)]


def _flows(metrics: dict[str, float]) -> list[str]:
    prefix = "propagation_p50_s."
    return [k[len(prefix) :] for k in metrics if k.startswith(prefix)]


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def overwrite_lines(events: Iterable[dict[str, Any]], limit: int = 5) -> list[str]:
    """The first overwritten user edits, explained from the history's overwrite events."""
    writes: dict[str, dict[str, Any]] = {}
    order: dict[str, int] = {}  # write id -> position in save order
    lines: list[str] = []
    seen: set[str] = set()
    last_apply: dict[str, Any] = {}
    for event in events:
        kind = event["kind"]
        if kind == "write":
            writes[event["write_id"]] = event
            order[event["write_id"]] = len(order)
        elif kind == "apply":
            last_apply = event
        elif kind == "overwrite" and event["lost_write"] not in seen:
            lost = writes.get(event["lost_write"])
            if lost is None or lost["role"] == "migration":
                continue
            seen.add(event["lost_write"])
            field = event["field"]
            by = event["by_write"]
            via = event["via"]
            how = (
                "a save"
                if via == "user"
                else f"batch run {via}"
                if "#" in via
                else f"the sync {via}"
            )
            line = (
                f"{lost['write_id']} ({lost['actor']} set {lost['entity']} {lost['key']} "
                f"{field} {lost['fields'].get(field)!r} at {format_t(lost['t'])} in "
                f"{lost['system']}) was overwritten at {format_t(event['t'])} in "
                f"{event['system']} by {how} carrying {_write_words(writes.get(by), by, field)}"
                ", whose base did not include it"
            )
            if via != "user":
                carried = list((last_apply.get("fields") or {}).values())
                trigger = max(carried, key=lambda w: order.get(w, -1), default=by)
                record = f"{lost['entity']} {lost['key']}"
                what = "the run" if "#" in via else "the sync"
                if trigger != by and trigger in writes:
                    line += (
                        f"; {what} carried {record} because of "
                        f"{_write_words(writes[trigger], trigger)}"
                    )
                elif by in writes:
                    line += f"; {what} carried {record} because of {by} itself"
            lines.append(line + ".")
            if len(lines) >= limit:
                break
    return lines


def _write_words(write: dict[str, Any] | None, write_id: str, field: str | None = None) -> str:
    """``W-x (actor set entity KEY field value at day D HH:MM)``, as the checker says it."""
    if write is None:
        return write_id
    fields = write["fields"]
    shown = {field: fields[field]} if field is not None and field in fields else fields
    what = ", ".join(f"{f} {value_words(v)}" for f, v in shown.items())
    return (
        f"{write_id} ({write['actor']} set {write['entity']} {write['key']} {what} at "
        f"{format_t(write['t'])})"
    )


def summary_lines(result: Any, scenario: Any) -> list[str]:
    """The run summary: writes, batch runs, records moved, overwrites, delays per flow."""
    m = result.metrics
    lines = [
        f"p2c run: {result.scenario}  design {result.design}  seed {result.seed}",
        f"  simulated {_duration(result.end_s)} "
        f"({'reached quiescence' if result.quiescent else 'DID NOT reach quiescence'}); "
        f"{result.event_count:,} history events; trace {result.trace_sha256[:16]}",
        "",
    ]
    by_entity: Counter[tuple[str, str]] = Counter()
    for key, value in m.items():
        if key.startswith("writes.") and key.count(".") == 2:
            _, system, entity = key.split(".")
            by_entity[(entity, system)] += int(value)
    systems = list(scenario.design.systems)
    entities = sorted({e for e, _ in by_entity}, key=scenario.catalogue.names().index)
    rows = [
        [e, *(f"{by_entity[(e, s)]:,}" if by_entity[(e, s)] else "." for s in systems)]
        for e in entities
    ]
    lines.append(
        f"User saves by entity and system ({int(m.get('writes', 0)):,} accepted, "
        f"{int(m.get('saves_rejected', 0)):,} refused):"
    )
    lines += ["  " + x for x in table(rows, ["entity", *systems])]
    lines.append("")
    lines.append(
        f"Batch runs: {int(m.get('batch_runs', 0)):,} over {len(scenario.design.maps)} "
        f"maps; records moved: {int(m.get('rows_moved', 0)):,}"
    )
    overwritten = int(m.get("overwritten_writes", 0))
    lines.append(
        f"Overwritten writes: {overwritten:,} saves had a field replaced by a "
        "version that never saw it:"
    )
    for where, count in sorted(result.overwrites_by.items(), key=lambda kv: (-kv[1], kv[0])):
        lines.append(f"  {count:>5,}  {where}")
    lines.append("")
    entitled = sorted(
        k.split(".", 1)[1] for k in m if k.startswith("entitlement_per_user_per_24h.")
    )
    if entitled or "integration_entitlement_per_24h" in m:
        lines.append("Requests per 24 h (busiest day) against licence entitlements:")
        for role in entitled:
            used = m.get(f"requests_per_user_per_24h.{role}", 0.0)
            lines.append(
                f"  {role}: {used:,.0f} per user of "
                f"{m[f'entitlement_per_user_per_24h.{role}']:,.0f}"
            )
        if "integration_entitlement_per_24h" in m:
            lines.append(
                f"  integration (tenant pool): {m['integration_requests_per_24h']:,.0f} "
                f"of {m['integration_entitlement_per_24h']:,.0f}"
            )
        lines.append("")
    flows = _flows(m)
    if flows:
        rows = [
            [
                flow,
                _minutes(m[f"propagation_p50_s.{flow}"]),
                _minutes(m[f"propagation_p95_s.{flow}"]),
                _minutes(m[f"propagation_p99_s.{flow}"]),
                f"{int(m[f'propagation_count.{flow}']):,}",
            ]
            for flow in flows
            if "->hub" not in flow
        ]
        lines.append("Propagation delay per flow (save to first apply at the destination):")
        lines += [
            "  " + x for x in table(rows, ["flow", "p50 (min)", "p95 (min)", "p99 (min)", "writes"])
        ]
    return lines


def _minutes(seconds: float) -> str:
    """A delay in minutes, the one unit every command's tables use for delays."""
    return f"{seconds / 60.0:,.1f}"


class ScriptedWrites:
    """The writes :func:`scripted_lines` could match, kept while a run is recorded.

    ``p2c run`` keeps no event of its run: it hands each block of events to
    :meth:`watch` (as the recorder hands them to the checker) and keeps only the writes
    that have a scripted save's role, system, entity and record, at or after its time,
    in history order. :func:`scripted_lines` on :attr:`writes` then says what it says on
    the whole history, with memory for a handful of writes instead of every event.
    """

    def __init__(self, scenario: Any) -> None:
        scripted = list(getattr(scenario.spec, "scripted", None) or ())
        # (role, system, entity, key) -> the earliest time a scripted save of it is due.
        self._due: dict[tuple[Any, Any, Any, Any], float] = {}
        for action in scripted:
            where = (action.role, action.system, action.entity, action.key)
            self._due[where] = min(self._due.get(where, action.at_s), action.at_s)
        self.writes: list[dict[str, Any]] = []

    def watch(self, events: Iterable[dict[str, Any]]) -> None:
        """Keep the next block's writes that a scripted save could be."""
        due = self._due
        if not due:
            return
        for event in events:
            if event["kind"] != "write":
                continue
            at_s = due.get((event.get("role"), event["system"], event["entity"], event["key"]))
            if at_s is not None and event["t"] >= at_s:
                self.writes.append(event)


def scripted_lines(
    scenario: Any, events: Iterable[dict[str, Any]] | None, report: Any, limit: int = 3
) -> list[str]:
    """The scenario's scripted saves (the incidents it was written to replay), each with
    the anomalies the checker found that name it, or that none does.

    A scripted save is found in the history as the first write of its role (and actor,
    when named), system, record and fields at or after its time.
    """
    scripted = list(getattr(scenario.spec, "scripted", None) or ())
    if not scripted or events is None or report is None:
        return []
    writes = [e for e in events if e["kind"] == "write" and e.get("role") != "migration"]
    naming: dict[str, list[Any]] = {}
    for verdict in report.verdicts.values():
        for anomaly in verdict.anomalies:
            for write_id in anomaly.write_ids[:1]:
                naming.setdefault(write_id, []).append(anomaly)
    lines = [f"Scripted saves ({len(scripted)}), and what the checker says of each:"]
    for action in scripted:
        # The earliest such write at or after its time (a lock or a synchronous save
        # may hold it back).
        match = next(
            (
                w
                for w in writes
                if w["t"] >= action.at_s
                and w["system"] == action.system
                and w["entity"] == action.entity
                and w["key"] == action.key
                and set(w["fields"]) == set(action.fields)
                and (action.actor is None or w["actor"] == action.actor)
                and w["role"] == action.role
            ),
            None,
        )
        # The actor who saved it (as the checker's explanations name them), or the one
        # the script named, or its role when any of the role's users could have.
        who = match["actor"] if match is not None else (action.actor or action.role)
        what = (
            f"{who} set {action.entity} {action.key} "
            f"{', '.join(f'{k} {v!r}' for k, v in action.fields.items())} in "
            f"{action.system} at {format_t(action.at_s)}"
        )
        if match is None:
            lines.append(f"  - {what}: not saved (refused, handed off or never reached)")
            continue
        found = naming.get(match["write_id"], [])
        if not found:
            lines.append(f"  - {match['write_id']} ({what}): no invariant names it")
            continue
        for anomaly in found[:limit]:
            kind = "sanctioned" if anomaly.sanctioned else "VIOLATION"
            lines.append(f"  - {anomaly.invariant} ({kind}): {anomaly.explain()}")
        if len(found) > limit:
            lines.append(f"    ... and {len(found) - limit} more naming {match['write_id']}")
    return lines
