"""Block-wise raster processing: windows over an output grid, workers that fill them, a writer.

Every tool describes its output as a ``Grid`` and a top-level block function
``f(window, *args) -> ndarray`` (picklable, so Dask can ship it). Each worker computes an
aligned region and writes it to scratch space itself as a tiled, compressed part with its own
overview levels; assembling the COG (``inference.writer.assemble_cog``) then mosaics the
parts' levels and only compresses, with as many threads as the cluster has cores. Memory is
one region per worker, whatever the raster size, and no pixel passes through the scheduler.
"""

from __future__ import annotations

import shutil
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

from inference.writer import OutputSpec, assemble_cog, part_levels, part_size, write_part
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


def output_nodata(dtype: str, nodata: float | None) -> float:
    """The source's nodata, else NaN for floats and 0 for integers (pixels off the data)."""
    if nodata is not None:
        return nodata
    return float("nan") if dtype.startswith("float") else 0.0


def windows(grid: Grid, size: int) -> list[WindowTuple]:
    return [
        (col, row, min(size, grid.width - col), min(size, grid.height - row))
        for row in range(0, grid.height, size)
        for col in range(0, grid.width, size)
    ]


def write_region(
    window: WindowTuple,
    spec: OutputSpec,
    folder: str,
    levels: int,
    resampling: str,
    block_fn: Callable[..., np.ndarray],
    args: Sequence[Any],
) -> str:
    """Compute one aligned region and write it, with its overview levels, as a part of the
    output; returns the part's path.

    Runs on a worker: the pixels, their compression and their overviews stay where they were
    computed, and only a path travels back to the scheduler."""
    col, row, _width, _height = window
    data = block_fn(window, *args).astype(spec.dtype, copy=False)
    return write_part(folder, spec, col, row, data, levels=levels, resampling=resampling)


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
    """Fill ``grid`` region by region with ``block_fn(window, *args)`` and return a COG path.

    Regions are aligned parts (``part_size`` of the configured block size: 512 x 2^L px) so
    each worker writes its part with exact overview levels, and assembling the COG computes
    only the few coarsest levels."""
    from rasterio.crs import CRS

    ctx.configure_workers()
    folder = ctx.scratch(f"{name}.parts")
    folder.mkdir(parents=True, exist_ok=True)
    size = part_size(ctx.settings.job_block_size)
    levels = part_levels(size)
    spec = OutputSpec(
        CRS.from_user_input(grid.crs).to_wkt(),
        grid.transform,
        grid.width,
        grid.height,
        count,
        dtype,
        nodata,
        tuple(band_names or ()),
    )
    parts: list[tuple[int, int, int, int, str]] = []
    cog = ctx.scratch(f"{name}.cog.tif")
    try:  # the parts are removed whatever happens: a failed block, a cancel, a failed assembly
        for window, path in ctx.map_blocks(
            write_region,
            windows(grid, size),
            spec,
            str(folder.resolve()),
            levels,
            resampling,
            block_fn,
            args,
            label="blocks",
        ):
            parts.append((*window, path))
        ctx.progress(92.0, "writing COG")
        assemble_cog(
            spec,
            parts,
            cog,
            levels=levels,
            resampling=resampling,
            work=folder,
            threads=ctx.cores(),
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return cog


def read_onto_grid(
    path: str,
    grid: Grid,
    window: WindowTuple,
    indexes: Sequence[int] | None = None,
    resampling: str = "nearest",
) -> np.ma.MaskedArray:
    """Read a source onto (a window of) an output grid, warping only that window."""
    from tileserver.scenes.masks import read_masked
    from tileserver.sources import ensure_gdal_configured

    ensure_gdal_configured()
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
        with WarpedVRT(src, **options) as vrt:  # an archive scene's QA mask applied
            data = read_masked(vrt, indexes, scene=src, window=Window(*window))
    return data
