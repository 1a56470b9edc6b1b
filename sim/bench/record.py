"""A bench result kept as a file: the figures and the conditions they were measured in.

``p2c bench --out FILE`` writes the object ``p2c bench --json`` prints, plus a ``meta``
object saying when and how it was measured: the date (UTC), the command, the load
average at the start and at the end (a figure taken on a busy machine says so), the
processor and its cores, Python's version, p2c's version and the git commit of the
checkout (None when installed from a wheel). The README's performance table is rendered
from such a file (``reports/bench/latest.json``, see :mod:`sim.docs`), so the table names
its scale, date and machine straight from the measurement.

The file is written as results are in this project: to a temporary file beside it, then
renamed over it, so a reader never sees half a file and an interrupted bench leaves the
previous one in place.
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sim import __version__
from sim.engine.runner import code_commit
from sim.study.executors import available_cores


def load_average() -> list[float] | None:
    """The 1-, 5- and 15-minute load averages, rounded; None where the OS has none."""
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except (AttributeError, OSError):  # pragma: no cover - Windows
        return None


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The processor's name, as the OS gives it (``/proc/cpuinfo``'s ``model name`` on
    Linux), else what :func:`platform.processor` says, else the machine type.

    Benches taken on different machines differ by more than any change measured here
    (2026-12-02: the same commit's recording floor was 1.26 microseconds per event on one
    machine and 4.57 on an AMD EPYC), so a figure is read with the processor it ran on."""
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as info:
            for line in info:
                name, _, value = line.partition(":")
                if name.strip() == "model name" and value.strip():
                    return " ".join(value.split())
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def bench_meta(command: str, load_start: list[float] | None) -> dict[str, Any]:
    """The conditions of one bench, taken when it ends (``load_start`` from its start)."""
    return {
        "date_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": command,
        "load_average_start": load_start,
        "load_average_end": load_average(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "available_cores": available_cores(),
        "python": platform.python_version(),
        "p2c_version": __version__,
        "commit": code_commit(),
    }


def write_bench_file(path: Path, figures: dict[str, Any], meta: dict[str, Any]) -> bool:
    """Write ``figures`` with ``meta`` to ``path`` atomically; True when it replaced a file."""
    replaced = path.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({**figures, "meta": meta}, indent=2, sort_keys=True, default=str) + "\n"
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return replaced
