"""The check report: every invariant's verdict for one history, and what it means.

``CheckReport.failed`` is the one bit CI needs: true when an invariant the design
*promises* (``contract.promises``) is ``violated``. Sanctioned anomalies never fail a
run (the design accepts them), and ``unknown`` does not either: a run that did not
reach quiescence is reported as such (see :attr:`CheckReport.unknown`), which a caller
may choose to treat as a failure. :meth:`CheckReport.to_json` is the ``verdict.json`` of
a run folder; :meth:`CheckReport.summary_lines` the few lines a terminal shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sim.checker.verdicts import SANCTIONED, UNKNOWN, VIOLATED, Anomaly, Verdict
from sim.checker.wording import when


@dataclass
class CheckReport:
    """Verdicts by invariant name, plus what the history said about the run."""

    verdicts: dict[str, Verdict]
    promises: tuple[str, ...] = ()
    sanctioned_invariants: tuple[str, ...] = ()
    run: dict[str, Any] = field(default_factory=dict)
    quiescence: dict[str, Any] | None = None
    events: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        """True when an invariant listed in ``contract.promises`` is violated."""
        return any(
            self.verdicts[name].status == VIOLATED
            for name in self.promises
            if name in self.verdicts
        )

    @property
    def broken_promises(self) -> list[str]:
        return [
            name
            for name in self.promises
            if name in self.verdicts and self.verdicts[name].status == VIOLATED
        ]

    @property
    def unknown(self) -> list[str]:
        """Invariants that could not be judged (usually: no quiescence)."""
        return [name for name, v in self.verdicts.items() if v.status == UNKNOWN]

    def __getitem__(self, name: str) -> Verdict:
        return self.verdicts[name]

    def counts(self) -> dict[str, dict[str, Any]]:
        """Each invariant's status and counts, explanations left behind: what ``p2c verify
        --json``, ``p2c compare`` and the licensing report print per invariant."""
        return {
            name: {
                "status": v.status,
                "violations": v.violations,
                "sanctioned": v.sanctioned,
                "promised": name in self.promises,
            }
            for name, v in self.verdicts.items()
        }

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict: the ``verdict.json`` of a run folder."""
        return {
            "failed": self.failed,
            "broken_promises": self.broken_promises,
            "unknown": self.unknown,
            "promises": list(self.promises),
            "sanctioned_invariants": list(self.sanctioned_invariants),
            "run": dict(self.run),
            "quiescence": dict(self.quiescence) if self.quiescence is not None else None,
            "events": self.events,
            "problems": list(self.problems),
            "verdicts": {name: v.to_json() for name, v in self.verdicts.items()},
        }

    def summary_lines(self, max_explanations: int = 5) -> list[str]:
        """A short human summary: one line per invariant, then a few explanations each."""
        lines = []
        if self.quiescence is None:
            lines.append("quiescence: missing (the history was cut short)")
        else:
            reached = "reached" if self.quiescence.get("reached") else "NOT reached"
            lines.append(f"quiescence: {reached} at {when(self.quiescence.get('t'))}")
        lines.extend(self.problems)
        width = max((len(name) for name in self.verdicts), default=0)
        for name, verdict in self.verdicts.items():
            promised = "*" if name in self.promises else " "
            status = verdict.status.upper() if verdict.status == VIOLATED else verdict.status
            count = ""
            if verdict.status == VIOLATED:
                count = f" ({verdict.violations})"
            elif verdict.status == SANCTIONED:
                count = f" ({verdict.sanctioned})"
            lines.append(f"{promised}{name:<{width}}  {status}{count}  {verdict.note}")
            for anomaly in verdict.anomalies[:max_explanations]:
                lines.append(f"    - {anomaly.explain()}")
            more = verdict.count - min(len(verdict.anomalies), max_explanations)
            if more > 0 and verdict.anomalies:
                lines.append(f"    ... and {more} more")
        if self.failed:
            lines.append(f"FAILED: promised invariants violated: {', '.join(self.broken_promises)}")
        elif self.unknown:
            lines.append(f"passed, but not judged: {', '.join(self.unknown)}")
        else:
            lines.append("passed: every promised invariant holds")
        lines.append("(* = promised by the design)")
        return lines


def ordered_anomalies(report: Any) -> list[tuple[str, Anomaly]]:
    """``(invariant, anomaly)`` for every kept anomaly of a check report: violations
    first, then sanctioned ones, each invariant's in its own (history) order."""
    return [
        (name, anomaly)
        for wanted in ("violated", "sanctioned")
        for name, verdict in report.verdicts.items()
        if verdict.status == wanted
        for anomaly in verdict.anomalies
    ]
