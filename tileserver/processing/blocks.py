"""Block-wise raster processing: windows over an output grid, workers that fill them, a writer.

Every tool describes its output as a ``Grid`` and a top-level block function
``f(window, *args) -> ndarray`` (picklable, so Dask can ship it). Blocks are written into a
tiled GeoTIFF as they arrive and the result is turned into a COG at the end, so memory is one
block per worker plus the blocks in flight, whatever the raster size.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from affine import Affine
from rasterio.enums import Resampling
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window

from tileserver.ingest.cogify import write_cog
from tileserver.processing.context import JobContext

WindowTuple = tuple[int, int, int, int]  # col_off, row_off, width, height


@dataclass(frozen=True)
class Grid:
    """An output raster grid: CRS (WKT or EPSG string), affine transform, size in pixels."""

    crs: str
    transform: tuple[float, float, float, float, float, float]
    width: int
    height: int

    @property
    def affine(self) -> Affine:
        return Affine(*self.transform)

    @classmethod
    def of(cls, crs: Any, transform: Affine, width: int, height: int) -> Grid:
        crs_text = crs.to_string() if hasattr(crs, "to_string") else str(crs)
        return cls(crs_text, tuple(transform)[:6], int(width), int(height))  # type: ignore[arg-type]


def windows(grid: Grid, size: int) -> list[WindowTuple]:
    return [
        (col, row, min(size, grid.width - col), min(size, grid.height - row))
        for row in range(0, grid.height, size)
        for col in range(0, grid.width, size)
    ]


def write_blockwise(
    ctx: JobContext,
    grid: Grid,
    *,
    count: int,
    dtype: str,
    nodata: float | None,
    block_fn: Callable[..., np.ndarray],
    args: Sequence[Any],
    name: str = "output",
    band_names: Sequence[str] | None = None,
    resampling: str = "average",
) -> Path:
    """Fill ``grid`` block by block with ``block_fn(window, *args)`` and return a COG path."""
    ctx.configure_workers()
    tiled = ctx.scratch(f"{name}.tiled.tif")
    profile = {
        "driver": "GTiff",
        "width": grid.width,
        "height": grid.height,
        "count": count,
        "dtype": dtype,
        "crs": grid.crs,
        "transform": grid.affine,
        "nodata": nodata,
        "tiled": True,
        "blockxsize": 512,
        "blockysize": 512,
        "compress": "deflate",
        "BIGTIFF": "IF_SAFER",
    }
    with rasterio.open(tiled, "w", **profile) as dst:
        if band_names:
            dst.descriptions = tuple(band_names)
        blocks = windows(grid, ctx.settings.job_block_size)
        for window, data in ctx.map_blocks(block_fn, blocks, *args, label="blocks"):
            dst.write(data.astype(dtype, copy=False), window=Window(*window))
    ctx.progress(92.0, "writing COG")
    cog = ctx.scratch(f"{name}.cog.tif")
    write_cog(str(tiled), cog, resampling=resampling)
    tiled.unlink(missing_ok=True)
    return cog


def read_onto_grid(
    path: str,
    grid: Grid,
    window: WindowTuple,
    indexes: Sequence[int] | None = None,
    resampling: str = "nearest",
) -> np.ma.MaskedArray:
    """Read a source onto (a window of) an output grid, warping only that window."""
    from tileserver.settings import Settings
    from tileserver.sources import configure_gdal

    configure_gdal(Settings())
    with rasterio.open(path) as src:
        options: dict[str, Any] = {
            "crs": grid.crs,
            "transform": grid.affine,
            "width": grid.width,
            "height": grid.height,
            "resampling": Resampling[resampling],
        }
        if src.nodata is not None:
            options.update(src_nodata=src.nodata, nodata=src.nodata)
        with WarpedVRT(src, **options) as vrt:
            data = vrt.read(
                indexes=list(indexes) if indexes else None, window=Window(*window), masked=True
            )
    return data
