"""``p2c calibrate``: an organisation (a scenario) fitted to one or more audit exports.

Logic lives here, in its own package ``sim/calibration/`` (not ``sim/study/``, which
compares and sweeps runs of scenarios that already exist): calibration reads a
customer's data and writes a scenario, upstream of every run.

What is fitted, from the rows of :mod:`sim.calibration.audit`'s shape:

- **transactions**: rows of one user with the same timestamp are one action (a quote
  and its lines; an invoice, its lines and the order marked Invoiced); each is named by
  the workload action that makes it (:func:`classify`);
- **roles**: from ``--roles users.csv`` (``user,role``), else by clustering users on
  what they do and where (the share of each action kind, greedy in user order, joined
  when the total-variation distance to a cluster's mean is under 0.35);
- per role: **headcount** (users seen), **home system**, **action rates** per user per
  working hour, **working hours** (the 0.5-99.5% range of the actions' time of day,
  rounded to whole hours), **workdays** (days holding >= 2% of the actions), an
  **hourly profile** when a chi-square test rejects a flat day at 1%, and a
  **month-end factor** when the data span a month end;
- **initial data**: records of each entity that were touched but not created in the
  export, scaled up for the records never touched (picks uniform over N records:
  distinct d after n picks has mean N(1-(1-1/N)^n), solved for N).

Every fitted number is written with a comment giving its sample size. What an export
cannot show gets a default that says so: how long forms stay open, the design, time
zones (timestamps are UTC), actions that found nothing to do, users who never saved.
"""

from __future__ import annotations

import calendar
import csv
import json
import math
import tempfile
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from models.entities import STANDARD_ENTITIES
from sim.calibration.audit import stamp
from sim.engine.runner import run_scenario
from sim.scenario.spec import load_scenario
from sim.scenario.yamlio import InputError

REQUIRED = ("createdon", "userid", "objecttypecode", "objectid", "operation")
KNOWN_ENTITIES = tuple(e.name for e in STANDARD_ENTITIES)
_CREATE = {"create": "create", "insert": "create", "1": "create"}
_UPDATE = {"update": "update", "2": "update"}
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
ACCOUNT_CONTACT = frozenset({"phone", "city", "name"})
MONTH_END_DAYS = 3


@dataclass(slots=True)
class Row:
    when: datetime
    system: str
    user: str
    entity: str
    key: str
    op: str
    fields: tuple[str, ...]
    values: dict


@dataclass(slots=True)
class Transaction:
    when: datetime
    system: str
    user: str
    action: str
    rows: list[Row] = field(default_factory=list)


# ------------------------------------------------------------------ reading


def read_exports(paths, system: str | None = None) -> list[Row]:
    """Every row of every export, checked; a bad one raises ``file:line: what``."""
    rows: list[Row] = []
    for path in paths:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise InputError(f"{path}: no such file") from None
        except UnicodeDecodeError:
            raise InputError(f"{path}:1: not a UTF-8 CSV file") from None
        reader = csv.DictReader(text.splitlines())
        header = reader.fieldnames or []
        if not header:
            raise InputError(
                f"{path}:1: empty file (expected a header: {', '.join(REQUIRED)}, ...)"
            )
        missing = [c for c in REQUIRED if c not in header]
        if missing:
            raise InputError(
                f"{path}:1: missing column(s) {', '.join(missing)} (header: {', '.join(header)})"
            )
        if "system" not in header and system is None:
            raise InputError(
                f"{path}:1: no system column: say which system the export "
                "is from (--system sales|operations)"
            )
        before = len(rows)
        for line, record in enumerate(reader, start=2):
            rows.append(_row(path, line, record, system))
        if len(rows) == before:
            raise InputError(f"{path}:2: no rows after the header (an empty export)")
    rows.sort(key=lambda r: (r.when, r.user, r.system))
    return rows


