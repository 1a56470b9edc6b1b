"""Resident memory of this process, read from Linux's ``/proc`` (None elsewhere).

``ru_maxrss`` is a high-water mark for the whole life of a process (and a forked
child's counts what it inherits), so a part of a bench measured after another cannot be
read from it. Linux keeps a resettable one: writing ``5`` to ``/proc/self/clear_refs``
resets ``VmHWM`` to the current resident size, and ``/proc/self/status`` then gives the
peak since (proc(5)).

May import: nothing of ours.
"""

from __future__ import annotations

import os
import re

_HWM = re.compile(r"^VmHWM:\s+(\d+) kB$", re.MULTILINE)


def resident_mb() -> float | None:
    """This process's resident memory now, in MB."""
    try:
        with open("/proc/self/statm", encoding="ascii") as handle:
            pages = int(handle.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return round(pages * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)


def reset_peak() -> bool:
    """Reset this process's peak resident memory to its resident memory now; False
    where the system keeps no resettable peak (then :func:`peak_mb` is the process's)."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as handle:
            handle.write("5")
    except OSError:
        return False
    return True


def peak_mb() -> float | None:
    """This process's peak resident memory, in MB, since :func:`reset_peak` (or since
    it started)."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            found = _HWM.search(handle.read())
    except OSError:
        return None
    return None if found is None else round(int(found.group(1)) / 1024, 1)
