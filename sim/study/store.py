"""The results store: every finished run of a sweep, durable the moment it finishes.

A sweep can take hours; machines get rebooted and laptops closed. The store makes that
harmless. It is one SQLite file (``reports/sweeps/<name>/results.sqlite``) with one row
per run, keyed by **(configuration hash, seed)**: the configuration hash identifies the
fully resolved scenario (see :class:`sim.study.configure.Configured`), the seed the replication.

**Nothing finished is lost.** Each run is inserted and committed in its own transaction
before the sweep waits for the next one. SQLite's write-ahead log makes a commit
durable against the process being killed at any instant (even ``kill -9``): the row is
either wholly there or not there at all.

**Nothing is repeated.** ``p2c sweep --resume`` reads the keys already stored
(:meth:`ResultStore.done`) and submits only the missing runs. Runs that were in flight
when the process died were never committed, so they run again, exactly once. The
primary key makes a duplicate impossible rather than merely unlikely: inserting a key
twice is an error, which would reveal a resume bug instead of hiding it.

A run whose invariant checker crashed is stored with its metrics and the error, but
counts as unfinished: ``--resume`` runs it again and the new row replaces it.

**Sessions.** Each process that opens the store for writing gets a session number, and
every row records the session that produced it, so "the resumed session ran exactly the
missing runs" can be checked (and is, by the tests).

Only the sweep's own process writes (workers send results back to it), so there is
never more than one writer; readers (a notebook, :func:`sim.api.load`) may read while a
sweep runs.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim.scenario.yamlio import InputError

if TYPE_CHECKING:
    from sim.study.executors import RunOutcome
    from sim.study.sweep.plan import Configuration

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    note TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS runs (
    config_hash TEXT NOT NULL,
    seed INTEGER NOT NULL,
    replication INTEGER NOT NULL,
    label TEXT NOT NULL,
    design TEXT NOT NULL,
    configuration TEXT NOT NULL,   -- JSON: factor -> value
    trace_sha256 TEXT NOT NULL,
    metrics TEXT NOT NULL,         -- JSON: metric -> number
    verdicts TEXT NOT NULL,        -- JSON: invariant -> {status, violations, sanctioned}
    failed INTEGER NOT NULL,
    quiescent INTEGER NOT NULL,
    elapsed_s REAL NOT NULL,
    check_error TEXT,
    session INTEGER NOT NULL REFERENCES sessions(id),
    PRIMARY KEY (config_hash, seed)
);
"""


@dataclass
class StoredRun:
    """One row of the store, decoded."""

    config_hash: str
    seed: int
    replication: int
    label: str
    design: str
    values: dict[str, Any]
    trace_sha256: str
    metrics: dict[str, float]
    verdicts: dict[str, dict[str, Any]] = field(default_factory=dict)
    failed: bool = False
    quiescent: bool = True
    elapsed_s: float = 0.0
    check_error: str | None = None
    session: int = 0


