"""The core of a columnar checker (issue 17's next step): a history as integer-coded
columns, and a numpy pass computing from them what :meth:`Ledger.feed` computes for
``write`` and ``apply`` events.

**Not used yet.** ``p2c verify`` and :func:`sim.checker.check_history` do not call this
module: they feed :class:`~sim.checker.ledger.Ledger` one event dict at a time, and the
verdicts come from there. This module is the first step of moving that pass to numpy;
``tests/test_columnar.py`` holds it equal to ``Ledger().feed`` on synthetic histories and
on the histories of the reference runs of ``tests/fingerprints.py``.

Three parts:

- :func:`to_columns`: one Python loop over event dicts giving integer columns. Strings
  (write ids, systems, fields, vias, actors, entities, record keys) are coded in order of
  first sight, systems named by ``run_start.contract.systems`` first, as the ledger numbers
  its slots; write indexes are the ledger's (the n-th ``write`` event, or a *stub* for an
  apply naming an unknown write id, gets index n). Writes (``w_*``), the base cells of
  writes whose parent the ledger would mark ``COMPLEX`` (``b_*``), applies (``a_*``) and
  their (field, write) cells (``c_*``) are columns; write values and every other event
  are kept as Python objects.
- :func:`save_columns` / :func:`load_columns`: one uncompressed ``.npz`` (string tables as
  newline-joined UTF-8 blobs, write values and the other events as orjson blobs).
- :func:`numpy_pass`: the final replica rows and the records each replica holds, apply
  counts per (write, system) and ``max_applies``, first-arrival delays per (entity,
  origin, destination) in event order, the last displacement of each write at home (and
  the displacing apply's trigger when it carried a newer write), overwrite counts,
  ``echo_over`` with its vias, the writes applied at home (status ``APPLIED``) and the
  count of duplicate creates. :func:`as_ledger` turns its arrays into the ledger's own
  structures (dicts keyed by names), for comparison.

**Not covered yet** (the ledger still does these, and a columnar checker must before it can
replace it): the hooks (``monotone_lifecycle``, references, ownership, ``lock_safety``,
retired records: every invariant is judged from hooks or from the ledger's dicts after
:meth:`Ledger.finish`, and none reads these arrays); finish-time invariants; ``send`` /
``deliver`` / ``dead_letter`` and ``batch_end`` events, kept as Python objects (saved as one
orjson blob: at 1,000,000 writes the batch key lists are the largest part, 51 of 216 MB in
the prototype's measure); rejects (they do not set a status column); strict-mode breaches
(:class:`ContractBreach`); the ledger's list of duplicates (only their count is computed);
empty saves; apply counters that saturate at 65,535 in the ledger (here they do not); the
``newest`` write of a multi-field apply naming an unknown id, which differs from the
ledger's on such invalid histories; write values (an orjson blob). Nothing is processed in
blocks: memory grows with the events (752 MB peak RSS for the pass at 1,000,000 writes,
below).

**Measured** (2026-12-02, 2 cores shared with other work). ``python -m sim.checker.columnar
MODE HISTORY`` runs one mode (see :func:`main`) and prints its CPU seconds; the histories
were ``write_synthetic_history(Path(...), N)`` of :mod:`sim.bench.synthetic` at N = 30,000
and 1,000,000 writes (114,401 and 4,014,676 events), and ``--npz`` their ``save``.

- Equality with ``Ledger().feed``: ``tests/test_columnar.py`` (20,000 writes under echo
  bounds 0, 2 and 6; the 28 reference runs, 12 of them by default). The prototype this
  module was landed from (same pass, its coding loop since reorganised) also held it at
  echo bounds 1 and 3, at 300,000 and at 1,000,000 writes.
- Instructions at 30,000 writes (``PYTHONHASHSEED=0 OPENBLAS_NUM_THREADS=1 setarch -R
  valgrind --tool=callgrind python -m sim.checker.columnar MODE h_30000.jsonl.gz --npz
  h_30000.npz --no-hugepage 2>&1 | grep refs``): ``none`` 712.0M, ``read`` 2,086.3M,
  ``feed`` 3,735.8M, ``convert`` 3,938.6M, ``load`` 768.9M, ``pass`` 934.4M. Net of
  reading, ``Ledger().feed`` is 1,649.5M and :func:`to_columns` 1,852.3M (1.12x); net of
  loading, :func:`numpy_pass` is 165.5M (0.10x the ledger's pass), and load + pass net of
  ``none`` 222.4M (0.13x).
- CPU at 1,000,000 writes, one cold process each (``python -m sim.checker.columnar MODE
  h_1000000.jsonl.gz --npz h_1000000.npz [--no-hugepage]``, three of each, load average
  1.0-1.3): ``save`` 30.5 s once, with the slower coding loop of :func:`to_columns`'s
  docstring (832 MB peak RSS); ``load`` 0.23-0.47 s; ``pass`` (load and
  numpy pass) 1.66-1.71 s with ``--no-hugepage`` (0.46-0.49 s of it system time, 752 MB
  peak RSS), 2.99-3.39 s without (1.80-2.31 s system: numpy's transparent-hugepage
  ``madvise``; ``--no-hugepage`` calls ``np._core.multiarray._set_madvise_hugepage(False)``,
  process wide, so only the command line does it).
"""

