"""Synthetic histories: a valid event stream of any size, without the simulator.

The checker must be fast and linear on a million writes, and its tests must not depend
on the simulator, so this module writes histories directly. The organisation is small
and the design is the 2017 one in miniature: three replicas (Sales, the Hub,
Operations), scheduled batch maps through the hub that copy every changed row's field
versions (an upsert of the whole row), and no concurrency control, so concurrent edits
of the same account field on both sides overwrite each other: last writer wins, and the
contract sanctions ``no_lost_update``.

- ``account``: edited on both sides (name, phone, credit_limit); maps both ways.
- ``contact``: created and edited in Sales, references an account; Sales -> Operations.
- ``order``: created and activated in Sales (editable there only while Draft), then moved
  forward by Operations (Confirmed ... Invoiced); maps both ways.

Every ``interval_s`` a tick runs the maps in a fixed order, each over the records changed
in its source since its last run (its watermark), emitting ``batch_start``, one
``apply`` per row that differs and ``batch_end``. After the last write, ticks continue
until nothing changes, then ``quiescence`` (reached) closes the stream. The stream is a
generator (nothing is kept but the replicas' rows and the statuses orders were set to)
and depends only on ``n_writes`` and ``seed``.
"""

from __future__ import annotations

import gc
import math
import random
import time
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from sim.bench.memory import peak_mb, reset_peak, resident_mb
from sim.checker.check import check_history
from sim.checker.files import check_file
from sim.checker.ledger import Event
from sim.history import HistoryRecorder, read_history

SYSTEMS = ("sales", "hub", "operations")
ORDER_FLOW = ("Draft", "Active", "Confirmed", "Picked", "Packed", "Shipped", "Invoiced")

#: (map name prefix, entity, source, target), in the order a tick runs them.
MAPS = (
    ("accounts_sales_to_hub", "account", "sales", "hub"),
    ("accounts_operations_to_hub", "account", "operations", "hub"),
    ("accounts_hub_to_operations", "account", "hub", "operations"),
    ("accounts_hub_to_sales", "account", "hub", "sales"),
    ("contacts_sales_to_hub", "contact", "sales", "hub"),
    ("contacts_hub_to_operations", "contact", "hub", "operations"),
    ("orders_sales_to_hub", "order", "sales", "hub"),
    ("orders_operations_to_hub", "order", "operations", "hub"),
    ("orders_hub_to_operations", "order", "hub", "operations"),
    ("orders_hub_to_sales", "order", "hub", "sales"),
)

ENTITY_FIELDS = {
    "account": ("name", "phone", "credit_limit"),
    "contact": ("account", "email"),
    "order": ("account", "description", "status"),
}


def synthetic_contract(interval_s: float = 900.0) -> dict:
    """The ``run_start.contract`` of a synthetic history."""
    return {
        "systems": list(SYSTEMS),
        "entities": {
            "account": {
                "key": "account_number",
                "fields": list(ENTITY_FIELDS["account"]),
                "references": {},
                "status_order": None,
            },
            "contact": {
                "key": "contact_id",
                "fields": list(ENTITY_FIELDS["contact"]),
                "references": {"account": "account"},
                "status_order": None,
            },
            "order": {
                "key": "order_number",
                "fields": list(ENTITY_FIELDS["order"]),
                "references": {"account": "account"},
                "status_order": [*ORDER_FLOW, "Cancelled"],
            },
        },
        "synced": {
            entity: {"fields": list(fields), "systems": list(SYSTEMS)}
            for entity, fields in ENTITY_FIELDS.items()
        },
        "editable": {
            "account": {"sales": {}, "operations": {}},
            "contact": {"sales": {}},
            "order": {
                "sales": {"status": ["Draft"]},
                "operations": {"status": list(ORDER_FLOW[1:6])},
            },
        },
        "promises": [
            "convergence",
            "ownership",
            "referential_integrity",
            "no_duplicate_keys",
            "monotone_lifecycle",
            "invoice_totals",
            "accounted_for",
            "staleness",
        ],
        "sanctioned": ["no_lost_update"],
        "echo_bound": 6,
        "staleness_p99_s": {
            "account:sales->operations": 4 * interval_s,
            "account:operations->sales": 4 * interval_s,
        },
    }


