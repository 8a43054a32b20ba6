"""reproject and resample: warp a raster onto a new grid, block by block (GDAL warper)."""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import rasterio
from pydantic import BaseModel, Field, field_validator
from rasterio.crs import CRS
from rasterio.errors import CRSError
from rasterio.transform import from_origin
from rasterio.warp import calculate_default_transform

from tileserver.catalog import Catalog, DatasetRecord
from tileserver.errors import InvalidInput
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
from tileserver.settings import Settings
from tileserver.sources import gdal_path

Method = Literal["nearest", "bilinear", "cubic", "average", "mode"]


def warp_block(
    window: WindowTuple, path: str, grid: Grid, resampling: str, nodata: float
) -> np.ndarray:
    return read_onto_grid(path, grid, window, resampling=resampling).filled(nodata)


def warp_dataset(
    ctx: JobContext,
    record: DatasetRecord,
    grid: Grid,
    method: str,
    process: str,
    params: dict,
    title: str,
) -> ProcessResult:
    nodata = output_nodata(record.dtype, record.nodata)
    cog = write_blockwise(
        ctx,
        grid,
        count=len(record.band_names),
        dtype=record.dtype,
        nodata=nodata,
        block_fn=warp_block,
        args=(ctx.path(record), grid, method, nodata),
        band_names=record.band_names,
        resampling="nearest" if method in ("nearest", "mode") else "average",
    )
    out = publish_raster(
        ctx,
        cog,
        process=process,
        params=params,
        title=title,
        band_names=record.band_names,
        sensor=record.sensor,
        reflectance_scale=record.reflectance_scale,
        reflectance_offset=record.reflectance_offset,
        datetime=record.datetime,
    )
    return ProcessResult(datasets=[out.id])


class ReprojectInputs(BaseModel):
    dataset: DatasetId = Field(description="Id of the raster dataset.")
    crs: str = Field(description="Target CRS, e.g. EPSG:4326, EPSG:3857, EPSG:4490.")
    resolution: float | None = Field(default=None, gt=0, description="Target pixel size.")
    resampling: Method = "nearest"
    title: str | None = None

    @field_validator("crs")
    @classmethod
    def _known(cls, value: str) -> str:
        try:
            CRS.from_user_input(int(value) if value.isdigit() else value)
        except (CRSError, ValueError):
            raise ValueError(f"unknown CRS '{value}'") from None
        return value if not value.isdigit() else f"EPSG:{value}"


def _estimate(record: DatasetRecord, grid: Grid, settings: Settings) -> WorkEstimate:
    count = len(record.band_names)
    return raster_estimate(grid.width, grid.height, count, record.dtype, settings.job_block_size)


def reproject_grid(path: str, params: ReprojectInputs) -> Grid:
    """The output grid GDAL's default warp transform gives (headers only: milliseconds)."""
    dst = CRS.from_user_input(params.crs)
    with rasterio.open(path) as src:
        kwargs = {"resolution": params.resolution} if params.resolution else {}
        transform, width, height = calculate_default_transform(
            src.crs, dst, src.width, src.height, *src.bounds, **kwargs
        )
    return Grid.of(dst, transform, width, height)


def resample_grid(path: str, resolution: float) -> Grid:
    with rasterio.open(path) as src:
        left, bottom, right, top = src.bounds
        width = max(1, math.ceil((right - left) / resolution))
        height = max(1, math.ceil((top - bottom) / resolution))
        return Grid.of(src.crs, from_origin(left, top, resolution, resolution), width, height)


class ReprojectProcess(Process):
    id = "reproject"
    title = "Reproject"
    description = "Warp a raster to another coordinate system (any EPSG code)."
    inputs = ReprojectInputs

    def estimate(
        self, params: ReprojectInputs, catalog: Catalog, settings: Settings
    ) -> WorkEstimate:
        record = raster_record(catalog, params.dataset)
        return _estimate(record, reproject_grid(gdal_path(record.uri, settings), params), settings)

    def run(self, params: ReprojectInputs, ctx: JobContext) -> ProcessResult:
        record = ctx.dataset(params.dataset)
        grid = reproject_grid(ctx.path(record), params)
        title = params.title or f"{record.title} in {params.crs}"
        return warp_dataset(
            ctx, record, grid, params.resampling, self.id, params.model_dump(), title
        )


class ResampleInputs(BaseModel):
    dataset: DatasetId = Field(description="Id of the raster dataset.")
    resolution: float = Field(gt=0, description="New pixel size in the dataset's CRS units.")
    resampling: Method = "bilinear"
    title: str | None = None


class ResampleProcess(Process):
    id = "resample"
    title = "Resample"
    description = "Change the pixel size (nearest, bilinear, cubic, average, mode)."
    inputs = ResampleInputs

    def estimate(
        self, params: ResampleInputs, catalog: Catalog, settings: Settings
    ) -> WorkEstimate:
        record = raster_record(catalog, params.dataset)
        path = gdal_path(record.uri, settings)
        return _estimate(record, resample_grid(path, params.resolution), settings)

    def run(self, params: ResampleInputs, ctx: JobContext) -> ProcessResult:
        record = ctx.dataset(params.dataset)
        grid = resample_grid(ctx.path(record), params.resolution)
        if grid.width * grid.height > ctx.settings.max_raster_pixels:
            raise InvalidInput(f"A {grid.width}x{grid.height} output is over the pixel limit.")
        title = params.title or f"{record.title} at {params.resolution:g}"
        return warp_dataset(
            ctx, record, grid, params.resampling, self.id, params.model_dump(), title
        )


register(ReprojectProcess())
register(ResampleProcess())
