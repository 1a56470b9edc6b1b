"""A sweep's files: summary.csv, summary.json and runs.csv, each swapped in whole."""

from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path
from typing import Any

from sim.study.stats import metric_value
from sim.study.sweep.result import SweepResult


def summary_records(result: SweepResult) -> list[dict[str, Any]]:
    """One flat record per configuration: the rows of summary.csv."""
    records = []
    for summary in result.summaries:
        configuration = summary.configuration
        record: dict[str, Any] = {
            "configuration": configuration.index,
            "config_hash": configuration.config_hash,
            "label": configuration.label,
            "design": configuration.design or "",
        }
        record.update(configuration.as_dict())
        record["runs"] = len(summary.seeds)
        for name, interval in summary.intervals.items():
            record[f"{name}.mean"] = _num(interval.mean)
            record[f"{name}.ci_low"] = _num(interval.low)
            record[f"{name}.ci_high"] = _num(interval.high)
            record[f"{name}.n"] = interval.n
        record["failed_runs"] = summary.failed_runs
        if result.plan.spec.objectives:
            record["pareto"] = summary.pareto
        for invariant, tally in sorted(summary.verdicts.items()):
            record[f"invariant.{invariant}"] = " ".join(
                f"{status}:{count}" for status, count in sorted(tally.items())
            )
        records.append(record)
    return records


def _num(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 6)


def write_outputs(result: SweepResult, out_dir: Path) -> dict[str, Path]:
    """summary.csv, summary.json and runs.csv beside the store.

    Each is written whole under a temporary name first; only when all three are written
    are they renamed over the old ones, so a full disk leaves the previous set (or, from
    the caller, none), never a 0-byte or half-written file.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    records = summary_records(result)
    paths = {
        "summary_csv": out_dir / "summary.csv",
        "summary_json": out_dir / "summary.json",
        "runs_csv": out_dir / "runs.csv",
    }
    plan = result.plan
    document = {
        "sweep": plan.spec.model_dump(mode="json"),
        "scenario": plan.scenario_name,
        "scenario_file": str(plan.scenario_path),
        "root_seed": plan.root_seed,
        "metrics": plan.metrics,
        "confidence": plan.spec.confidence,
        "objectives": plan.spec.objectives,
        "configurations": records,
        "pareto_front": [s.configuration.label for s in result.summaries if s.pareto],
        "runs": len(result.runs),
        "executed": result.executed,
        "skipped": result.skipped,
        "failed_runs": result.failed_runs,
    }
    run_records = []
    order = {c.config_hash: c.index for c in plan.configurations}
    for run in sorted(result.runs, key=lambda r: (order.get(r.config_hash, -1), r.replication)):
        record = {
            "config_hash": run.config_hash,
            "label": run.label,
            "design": run.design,
            "replication": run.replication,
            "seed": run.seed,
            **run.values,
            "trace_sha256": run.trace_sha256,
            "quiescent": run.quiescent,
            "failed": run.failed,
        }
        record.update({name: _num(metric_value(run.metrics, name)) for name in plan.metrics})
        run_records.append(record)
    temporary = {
        key: path.with_name(f".{path.name}.tmp-{os.getpid()}") for key, path in paths.items()
    }
    try:
        _write_csv(temporary["summary_csv"], records)
        with open(temporary["summary_json"], "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=2, sort_keys=False, default=str)
            handle.write("\n")
        _write_csv(temporary["runs_csv"], run_records)
        for key, path in paths.items():
            os.replace(temporary[key], path)
    finally:
        for leftover in temporary.values():
            leftover.unlink(missing_ok=True)
    return paths


def _write_csv(path: Path, records: list[dict[str, Any]]) -> None:
    columns = list(dict.fromkeys(k for record in records for k in record))
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for record in records:
            writer.writerow({k: ("" if v is None else v) for k, v in record.items()})
