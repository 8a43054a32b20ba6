"""Keep a long-running API process's memory flat under concurrent load.

Tiles allocate and free buffers of 0.3-3 MiB (decoded blocks, warped arrays, PNG rows) in many
threads at once. glibc serves them from per-thread arenas (up to eight per core) and, once a
large block has been freed, raises its mmap threshold so later ones come from those heaps too;
freed heap memory is rarely returned, so RSS climbs for a long time without any leak — what
titiler users see as memory growth under load. Capping the arenas (as ``MALLOC_ARENA_MAX``
does) and fixing the mmap threshold (as ``MALLOC_MMAP_THRESHOLD_`` does) hands big buffers back
to the system when they are freed. ``bench/load.py`` measures the effect.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from typing import Any

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter numbers
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
logger = logging.getLogger("cogsight")


def _mallopt() -> Any:
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):  # musl, macOS: no mallopt
        return None
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return mallopt


def tune_malloc(arenas: int, mmap_threshold_kib: int) -> bool:
    """Apply the caps (0 leaves glibc's default) for allocations from now on; False where the
    C library has no ``mallopt`` (not glibc) or refused a value."""
    mallopt = _mallopt()
    if mallopt is None:
        return False
    ok = True
    if arenas > 0:
        ok &= bool(mallopt(M_ARENA_MAX, arenas))
    if mmap_threshold_kib > 0:
        threshold = mmap_threshold_kib * 1024
        ok &= bool(mallopt(M_MMAP_THRESHOLD, threshold))
        ok &= bool(mallopt(M_TRIM_THRESHOLD, 2 * threshold))
    if not ok:
        logger.warning(
            "malloc tuning was refused (arenas=%d, mmap=%d KiB)", arenas, mmap_threshold_kib
        )
    return ok
