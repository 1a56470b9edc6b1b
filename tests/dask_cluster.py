"""A loopback Dask cluster for the tests that need one: a ``dask scheduler`` and one
single-threaded ``dask worker`` on 127.0.0.1 (a free port), started from a given
``dask`` command and torn down whatever happens. Waiting for the worker is the
caller's: ``tests/test_sweep_dask.py`` asks from this process, ``tests/test_packaging.py``
from the installed environment."""

from __future__ import annotations

import contextlib
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop(process: subprocess.Popen) -> None:
    """Terminate, then kill if it does not go within 15 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


@dataclass
class Cluster:
    address: str
    processes: list[subprocess.Popen]
    logs: Path

    def died(self) -> bool:
        """True when the scheduler or the worker has exited."""
        return any(p.poll() is not None for p in self.processes)

    def log_text(self) -> str:
        return "\n".join(f.read_text() for f in sorted(self.logs.iterdir()))


@contextlib.contextmanager
def loopback_cluster(
    dask: str, workdir: Path, cwd: Path, env: dict[str, str] | None = None
) -> Iterator[Cluster]:
    """Start the scheduler and the worker with the ``dask`` executable; logs and the
    worker's directory go under ``workdir``."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    logs = workdir / "dask-logs"
    logs.mkdir()
    scheduler = ["scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"]
    scheduler += ["--idle-timeout", "300"]
    worker = ["worker", address, "--host", "127.0.0.1", "--nworkers", "1", "--nthreads", "1"]
    worker += ["--no-dashboard", "--death-timeout", "60"]
    worker += ["--local-directory", str(workdir / "dask-worker")]
    processes: list[subprocess.Popen] = []
    handles = []
    try:
        for name, args in (("scheduler", scheduler), ("worker", worker)):
            handles.append(open(logs / f"{name}.log", "w"))  # closed below, after the processes
            processes.append(
                subprocess.Popen(
                    [dask, *args], cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=handles[-1]
                )
            )
        yield Cluster(address, processes, logs)
    finally:
        for process in reversed(processes):
            stop(process)
        for handle in handles:
            handle.close()
