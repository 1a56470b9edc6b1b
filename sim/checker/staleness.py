"""Staleness: how long a save takes to reach the other replicas, per flow.

A *flow* is ``"entity:origin->destination"``, e.g. ``account:sales->operations``. The
propagation delay of a write to a destination is the time from its save (the ``write``
event's ``t``) to the *first* apply of that write in the destination. Writes that never
arrive (superseded before a batch picked them up) have no delay and are not counted:
their fate is the business of ``no_lost_update`` and ``convergence``.

For every flow the metrics give the count, p50, p99 and maximum delay in seconds (p99 by
the nearest-rank method: the smallest delay at least 99% of delays do not exceed). When
``contract.staleness_p99_s`` sets an objective for a flow, a p99 above it is a
violation (code ``stale``); flows without an objective are measured only.
"""

from __future__ import annotations

import math

import numpy as np

from sim.checker.invariant import Invariant
from sim.checker.verdicts import Anomaly, AnomalyList, Verdict, make_verdict
from sim.checker.wording import plural


def nearest_rank(values: np.ndarray, q: float) -> float:
    """The nearest-rank ``q`` quantile (0 < q <= 1) of a non-empty array."""
    rank = max(1, math.ceil(q * len(values)))
    return float(np.partition(values, rank - 1)[rank - 1])


def flow_name(entity: str, origin: str, destination: str) -> str:
    return f"{entity}:{origin}->{destination}"


class Staleness(Invariant):
    name = "staleness"

    def verdict(self) -> Verdict:
        ledger = self.ledger
        objectives = ledger.contract.staleness_p99_s
        metrics: dict[str, float] = {}
        found = AnomalyList()
        arrivals = ledger.arrivals
        for entity, origin, destination in sorted(arrivals):
            delays = np.frombuffer(arrivals[(entity, origin, destination)], dtype=np.float64)
            flow = flow_name(entity, origin, destination)
            p99 = nearest_rank(delays, 0.99)
            metrics[f"{flow}.count"] = int(delays.size)
            metrics[f"{flow}.p50_s"] = round(nearest_rank(delays, 0.50), 3)
            metrics[f"{flow}.p99_s"] = round(p99, 3)
            metrics[f"{flow}.max_s"] = round(float(delays.max()), 3)
            objective = objectives.get(flow)
            if objective is not None and p99 > objective:
                text = (
                    f"flow {flow}: p99 propagation delay {p99:.0f} s ({p99 / 60:.1f} min) "
                    f"exceeds the objective of {objective:.0f} s over "
                    f"{plural(int(delays.size), 'write')} (max {delays.max():.0f} s)."
                )
                found.add(
                    Anomaly(
                        self.name,
                        "stale",
                        text,
                        system=destination,
                        entity=entity,
                    )
                )
        measured = len(arrivals)
        if found.count:
            note = f"{plural(found.count, 'flow')} above its p99 objective"
        elif objectives:
            note = f"{plural(measured, 'flow')} measured; every objective met"
        else:
            note = f"{plural(measured, 'flow')} measured; no objective in the contract"
        return make_verdict(
            self.name,
            found.items,
            found.count,
            sanctioned=self.is_sanctioned,
            metrics=metrics,
            note=note,
        )
