"""How many cores this process may use: its CPU affinity, which a container or ``taskset``
narrows while ``os.cpu_count()`` still reports the whole host."""

from __future__ import annotations

import os


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS tells it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
