"""Choosing a vector dataset's tile zoom range from its extent and its features' size.

The range decides what the archive costs to build and how the layer looks:

* ``maxzoom`` is where the typical (median) feature spans at least 1/32 of a tile — 128 of
  MVT's 4096 units, plenty of vertices — held between 12 and 16 (clients overzoom past it,
  and below 12 coarse quantization shows on coastlines and field edges). For points the mean
  spacing stands in for the size. It is lowered further while the extent would need more
  than ``TILE_BUDGET`` tiles at that zoom, so a continent-wide upload still builds in seconds.
* ``minzoom`` starts from the deepest zoom at which the whole extent fits in ``MIN_TILES``
  tiles, then goes ``ZOOM_OUT_LEVELS`` further out, so the layer stays visible (as a patch
  about a quarter of a tile wide) while a user zooms out to find it: a 200 m block of
  buildings would otherwise vanish from the map below zoom 16. Each level costs GDAL a pass
  over every feature (about a second per 20,000 polygons) whatever its tile count, so only
  two are added; further out the layer is a speck in one tile holding everything.
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np

MAX_ZOOM = 16
DETAIL_FLOOR = 12
TILE_BUDGET = 1 << 16
MIN_TILES = 4
ZOOM_OUT_LEVELS = 2
DETAIL_FRACTION = 32  # the median feature spans >= 1/32 of a tile at maxzoom
EARTH_CIRCUMFERENCE_M = 40_075_016.686
MERCATOR_MAX_LAT = 85.0511287798


def _tile_xy(lon: float, lat: float, z: int) -> tuple[int, int]:
    lat = max(-MERCATOR_MAX_LAT, min(MERCATOR_MAX_LAT, lat))
    n = 1 << z
    x = (lon + 180.0) / 360.0 * n
    y = (1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n
    return min(n - 1, max(0, int(x))), min(n - 1, max(0, int(y)))


def tiles_across(bounds: tuple[float, float, float, float], z: int) -> int:
    """How many WebMercatorQuad tiles of zoom ``z`` cover a WGS84 bounding box."""
    w, s, e, n = bounds
    x0, y0 = _tile_xy(w, n, z)
    x1, y1 = _tile_xy(e, s, z)
    return (x1 - x0 + 1) * (y1 - y0 + 1)


def typical_size_m(frame: gpd.GeoDataFrame) -> float:
    """Median feature span in metres; the mean spacing for points; 0 for a single point."""
    b = frame.geometry.bounds.to_numpy(dtype="float64")
    lat = np.radians((b[:, 1] + b[:, 3]) / 2)
    dx = (b[:, 2] - b[:, 0]) * 111_320.0 * np.cos(lat)
    dy = (b[:, 3] - b[:, 1]) * 110_574.0
    size = float(np.median(np.maximum(dx, dy)))
    if size > 0:
        return size
    w, s, e, n = (float(v) for v in frame.total_bounds)
    mid = math.radians((s + n) / 2)
    area = max((e - w) * 111_320.0 * math.cos(mid), 1.0) * max((n - s) * 110_574.0, 1.0)
    return math.sqrt(area / len(frame)) if len(frame) > 1 else 0.0


def choose_zooms(frame: gpd.GeoDataFrame, pixel_size_m: float | None = None) -> tuple[int, int]:
    """``(minzoom, maxzoom)`` for a WGS84 frame (see the module docstring for the rules).

    ``pixel_size_m``: for polygons traced from a raster, the raster's pixel size; maxzoom is
    then the first zoom whose 256-px tile pixels are finer than it (more detail than the
    source has is never needed), within the same 12-16 bounds.
    """
    w, s, e, n = (float(v) for v in frame.total_bounds)
    bounds = (w, s, e, n)
    size = typical_size_m(frame)
    world = EARTH_CIRCUMFERENCE_M * math.cos(math.radians(min(abs(s + n) / 2, 85.0)))
    if pixel_size_m is not None and pixel_size_m > 0:
        wanted = math.ceil(math.log2(world / (256 * pixel_size_m)))
    elif size > 0:
        wanted = math.ceil(math.log2(world / (DETAIL_FRACTION * size)))
    else:
        wanted = MAX_ZOOM
    maxzoom = max(DETAIL_FLOOR, min(MAX_ZOOM, wanted))
    while maxzoom > 0 and tiles_across(bounds, maxzoom) > TILE_BUDGET:
        maxzoom -= 1
    fits = next(z for z in range(maxzoom, -1, -1) if z == 0 or tiles_across(bounds, z) <= MIN_TILES)
    return max(0, fits - ZOOM_OUT_LEVELS), maxzoom
