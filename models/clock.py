"""Simulated time: seconds since the run started (day 1, Monday 00:00).

Nothing in the testbed reads the wall clock; every timestamp is simulated seconds.
These helpers turn seconds into the words people use ("day 1 10:14") and back.
"""

from __future__ import annotations

import re

DAY_S = 86_400.0
HOUR_S = 3_600.0
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

_WHEN = re.compile(r"^\s*day\s+(\d+)\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*$")


def format_t(t_s: float) -> str:
    """``93_840.0`` -> ``"day 2 02:04"``; seconds shown only when not whole minutes."""
    day = int(t_s // DAY_S)
    rest = t_s - day * DAY_S
    hours = int(rest // HOUR_S)
    minutes = int((rest - hours * HOUR_S) // 60)
    seconds = rest - hours * HOUR_S - minutes * 60
    text = f"day {day + 1} {hours:02d}:{minutes:02d}"
    if seconds >= 0.5:
        text += f":{int(round(seconds)):02d}"
    return text


def parse_when(text: str | float | int) -> float:
    """Accepts seconds or ``"day D HH:MM[:SS]"`` (days count from 1); raises ValueError."""
    if isinstance(text, bool):
        raise ValueError("expected seconds or 'day D HH:MM'")
    if isinstance(text, int | float):
        if text < 0:
            raise ValueError("time must be >= 0")
        return float(text)
    match = _WHEN.match(text)
    if not match:
        raise ValueError(f"expected seconds or 'day D HH:MM[:SS]', got {text!r}")
    day, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    if day < 1 or hours > 23 or minutes > 59 or seconds > 59:
        raise ValueError(f"no such time {text!r} (days count from 1, hours 0-23)")
    return (day - 1) * DAY_S + hours * HOUR_S + minutes * 60 + seconds