def synthetic_history(
    n_writes: int, seed: int = 0, *, interval_s: float = 900.0, mean_gap_s: float = 1.0
) -> Iterator[Event]:
    """Yield a valid history of ``n_writes`` saves (see the module docstring).

    About a twentieth of the writes create accounts first; the rest edit accounts on
    both sides (70%), create or edit contacts (10%) and create, edit and advance orders
    (20%). Saves are ``mean_gap_s`` apart on average; maps run every ``interval_s``.

    One long generator on purpose (a documented hot loop, ``tests/test_architecture.py``):
    its state lives in local variables, and ``p2c bench`` makes its million-write history
    in this loop, where a helper call per event would be paid a million times.
    """
    rng = random.Random(seed)
    random_ = rng.random
    # rows[system][entity][key] = [ {field: write_id}, row_version ]
    rows: dict[str, dict[str, dict[str, list]]] = {
        s: {e: {} for e in ENTITY_FIELDS} for s in SYSTEMS
    }
    # write_id -> the status it set, for writes that set one (the generator's own memory)
    statuses: dict[str, str] = {}
    dirty: dict[str, dict[str, None]] = {name: {} for name, *_ in MAPS}
    maps_from: dict[tuple[str, str], list[str]] = {}
    for name, entity, source, _target in MAPS:
        maps_from.setdefault((entity, source), []).append(name)
    runs = dict.fromkeys((name for name, *_ in MAPS), 0)
    counters = dict.fromkeys(SYSTEMS, 0)
    accounts: list[str] = []
    contacts: list[str] = []
    orders: list[str] = []
    n_accounts = max(5, n_writes // 20)

    yield {
        "kind": "run_start",
        "t": 0.0,
        "scenario": "synthetic",
        "seed": seed,
        "design": "synthetic-lww-batch",
        "contract": synthetic_contract(interval_s),
    }

    def save(t, actor, role, system, entity, key, op, fields) -> Iterator[Event]:
        counters[system] += 1
        write_id = f"W-{system}-{counters[system]}"
        table = rows[system][entity]
        row = table.get(key)
        versions = row[0] if row is not None else {}
        base = {f: ([versions[f]] if f in versions else []) for f in fields}
        if "status" in fields:
            statuses[write_id] = fields["status"]
        yield {
            "kind": "write",
            "t": t,
            "write_id": write_id,
            "actor": actor,
            "role": role,
            "system": system,
            "entity": entity,
            "key": key,
            "op": op,
            "fields": fields,
            "base": base,
            "opened_t": t - 30.0,
        }
        created = row is None
        if row is None:
            row = table[key] = [{}, 0]
        applied = dict.fromkeys(fields, write_id)
        row[0].update(applied)
        row[1] += 1
        for name in maps_from.get((entity, system), ()):
            dirty[name][key] = None
        yield {
            "kind": "apply",
            "t": t,
            "system": system,
            "entity": entity,
            "key": key,
            "via": "user",
            "fields": applied,
            "row_version": row[1],
            "created": created,
        }

    def status_in(system: str, key: str):
        row = rows[system]["order"].get(key)
        if row is None:
            return None
        return statuses[row[0]["status"]]

    def tick(t: float) -> Generator[Event, None, bool]:
        changed_any = False
        for name, entity, source, target in MAPS:
            keys = dirty[name]
            if not keys:
                continue
            dirty[name] = {}
            runs[name] += 1
            run_id = f"{name}#{runs[name]}"
            head = {
                "run_id": run_id,
                "map": name,
                "entity": entity,
                "source": source,
                "target": target,
            }
            yield {"kind": "batch_start", "t": t, **head, "rows": len(keys), "skipped_ticks": 0}
            source_table = rows[source][entity]
            target_table = rows[target][entity]
            followers = maps_from.get((entity, target), ())
            # Operations sends orders back only once it has confirmed them (FACTS.md 1):
            # an earlier copy would carry a stale status over the one Sales just set.
            confirmed_only = entity == "order" and source == "operations"
            changed = 0
            for key in keys:
                src = source_table[key][0]
                if confirmed_only and statuses[src["status"]] in ("Draft", "Active"):
                    continue
                row = target_table.get(key)
                if row is None:
                    diff = dict(src)
                    row = target_table[key] = [{}, 0]
                    created = True
                else:
                    have = row[0]
                    diff = {f: w for f, w in src.items() if have.get(f) != w}
                    created = False
                if not diff:
                    continue
                changed += 1
                row[0].update(diff)
                row[1] += 1
                for follower in followers:
                    dirty[follower][key] = None
                yield {
                    "kind": "apply",
                    "t": t,
                    "system": target,
                    "entity": entity,
                    "key": key,
                    "via": run_id,
                    "fields": diff,
                    "row_version": row[1],
                    "created": created,
                }
            changed_any = changed_any or changed > 0
            yield {
                "kind": "batch_end",
                "t": t,
                **head,
                "rows_changed": changed,
                "rows_unchanged": len(keys) - changed,
                "duration_s": 0.0,
                "keys": list(keys),
            }
        return changed_any

    t = 0.0
    next_tick = interval_s
    fields: dict[str, Any]
    for i in range(n_writes):
        t += rng.expovariate(1.0 / mean_gap_s)
        while t >= next_tick:
            yield from tick(next_tick)
            next_tick += interval_s
        if i < n_accounts:
            key = f"ACC-{i + 1:06d}"
            accounts.append(key)
            yield from save(
                t,
                "migration-1",
                "migration",
                "sales",
                "account",
                key,
                "create",
                {"name": f"Account {i + 1}", "phone": f"555-{i:06d}", "credit_limit": 1000.0},
            )
            continue
        draw = random_()
        if draw < 0.70:
            key = accounts[int(random_() * len(accounts))]
            system = "sales" if random_() < 0.5 else "operations"
            if key not in rows[system]["account"]:
                system = "sales"
            actor = (
                f"sales_rep-{int(random_() * 50)}"
                if system == "sales"
                else f"ops_clerk-{int(random_() * 30)}"
            )
            field_draw = random_()
            if field_draw < 0.4:
                fields = {"credit_limit": float(int(random_() * 100) * 500)}
            elif field_draw < 0.8:
                fields = {"phone": f"555-{int(random_() * 1_000_000):06d}"}
            else:
                fields = {
                    "name": f"Account {key} v{i}",
                    "phone": f"555-{int(random_() * 1_000_000):06d}",
                }
            role = "sales_rep" if system == "sales" else "ops_clerk"
            yield from save(t, actor, role, system, "account", key, "update", fields)
        elif draw < 0.80:
            actor = f"sales_rep-{int(random_() * 50)}"
            if not contacts or random_() < 0.5:
                key = f"CON-{len(contacts) + 1:06d}"
                contacts.append(key)
                account = accounts[int(random_() * len(accounts))]
                fields = {"account": account, "email": f"c{len(contacts)}@example.com"}
                yield from save(t, actor, "sales_rep", "sales", "contact", key, "create", fields)
            else:
                key = contacts[int(random_() * len(contacts))]
                yield from save(
                    t,
                    actor,
                    "sales_rep",
                    "sales",
                    "contact",
                    key,
                    "update",
                    {"email": f"c{i}@example.com"},
                )
        else:
            chosen = orders[int(random_() * len(orders))] if orders and random_() < 0.7 else None
            sales_status = status_in("sales", chosen) if chosen else None
            ops_status = status_in("operations", chosen) if chosen else None
            key = f"ORD-{len(orders) + 1:06d}" if chosen is None else chosen
            if chosen is None:
                orders.append(key)
                account = accounts[int(random_() * len(accounts))]
                yield from save(
                    t,
                    f"sales_rep-{int(random_() * 50)}",
                    "sales_rep",
                    "sales",
                    "order",
                    key,
                    "create",
                    {"account": account, "description": f"order {key}", "status": "Draft"},
                )
            elif sales_status == "Draft":
                fields = (
                    {"status": "Active"}
                    if random_() < 0.6
                    else {"description": f"order {key} rev {i}"}
                )
                yield from save(
                    t,
                    f"sales_rep-{int(random_() * 50)}",
                    "sales_rep",
                    "sales",
                    "order",
                    key,
                    "update",
                    fields,
                )
            elif ops_status in ORDER_FLOW[1:6]:
                following = ORDER_FLOW[ORDER_FLOW.index(ops_status) + 1]
                yield from save(
                    t,
                    f"ops_clerk-{int(random_() * 30)}",
                    "ops_clerk",
                    "operations",
                    "order",
                    key,
                    "update",
                    {"status": following},
                )
            else:
                # Nothing this order allows right now: edit an account phone instead, so
                # the history still has exactly n_writes saves.
                account = accounts[int(random_() * len(accounts))]
                yield from save(
                    t,
                    f"sales_rep-{int(random_() * 50)}",
                    "sales_rep",
                    "sales",
                    "account",
                    account,
                    "update",
                    {"phone": f"555-{int(random_() * 1_000_000):06d}"},
                )
    workload_end_t = t
    # Drain: keep ticking until a tick changes nothing and no watermark has work left.
    while True:
        changed = yield from tick(next_tick)
        next_tick += interval_s
        if not changed and not any(dirty.values()):
            break
    yield {
        "kind": "quiescence",
        "t": next_tick,
        "reached": True,
        "workload_end_t": workload_end_t,
        "deadline_t": next_tick + 86_400.0,
    }


def floor_pass(events: Iterable[Event]) -> dict[str, dict[str, dict[str, dict[str, int]]]]:
    """The least any checker of ``events`` must do, as the benchmark's yardstick.

    Number each write, resolve every ``apply``'s write ids to those numbers and keep each
    replica's rows (``system -> entity -> key -> {field: write number}``, which it
    returns: the same final rows as :attr:`Ledger.tables` when no write id repeats). No
    invariant is judged. Every checker that reads a history once does at least this, so
    the time of this pass on a machine is a floor, and how it grows from 100,000 to
    1,000,000 writes shows what the machine's memory does to any one-pass checker
    (random access to a growing record table and write index), apart from the checker's
    own work.
    """
    index: dict[str, int] = {}
    tables: dict[str, dict[str, dict[str, dict[str, int]]]] = {}
    for event in events:
        kind = event["kind"]
        if kind == "apply":
            by_entity = tables.get(event["system"])
            if by_entity is None:
                by_entity = tables[event["system"]] = {}
            table = by_entity.get(event["entity"])
            if table is None:
                table = by_entity[event["entity"]] = {}
            key = event["key"]
            row = table.get(key)
            if row is None:
                row = table[key] = {}
            for field, write_id in event["fields"].items():
                i = index.get(write_id)
                if i is None:
                    i = index[write_id] = len(index)
                row[field] = i
        elif kind == "write":
            index[event["write_id"]] = len(index)
    return tables


#: The least CPU time a size's passes should add up to, the most passes spent on reaching
#: it, and the smallest difference of two passes believed (below it: "too short to
#: measure", never a floor of 0.00 s).
MIN_PASS_S = 0.3
MAX_PASSES = 30
RESOLUTION_S = 0.005


def _cpu_and_wall(run: Callable[[], Any]) -> tuple[Any, float, float]:
    """``run()`` and its CPU and wall seconds, with the cyclic collector paused as the checker
    pauses it (so that the generation-only pass runs under the same conditions)."""
    gc.collect()
    collecting = gc.isenabled()
    gc.disable()
    try:
        wall, cpu = time.perf_counter(), time.process_time()
        result = run()
        return result, time.process_time() - cpu, time.perf_counter() - wall
    finally:
        if collecting:
            gc.enable()


def _measure_size(
    n_writes: int, seed: int, repeat: int
) -> tuple[dict[str, Any], float, float | None]:
    """One size's three passes (see :func:`bench_checker`), best of each over the passes:
    its rounded figures, and the unrounded checker and floor CPU seconds (floor ``None``
    when too short to tell from the generator's time)."""
    best_gen = best_gen_wall = best_total = best_total_wall = float("inf")
    best_floor = float("inf")
    # Each pass's (2) and (3): how far apart they are says how far one pass alone could
    # be trusted on this machine.
    check_passes: list[float] = []
    floor_passes: list[float] = []
    events = 0
    passes = 0
    wanted = repeat
    while passes < wanted:
        _, gen_cpu, gen_wall = _cpu_and_wall(
            lambda: deque(synthetic_history(n_writes, seed), maxlen=0)
        )
        best_gen, best_gen_wall = min(best_gen, gen_cpu), min(best_gen_wall, gen_wall)
        if passes == 0:
            # Small sizes: repeat until the passes add up to a measurable time.
            wanted = max(repeat, min(MAX_PASSES, math.ceil(MIN_PASS_S / max(gen_cpu, 1e-6))))
        report, total_cpu, total_wall = _cpu_and_wall(
            lambda: check_history(synthetic_history(n_writes, seed))
        )
        best_total = min(best_total, total_cpu)
        best_total_wall = min(best_total_wall, total_wall)
        events = report.events
        del report
        # The floor's rows are freed inside the timed call, as check_history frees the
        # checker's state before it returns (Ledger.release): like is timed with like.
        _, pass_floor_cpu, _ = _cpu_and_wall(
            lambda: len(floor_pass(synthetic_history(n_writes, seed)))
        )
        best_floor = min(best_floor, pass_floor_cpu)
        check_passes.append(total_cpu)
        floor_passes.append(pass_floor_cpu)
        passes += 1
    check_cpu = max(best_total - best_gen, 0.0)
    floor_cpu: float | None = best_floor - best_gen
    if best_floor - best_gen < max(RESOLUTION_S, 0.02 * best_gen):
        floor_cpu = None  # too short to measure beside the generator's own time
    figures = {
        "seconds": round(check_cpu, 3),
        "generate_seconds": round(best_gen, 3),
        "total_seconds": round(best_total, 3),
        "wall_seconds": round(max(best_total_wall - best_gen_wall, 0.0), 3),
        "events": events,
        "us_per_event": round(1e6 * check_cpu / events, 3),
        "floor_seconds": None if floor_cpu is None else round(floor_cpu, 3),
        "over_floor": None if floor_cpu is None else round(check_cpu / floor_cpu, 2),
        "passes": passes,
        "spread": _spread(check_passes, check_cpu),
        "floor_spread": _spread(floor_passes, floor_cpu),
        "pass_seconds": [round(max(total - best_gen, 0.0), 3) for total in check_passes],
    }
    return figures, check_cpu, floor_cpu


def _spread(totals: Sequence[float], seconds: float | None) -> float | None:
    """How far apart one kind's passes were, as a fraction of the figure they give:
    (slowest - fastest pass) / ``seconds``; 0.1 means a single pass could have moved
    the figure by a tenth. ``None`` with one pass or a figure too short to divide by."""
    if len(totals) < 2 or seconds is None or seconds < RESOLUTION_S:
        return None
    return round((max(totals) - min(totals)) / seconds, 3)


def bench_checker(
    sizes: Sequence[int] = (100_000, 1_000_000), seed: int = 0, repeat: int = 1
) -> dict[str, Any]:
    """Check a synthetic history of each size; return seconds per size and the ratio.

    The target (DESIGN.md): a 1,000,000-write history checked in under 10 s on one
    core, and linearly: ``time(1M) <= 12 x time(100k)``. This is a benchmark, never a
    timed test: machines differ, so the figures are reported (``p2c bench``), not
    asserted.

    What is measured: the history is *streamed*, as a user checks one (``check_history``
    reads any iterable once and keeps no event; ``read_history(path)`` streams a file),
    never materialised as a list. Per size, three passes over the same generator
    (``synthetic_history(n, seed)``, deterministic):

    1. *generation only*: every event is produced and dropped
       (``deque(generator, maxlen=0)``), no checker;
    2. *generation and check*: ``check_history(generator)``, every invariant, one pass;
    3. *generation and floor*: :func:`floor_pass`, the least any one-pass checker must
       do (number writes, resolve applies, keep rows), no invariant.

    The checker's time is (2) minus (1); the floor's, (3) minus (1). All passes run with
    the cyclic collector paused (``check_history`` pauses it itself), so the subtraction
    compares like with like; (1) iterates in C, so it does not subtract the checker's
    own loop overhead. What is *not* in the checker's time: producing the events (the
    generator's, or in real use a JSON parser's). What *is*: everything the checker
    does, including the cache and memory effects of keeping its state beside a live
    producer. The floor says what the machine alone does to any one-pass checker of a
    growing record set: where random memory accesses slow down as the working set
    grows, the floor's own ratio exceeds the size ratio, and the checker's ratio is
    best read beside it.

    "On one core" is measured as the process's CPU time (``time.process_time``: both are
    single-threaded), which other processes competing for the machine do not inflate;
    wall-clock figures are reported beside it. Returns a flat dict per size:
    ``seconds_<n>`` (checker CPU, (2) - (1)), ``generate_seconds_<n>`` (1),
    ``total_seconds_<n>`` (2), ``wall_seconds_<n>`` ((2) - (1) in wall-clock time),
    ``events_<n>`` and ``us_per_event_<n>`` (checker CPU per event), ``floor_seconds_<n>``
    ((3) - (1)) and ``over_floor_<n>`` (checker over floor); then ``ratio`` (checker CPU
    seconds of the largest size over the smallest), ``floor_ratio`` (the same for the
    floor), ``size_ratio`` and ``linear`` (ratio within 1.2 x size ratio, i.e. 12 for
    100k -> 1M). With ``repeat`` > 1 the best of each pass counts; a size whose generation
    takes under ``MIN_PASS_S`` is repeated until its passes add up to it (``passes_<n>``),
    and a floor too small to tell from the generator's time is ``None`` ("too short to
    measure"), as are the ratios computed from it. How much the passes disagreed:
    ``pass_seconds_<n>`` (each pass's (2) minus the best (1): the checker's CPU had that
    pass counted), ``spread_<n>`` and ``floor_spread_<n>`` (slowest minus fastest pass
    (2), resp. (3), over the checker's, resp. the floor's, seconds; ``None`` with one
    pass or a floor too short to measure).
    """
    results: dict[int, dict[str, Any]] = {}
    exact: dict[int, tuple[float, float | None]] = {}
    for n_writes in sizes:
        results[n_writes], check_cpu, floor_cpu = _measure_size(n_writes, seed, repeat)
        exact[n_writes] = (check_cpu, floor_cpu)
        gc.collect()
    smallest, largest = min(results), max(results)
    # Ratios of the unrounded seconds (small sizes round to a few milliseconds).
    ratio = exact[largest][0] / max(exact[smallest][0], 1e-9)
    small_floor, large_floor = exact[smallest][1], exact[largest][1]
    floor_ratio = (
        None if small_floor is None or large_floor is None else round(large_floor / small_floor, 3)
    )
    size_ratio = largest / smallest
    flat: dict[str, Any] = {}
    for n_writes, figures in results.items():
        for name, value in figures.items():
            flat[f"{name}_{n_writes}"] = value
    flat["ratio"] = round(ratio, 3)
    flat["floor_ratio"] = floor_ratio
    flat["size_ratio"] = size_ratio
    flat["linear"] = ratio <= 1.2 * size_ratio
    return flat


def write_synthetic_history(path: Path, n_writes: int, seed: int = 0) -> int:
    """Write :func:`synthetic_history` ``(n_writes, seed)`` to ``path`` as a run writes its
    history (gzip, one JSON line per event); returns the number of events."""
    recorder = HistoryRecorder(keep=False, path=path)
    record = recorder.record
    try:
        for event in synthetic_history(n_writes, seed):
            record(event)
    except BaseException:
        recorder.abort()
        raise
    recorder.close()
    return recorder.count


def bench_verify(n_writes: int, folder: Path, seed: int = 0, repeat: int = 1) -> dict[str, Any]:
    """``p2c verify`` from disk: CPU seconds to judge a synthetic history file.

    The issue's checker target is stated for a history "streamed from disk by ``p2c
    verify``"; :func:`bench_checker` times the checker alone on events produced in
    memory (what it does per event, beside its floor). This times the whole of ``p2c
    verify``'s judgement of the file (:func:`sim.checker.files.check_file`: decompress,
    parse each line, the contract's checks and the checker), and beside it reading and
    parsing the file alone (``read_history``, every event built and dropped), so the
    part the file format costs is visible. The file (``folder/history.jsonl.gz``) is
    written first, untimed. Best of ``repeat`` passes; small files are repeated until
    their passes add up to :data:`MIN_PASS_S` (at most :data:`MAX_PASSES`).
    """
    path = folder / "history.jsonl.gz"
    events = write_synthetic_history(path, n_writes, seed)
    gc.collect()
    # The peak resident memory of the checks alone (not of what the bench ran before).
    reset = reset_peak()
    before_mb = resident_mb()
    best = best_wall = best_read = float("inf")
    passes = 0
    wanted = repeat
    totals: list[float] = []
    while passes < wanted:
        report, cpu, wall = _cpu_and_wall(lambda: check_file(path))
        del report
        if passes == 0:
            peak = peak_mb() if reset else None
        _, read_cpu, _ = _cpu_and_wall(lambda: deque(read_history(path), maxlen=0))
        if passes == 0:
            wanted = max(repeat, min(MAX_PASSES, math.ceil(MIN_PASS_S / max(cpu, 1e-6))))
        best, best_wall, best_read = min(best, cpu), min(best_wall, wall), min(best_read, read_cpu)
        totals.append(cpu)
        passes += 1
    return {
        "writes": n_writes,
        "events": events,
        "file_mb": round(path.stat().st_size / 2**20, 1),
        "cpu_s": round(best, 3),
        "wall_s": round(best_wall, 3),
        "read_cpu_s": round(best_read, 3),
        "us_per_event": round(1e6 * best / events, 3),
        "passes": passes,
        "spread": _spread(totals, best),
        # Peak resident memory during the first p2c verify pass, and before it began
        # (None where the system keeps no resettable peak: see sim/bench/memory.py).
        "peak_rss_mb": peak,
        "rss_before_mb": before_mb if reset else None,
    }


if __name__ == "__main__":  # pragma: no cover - the manual benchmark entry point
    import argparse
    import json

    parser = argparse.ArgumentParser(
        prog="python -m sim.bench.synthetic",
        description="Check synthetic histories of each size; print the figures as JSON.",
    )
    parser.add_argument(
        "sizes",
        nargs="*",
        type=int,
        default=[100_000, 1_000_000],
        help="writes per history (default: 100000 1000000)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="passes per size; the best of each kind counts (default 1)",
    )
    parser.add_argument("--seed", type=int, default=0)
    options = parser.parse_args()
    if options.repeat < 1 or len(options.sizes) < 2 or min(options.sizes) < 1:
        parser.error("give at least two sizes >= 1 and --repeat >= 1")
    print(json.dumps(bench_checker(tuple(options.sizes), options.seed, options.repeat), indent=2))