def _row(path: Path, line: int, record: dict, system: str | None) -> Row:
    where = f"{path}:{line}"
    text = (record.get("createdon") or "").strip()
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(
            f"{where}: createdon: unparseable date {text!r} (ISO 8601, e.g. 2024-01-29T10:14:00Z)"
        ) from None
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    entity = (record.get("objecttypecode") or "").strip()
    if entity not in KNOWN_ENTITIES:
        raise InputError(
            f"{where}: objecttypecode: unknown entity {entity!r} "
            f"(known: {', '.join(KNOWN_ENTITIES)})"
        )
    op_text = (record.get("operation") or "").strip().lower()
    op = _CREATE.get(op_text) or _UPDATE.get(op_text)
    if op is None:
        raise InputError(
            f"{where}: operation: {record.get('operation')!r} is not "
            "Create/Insert or Update (deletes are not calibrated)"
        )
    user = (record.get("userid") or "").strip()
    key = (record.get("objectid") or "").strip()
    if not user or not key:
        raise InputError(f"{where}: {'userid' if not user else 'objectid'}: empty")
    row_system = (record.get("system") or system or "").strip()
    if row_system not in ("sales", "operations"):
        raise InputError(f"{where}: system: {row_system!r} is not sales or operations")
    fields = tuple(f for f in (record.get("changedfields") or "").split(";") if f)
    values: dict = {}
    if record.get("changedata"):
        try:
            values = json.loads(record["changedata"])
        except json.JSONDecodeError:
            raise InputError(f"{where}: changedata: not a JSON object of new values") from None
        if not isinstance(values, dict):
            raise InputError(f"{where}: changedata: not a JSON object of new values")
    return Row(when, row_system, user, entity, key, op, fields or tuple(values), values)


# -------------------------------------------------------------- transactions


def transactions(rows: list[Row]) -> list[Transaction]:
    """Rows of one user at one instant in one system, as the actions that made them."""
    grouped: dict[tuple, list[Row]] = {}
    for row in rows:
        grouped.setdefault((row.when, row.user, row.system), []).append(row)
    return [
        Transaction(when, system, user, classify(group), group)
        for (when, user, system), group in grouped.items()
    ]


def classify(group: list[Row]) -> str:
    """The workload action that saves these rows (sim.engine.workload's ACTIONS)."""
    created = {r.entity for r in group if r.op == "create"}
    for entity, action in (
        ("invoice", "invoice_order"),
        ("order", "convert_quote"),
        ("quote", "create_quote"),
        ("bundle", "create_bundle"),
        ("account", "create_account"),
        ("contact", "create_contact"),
        ("product", "create_product"),
    ):
        if entity in created:
            return action
    if "bundle_line" in created:
        return "edit_bundle"
    row = group[0]
    if row.entity == "account":
        return "edit_account" if set(row.fields) <= ACCOUNT_CONTACT else "edit_credit"
    if row.entity == "contact":
        return "edit_contact"
    if row.entity == "bundle":
        return "edit_bundle"
    if row.entity == "product":
        return "retire_product" if row.values.get("status") == "Retired" else "edit_product"
    if row.entity == "order":
        status = row.values.get("status")
        return {
            None: "edit_order",
            "Active": "activate_order",
            "Cancelled": "cancel_order",
            "Confirmed": "confirm_order",
        }.get(status, "advance_order")
    return f"edit_{row.entity}"


# --------------------------------------------------------------------- roles


def read_roles(path: Path | str) -> dict[str, str]:
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    reader = csv.DictReader(lines)
    if not reader.fieldnames or not {"user", "role"} <= set(reader.fieldnames):
        raise InputError(f"{path}:1: a roles file has the columns user,role")
    roles = {}
    for line, record in enumerate(reader, start=2):
        user, role = (record.get("user") or "").strip(), (record.get("role") or "").strip()
        if not user or not role:
            raise InputError(f"{path}:{line}: user and role must both be given")
        roles[user] = role
    return roles


