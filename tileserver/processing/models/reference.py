"""Accuracy of a model's class raster against a reference dataset, block by block.

The reference is brought onto the prediction's grid one block at a time: a class raster is
warped with nearest neighbour (its nodata stays uncounted), a vector's polygons are
rasterized with the class in ``field`` (1 where the field is absent) on a background of 0.
Pixels the prediction marks nodata (255: outside the image or the AOI) are not counted.
"""

from __future__ import annotations

from collections.abc import Mapping

import geopandas as gpd
import numpy as np
import pyogrio
import rasterio
import rasterio.features
from rasterio.warp import transform_bounds
from rasterio.windows import Window

from inference.metrics import AccuracyReport, ConfusionMatrix
from tileserver.catalog import DatasetRecord
from tileserver.errors import InvalidInput
from tileserver.processing.blocks import Grid, read_onto_grid, windows
from tileserver.processing.context import JobContext
from tileserver.vectors.store import features_path

NODATA_CLASS = 255
BLOCK = 1024


def accuracy(
    ctx: JobContext,
    class_path: str,
    reference: DatasetRecord,
    class_ids: list[int],
    names: Mapping[int, str],
    field: str = "class",
) -> AccuracyReport:
    """Per-class IoU / F1 / precision / recall of band 1 of ``class_path``."""
    with rasterio.open(class_path) as src:
        grid = Grid.of(src.crs, src.transform, src.width, src.height)
    matrix = ConfusionMatrix(class_ids)
    frame = _reference_polygons(ctx, reference, grid, field) if reference.kind == "vector" else None
    for window in windows(grid, BLOCK):
        with rasterio.open(class_path) as src:
            predicted = src.read(1, window=Window(*window))
        if frame is not None:
            truth = _rasterize(frame, grid, window)
            valid = np.ones(truth.shape, dtype=bool)
        else:
            block = read_onto_grid(ctx.path(reference), grid, window, indexes=[1])
            truth = np.ma.getdata(block)[0]
            valid = ~np.ma.getmaskarray(block)[0]
        matrix.add(predicted, truth, valid & (predicted != NODATA_CLASS))
    report = matrix.report(names)
    if report.pixels == 0:
        raise InvalidInput(f"The reference '{reference.id}' does not overlap the result.")
    return report


def _reference_polygons(
    ctx: JobContext, record: DatasetRecord, grid: Grid, field: str
) -> gpd.GeoDataFrame:
    """The reference's polygons near the grid, in the grid's CRS, with an integer ``_class``."""
    bbox = transform_bounds(grid.crs, "EPSG:4326", *_grid_bounds(grid))
    frame = pyogrio.read_dataframe(features_path(ctx.settings, record), bbox=bbox)
    if field in frame.columns:
        classes = np.asarray(frame[field], dtype=float)
        if not np.isfinite(classes).all() or (classes < 0).any() or (classes > 254).any():
            raise InvalidInput(f"Reference field '{field}' must hold class ids 0-254.")
        frame["_class"] = classes.astype(np.int64)
    else:
        frame["_class"] = 1
    frame = frame[frame.geometry.notna() & ~frame.geometry.is_empty]
    return frame.to_crs(grid.crs)


def _grid_bounds(grid: Grid) -> tuple[float, float, float, float]:
    a = grid.affine
    xs = [a.c, a.c + a.a * grid.width]
    ys = [a.f, a.f + a.e * grid.height]
    return min(xs), min(ys), max(xs), max(ys)


def _rasterize(
    frame: gpd.GeoDataFrame, grid: Grid, window: tuple[int, int, int, int]
) -> np.ndarray:
    col, row, width, height = window
    transform = grid.affine * grid.affine.translation(col, row)
    shapes = [
        (geom, int(value))
        for geom, value in zip(frame.geometry, frame["_class"], strict=True)
        if geom is not None
    ]
    if not shapes:
        return np.zeros((height, width), dtype=np.uint8)
    return rasterio.features.rasterize(
        shapes, out_shape=(height, width), transform=transform, fill=0, dtype="uint8"
    )
