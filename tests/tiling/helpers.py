"""Small helpers for reading tiles and sources in tests."""

from __future__ import annotations

import warnings

import numpy as np
from rasterio.io import MemoryFile


def decode(content: bytes) -> np.ndarray:
    """Decode a PNG/GeoTIFF tile body into a (bands, rows, cols) array."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with MemoryFile(content) as mem, mem.open() as src:
            return src.read()


def interior(mask: np.ndarray, radius: int = 2) -> np.ndarray:
    """Pixels whose whole (2r+1)^2 neighbourhood is True (a numpy-only erosion)."""
    out = mask.copy()
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            out &= np.roll(np.roll(mask, dy, axis=0), dx, axis=1)
    out[:radius], out[-radius:], out[:, :radius], out[:, -radius:] = False, False, False, False
    return out