class ResultStore:
    """A SQLite file of finished runs, one committed row per (configuration hash, seed).

    ``fresh=True`` starts a new sweep over an existing store: the rows stored before are
    deleted in the same transaction that commits the first new run, so they stay until
    new work has actually finished and can be written (an executor that cannot start, a
    full disk, a kill before the first run: the old rows are all still there).
    ``meta`` is remembered as key/value text (the sweep's name and spec).
    """

    def __init__(
        self,
        path: Path | str,
        *,
        fresh: bool = False,
        meta: dict[str, str] | None = None,
        note: str = "",
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._clear_before_first_add = fresh
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, one transaction per run.
        self._db = sqlite3.connect(self.path, isolation_level=None, timeout=30.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: a commit survives the process being killed; only a power
        # cut may lose the last commits (which a resume then simply runs again).
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        with self._transaction():
            for key, value in (meta or {}).items():
                self._db.execute(
                    "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value)
                )
            cursor = self._db.execute("INSERT INTO sessions(note) VALUES (?)", (note,))
        self.session = int(cursor.lastrowid or 0)

    @property
    def fresh_pending(self) -> bool:
        """A fresh store whose earlier rows still wait for the first new run."""
        return self._clear_before_first_add

    def _transaction(self):
        return _Transaction(self._db)

    def done(self) -> set[tuple[str, int]]:
        """Keys (configuration hash, seed) of every complete stored run.

        A run whose checker crashed (``check_error``) is stored, but not complete: its
        verdicts are missing, so a resumed sweep runs it again and replaces the row. A
        fresh store has none done (its earlier rows only wait for the first new one).
        """
        if self._clear_before_first_add:
            return set()
        return {
            (h, int(s))
            for h, s in self._db.execute(
                "SELECT config_hash, seed FROM runs WHERE check_error IS NULL"
            )
        }

    def add(self, outcome: RunOutcome, configuration: Configuration | None = None) -> None:
        """Insert one finished run and commit it (raises on a duplicate key, unless the
        stored row is an incomplete one whose checker crashed, which it replaces)."""
        values = configuration.as_dict() if configuration is not None else {}
        label = configuration.label if configuration is not None else outcome.label
        with self._transaction():
            if self._clear_before_first_add:
                self._db.execute("DELETE FROM runs")
            self._db.execute(
                "DELETE FROM runs WHERE config_hash = ? AND seed = ? AND check_error IS NOT NULL",
                (outcome.config_hash, int(outcome.seed)),
            )
            self._db.execute(
                "INSERT INTO runs(config_hash, seed, replication, label, design, configuration,"
                " trace_sha256, metrics, verdicts, failed, quiescent, elapsed_s, check_error,"
                " session) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    outcome.config_hash,
                    int(outcome.seed),
                    int(outcome.replication),
                    label,
                    outcome.design,
                    _dumps(values),
                    outcome.trace_sha256,
                    _dumps(outcome.metrics),
                    _dumps(outcome.verdicts),
                    int(outcome.failed),
                    int(outcome.quiescent),
                    float(outcome.elapsed_s),
                    outcome.check_error,
                    self.session,
                ),
            )
        self._clear_before_first_add = False

    def rows(self) -> list[StoredRun]:
        """Every stored run, ordered by configuration hash and replication (none yet in a
        fresh store whose first new run has not finished)."""
        if self._clear_before_first_add:
            return []
        return read_rows(self._db.execute(_SELECT + " ORDER BY config_hash, replication"))

    def sessions(self) -> dict[int, int]:
        """Session number -> how many runs that session stored."""
        return {
            int(s): int(n)
            for s, n in self._db.execute("SELECT session, COUNT(*) FROM runs GROUP BY session")
        }

    def meta(self) -> dict[str, str]:
        return dict(self._db.execute("SELECT key, value FROM meta"))

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Transaction:
    """BEGIN ... COMMIT, or ROLLBACK when the block raises."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, kind, value, traceback) -> None:
        self.db.execute("ROLLBACK" if kind is not None else "COMMIT")


_SELECT = (
    "SELECT config_hash, seed, replication, label, design, configuration, trace_sha256,"
    " metrics, verdicts, failed, quiescent, elapsed_s, check_error, session FROM runs"
)


def read_rows(cursor: Iterable[tuple[Any, ...]]) -> list[StoredRun]:
    return [
        StoredRun(
            config_hash=row[0],
            seed=int(row[1]),
            replication=int(row[2]),
            label=row[3],
            design=row[4],
            values=json.loads(row[5]),
            trace_sha256=row[6],
            metrics=json.loads(row[7]),
            verdicts=json.loads(row[8]),
            failed=bool(row[9]),
            quiescent=bool(row[10]),
            elapsed_s=float(row[11]),
            check_error=row[12],
            session=int(row[13]),
        )
        for row in cursor
    ]


def stored_run_count(path: Path | str) -> int:
    """How many runs the store at ``path`` holds (0 when there is no store), read-only."""
    path = Path(path)
    if not path.is_file():
        return 0
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30.0)
    try:
        return int(db.execute("SELECT COUNT(*) FROM runs").fetchone()[0])
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return 0
        raise
    finally:
        db.close()


def read_store(path: Path | str) -> list[StoredRun]:
    """Every run in the store at ``path``, read-only (safe while a sweep is writing)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such results store")
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30.0)
    try:
        return read_rows(db.execute(_SELECT + " ORDER BY config_hash, replication"))
    finally:
        db.close()


def _dumps(data: Any) -> str:
    """JSON with NaN written as null (JSON has no NaN)."""
    return json.dumps(_clean(data), sort_keys=True, separators=(",", ":"), default=str)


def _clean(data: Any) -> Any:
    if isinstance(data, float) and math.isnan(data):
        return None
    if isinstance(data, dict):
        return {k: _clean(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_clean(v) for v in data]
    return data
