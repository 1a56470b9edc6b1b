"""The columnar core (``sim/checker/columnar.py``) computes what ``Ledger().feed`` computes
for writes and applies: final replica rows, apply and overwrite counts, ``max_applies``,
arrival delays, displacements at home and their triggers, ``echo_over``, the writes applied
at home and the duplicate-create count, compared structure by structure.

Histories: the synthetic one at 20,000 writes under echo bounds 0, 2 and 6 (6 is the
contract's own; the lower bounds give ``echo_over`` entries to compare), and the reference
runs of ``tests/fingerprints.py``: by default the 8 designs of the signature case and the
4 own-design scenarios (hub outage, pause overflow, throttling, custom entity: faults,
rejects, reapplies and a custom entity); the 16 runs of the two 60-user seed cases are
in the ``slow`` test, which runs all 28.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fingerprints import CASES, OWN_DESIGN, ROOT

from sim.bench.synthetic import synthetic_history, write_synthetic_history
from sim.checker.columnar import (
    as_ledger,
    echo_bound,
    load_columns,
    main,
    numpy_pass,
    save_columns,
    to_columns,
)
from sim.checker.ledger import APPLIED, Ledger
from sim.history import read_history


def from_ledger(ledger: Ledger) -> dict[str, Any]:
    """The structures of :func:`as_ledger`, read from a fed ledger."""
    writes = len(ledger.ids)
    displaced_single = {}
    for i in range(writes):
        t = ledger.displaced_t[i]
        if not math.isnan(t):
            displaced_single[i] = (t, ledger.displaced_via[i], ledger.displaced_by[i])
    return {
        "tables": ledger.tables,
        "arrivals": {k: list(v) for k, v in ledger.arrivals.items()},
        "apply_counts": {
            s: np.frombuffer(ledger.apply_counts[slot], dtype=np.uint16)[:writes]
            for s, slot in ledger._slot.items()
        },
        "overwrite_counts": {
            s: np.frombuffer(ledger.overwrite_counts[slot], dtype=np.uint32)[:writes]
            for s, slot in ledger._slot.items()
        },
        "max_applies": ledger.max_applies,
        "displaced_single": displaced_single,
        "displaced_multi": dict(ledger.displaced),
        "triggers": dict(ledger.triggers),
        "echo_over": dict(ledger.echo_over),
        "applied": {i for i in range(writes) if ledger.status[i] == APPLIED},
        "duplicate_count": ledger.duplicate_count,
        "W": writes,
    }


def differences(mine: dict[str, Any], theirs: dict[str, Any]) -> list[str]:
    """The structures that differ, with a short reason (empty: all equal)."""
    assert set(mine) == set(theirs)
    diffs = []
    for name in mine:
        a, b = mine[name], theirs[name]
        if name in ("apply_counts", "overwrite_counts"):
            if set(a) != set(b):
                diffs.append(f"{name}: systems {sorted(a)} vs {sorted(b)}")
                continue
            for s in a:
                if a[s].shape != b[s].shape:
                    diffs.append(f"{name}[{s}]: {a[s].shape} vs {b[s].shape} writes")
                elif not np.array_equal(a[s], b[s]):
                    bad = np.flatnonzero(a[s] != b[s])
                    diffs.append(f"{name}[{s}]: {len(bad)} writes differ, first {bad[:5]}")
        elif a != b:
            if isinstance(a, dict):
                wrong = [k for k in set(a) & set(b) if a[k] != b[k]]
                diffs.append(
                    f"{name}: {len(set(a) - set(b))} only columnar, {len(set(b) - set(a))} "
                    f"only ledger, {len(wrong)} differ (e.g. {wrong[:2]})"
                )
            else:
                diffs.append(f"{name}: {str(a)[:80]} vs {str(b)[:80]}")
    return diffs


def synthetic(n: int, bound: int) -> Iterator[dict[str, Any]]:
    """``synthetic_history(n, 0)`` with the contract's echo bound set to ``bound``."""
    for event in synthetic_history(n, 0):
        if event["kind"] == "run_start":
            event["contract"]["echo_bound"] = bound
        yield event


def columnar(events: Any) -> dict[str, Any]:
    cols = to_columns(events)
    return as_ledger(cols, numpy_pass(cols, echo_bound(cols)))


@pytest.mark.parametrize("bound", [0, 2, 6])
def test_the_numpy_pass_equals_the_ledger_on_the_synthetic_history(bound):
    events = list(synthetic(20_000, bound))
    mine = columnar(events)
    assert differences(mine, from_ledger(Ledger().feed(events).finish())) == []
    assert mine["triggers"] and mine["displaced_multi"] and mine["displaced_single"]
    assert bool(mine["echo_over"]) == (bound < 6)  # the lower bounds are exceeded


