"""Per-band statistics at registration, read from an overview: what default stretches use.

A 2-98 % stretch per band needs percentiles over the whole raster. Reading it at no more than
``MAX_SIDE`` px (GDAL picks the matching COG overview) keeps this to milliseconds for any size,
and the percentiles of a 1024 px overview are within a grey level of the full-resolution ones.
"""

from __future__ import annotations

import math

import numpy as np
import rasterio
from rasterio.enums import Resampling

STRETCH_PERCENTILES = (2.0, 98.0)
MAX_SIDE = 1024
MAX_VALUES = 16 * 1024 * 1024
"""At most this many values read over all bands: a 1024-band cube is read at 128 px."""

BandStats = dict[str, float]


def _round(value: float) -> float:
    """Six significant digits: stored, emitted in URLs and compared as the same number."""
    return float(f"{float(value):.6g}")


def band_statistics(path: str) -> list[BandStats | None]:
    """min, max, p2 and p98 of each band's valid pixels (None for a band with none)."""
    with rasterio.open(path) as src:
        side = max(64, min(MAX_SIDE, int(math.sqrt(MAX_VALUES / src.count))))
        scale = min(1.0, side / max(src.width, src.height))
        shape = (max(1, round(src.height * scale)), max(1, round(src.width * scale)))
        data = src.read(out_shape=(src.count, *shape), resampling=Resampling.nearest, masked=True)
    out: list[BandStats | None] = []
    for band in data:
        values = band.compressed()
        if values.dtype.kind == "f":
            values = values[np.isfinite(values)]
        if values.size == 0:
            out.append(None)
            continue
        low, high = np.percentile(values, STRETCH_PERCENTILES)
        out.append(
            {
                "min": _round(values.min()),
                "max": _round(values.max()),
                "p2": _round(low),
                "p98": _round(high),
            }
        )
    return out
