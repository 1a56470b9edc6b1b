"""One unit per quantity in every printed table: what a metric's column header says.

Metrics keep their stored names and units (``propagation_p95_s.account:sales->operations``
is seconds, in ``metrics.json``, ``summary.csv`` and every ``--json``); tables people
read show delays and other durations in minutes, as ``p2c run`` and ``p2c compare`` do,
with the unit in the column header.
"""

from __future__ import annotations

from typing import NamedTuple

#: The unit every printed table uses for durations (``p2c run``'s delays, ``p2c
#: compare``'s blocked user minutes and p95 delays, ``p2c sweep``'s columns).
DURATION_UNIT = "min"
_SECONDS_PER_DURATION_UNIT = 60.0


class Unit(NamedTuple):
    """How a metric reads in a table: its header and the divisor from its stored value."""

    header: str
    unit: str
    divisor: float

    def value(self, stored: float) -> float:
        return stored / self.divisor


def metric_unit(name: str) -> Unit:
    """The header (with its unit) and scale of a metric named as in ``metrics.json``.

    ``propagation_p95_s.account:sales->operations`` -> ``propagation_p95
    account:sales->operations (min)``, values divided by 60; ``blocked_user_s`` ->
    ``blocked_user (min)``; ``integration_requests_per_24h`` -> ``(requests/24 h)``;
    anything else is a count: ``overwritten_writes (count)``.
    """
    base, _, detail = name.partition(".")
    suffix = f" {detail}" if detail else ""
    if base.endswith("_s"):
        return Unit(
            f"{base[:-2]}{suffix} ({DURATION_UNIT})", DURATION_UNIT, _SECONDS_PER_DURATION_UNIT
        )
    if base.endswith("_per_24h"):
        return Unit(f"{base[: -len('_per_24h')]}{suffix} (requests/24 h)", "requests/24 h", 1.0)
    if base == "quiescent":
        return Unit(f"{base}{suffix} (share of runs)", "share of runs", 1.0)
    return Unit(f"{base}{suffix} (count)", "count", 1.0)
