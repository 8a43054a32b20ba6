"""clip: cut a raster to a polygon (GeoJSON, WGS84) or to an uploaded vector dataset."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import rasterio
import shapely
from pydantic import BaseModel, Field, model_validator
from rasterio.features import geometry_mask
from rasterio.warp import transform_geom
from rasterio.windows import Window
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry

from tileserver.catalog import Catalog
from tileserver.errors import InvalidInput
from tileserver.processing.base import DatasetId, Process, ProcessResult, register
from tileserver.processing.blocks import Grid, WindowTuple, output_nodata, write_blockwise
from tileserver.processing.context import JobContext
from tileserver.processing.estimate import WorkEstimate, raster_estimate, raster_record
from tileserver.processing.publish import publish_raster
from tileserver.settings import Settings
from tileserver.sources import gdal_path


class ClipInputs(BaseModel):
    dataset: DatasetId = Field(description="Id of the raster dataset.")
    geometry: dict[str, Any] | None = Field(
        default=None, description="GeoJSON Polygon/MultiPolygon in WGS84."
    )
    vector: DatasetId | None = Field(default=None, description="Id of a vector dataset to clip by.")
    title: str | None = None

    @model_validator(mode="after")
    def _one_of(self) -> ClipInputs:
        if (self.geometry is None) == (self.vector is None):
            raise ValueError("give exactly one of 'geometry' or 'vector'")
        if self.geometry is not None:
            _polygon(self.geometry)
        return self


def _polygon(geojson: dict[str, Any]) -> BaseGeometry:
    """The GeoJSON as a finite, non-empty (Multi)Polygon, or a ValueError saying why."""
    try:
        polygon = shape(geojson)
    except Exception:
        raise ValueError("'geometry' is not a readable GeoJSON geometry") from None
    if polygon.geom_type not in ("Polygon", "MultiPolygon") or polygon.is_empty:
        raise ValueError("clip needs a non-empty Polygon or MultiPolygon")
    if not np.isfinite(shapely.get_coordinates(polygon)).all():
        raise ValueError("'geometry' has coordinates that are not finite numbers")
    return polygon


def clip_block(
    window: WindowTuple, path: str, offset: tuple[int, int], geometry: dict, nodata: float
) -> np.ndarray:
    col, row, width, height = window
    with rasterio.open(path) as src:
        src_window = Window(col + offset[0], row + offset[1], width, height)
        data = src.read(window=src_window, masked=True)
        inside = geometry_mask(
            [geometry],
            out_shape=(height, width),
            transform=src.window_transform(src_window),
            invert=True,
        )
    data = data.filled(nodata)
    data[:, ~inside] = nodata
    return data


def _vector_union(ctx: JobContext, vector_id: str) -> dict:
    from tileserver.vectors import vector_geometry

    return mapping(vector_geometry(ctx.settings, ctx.dataset(vector_id, kind="vector")))


def _clip_grid(path: str, polygon: BaseGeometry) -> tuple[dict, Grid, tuple[int, int]]:
    """The polygon in the raster's CRS, the output grid (its bounding window) and the
    window's offset in the source."""
    with rasterio.open(path) as src:
        local = transform_geom("EPSG:4326", src.crs, mapping(polygon))
        w, s, e, n = shape(local).bounds
        inv = ~src.transform
        cols, rows = zip(*(inv * (x, y) for x, y in ((w, n), (e, s))), strict=True)
        col0, row0 = max(0, math.floor(min(cols))), max(0, math.floor(min(rows)))
        col1 = min(src.width, math.ceil(max(cols)))
        row1 = min(src.height, math.ceil(max(rows)))
        if col1 <= col0 or row1 <= row0:
            raise InvalidInput("The polygon does not overlap the dataset.")
        window = Window(col0, row0, col1 - col0, row1 - row0)
        grid = Grid.of(src.crs, src.window_transform(window), col1 - col0, row1 - row0)
    return local, grid, (col0, row0)


class ClipProcess(Process):
    id = "clip"
    title = "Clip"
    description = "Keep the pixels inside a polygon; the rest becomes nodata."
    inputs = ClipInputs

    def estimate(self, params: ClipInputs, catalog: Catalog, settings: Settings) -> WorkEstimate:
        """The polygon's window of the source; by a vector dataset, the whole source (an upper
        bound: its union is not built before queueing)."""
        record = raster_record(catalog, params.dataset)
        width, height = record.width, record.height
        if params.geometry is not None:
            _local, grid, _offset = _clip_grid(
                gdal_path(record.uri, settings), _polygon(params.geometry)
            )
            width, height = grid.width, grid.height
        count, size = len(record.band_names), settings.job_block_size
        return raster_estimate(width, height, count, record.dtype, size)

    def run(self, params: ClipInputs, ctx: JobContext) -> ProcessResult:
        record = ctx.dataset(params.dataset)
        wgs84 = params.geometry or _vector_union(ctx, params.vector or "")
        try:
            polygon = _polygon(wgs84)
        except ValueError as exc:
            raise InvalidInput(f"{exc}.") from None
        path = ctx.path(record)
        local, grid, (col0, row0) = _clip_grid(path, polygon)
        nodata = output_nodata(record.dtype, record.nodata)
        cog = write_blockwise(
            ctx,
            grid,
            count=len(record.band_names),
            dtype=record.dtype,
            nodata=nodata,
            block_fn=clip_block,
            args=(path, (col0, row0), local, nodata),
            band_names=record.band_names,
        )
        out = publish_raster(
            ctx,
            cog,
            process=self.id,
            params=params.model_dump(),
            title=params.title or f"{record.title} (clipped)",
            band_names=record.band_names,
            sensor=record.sensor,
            reflectance_scale=record.reflectance_scale,
            reflectance_offset=record.reflectance_offset,
            datetime=record.datetime,
        )
        return ProcessResult(datasets=[out.id], values={"area_m2_source_crs": shape(local).area})


register(ClipProcess())
