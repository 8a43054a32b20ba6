"""A tile's height samples: read on the shared edge grid, holes filled, no-data made flat."""

from __future__ import annotations

import numpy as np
from rasterio.fill import fillnodata

from tileserver.settings import Settings
from tileserver.terrain.grid import tile_bounds
from tileserver.terrain.mesh import SAMPLES
from tileserver.terrain.source import Terrain
from tileserver.tiling.records import RecordCache


def sample_grid(z: int, x: int, y: int) -> tuple[np.ndarray, np.ndarray]:
    """Longitudes (west → east) and latitudes (north → south) of a tile's samples: the first
    and last of each lie on the tile's edges, where the neighbour samples too."""
    west, south, east, north = tile_bounds(z, x, y)
    return np.linspace(west, east, SAMPLES), np.linspace(north, south, SAMPLES)


def tile_heights(
    terrain: Terrain, z: int, x: int, y: int, records: RecordCache, settings: Settings
) -> tuple[np.ndarray, np.ndarray]:
    """(heights, has_data): ``SAMPLES`` x ``SAMPLES`` metres (0, the ellipsoid, where the
    terrain has no data) and where the data is. Nodata holes inside the data's footprint are
    filled from their surroundings (``rasterio.fill.fillnodata``) before meshing."""
    west, south, east, north = tile_bounds(z, x, y)
    flat = np.zeros((SAMPLES, SAMPLES)), np.zeros((SAMPLES, SAMPLES), dtype=bool)
    dw, ds, de, dn = terrain.footprint.bounds
    if not (west <= de and east >= dw and south <= dn and north >= ds):
        return flat
    half = (east - west) / (SAMPLES - 1) / 2  # pixel centres on the sample positions
    data = terrain.read(
        (west - half, south - half, east + half, north + half), SAMPLES, records, settings
    )
    if data is None:
        return flat
    values = np.ma.getdata(data).astype(np.float64)
    valid = ~np.ma.getmaskarray(data) & np.isfinite(values)
    if not valid.any():
        return flat
    lons, lats = sample_grid(z, x, y)
    inside = terrain.inside(*np.meshgrid(lons, lats))
    heights = np.where(valid, values, 0.0)
    holes = inside & ~valid
    if holes.any():
        filled = fillnodata(  # fills its input in place
            heights.copy(), mask=valid.astype(np.uint8), max_search_distance=2 * SAMPLES
        )
        heights = np.where(holes, filled, heights)
    return heights, valid | holes