def test_a_perturbed_history_is_told_apart():
    # Swap the last two applies that set one field of one record in one system to
    # different writes: the replica ends on the other version, and the comparison says so.
    events = list(synthetic(20_000, 2))
    theirs = from_ledger(Ledger().feed(events).finish())
    written: dict[str, int] = {}  # write id -> position of its write event
    last: dict[tuple[str, str, str, str], list[int]] = {}
    for pos, event in enumerate(events):
        if event["kind"] == "write":
            written[event["write_id"]] = pos
        elif event["kind"] == "apply" and len(event["fields"]) == 1:
            ((field, _write),) = event["fields"].items()
            cell = (event["system"], event["entity"], event["key"], field)
            last.setdefault(cell, []).append(pos)

    def swappable(a: int, b: int) -> bool:
        # different versions, the later one already written when the earlier was applied
        (first,), (second,) = events[a]["fields"].values(), events[b]["fields"].values()
        return first != second and written[second] < a

    a, b = next(
        positions[-2:]
        for positions in reversed(last.values())
        if len(positions) > 1 and swappable(*positions[-2:])
    )
    swapped = list(events)
    swapped[a], swapped[b] = swapped[b], swapped[a]
    diffs = differences(columnar(swapped), theirs)
    assert any(d.startswith("tables") for d in diffs), diffs
    # and one apply count changed in the results
    mine = columnar(events)
    system = next(iter(mine["apply_counts"]))
    mine["apply_counts"][system] = mine["apply_counts"][system].copy()
    mine["apply_counts"][system][7] += 1
    assert differences(mine, theirs) == [f"apply_counts[{system}]: 1 writes differ, first [7]"]


def test_saved_columns_load_back_to_the_same_pass(tmp_path):
    cols = to_columns(synthetic(2_000, 2))
    path = tmp_path / "h.npz"
    save_columns(cols, str(path))
    loaded = load_columns(str(path))
    assert loaded["strings"] == cols["strings"]
    assert loaded["w_vals"] == cols["w_vals"]
    assert [p for p, _ in loaded["others"]] == [p for p, _ in cols["others"]]
    assert echo_bound(loaded) == 2
    expected = numpy_pass(cols, 2)
    for decode in (True, False):
        got = numpy_pass(load_columns(str(path), decode=decode), 2)
        assert set(got) == set(expected)
        for name, value in expected.items():
            assert np.array_equal(got[name], value), name


def test_the_measuring_command_runs_each_mode(tmp_path, capsys):
    history = tmp_path / "h.jsonl.gz"
    write_synthetic_history(history, 300)
    npz = str(tmp_path / "h.npz")
    for mode in ("none", "read", "feed", "convert", "save", "load", "pass"):
        main([mode, str(history), "--npz", npz, "--bound", "2"])
        assert capsys.readouterr().out.startswith(f"{mode}: ")
    assert echo_bound(load_columns(npz)) == 6


def reference_runs() -> list[tuple[str, str | None, int, float, int | None, str | None]]:
    """(label, file, users, days, seed, design or None for its own) of the 28 runs."""
    from sim.scenario.variants import catalogue_names

    runs: list[tuple[str, str | None, int, float, int | None, str | None]] = [
        (f"{label}/{design}", file, users, days, seed, design)
        for label, file, users, days, seed in CASES
        for design in catalogue_names()
    ]
    runs += [(Path(file).stem, file, 0, 0.0, None, None) for file in OWN_DESIGN]
    return runs


def check_reference_run(run: tuple, tmp_path: Path) -> None:
    from sim.bench.bench import scaled_scenario
    from sim.engine.runner import run_scenario
    from sim.scenario.spec import load_scenario
    from sim.study.compare import design_variant

    label, file, users, days, seed, design = run
    scenario = load_scenario(ROOT / file) if file else scaled_scenario(users, days)
    if design is not None:
        scenario = scenario.with_design(design_variant(scenario, design).design)
    path = tmp_path / "history.jsonl.gz"
    run_scenario(scenario, seed, keep_events=False, history_path=path)
    mine = columnar(read_history(path))
    theirs = from_ledger(Ledger().feed(read_history(path)).finish())
    assert differences(mine, theirs) == [], label


DEFAULT_RUNS = [run for run in reference_runs() if not run[0].startswith("seed-60u")]


@pytest.mark.parametrize("run", DEFAULT_RUNS, ids=[run[0] for run in DEFAULT_RUNS])
def test_the_numpy_pass_equals_the_ledger_on_reference_runs(run, tmp_path):
    check_reference_run(run, tmp_path)


@pytest.mark.slow
def test_the_numpy_pass_equals_the_ledger_on_all_28_reference_runs(tmp_path):
    runs = reference_runs()
    assert len(runs) == 28
    for run in runs:
        check_reference_run(run, tmp_path)
