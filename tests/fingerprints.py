"""Reference fingerprints: what every design records and concludes on fixed inputs.

A faster path must not change a run: its trace hash (every event, byte for byte), its
metrics and the checker's verdicts (statuses, counts and every word of every
explanation, from the history file as ``p2c verify`` reads it). This module runs each
catalogue design on a few fixed scenarios and gives one fingerprint per run;
``tests/data/fingerprints.json`` holds the pinned ones and ``tests/test_fingerprints.py``
compares.

A deliberate change of behaviour re-pins them, and its commit says why::

    python tests/fingerprints.py --write     # rewrites tests/data/fingerprints.json
    python tests/fingerprints.py             # prints the runs that differ; exit 1 if any
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
PINNED = ROOT / "tests" / "data" / "fingerprints.json"

#: (label, scenario file or None for the scaled seed organisation, users, days, seed).
CASES: list[tuple[str, str | None, int, float, int | None]] = [
    ("signature", "scenarios/signatures/concurrent_account_edit.yaml", 0, 0.0, None),
    ("seed-60u-half-day", None, 60, 0.5, None),
    ("seed-60u-half-day-seed7", None, 60, 0.5, 7),
]

#: Scenarios with faults, throttling or custom entities, each under its own design only.
OWN_DESIGN = [
    "scenarios/hub_outage.yaml",
    "scenarios/dual_write_pause_overflow.yaml",
    "scenarios/month_end_throttling.yaml",
    "scenarios/custom_entity.yaml",
]


def _digest(data: Any) -> str:
    return hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


def reference_runs() -> list[str]:
    """The key of every reference run: ``case/design`` for each case under each catalogue
    design, then each own-design scenario's file stem (the keys of the pinned file)."""
    from sim.scenario.variants import catalogue_names

    keys = [f"{label}/{design}" for label, *_ in CASES for design in catalogue_names()]
    return keys + [Path(file).stem for file in OWN_DESIGN]


def reference_run(key: str) -> tuple[Any, int | None]:
    """The scenario (under its design) and the seed of the reference run ``key``."""
    from sim.bench.bench import scaled_scenario
    from sim.scenario.spec import load_scenario
    from sim.study.compare import design_variant

    for file in OWN_DESIGN:
        if Path(file).stem == key:
            return load_scenario(ROOT / file), None
    label, design = key.split("/")
    _, file, users, days, seed = next(case for case in CASES if case[0] == label)
    scenario = load_scenario(ROOT / file) if file else scaled_scenario(users, days)
    return scenario.with_design(design_variant(scenario, design).design), seed


def fingerprint(scenario: Any, seed: int | None) -> dict[str, Any]:
    """One run of ``scenario`` (under its design): its trace hash, event count, a hash of
    its metrics and a hash of the verdicts ``p2c verify`` would write for its file."""
    from sim.checker.check import check_history
    from sim.engine.runner import run_scenario
    from sim.history import read_history

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "history.jsonl.gz"
        result = run_scenario(scenario, seed, keep_events=False, history_path=path)
        report = check_history(read_history(path))
    metrics = {k: round(v, 9) if isinstance(v, float) else v for k, v in result.metrics.items()}
    return {
        "trace": result.trace_sha256,
        "events": result.event_count,
        "metrics": _digest(metrics),
        "verdicts": _digest(report.to_json()),
        "statuses": {name: v.status for name, v in sorted(report.verdicts.items())},
    }


def fingerprints() -> dict[str, dict[str, Any]]:
    """Every reference run's fingerprint, keyed as :func:`reference_runs` names them."""
    return {key: fingerprint(*reference_run(key)) for key in reference_runs()}


def differences(now: dict[str, Any], pinned: dict[str, Any]) -> list[str]:
    """One line per run whose fingerprint differs from the pinned one (or is missing)."""
    lines = []
    for key in sorted(set(now) | set(pinned)):
        a, b = pinned.get(key), now.get(key)
        if a != b:
            parts = (
                [f for f in ("trace", "events", "metrics", "verdicts", "statuses") if a[f] != b[f]]
                if a and b
                else ["missing" if b is None else "new"]
            )
            lines.append(f"{key}: {', '.join(parts)} differ")
    return lines


def main(argv: list[str]) -> int:
    now = fingerprints()
    if "--write" in argv:
        PINNED.write_text(json.dumps(now, indent=1, sort_keys=True) + "\n")
        print(f"wrote {len(now)} fingerprints to {PINNED.relative_to(ROOT)}")
        return 0
    diff = differences(now, json.loads(PINNED.read_text()))
    print("\n".join(diff) if diff else f"all {len(now)} fingerprints identical")
    return 1 if diff else 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main(sys.argv[1:]))