def cluster_users(txns: list[Transaction], threshold: float = 0.35) -> dict[str, str]:
    """Users grouped by the shares of what they do and where (greedy, deterministic)."""
    kinds: dict[str, Counter] = defaultdict(Counter)
    for t in txns:
        kinds[t.user][(t.system, t.action)] += 1
    clusters: list[tuple[Counter, list[str]]] = []
    for user in sorted(kinds, key=lambda u: (-sum(kinds[u].values()), u)):
        share = _shares(kinds[user])
        best, best_d = None, threshold
        for i, (total, _members) in enumerate(clusters):
            d = 0.5 * sum(abs(share.get(k, 0.0) - v) for k, v in _shares(total).items())
            d += 0.5 * sum(v for k, v in share.items() if k not in total)
            if d < best_d:
                best, best_d = i, d
        if best is None:
            clusters.append((Counter(kinds[user]), [user]))
        else:
            clusters[best][0].update(kinds[user])
            clusters[best][1].append(user)
    names: dict[str, str] = {}
    used: Counter = Counter()
    for total, members in clusters:
        (system, action), _ = total.most_common(1)[0]
        base = f"{system}_{action}"
        used[base] += 1
        name = base if used[base] == 1 else f"{base}_{used[base]}"
        for user in members:
            names[user] = name
    return names


def _shares(counts: Counter) -> dict:
    total = sum(counts.values())
    return {k: v / total for k, v in counts.items()}


# -------------------------------------------------------------------- fitting


def _hour_range(seconds: Sequence[float]) -> tuple[int, int]:
    ordered = sorted(seconds)
    lo = ordered[int(0.005 * (len(ordered) - 1))]
    hi = ordered[int(math.ceil(0.995 * (len(ordered) - 1)))]
    start = int(round(lo / 3600))
    end = max(start + 1, int(round(hi / 3600)))
    return start, min(end, 24)


def _chi2_flat_rejected(counts: list[int], alpha_z: float = 2.326) -> bool:
    """Chi-square test of equal counts (Wilson-Hilferty normal approximation, 1%)."""
    k = len(counts)
    n = sum(counts)
    if k < 2 or n == 0:
        return False
    expected = n / k
    chi2 = sum((c - expected) ** 2 / expected for c in counts)
    dof = k - 1
    z = ((chi2 / dof) ** (1 / 3) - (1 - 2 / (9 * dof))) / math.sqrt(2 / (9 * dof))
    return z > alpha_z


def _population(distinct: int, picks: int) -> int:
    """N with N(1-(1-1/N)^picks) = distinct (distinct records seen after picks)."""
    if picks <= distinct or distinct == 0:
        return distinct
    lo, hi = float(distinct), float(distinct * 1000)
    for _ in range(100):
        mid = (lo + hi) / 2
        if mid * (1 - (1 - 1 / mid) ** picks) < distinct:
            lo = mid
        else:
            hi = mid
    return int(round(hi))


@dataclass
class Fitted:
    text: str
    roles: dict[str, str]


def calibrate(
    paths,
    *,
    roles_file=None,
    system: str | None = None,
    name: str = "calibrated",
    design: str = "p2c-2017",
    seed: int = 1,
    refine: int = 0,
) -> Fitted:
    """Fit a scenario to the exports; returns its YAML text (with comments).

    ``refine`` > 0: simulate the fitted scenario that many times, each time multiplying
    every (role, action) rate by the export's count over the simulated count. An export
    shows actions done, not attempts that found nothing to do (no Shipped order to
    invoice) nor the working time a user spent with a form open; the refined rates are
    the attempt rates under which the simulation does what the export shows."""
    rows = read_exports(paths, system)
    txns = transactions(rows)
    role_of = read_roles(roles_file) if roles_file else cluster_users(txns)
    unknown = sorted({t.user for t in txns} - set(role_of))
    if unknown:
        raise InputError(
            f"{roles_file}: no role for user(s) {', '.join(unknown[:5])}"
            f"{' ...' if len(unknown) > 5 else ''}"
        )
    target = Counter((role_of[t.user], t.action) for t in txns)
    scale: dict[tuple[str, str], float] = {}
    fitted = _fit(rows, txns, role_of, paths, name, design, seed, scale, 0)
    for round_ in range(1, refine + 1):
        done = simulated_actions(fitted.text)
        for key, count in target.items():
            ratio = count / done[key] if done.get(key) else 2.0
            scale[key] = scale.get(key, 1.0) * min(max(ratio, 0.5), 2.0)
        fitted = _fit(rows, txns, role_of, paths, name, design, seed, scale, round_)
    return fitted


