"""Close nodata holes in an elevation array, so a terrain mesh has no pits or spikes there."""

from __future__ import annotations

import numpy as np
from rasterio.fill import fillnodata

MAX_SEARCH_PX = 100.0
"""How far (pixels) to look for valid heights around a hole; larger holes keep a fallback."""


def fill_holes(
    array: np.ndarray, mask: np.ndarray, max_search_distance: float = MAX_SEARCH_PX
) -> np.ndarray:
    """Heights with every invalid pixel filled by inverse-distance interpolation from the
    valid ones around it (GDAL's FillNodata); ``mask`` is True where a height is valid (rio-
    tiler's convention is the opposite: pass ``~masked.mask``). Pixels too far from any valid
    height get the mean of the valid ones; an array with none valid is returned as zeros."""
    heights = np.asarray(array, dtype="float32")
    valid = np.asarray(mask, dtype=bool) & np.isfinite(heights)
    if valid.all():
        return heights.copy()
    if not valid.any():
        return np.zeros_like(heights)
    filled = fillnodata(
        np.where(valid, heights, 0).astype("float32"),
        mask=valid.astype("uint8"),
        max_search_distance=max_search_distance,
        smoothing_iterations=0,
    )
    reached = fillnodata(
        valid.astype("float32"), mask=valid.astype("uint8"), max_search_distance=max_search_distance
    )
    out = np.where(valid, heights, filled)
    fallback = float(heights[valid].mean())
    return np.where(valid | (reached > 0), out, fallback).astype("float32")