from __future__ import annotations

import argparse
import gc
import resource
import sys
from array import array
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import orjson

from sim.checker.ledger import Ledger
from sim.history import read_history

#: ``w_home`` of a stub (a write known only from an apply naming it).
NO_SYSTEM = 255
#: ``w_parent``: the ledger's ``NO_PARENT`` and ``COMPLEX`` (the base is in the ``b_*`` cells).
NO_PARENT, COMPLEX = -1, -2
#: The vias of an apply that saves a write at home (the ledger's status ``APPLIED``).
SAVE_VIAS = ("user", "initial-load")
#: Bits of ``a_flags``.
F_CREATED, F_REAPPLY = 1, 2
#: ``echo_over`` keeps at most this many vias per (write, system), as the ledger does.
ECHO_VIAS = 12


#: The numeric columns of :func:`to_columns`, with their ``array`` type codes.
COLUMNS = {
    "w_t": "d", "w_home": "B", "w_rec": "i", "w_actor": "i", "w_nf": "B", "w_fields": "B",
    "w_parent": "q", "w_single": "B", "b_write": "q", "b_field": "B", "b_parent": "q",
    "a_pos": "q", "a_t": "d", "a_sys": "B", "a_rec": "i", "a_via": "i", "a_flags": "B",
    "a_nf": "B", "c_field": "B", "c_write": "i", "rec_ent": "B",
}  # fmt: skip


class _Coder:
    """The state of one :func:`to_columns` pass: code tables and growing columns.

    ``w_single`` is 1 + the field's code for a write that set exactly one field, else 0;
    ``b_*`` are the base cells of ``COMPLEX`` writes, one per (field, parent id), the
    parent ``-3`` when its id is unknown; ``c_*`` are the (field, write) cells of applies.
    """

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.ids: list[str] = []
        self.codes: dict[str, dict[str, int]] = {}
        self.names: dict[str, list[str]] = {}
        for table in ("systems", "fields", "vias", "actors", "entities"):
            self.codes[table], self.names[table] = {}, []
        self.recs_by_ent: list[dict[str, int]] = []  # entity code -> key -> record code
        self.rec_keys: list[str] = []
        self.col: dict[str, array[Any]] = {k: array(t) for k, t in COLUMNS.items()}
        self.w_vals: list[Any] = []
        self.others: list[tuple[int, Mapping[str, Any]]] = []
        self.dup_write_ids = 0

    def code(self, table: str, name: str) -> int:
        """The code of ``name`` in ``table``, given on first sight."""
        codes = self.codes[table]
        found = codes.get(name)
        if found is None:
            found = codes[name] = len(codes)
            self.names[table].append(name)
        return found

    def record(self, entity: str, key: str) -> int:
        """The code of record ``key`` of ``entity``, given on first sight."""
        e = self.code("entities", entity)
        if e == len(self.recs_by_ent):
            self.recs_by_ent.append({})
        recs = self.recs_by_ent[e]
        r = recs.get(key)
        if r is None:
            r = recs[key] = len(self.rec_keys)
            self.rec_keys.append(key)
            self.col["rec_ent"].append(e)
        return r

    def stub(self, write_id: str) -> int:
        """The index of a write known only from an apply naming it, as the ledger makes."""
        i = len(self.ids)
        self.index[write_id] = i
        self.ids.append(write_id)
        for name, value in self._STUB:
            self.col[name].append(value)
        return i

    _STUB = (
        ("w_t", float("nan")), ("w_home", NO_SYSTEM), ("w_rec", -1), ("w_actor", -1),
        ("w_nf", 0), ("w_parent", NO_PARENT), ("w_single", 0),
    )  # fmt: skip

    def base_cells(self, i: int, base: Mapping[str, list[str]]) -> None:
        """The base of write ``i`` (whose parent is ``COMPLEX``), one cell per parent."""
        col = self.col
        for field, parents in base.items():
            f = self.code("fields", field)
            for p in parents:
                col["b_write"].append(i)
                col["b_field"].append(f)
                col["b_parent"].append(self.index.get(p, -3))

    def result(self, events: int) -> dict[str, Any]:
        """The columns as numpy arrays, the tables and the rest (:func:`to_columns`)."""
        out: dict[str, Any] = {
            name: np.frombuffer(col, dtype=col.typecode) for name, col in self.col.items()
        }
        names = self.names
        out["strings"] = {
            "ids": self.ids, "systems": names["systems"], "fields": names["fields"],
            "vias": names["vias"], "actors": names["actors"], "entities": names["entities"],
            "rec_keys": self.rec_keys,
        }  # fmt: skip
        out["w_vals"] = self.w_vals
        out["others"] = self.others
        out["events"] = events
        out["dup_write_ids"] = self.dup_write_ids
        return out


