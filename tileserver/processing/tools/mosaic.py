"""mosaic: ordered scenes (first on top) merged onto the first scene's grid, any CRSs."""

from __future__ import annotations

import math

import numpy as np
import rasterio
from pydantic import BaseModel, Field, field_validator
from rasterio.transform import from_origin
from rasterio.warp import transform_bounds

from tileserver.catalog import Catalog, DatasetRecord
from tileserver.errors import IncompatibleScenes, InvalidInput, name_few
from tileserver.processing.base import DatasetId, Process, ProcessResult, register
from tileserver.processing.blocks import (
    Grid,
    WindowTuple,
    output_nodata,
    read_onto_grid,
    write_blockwise,
)
from tileserver.processing.context import JobContext
from tileserver.processing.estimate import WorkEstimate, raster_estimate, raster_record
from tileserver.processing.publish import publish_raster
from tileserver.processing.tools.ids import MAX_PROCESS_DATASETS, unique_ids
from tileserver.settings import Settings
from tileserver.sources import gdal_path


class MosaicInputs(BaseModel):
    datasets: list[DatasetId] = Field(
        min_length=2,
        max_length=MAX_PROCESS_DATASETS,
        description="Dataset ids, first on top, each once.",
        json_schema_extra={"uniqueItems": True},
    )
    resolution: float | None = Field(default=None, gt=0, description="Default: the first's.")
    title: str | None = None

    _datasets = field_validator("datasets")(unique_ids)


def mosaic_block(window: WindowTuple, paths: list[str], grid: Grid, nodata: float) -> np.ndarray:
    out: np.ma.MaskedArray | None = None
    for path in paths:
        layer = read_onto_grid(path, grid, window)
        if out is None:
            out = layer
            continue
        holes = np.ma.getmaskarray(out)
        if not holes.any():
            break
        out = np.ma.where(holes, layer, out)
    assert out is not None
    return np.ma.filled(out, nodata)


def mosaic_grid(paths: list[str], resolution: float | None) -> Grid:
    """The union of the scenes' bounds on the first scene's CRS, at its (or the given)
    resolution; file headers only."""
    with rasterio.open(paths[0]) as src:
        crs, res = src.crs, resolution or abs(src.transform.a)
    west = south = math.inf
    east = north = -math.inf
    for path in paths:
        with rasterio.open(path) as src:
            w, s, e, n = transform_bounds(src.crs, crs, *src.bounds, densify_pts=21)
        west, south, east, north = min(west, w), min(south, s), max(east, e), max(north, n)
    width, height = math.ceil((east - west) / res), math.ceil((north - south) / res)
    return Grid.of(crs, from_origin(west, north, res, res), width, height)


class MosaicProcess(Process):
    id = "mosaic"
    title = "Mosaic"
    description = "Merge ordered scenes into one COG (first on top); CRSs may differ."
    inputs = MosaicInputs

    def estimate(self, params: MosaicInputs, catalog: Catalog, settings: Settings) -> WorkEstimate:
        records: list[DatasetRecord] = [raster_record(catalog, i) for i in params.datasets]
        grid = mosaic_grid([gdal_path(r.uri, settings) for r in records], params.resolution)
        dtype = np.result_type(*[r.dtype for r in records]).name
        count = len(records[0].band_names)
        return raster_estimate(
            grid.width, grid.height, count, dtype, settings.job_block_size, "mosaic"
        )

    def run(self, params: MosaicInputs, ctx: JobContext) -> ProcessResult:
        records = [ctx.dataset(i) for i in params.datasets]
        counts = {r.id: len(r.band_names) for r in records}
        if len(set(counts.values())) > 1:
            detail = name_few([f"{i}: {n}" for i, n in counts.items()])
            raise IncompatibleScenes(f"Scenes have different band counts: {detail}.")
        first = records[0]
        grid = mosaic_grid([ctx.path(r) for r in records], params.resolution)
        if grid.width * grid.height > ctx.settings.max_raster_pixels:
            raise InvalidInput(f"A {grid.width}x{grid.height} mosaic is over the pixel limit.")
        dtype = np.result_type(*[r.dtype for r in records]).name
        nodata = output_nodata(dtype, first.nodata)
        cog = write_blockwise(
            ctx,
            grid,
            count=len(first.band_names),
            dtype=dtype,
            nodata=nodata,
            block_fn=mosaic_block,
            args=([ctx.path(r) for r in records], grid, nodata),
            band_names=first.band_names,
        )
        out = publish_raster(
            ctx,
            cog,
            process=self.id,
            params=params.model_dump(),
            title=params.title or f"Mosaic of {len(records)} scenes",
            band_names=first.band_names,
            sensor=first.sensor,
            reflectance_scale=first.reflectance_scale,
            reflectance_offset=first.reflectance_offset,
        )
        return ProcessResult(datasets=[out.id])


register(MosaicProcess())