def simulated_actions(text: str) -> Counter:
    """(role, action) -> actions done in one run of the scenario ``text`` (each user's
    role as the run's saves name it)."""

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "refine.yaml"
        path.write_text(text, encoding="utf-8")
        scenario = load_scenario(path)
        result = run_scenario(scenario, keep_events=True)
    start = scenario.spec.start_date
    role_of: dict[str, str] = {}
    for e in result.events or ():
        if e["kind"] == "write":
            role_of.setdefault(e["actor"], e["role"])
    rows = [
        Row(
            datetime.fromisoformat(stamp(start, e["t"]).replace("Z", "+00:00")),
            e["system"],
            e["actor"],
            e["entity"],
            e["key"],
            "create" if e.get("op") == "create" else "update",
            tuple(e["fields"]),
            e["fields"],
        )
        for e in result.events or ()
        if e["kind"] == "write" and e["actor"] != "migration"
    ]
    return Counter((role_of[t.user], t.action) for t in transactions(rows))


def _fit(rows, txns, role_of, paths, name, design, seed, scale, refined) -> Fitted:
    first, last = rows[0].when.date(), rows[-1].when.date()
    start = first - timedelta(days=first.weekday())
    days = [start + timedelta(days=i) for i in range((last - start).days + 1)]
    out: list[str] = []
    w = out.append
    sources = ", ".join(Path(p).name for p in paths)
    w(
        f"# Calibrated by p2c calibrate from {sources}: {len(rows):,} audit rows, "
        f"{len(txns):,} actions"
    )
    w(
        f"# by {len(role_of):,} users, {first} to {last} (UTC). Each fitted number says its "
        "sample size;"
    )
    w("# what an export cannot show is a default that says so.")
    w(f"name: {name}")
    w(f"seed: {seed}")
    w(f"design: {design}  # not in an export: the design to try (p2c compare tries others)")
    w(f"start_date: {start.isoformat()}  # the Monday on or before the first row")
    w(f"duration_days: {len(days)}  # {first} to {last}")
    w("quiescence_max_s: 14400")
    _initial_data(rows, w)
    w("roles:")
    by_role: dict[str, list[Transaction]] = defaultdict(list)
    for t in txns:
        by_role[role_of[t.user]].append(t)
    for role in sorted(by_role):
        _role(role, by_role[role], days, w, scale, refined)
    return Fitted("\n".join(out) + "\n", role_of)


def _initial_data(rows: list[Row], w) -> None:
    seen: dict[str, set] = defaultdict(set)
    created: dict[str, set] = defaultdict(set)
    picks: Counter = Counter()
    for row in rows:
        if row.op == "create":
            created[row.entity].add(row.key)
        else:
            seen[row.entity].add(row.key)
    for row in rows:
        if row.op != "create" and row.key not in created[row.entity]:
            picks[row.entity] += 1
    w("initial_data:  # records updated but never created in the export, scaled up for the")
    w(
        "               # records nobody touched (uniform picks); a record nobody touched is "
        "invisible"
    )
    estimate = {}
    for entity in ("account", "contact", "product", "bundle"):
        old = {k for k in seen[entity] if k not in created[entity]}
        estimate[entity] = _population(len(old), picks[entity])
    accounts = max(estimate["account"], 1)
    w(
        f"  accounts: {estimate['account']}  # {len(seen['account'] - created['account'])} "
        f"distinct in {picks['account']} updates"
    )
    w(
        f"  contacts_per_account: {estimate['contact'] / accounts:.2f}  # "
        f"{estimate['contact']} contacts estimated from "
        f"{len(seen['contact'] - created['contact'])} distinct in {picks['contact']} updates"
    )
    w(
        f"  products: {estimate['product']}  # {len(seen['product'] - created['product'])} "
        f"distinct in {picks['product']} updates"
    )
    w(
        f"  bundles: {estimate['bundle']}  # {len(seen['bundle'] - created['bundle'])} "
        f"distinct in {picks['bundle']} updates"
    )
    w("  bundle_lines_per_bundle: 3  # default: existing bundle lines are not updated, so not seen")