def to_columns(events: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Integer-code ``events`` (an iterable of dicts) in one pass.

    Codes follow first sight; systems named by ``run_start.contract.systems`` are coded
    first, as the ledger numbers its slots. Write indexes are the ledger's: the n-th
    ``write`` event (or stub: an apply naming an unknown write id) gets index n.
    Numeric columns (:data:`COLUMNS`) are numpy arrays; ``strings`` holds the code tables,
    ``w_vals`` the values written (in ``w_fields`` order), ``others`` every other event
    with its position. The loop keeps its tables and appends in locals and leaves only
    first sightings and rare shapes to :class:`_Coder`'s methods: with a method call per
    write and per apply it cost 2,626.7M instructions instead of 1,852.3M net of reading
    the 30,000-write history (the module docstring's command, mode ``convert``).
    """
    coder = _Coder()
    col, index, codes = coder.col, coder.index, coder.codes
    index_get, code, record = index.get, coder.code, coder.record
    sys_get, field_get, via_get = codes["systems"].get, codes["fields"].get, codes["vias"].get
    actor_get, ent_get = codes["actors"].get, codes["entities"].get
    recs_by_ent, others, w_vals, ids = coder.recs_by_ent, coder.others, coder.w_vals, coder.ids
    a_pos, a_t, a_sys, a_rec, a_via, a_flags, a_nf, c_field, c_write = (
        col[k].append for k in ("a_pos a_t a_sys a_rec a_via a_flags a_nf c_field c_write".split())
    )
    w_t, w_home, w_rec, w_actor, w_nf, w_fields, w_parent, w_single = (
        col[k].append for k in ("w_t w_home w_rec w_actor w_nf w_fields w_parent w_single".split())
    )
    pos = -1
    for pos, event in enumerate(events):  # noqa: B007
        kind = event["kind"]
        is_apply = kind == "apply" or kind == "reapply"
        if not is_apply and kind != "write":
            if kind == "run_start":
                for system in (event.get("contract") or {}).get("systems", ()):
                    code("systems", system)
            others.append((pos, event))
            continue
        system = event["system"]
        s = sys_get(system)
        if s is None:
            s = code("systems", system)
        e = ent_get(event["entity"])
        r = None if e is None else recs_by_ent[e].get(event["key"])
        if r is None:
            r = record(event["entity"], event["key"])
        fields = event["fields"] if is_apply else event.get("fields") or {}
        if is_apply:
            a_pos(pos)
            a_t(event["t"])
            a_sys(s)
            a_rec(r)
            v = via_get(event["via"])
            a_via(code("vias", event["via"]) if v is None else v)
            created = F_CREATED if event.get("created") else 0
            a_flags(created | (F_REAPPLY if kind == "reapply" else 0))
            a_nf(len(fields))
            for field, write_id in fields.items():
                f = field_get(field)
                c_field(code("fields", field) if f is None else f)
                i = index_get(write_id)
                c_write(coder.stub(write_id) if i is None else i)
            continue
        write_id = event["write_id"]
        i = len(ids)
        if index.setdefault(write_id, i) != i:
            coder.dup_write_ids += 1
            index[write_id] = i
        ids.append(write_id)
        actor = event.get("actor", "?")
        a = actor_get(actor)
        single = 0
        for field, value in fields.items():
            fc = field_get(field)
            if fc is None:
                fc = code("fields", field)
            w_fields(fc)
            w_vals.append(value)
            single = fc + 1
        if len(fields) != 1:
            single = 0
        base = event.get("base") or {}
        parent = COMPLEX
        if not any(base.values()):
            parent = NO_PARENT
        elif single and len(base) == 1:
            parents = base.get(field)
            if parents is not None and len(parents) == 1:
                parent = index_get(parents[0], COMPLEX)
        if parent == COMPLEX:
            coder.base_cells(i, base)
        w_t(event["t"])
        w_home(s)
        w_rec(r)
        w_actor(code("actors", actor) if a is None else a)
        w_nf(len(fields))
        w_parent(parent)
        w_single(single)
    return coder.result(pos + 1)


def _blob(strings: list[str]) -> np.ndarray:
    """Newline-joined UTF-8 (names never hold a newline: they are ids, systems, fields)."""
    return np.frombuffer("\n".join(strings).encode(), dtype=np.uint8)


def save_columns(cols: dict[str, Any], path: str) -> None:
    """One uncompressed .npz: numeric columns as they are, string tables as one
    newline-joined UTF-8 blob each, values and the other events as orjson blobs."""
    arrays: dict[str, Any] = {k: v for k, v in cols.items() if isinstance(v, np.ndarray)}
    for name, strings in cols["strings"].items():
        arrays[f"s_{name}"] = _blob(strings)
    arrays["j_vals"] = np.frombuffer(orjson.dumps(cols["w_vals"]), dtype=np.uint8)
    arrays["j_others"] = np.frombuffer(
        orjson.dumps([[p, e] for p, e in cols["others"]]), dtype=np.uint8
    )
    arrays["meta"] = np.array([cols["events"], cols["dup_write_ids"]], dtype=np.int64)
    np.savez(path, **arrays)


def load_columns(path: str, decode: bool = True) -> dict[str, Any]:
    """Read the .npz back. ``decode=False`` leaves the write ids, actors, record keys,
    values and other events as byte blobs (``j_vals``, ``j_others``: a checker that quotes
    them only in explanations could decode them lazily); :func:`numpy_pass` needs only
    the systems, vias, entities and fields, which it decodes either way, and is then given
    the echo bound (:func:`echo_bound` reads it from the decoded other events)."""
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    out: dict[str, Any] = {k: v for k, v in arrays.items() if not k.startswith(("s_", "j_"))}
    meta = out.pop("meta")
    out["events"], out["dup_write_ids"] = int(meta[0]), int(meta[1])
    if decode:
        out["strings"] = {
            k[2:]: (v.tobytes().decode().split("\n") if len(v) else [])
            for k, v in arrays.items()
            if k.startswith("s_")
        }
        out["w_vals"] = orjson.loads(arrays["j_vals"].tobytes())
        out["others"] = [(p, e) for p, e in orjson.loads(arrays["j_others"].tobytes())]
    else:
        out["strings"] = {k[2:]: v for k, v in arrays.items() if k.startswith("s_")}
        # the systems, vias and entities are small and read by the pass itself
        for name in ("systems", "vias", "entities", "fields"):
            v = out["strings"][name]
            out["strings"][name] = v.tobytes().decode().split("\n") if len(v) else []
        out["j_vals"] = arrays["j_vals"]
        out["j_others"] = arrays["j_others"]
    return out


def echo_bound(cols: dict[str, Any]) -> int | None:
    """The contract's ``echo_bound`` (from ``run_start``), as the ledger reads it."""
    for _pos, event in cols["others"]:
        if event.get("kind") == "run_start":
            return (event.get("contract") or {}).get("echo_bound")
    return None


def _group_sort(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A stable argsort of ``key`` (non-negative ints) and the sorted keys, by one
    ``np.sort`` of ``key * n + position`` (unique values: order within a group is the
    original order; ``key * n`` must fit 64 bits). On 1,250,000 random keys below 400,000
    this took 0.018 s against 0.174 s for ``np.argsort(key, kind="stable")`` (best of 5,
    ``timeit`` in one ``python -c``, 2026-12-02)."""
    n = len(key)
    s = np.sort(key * n + np.arange(n, dtype=np.int64))
    return s % n, s // n


def _starts(sorted_keys: np.ndarray) -> np.ndarray:
    """True where a run of equal keys begins."""
    first = np.empty(len(sorted_keys), dtype=bool)
    first[:1] = True
    np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=first[1:])
    return first


def numpy_pass(cols: dict[str, Any], bound: int | None) -> dict[str, Any]:
    """What ``Ledger.feed`` computes for writes and applies, column-wise (hooks aside).

    ``bound`` is the contract's echo bound (:func:`echo_bound`; None: no ``echo_over``).
    Every result is an array or a number, keyed by name; :func:`as_ledger` turns them
    into the ledger's dict structures. The phases share a :class:`_Pass`.
    """
    p = _Pass(cols)
    out = p.out
    perm, ws, first = p.rows()
    disp = p.displacements(perm, ws, first)
    del perm, ws, first
    keep, u_ex, q = p.counts(disp)
    del disp
    qperm, qs = _group_sort(q)
    qfirst = _starts(qs)
    starts = np.flatnonzero(qfirst)
    grp = np.cumsum(qfirst) - 1
    p.arrivals(keep, keep[qperm[qfirst]])
    # echo_over: n > bound, not exempt in this apply, n - overwrites so far > bound
    if bound is not None:
        n = np.arange(len(qs)) - starts[grp] + 1  # the count after this apply
        ex_s = u_ex[qperm]
        ow = np.cumsum(ex_s)
        ow_before_group = (ow - ex_s)[starts]
        ow_run = ow - ow_before_group[grp]
        # (the ledger tests the bound only from a write's second apply in a replica)
        echo = (n > max(bound, 1)) & ~ex_s & (n - ow_run > bound)
        e_idx = np.flatnonzero(echo)
        # at most ECHO_VIAS vias per (write, system), in event order (already: stable sort)
        e_first = _starts(qs[e_idx])
        e_starts = np.flatnonzero(e_first)
        e_rank = np.arange(len(e_idx)) - e_starts[np.cumsum(e_first) - 1]
        sel = e_idx[e_rank < ECHO_VIAS]
        out["echo_q"] = qs[sel]
        out["echo_via"] = cols["a_via"][p.ca[keep[qperm[sel]]]]
    else:
        out["echo_q"] = out["echo_via"] = np.zeros(0, dtype=np.int64)
    return out


class _Pass:
    """The columns and sizes every phase of :func:`numpy_pass` reads, and its results
    (``out``). Cell columns stay 32-bit (composite sort keys are 64-bit): at 1M writes
    the pass's temporaries are what page-faulting costs."""

    def __init__(self, cols: dict[str, Any]) -> None:
        self.cols = cols
        self.vias: list[str] = cols["strings"]["vias"]
        self.S = S = max(len(cols["strings"]["systems"]), 1)
        self.W = W = len(cols["w_t"])
        c_max = int(cols["c_field"].max(initial=0))
        self.F = F = max(c_max, int(cols["w_fields"].max(initial=0))) + 1
        self.a_nf = a_nf = cols["a_nf"]
        self.A = A = len(a_nf)
        self.c_write: np.ndarray = cols["c_write"]
        self.c_field: np.ndarray = cols["c_field"]
        self.C = len(self.c_write)
        self.w_home: np.ndarray = cols["w_home"]
        self.a_ptr = np.zeros(A + 1, dtype=np.int64)
        np.cumsum(a_nf, out=self.a_ptr[1:])
        self.ca = np.repeat(np.arange(A, dtype=np.int32), a_nf)  # the apply of each cell
        self.c_sys = cols["a_sys"][self.ca]
        self.out: dict[str, Any] = {"W": W, "S": S, "F": F, "applies": A}

    def rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Replica rows: the last cell of each (record, system, field), in event order;
        the records each replica holds (an apply with no field creates an empty row) and
        the duplicate creates. Returns the cells' group order, their writes in that order
        and where each (record, system, field) group starts."""
        cols, out, S, A = self.cols, self.out, self.S, self.A
        k = cols["a_rec"][self.ca].astype(np.int64)
        k *= S
        k += self.c_sys
        k *= self.F
        k += self.c_field
        perm, ks = _group_sort(k)
        del k
        ws = self.c_write[perm]
        first = _starts(ks)
        last = np.empty(self.C, dtype=bool)
        last[-1:] = True
        last[:-1] = first[1:]
        out["rows_k"] = ks[last]
        out["rows_w"] = ws[last]
        del ks, last
        ra = cols["a_rec"].astype(np.int64) * S + cols["a_sys"]
        rperm, rs = _group_sort(ra)
        rfirst = _starts(rs)
        is_first_apply = np.zeros(A, dtype=bool)
        is_first_apply[rperm[rfirst]] = True
        out["row_keys"] = rs[rfirst]
        created = (cols["a_flags"] & F_CREATED) != 0
        out["duplicate_count"] = int(np.count_nonzero(created & ~is_first_apply))
        return perm, ws, first

    def displacements(self, perm: np.ndarray, ws: np.ndarray, first: np.ndarray) -> np.ndarray:
        """Displacements at home (the previous version of the same cell, saved in this
        system): the last of each (write, field), and its trigger when the displacing
        apply carried a newer write. Returns the displacing cells (in cell order)."""
        cols, out, C, F = self.cols, self.out, self.C, self.F
        prev = np.empty(C, dtype=np.int32)
        prev[1:] = ws[:-1]
        prev[first] = -1
        home_prev = self.w_home[prev]  # prev -1 reads the last write's home: masked below
        disp_s = (prev >= 0) & (prev != ws) & (home_prev == self.c_sys[perm])
        del home_prev
        disp = np.zeros(C, dtype=bool)  # in event (cell) order
        disp[perm[disp_s]] = True
        d_cells = np.flatnonzero(disp)  # ascending: event order
        d_old = np.empty(C, dtype=np.int32)
        d_old[perm] = prev
        del prev, disp_s
        d_old = d_old[d_cells].astype(np.int64)
        d_field = self.c_field[d_cells].astype(np.int64)
        d_new = self.c_write[d_cells]
        d_apply = self.ca[d_cells]
        # the last displacement of each (old, field)
        dperm, dks = _group_sort(d_old * F + d_field)
        dlast = np.empty(len(dks), dtype=bool)
        dlast[-1:] = True
        np.not_equal(dks[1:], dks[:-1], out=dlast[:-1])
        lastd = dperm[dlast]
        out["disp_old"] = d_old[lastd]
        out["disp_field"] = d_field[lastd]
        out["disp_t"] = cols["a_t"][d_apply[lastd]]
        out["disp_via"] = cols["a_via"][d_apply[lastd]]
        out["disp_by"] = d_new[lastd]
        # triggers: the newest write the displacing apply carried, when newer than its version
        nonempty = self.a_nf > 0
        newest = np.full(self.A, -1, dtype=np.int32)
        if C:
            newest[nonempty] = np.maximum.reduceat(self.c_write, self.a_ptr[:-1][nonempty])
        is_user = np.array([v == "user" for v in self.vias] + [False], dtype=bool)
        la = d_apply[lastd]
        nw = newest[la]
        trig = ~is_user[cols["a_via"][la]] & (nw > d_new[lastd])
        out["trig_old"] = d_old[lastd][trig]
        out["trig_field"] = d_field[lastd][trig]
        out["trig_newest"] = nw[trig]
        return disp

    def counts(self, disp: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Apply and overwrite counts, counting one cell per (apply, write). Returns the
        counted cells, whether each is exempt (its apply displaced a save at home) and
        its (write, system) key."""
        ca, c_write, out, S, W = self.ca, self.c_write, self.out, self.S, self.W
        maxnf = int(self.a_nf.max(initial=0))
        dup = np.zeros(self.C, dtype=bool)
        ex = disp.copy()
        for d in range(1, maxnf):
            same = (ca[d:] == ca[:-d]) & (c_write[d:] == c_write[:-d])
            dup[d:] |= same
            ex[:-d] |= same & disp[d:]
        keep = np.flatnonzero(~dup)
        u_ex = ex[keep]
        del ex, dup
        q = c_write[keep].astype(np.int64)
        q *= S
        q += self.c_sys[keep]
        counts = np.bincount(q, minlength=W * S).reshape(W, S)
        out["apply_counts"] = counts
        mx = int(counts.max(initial=0))
        out["max_applies"] = mx if mx > 1 else 0
        out["overwrite_counts"] = np.bincount(q[u_ex], minlength=W * S).reshape(W, S)
        return keep, u_ex, q

    def arrivals(self, keep: np.ndarray, f_cells: np.ndarray) -> None:
        """First arrivals (``f_cells``: the first counted cell of each (write, system)):
        delays per (entity, destination, origin) in event order, and the writes first
        applied at home by a save."""
        cols, out, S, C = self.cols, self.out, self.S, self.C
        f_write = self.c_write[f_cells]
        f_sys = self.c_sys[f_cells]
        f_origin = self.w_home[f_write]
        f_apply = self.ca[f_cells]
        arr = (f_origin != f_sys) & (f_origin != NO_SYSTEM)
        arr_cells = f_cells[arr]
        arr_ent = cols["rec_ent"][cols["a_rec"][self.ca[arr_cells]]].astype(np.int64)
        arr_delay = cols["a_t"][f_apply[arr]] - cols["w_t"][f_write[arr]]
        gk = (arr_ent * S + f_sys[arr]) * S + f_origin[arr]
        arr_cells = arr_cells.astype(np.int64)
        # by group, then event order: one sort of group * C + cell
        sk = np.sort(gk * C + arr_cells)
        delay_of = np.empty(C, dtype=np.float64)
        delay_of[arr_cells] = arr_delay
        out["arr_key"] = sk // C
        out["arr_delay"] = delay_of[sk % C]
        is_save = np.array([v in SAVE_VIAS for v in self.vias] + [False], dtype=bool)
        home_first = (f_origin == f_sys) & is_save[cols["a_via"][f_apply]]
        out["applied"] = f_write[home_first]


def as_ledger(cols: dict[str, Any], res: dict[str, Any]) -> dict[str, Any]:
    """The results of :func:`numpy_pass` as the ledger's own structures: ``tables``
    (``Ledger.tables``), ``arrivals``, ``apply_counts`` / ``overwrite_counts`` (one array
    per system, indexed by write), ``max_applies``, ``displaced_single`` (write index ->
    ``(t, via, by)``, for writes that set one field: the ledger's ``displaced_t`` /
    ``_via`` / ``_by`` columns), ``displaced_multi`` (the ledger's ``displaced``),
    ``triggers``, ``echo_over``, ``applied`` (the indexes of status ``APPLIED``),
    ``duplicate_count`` and ``W`` (writes and stubs)."""
    st = cols["strings"]
    systems, fields, vias, entities = st["systems"], st["fields"], st["vias"], st["entities"]
    rec_keys, rec_ent = st["rec_keys"], cols["rec_ent"]
    S, F, W = res["S"], res["F"], res["W"]
    tables: dict[str, dict[str, dict[str, dict[str, int]]]] = {}
    for rs in res["row_keys"].tolist():
        r, s = divmod(rs, S)
        tables.setdefault(systems[s], {}).setdefault(entities[rec_ent[r]], {})[rec_keys[r]] = {}
    for kk, w in zip(res["rows_k"].tolist(), res["rows_w"].tolist(), strict=True):
        rs, f = divmod(kk, F)
        r, s = divmod(rs, S)
        tables[systems[s]][entities[rec_ent[r]]][rec_keys[r]][fields[f]] = w
    arrivals: dict[tuple[str, str, str], list[float]] = {}
    for gk, delay in zip(res["arr_key"].tolist(), res["arr_delay"].tolist(), strict=True):
        es, origin = divmod(gk, S)
        e, dest = divmod(es, S)
        arrivals.setdefault((entities[e], systems[origin], systems[dest]), []).append(delay)
    single = cols["w_single"]
    displaced_single: dict[int, tuple[float, str, int]] = {}
    displaced_multi: dict[tuple[int, str], tuple[float, str, int]] = {}
    for old, f, t, v, by in zip(
        res["disp_old"].tolist(),
        res["disp_field"].tolist(),
        res["disp_t"].tolist(),
        res["disp_via"].tolist(),
        res["disp_by"].tolist(),
        strict=True,
    ):
        if single[old]:
            displaced_single[old] = (t, vias[v], by)
        else:
            displaced_multi[(old, fields[f])] = (t, vias[v], by)
    triggers = {
        (o, fields[f]): nw
        for o, f, nw in zip(
            res["trig_old"].tolist(),
            res["trig_field"].tolist(),
            res["trig_newest"].tolist(),
            strict=True,
        )
    }
    echo_over: dict[tuple[int, str], list[str]] = {}
    for qq, v in zip(res["echo_q"].tolist(), res["echo_via"].tolist(), strict=True):
        w, s = divmod(qq, S)
        echo_over.setdefault((w, systems[s]), []).append(vias[v])
    return {
        "tables": tables,
        "arrivals": arrivals,
        "apply_counts": {systems[s]: res["apply_counts"][:, s] for s in range(S)},
        "overwrite_counts": {systems[s]: res["overwrite_counts"][:, s] for s in range(S)},
        "max_applies": res["max_applies"],
        "displaced_single": displaced_single,
        "displaced_multi": displaced_multi,
        "triggers": triggers,
        "echo_over": echo_over,
        "applied": set(res["applied"].tolist()),
        "duplicate_count": res["duplicate_count"],
        "W": W,
    }


def _cpu() -> tuple[float, float]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime, usage.ru_stime


def main(argv: list[str] | None = None) -> None:
    """``python -m sim.checker.columnar MODE HISTORY``: one pass of one kind, printing its
    CPU seconds and peak RSS (the measurements of the module docstring). Modes: ``none``
    (imports only), ``read`` (:func:`read_history` of ``HISTORY``), ``feed`` (read and
    ``Ledger().feed``), ``convert`` (read and :func:`to_columns`), ``save`` (convert and
    write ``--npz``), ``load`` (:func:`load_columns` of ``--npz``, strings left encoded),
    ``pass`` (load and :func:`numpy_pass` with ``--bound``)."""
    parser = argparse.ArgumentParser(prog="python -m sim.checker.columnar")
    modes = ("none", "read", "feed", "convert", "save", "load", "pass")
    parser.add_argument("mode", choices=modes)
    parser.add_argument("history", help="a history file (read, feed, convert, save)")
    parser.add_argument("--npz", default="columns.npz", help="file of save / load / pass")
    parser.add_argument("--bound", type=int, default=6, help="echo bound of pass")
    parser.add_argument(
        "--no-hugepage", action="store_true", help="turn numpy's hugepage madvise off"
    )
    args = parser.parse_args(argv)
    if args.no_hugepage:
        np._core.multiarray._set_madvise_hugepage(False)  # type: ignore[attr-defined]
    gc.disable()  # as check_history's pass runs

    user, system = _cpu()
    if args.mode == "read":
        deque(read_history(args.history), maxlen=0)
    elif args.mode == "feed":
        Ledger().feed(read_history(args.history))
    elif args.mode == "convert":
        to_columns(read_history(args.history))
    elif args.mode == "save":
        save_columns(to_columns(read_history(args.history)), args.npz)
    elif args.mode == "load":
        load_columns(args.npz, decode=False)
    elif args.mode == "pass":
        numpy_pass(load_columns(args.npz, decode=False), args.bound)
    user2, system2 = _cpu()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{args.mode}: {user2 - user + system2 - system:.3f} s CPU "
        f"({user2 - user:.3f} user, {system2 - system:.3f} system), peak RSS {peak:.0f} MB"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
