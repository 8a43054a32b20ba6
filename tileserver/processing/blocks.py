"""Block-wise raster processing: windows over an output grid, workers that fill them, a writer.

Every tool describes its output as a ``Grid`` and a top-level block function
``f(window, *args) -> ndarray`` (picklable, so Dask can ship it). Each worker computes a block
and writes it to scratch space itself; a VRT stitches the blocks and one COG translation
(multi-threaded compression) makes the result. Memory is one block per worker, whatever the
raster size, and no pixel passes through the scheduler.
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

from tileserver.ingest.cogify import write_cog
from tileserver.processing.context import JobContext
from tileserver.scenes.vrt import GDAL_TYPES

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


@dataclass(frozen=True)
class BlockSpec:
    """Where and how block tasks write their piece of the output."""

    grid: Grid
    count: int
    dtype: str
    nodata: float | None
    folder: str


def write_block(
    window: WindowTuple, spec: BlockSpec, block_fn: Callable[..., np.ndarray], args: Sequence[Any]
) -> str:
    """Compute one block and write it as its own small GeoTIFF; returns its path.

    Each worker writes its blocks itself, so pixels never travel through the scheduler or a
    single writer process: the work and the writing both spread over the cluster.
    """
    col, row, width, height = window
    data = block_fn(window, *args).astype(spec.dtype, copy=False)
    path = f"{spec.folder}/block_{row}_{col}.tif"
    transform = spec.grid.affine * Affine.translation(col, row)
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=width,
        height=height,
        count=spec.count,
        dtype=spec.dtype,
        crs=spec.grid.crs,
        transform=transform,
        nodata=spec.nodata,
    ) as dst:
        dst.write(data)
    return path


def mosaic_vrt(
    spec: BlockSpec, parts: dict[WindowTuple, str], band_names: Sequence[str] | None
) -> str:
    """A GDAL VRT document placing every block file at its window of the output grid."""
    from xml.sax.saxutils import escape

    from rasterio.crs import CRS

    g = spec.grid.affine
    lines = [
        f'<VRTDataset rasterXSize="{spec.grid.width}" rasterYSize="{spec.grid.height}">',
        f"<SRS>{escape(CRS.from_user_input(spec.grid.crs).to_wkt())}</SRS>",
        f"<GeoTransform>{g.c!r}, {g.a!r}, {g.b!r}, {g.f!r}, {g.d!r}, {g.e!r}</GeoTransform>",
    ]
    for band in range(1, spec.count + 1):
        lines.append(f'<VRTRasterBand dataType="{GDAL_TYPES[spec.dtype]}" band="{band}">')
        if spec.nodata is not None:
            lines.append(f"<NoDataValue>{spec.nodata!r}</NoDataValue>")
        if band_names:
            lines.append(f"<Description>{escape(band_names[band - 1])}</Description>")
        for (col, row, width, height), path in parts.items():
            lines.append(
                f'<SimpleSource><SourceFilename relativeToVRT="0">{escape(path)}'
                f"</SourceFilename><SourceBand>{band}</SourceBand>"
                f'<SrcRect xOff="0" yOff="0" xSize="{width}" ySize="{height}"/>'
                f'<DstRect xOff="{col}" yOff="{row}" xSize="{width}" ySize="{height}"/>'
                "</SimpleSource>"
            )
        lines.append("</VRTRasterBand>")
    lines.append("</VRTDataset>")
    return "\n".join(lines)


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
    folder = ctx.scratch(f"{name}.blocks")
    folder.mkdir(parents=True, exist_ok=True)
    spec = BlockSpec(grid, count, dtype, nodata, str(folder.resolve()))
    blocks = windows(grid, ctx.settings.job_block_size)
    parts: dict[WindowTuple, str] = {}
    for window, path in ctx.map_blocks(write_block, blocks, spec, block_fn, args, label="blocks"):
        parts[window] = path
    ctx.progress(92.0, "writing COG")
    vrt = ctx.scratch(f"{name}.vrt")
    vrt.write_text(mosaic_vrt(spec, parts, band_names))
    cog = ctx.scratch(f"{name}.cog.tif")
    write_cog(str(vrt), cog, resampling=resampling)
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