def _role(role: str, txns: list[Transaction], days: list[date], w, scale, refined) -> None:
    users = sorted({t.user for t in txns})
    systems = Counter(t.system for t in txns)
    home = systems.most_common(1)[0][0]
    others = sorted(s for s in systems if s != home)
    seconds = [t.when.hour * 3600 + t.when.minute * 60 + t.when.second for t in txns]
    h0, h1 = _hour_range(seconds)
    by_day = Counter(t.when.weekday() for t in txns)
    workdays = [d for d in range(7) if by_day[d] >= 0.02 * len(txns)]
    work_dates = [d for d in days if d.weekday() in workdays]
    hours = h1 - h0
    user_hours = len(users) * len(work_dates) * hours
    w(f"  {role}:")
    w(
        f"    headcount: {len(users)}  # users seen saving ({len(txns):,} actions); users "
        "who never saved are not in an export"
    )
    w(f"    home_system: {home}  # {systems[home]:,} of {len(txns):,} actions")
    if others:
        w(
            f"    other_systems: [{', '.join(others)}]  # "
            + ", ".join(f"{s}: {systems[s]:,}" for s in others)
        )
    w(
        f'    working_hours: "{h0:02d}:00-{h1:02d}:00"  # UTC (an export\'s clock); 0.5-99.5% '
        f"of {len(txns):,} action times"
    )
    w(
        f"    workdays: [{', '.join(WEEKDAYS[d] for d in workdays)}]  # days with >= 2% of "
        "the actions"
    )
    hourly = Counter(t.when.hour for t in txns if h0 <= t.when.hour < h1)
    counts = [hourly[h] for h in range(h0, h1)]
    if _chi2_flat_rejected(counts):
        mean = sum(counts) / len(counts)
        weights = [round(hourly[h] / mean, 3) if h0 <= h < h1 else 0 for h in range(24)]
        w(
            f"    hourly_profile: {weights}  # per UTC hour; a flat day is rejected "
            f"(chi-square, 1%) on {sum(counts):,} actions"
        )
    else:
        w(
            f"    # hourly_profile: flat (a chi-square test on {sum(counts):,} actions does "
            "not reject an even day at 1%)"
        )
    ends = [d for d in work_dates if d.day > _month_days(d) - MONTH_END_DAYS]
    if ends and len(ends) < len(work_dates):
        in_end = sum(1 for t in txns if t.when.date() in set(ends))
        rest = len(txns) - in_end
        factor = (in_end / len(ends)) / max(rest / (len(work_dates) - len(ends)), 1e-9)
        w(
            f"    month_end: {{last_days: {MONTH_END_DAYS}, factor: {factor:.2f}}}  # {in_end:,} "
            f"actions on {len(ends)} month-end days, {rest:,} on {len(work_dates) - len(ends)} "
            "others"
        )
    w(
        "    form_open: {median_s: 90, sigma: 0.8}  # not in an export (it shows saves, not "
        "when forms opened): the testbed's default"
    )
    w(
        f"    actions:  # per user per working hour: count / ({len(users)} users x "
        f"{len(work_dates)} days x {hours} h); actions that found nothing to do are not "
        "in an export"
    )
    if refined:
        w(
            f"      # refined by {refined} simulation(s): rate x (export count / simulated "
            "count), so that the simulation does what the export shows"
        )
    actions = Counter(t.action for t in txns)
    for action, count in sorted(actions.items()):
        factor = scale.get((role, action), 1.0)
        rate = count / user_hours * factor if user_hours else 0.0
        note = f" (x{factor:.2f} refined)" if refined else ""
        w(f"      {action}: {rate:.4g}  # {count:,} actions{note}")


def _month_days(d: date) -> int:
    return calendar.monthrange(d.year, d.month)[1]


def write_scenario(fitted: Fitted, out: Path | str) -> None:
    """Write the scenario, loaded and validated first; it appears only when complete."""
    out = Path(out)
    staging = out.with_name(f".{out.name}.partial")
    staging.write_text(fitted.text, encoding="utf-8")
    try:
        load_scenario(staging)
    except InputError:
        staging.unlink(missing_ok=True)
        raise
    staging.replace(out)
