"""A role's rhythm as data: working hours, peak windows, time zones, hourly weights.

The plain part of :mod:`sim.engine.rhythm` (which explains the rhythm as a whole): parsing
``"08:00-17:00"``, checking an IANA time zone, the hourly profile's weights normalised
over the working window, and which local days are month-end. The scenario's validation
uses it (a role's hourly profile must give weight to some working hour) and the engine's
:class:`~sim.engine.rhythm.RhythmCalendar` builds a role's working time from it.

May import: nothing of ours (the standard library).
"""

from __future__ import annotations

import calendar as _calendar
import re
from datetime import date
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_HOURS = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")

HOUR_S = 3_600.0


def profile_weights(profile, start_s: float, end_s: float) -> list[float]:
    """24 local-hour weights from a role's ``hourly_profile`` (None: flat), normalised so
    that their time-weighted mean over the working window ``[start_s, end_s)`` is 1."""
    if profile is None:
        raw = [1.0] * 24
    elif isinstance(profile, list | tuple):
        raw = [float(w) for w in profile]
    else:
        p0, p1 = profile.window_s
        raw = [
            profile.factor if p0 < (h + 1) * HOUR_S and h * HOUR_S < p1 else 1.0 for h in range(24)
        ]
    mass = sum(w * overlap(h, start_s, end_s) for h, w in enumerate(raw))
    if mass <= 0:
        raise ValueError("the hourly profile gives no weight to any working hour")
    mean = mass / (end_s - start_s)
    return [w / mean for w in raw]


def overlap(hour: int, start_s: float, end_s: float) -> float:
    """Seconds of local hour ``hour`` inside the working window."""
    return max(0.0, min(end_s, (hour + 1) * HOUR_S) - max(start_s, hour * HOUR_S))


def in_month_end(day: date, last_days: int) -> bool:
    """True on the last ``last_days`` days of ``day``'s month."""
    return day.day > _calendar.monthrange(day.year, day.month)[1] - last_days


def check_timezone(name: str) -> None:
    """Raise ValueError unless ``name`` is an IANA time zone this platform knows."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r} (an IANA name such as America/Chicago or Europe/Warsaw)"
        ) from None


def hours_range(text: str) -> tuple[float, float]:
    """``"08:00-17:00"`` -> (28800.0, 61200.0) seconds after midnight."""
    match = _HOURS.match(text.strip())
    if not match:
        raise ValueError(f"working_hours must look like '08:00-17:00', got {text!r}")
    h0, m0, h1, m1 = (int(g) for g in match.groups())
    if h0 > 24 or h1 > 24 or m0 > 59 or m1 > 59:
        raise ValueError(f"no such time in working_hours {text!r}")
    start, end = h0 * 3600.0 + m0 * 60, h1 * 3600.0 + m1 * 60
    if not start < end <= 86_400:
        raise ValueError(f"working_hours must start before they end within a day: {text!r}")
    return start, end
