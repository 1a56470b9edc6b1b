"""Real working rhythms: an hour-of-day profile, a month-end peak and a time zone per role.

A role's actions arrive as a Poisson process in *weighted working time*: the role's rate
(actions per user per working hour, on an ordinary day) times an intensity that is

- zero outside the role's working hours and workdays, taken in the role's **local** time
  (``timezone:``, an IANA name read with :mod:`zoneinfo`; the run's clock is UTC, day 1
  00:00 UTC is ``start_date`` 00:00 UTC, a Monday);
- the role's **hourly profile** weight for the local hour (``hourly_profile:`` 24 weights,
  or a peak window ``{peak: "10:00-12:00", factor: 2}``), normalised so that the mean
  weight over the working hours is 1: the configured rate stays the mean rate of an
  ordinary working hour;
- times the **month-end factor** on the last ``last_days`` local days of each month
  (``month_end: {last_days: 3, factor: 2.5}``).

The intensity is piecewise constant (one piece per working hour of each local day), so a
user's next action is found by drawing an exponential amount of weighted time and walking
the pieces (the time-change construction of a non-homogeneous Poisson process). The
expected number of actions of a role in ``[t0, t1)`` is therefore ``rate x headcount x``
the integral of the intensity over it, in hours: :meth:`RhythmCalendar.mass_s` / 3600.

The rhythm as data (parsing working hours and peak windows, checking time zones, the
normalised hourly weights, which days are month-end) is :mod:`sim.scenario.rhythm`, which
the scenario's validation uses too; this module lays it out as a role's working time.
"""

from __future__ import annotations

import bisect
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sim.scenario.rhythm import HOUR_S, in_month_end, overlap, profile_weights


class RhythmCalendar:
    """A role's working time as pieces ``[start, end)`` of run seconds with an intensity.

    Same interface as :class:`sim.engine.workload.WorkCalendar`: :meth:`advance` returns
    the instant ``work_s`` seconds of *weighted* working time after ``now_s``.
    """

    def __init__(
        self,
        *,
        start_date: date,
        horizon_days: float,
        workdays: tuple[int, ...],
        start_s: float,
        end_s: float,
        zone: str | None = None,
        profile=None,
        month_end=None,
    ) -> None:
        tz = ZoneInfo(zone) if zone else UTC
        weights = profile_weights(profile, start_s, end_s)
        origin = datetime(start_date.year, start_date.month, start_date.day, tzinfo=UTC)
        pieces: list[tuple[float, float, float]] = []
        # Local days from the one before the run (zones east of UTC start it earlier).
        for d in range(-1, int(horizon_days) + 2):
            day = start_date + timedelta(days=d)
            if day.weekday() not in workdays:
                continue
            factor = (
                month_end.factor
                if month_end is not None and in_month_end(day, month_end.last_days)
                else 1.0
            )
            midnight = datetime(day.year, day.month, day.day, tzinfo=tz)
            for hour in range(24):
                seconds = overlap(hour, start_s, end_s)
                if seconds <= 0 or weights[hour] <= 0:
                    continue
                lo = max(start_s, hour * HOUR_S)
                t0 = ((midnight + timedelta(seconds=lo)).astimezone(UTC) - origin).total_seconds()
                pieces.append((t0, t0 + seconds, weights[hour] * factor))
        pieces.sort()
        self.pieces = pieces
        self._ends = [p[1] for p in pieces]

    def advance(self, now_s: float, work_s: float) -> float:
        """The instant ``work_s`` seconds of weighted working time after ``now_s``."""
        i = bisect.bisect_right(self._ends, now_s)
        remaining = work_s
        t = now_s
        while i < len(self.pieces):
            start, end, weight = self.pieces[i]
            if t < start:
                t = start
            available = (end - t) * weight
            if remaining <= available:
                return t + remaining / weight
            remaining -= available
            t = end
            i += 1
        return float("inf")

    def mass_s(self, t0: float, t1: float) -> float:
        """Weighted working seconds in ``[t0, t1)`` (expected actions = rate x this)."""
        total = 0.0
        for start, end, weight in self.pieces:
            lo, hi = max(start, t0), min(end, t1)
            if hi > lo:
                total += (hi - lo) * weight
        return total
