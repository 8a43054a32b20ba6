"""The demo's elevation model: SYNTHETIC heights of the East Lake scene, made to fit its land.

Derived from the same ground model as the optical scenes (``landscape.evaluate``, baseline
date): the lake, river and ponds lie flat at one water level, the land rises gently away from
their shores, and hills stand where the model puts woodland (its ``forest`` field), so the 3D
globe shows wooded hills above a flat lake. A 20 m grid over the scene's extent keeps it quick
to build (a fraction of a second); it is written once and reused.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from affine import Affine
from scipy.ndimage import distance_transform_edt, gaussian_filter

from tileserver.demo import landscape as ls
from tileserver.demo.scenes import (
    DATE_1,
    DemoItem,
    Progress,
    _complete,
    _crs_wkt,
    scene_grid,
    write_cog,
)

DEM_FILE = "dem-east-lake.tif"
DEM_TITLE = "Wuhan East Lake, elevation model (synthetic)"
DEM_DESCRIPTION = (
    "SYNTHETIC elevation in metres, generated from the demo's land-cover model (not a survey): "
    "the lake at a constant 19.5 m, hills where the model has woodland."
)
DEM_PIXEL_M = 20.0
LAKE_LEVEL_M = 19.5
PLAIN_M = 21.0
HILL_M = 110.0
SHORE_RAMP_M = 600.0
NODATA = -9999.0


def dem_grid() -> tuple[str, Affine, tuple[int, int]]:
    """The East Lake scene's extent at DEM_PIXEL_M."""
    grid = scene_grid()
    factor = DEM_PIXEL_M / abs(grid.transform.a)
    shape = (round(grid.shape[0] / factor), round(grid.shape[1] / factor))
    return grid.crs, grid.transform * Affine.scale(factor), shape


def make_dem(seed: int = 42) -> tuple[np.ndarray, Affine, str]:
    """Heights (float32, metres), the grid's transform and CRS."""
    crs, transform, shape = dem_grid()
    layers = ls.evaluate(shape, transform, _crs_wkt(crs), seed)
    water = layers.classes == ls.WATER
    shore = distance_transform_edt(~water) * DEM_PIXEL_M
    ramp = np.clip(shore / SHORE_RAMP_M, 0.0, 1.0) ** 0.7
    woods = gaussian_filter(layers.forest.astype("float64"), sigma=3.0)
    hills = HILL_M * np.clip((woods - 0.35) / 0.65, 0.0, 1.0) ** 1.6
    rolling = 2.0 * gaussian_filter(layers.texture.astype("float64"), sigma=4.0)
    land = PLAIN_M + ramp * (hills + rolling)
    heights = np.where(water, LAKE_LEVEL_M, np.maximum(land, LAKE_LEVEL_M + 0.5))
    return heights.astype("float32"), transform, crs


def generate_dem(out_dir: Path, seed: int = 42, progress: Progress | None = None) -> DemoItem:
    """Write ``dem-east-lake.tif`` under ``out_dir`` unless a complete one is there."""
    report = progress or (lambda _msg: None)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / DEM_FILE
    _, _, shape = dem_grid()
    if _complete(path, shape, 1):
        report(f"reusing {DEM_FILE}")
    else:
        report(f"writing {DEM_FILE}")
        heights, transform, crs = make_dem(seed)
        write_cog(path, heights, transform, crs, NODATA, ["elevation"])
    # dated as the land it is shaped on (the baseline scene), so date searches find it too
    return DemoItem(path, DEM_TITLE, "generic", DATE_1, "elevation", "elevation", None)
