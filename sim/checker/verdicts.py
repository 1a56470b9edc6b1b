"""Verdicts: what each invariant concludes about a history, and why.

A :class:`Verdict` has one of four statuses:

``holds``
    The invariant was judged and no anomaly was found.
``violated``
    At least one anomaly the design does not accept. Each is an :class:`Anomaly` with an
    explanation an architect can read without the code.
``sanctioned``
    Anomalies were found, but the contract lists the invariant under ``sanctioned``: the
    design accepts them by construction (last-writer-wins loses updates by definition).
    They are counted and explained exactly like violations, never hidden; they just do
    not fail the run.
``unknown``
    The invariant could not be judged, usually because the run ended before quiescence:
    replicas that still differ may simply not have caught up. "Did not converge" is
    reported apart from "diverged" (violated at quiescence).

Counts are exact even when the list of kept anomalies is capped (:data:`MAX_ANOMALIES`),
so a history with a million lost updates still yields a small verdict file.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

HOLDS = "holds"
VIOLATED = "violated"
SANCTIONED = "sanctioned"
UNKNOWN = "unknown"

#: At most this many anomalies are kept per verdict; counts stay exact.
MAX_ANOMALIES = 1000


@dataclass(frozen=True, slots=True)
class Anomaly:
    """One thing that went wrong, in business terms.

    ``code`` is a short machine-readable kind (``lost-update``, ``diverged``,
    ``missing-record``, ...). ``write_ids`` lists the writes involved, the lost or
    offending one first and, when there is one, the write that displaced it second.
    ``t`` is when the anomaly happened (simulated seconds), or ``None`` for anomalies of
    the final state. ``via`` names the apply path that caused it (a batch run id,
    ``"user"``). ``text`` is the rendered explanation, returned by :meth:`explain`.
    """

    invariant: str
    code: str
    text: str
    write_ids: tuple[str, ...] = ()
    system: str | None = None
    entity: str | None = None
    key: str | None = None
    field: str | None = None
    t: float | None = None
    via: str | None = None
    sanctioned: bool = False

    def explain(self) -> str:
        """The explanation as a sentence, e.g. "W-operations-17 (...) was overwritten ..."."""
        return self.text

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"invariant": self.invariant, "code": self.code}
        for name in ("system", "entity", "key", "field", "t", "via"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        out["write_ids"] = list(self.write_ids)
        if self.sanctioned:
            out["sanctioned"] = True
        out["explanation"] = self.text
        return out


@dataclass
class Verdict:
    """One invariant's conclusion: status, exact counts, kept anomalies, metrics.

    ``violations`` counts anomalies the design does not accept and ``sanctioned`` those
    it does; at most one of them is non-zero. ``note`` is one line of context (why the
    verdict is unknown, what was measured) and ``metrics`` a flat name -> number map.
    """

    invariant: str
    status: str
    violations: int = 0
    sanctioned: int = 0
    anomalies: list[Anomaly] = field(default_factory=list)
    metrics: Mapping[str, float] = field(default_factory=dict)
    note: str = ""

    @property
    def ok(self) -> bool:
        """True for ``holds`` and ``sanctioned``: nothing the design did not accept."""
        return self.status in (HOLDS, SANCTIONED)

    @property
    def count(self) -> int:
        """All anomalies found, sanctioned or not."""
        return self.violations + self.sanctioned

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "violations": self.violations,
            "sanctioned": self.sanctioned,
            "note": self.note,
            "metrics": dict(self.metrics),
            "anomalies_kept": len(self.anomalies),
            "anomalies": [a.to_json() for a in self.anomalies],
        }


def make_verdict(
    invariant: str,
    anomalies: Iterable[Anomaly],
    count: int,
    *,
    sanctioned: bool,
    unknown: bool = False,
    metrics: Mapping[str, float] | None = None,
    note: str = "",
) -> Verdict:
    """Assemble a verdict from anomalies found (``count`` exact, the list maybe capped).

    ``sanctioned`` marks the invariant as accepted by the design: its anomalies become
    sanctioned. ``unknown`` means the invariant could not be judged; anomalies passed
    along with it are kept as evidence (e.g. what still differed at the end) but do not
    count as violations.
    """
    kept = list(anomalies)[:MAX_ANOMALIES]
    if unknown:
        return Verdict(invariant, UNKNOWN, 0, 0, kept, metrics or {}, note)
    if count and sanctioned:
        kept = [replace(a, sanctioned=True) for a in kept]
        return Verdict(invariant, SANCTIONED, 0, count, kept, metrics or {}, note)
    status = VIOLATED if count else HOLDS
    return Verdict(invariant, status, count, 0, kept, metrics or {}, note)


class AnomalyList:
    """A capped list with an exact count: keeps the first :data:`MAX_ANOMALIES`."""

    __slots__ = ("items", "count", "cap")

    def __init__(self, cap: int = MAX_ANOMALIES) -> None:
        self.items: list[Anomaly] = []
        self.count = 0
        self.cap = cap

    def add(self, anomaly: Anomaly) -> None:
        self.count += 1
        if len(self.items) < self.cap:
            self.items.append(anomaly)

    def room(self) -> bool:
        """True while another anomaly would still be kept (lets callers skip wording)."""
        return len(self.items) < self.cap
