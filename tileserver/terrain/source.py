"""What a terrain is made from: a DEM dataset, or a mosaic of DEMs, and how its heights are read.

A dataset is a terrain when it has one band (``properties["elevation"]``, set at ingest, says it
is a DEM; a raster ingest refused as elevation, or any multi-band image, is refused with a 400
saying why). A mosaic is a terrain when its scenes have one band; its scenes, in any CRS, are
read through the mosaic backend (``mosaic_reader`` over the scenes under the tile), each warped
to EPSG:4326 on the tile's sample grid, so scenes in two UTM zones make one surface.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from cachetools import LRUCache
from rasterio.crs import CRS
from rio_tiler.constants import WGS84_CRS
from rio_tiler.errors import EmptyMosaicError, NoAssetFoundError, TileOutsideBounds
from shapely.geometry import Polygon, box, shape
from shapely.geometry.base import BaseGeometry

from tileserver.catalog import DatasetRecord, MosaicRecord
from tileserver.elevation.detect import elevation_info
from tileserver.errors import InvalidInput, NotFoundError
from tileserver.mosaics.backend import open_mosaic
from tileserver.rendering.statistics import band_statistics
from tileserver.settings import Settings
from tileserver.sources import gdal_path
from tileserver.terrain.grid import MAX_ZOOM
from tileserver.terrain.mesh import SAMPLES
from tileserver.tiling.reader import CatalogReader
from tileserver.tiling.records import RecordCache

METRES_PER_DEGREE = 111_320.0
OUTSIDE = (TileOutsideBounds, NoAssetFoundError, EmptyMosaicError)
_RANGES: LRUCache[str, tuple[float, float] | None] = LRUCache(1024)


class NotElevation(InvalidInput):
    """Asked for terrain from something that is not a DEM (400, saying why)."""

    code = "not_elevation"


def elevation_of(record: DatasetRecord) -> dict[str, Any] | None:
    """The DEM facts ingest stored (``units``, ``vertical_datum``, ``min``, ``max``), or None."""
    return elevation_info(record)


def check_dem(record: DatasetRecord) -> None:
    """Refuse what cannot be terrain, naming why."""
    if record.kind != "raster":
        raise NotElevation(f"Dataset '{record.id}' is a {record.kind}, not an elevation raster.")
    if len(record.band_names) != 1:
        raise NotElevation(
            f"Dataset '{record.id}' has {len(record.band_names)} bands: terrain needs a "
            "single-band elevation model (heights in metres)."
        )
    if record.properties.get("elevation") is False:
        raise NotElevation(f"Dataset '{record.id}' was registered as an image, not elevation.")
    facts = elevation_of(record)
    if facts is not None and not math.isfinite(facts["max"] - facts["min"]):
        raise NotElevation(f"Dataset '{record.id}' has no valid elevation samples.")


def degrees_per_pixel(record: DatasetRecord) -> float:
    crs = CRS.from_user_input(record.crs) if record.crs else WGS84_CRS
    return record.resolution if crs.is_geographic else record.resolution / METRES_PER_DEGREE


def native_zoom(degrees: float) -> int:
    """The zoom whose sample spacing first reaches the data's pixel size (deeper adds nothing:
    Cesium refines past it by upsampling)."""
    cells = SAMPLES - 1
    return max(0, min(MAX_ZOOM, math.ceil(math.log2(180.0 / (cells * max(degrees, 1e-9))))))


@dataclass
class Terrain:
    """One terrain: its record(s), extent and how to read heights for an area."""

    ident: str
    title: str
    kind: str
    bounds: tuple[float, float, float, float]
    footprint: BaseGeometry
    boxes: list[tuple[float, float, float, float]]
    maxzoom: int
    low: float | None
    high: float | None
    visibility: str
    dataset: DatasetRecord | None = None
    mosaic: MosaicRecord | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def read(
        self, bbox: tuple[float, float, float, float], size: int, records: RecordCache,
        settings: Settings,
    ) -> np.ma.MaskedArray | None:  # fmt: skip
        """Heights on a ``size`` x ``size`` EPSG:4326 grid over ``bbox`` (bilinear), masked
        where there is no data; None where the terrain has no data there at all."""
        options: dict[str, Any] = dict(
            dst_crs=WGS84_CRS, bounds_crs=WGS84_CRS, width=size, height=size, indexes=1,
            resampling_method="bilinear", reproject_method="bilinear",
            # a near-exact transformer (GDAL approximates to 0.125 px by default)
            vrt_options={"tolerance": 0.01},
        )  # fmt: skip
        try:
            if self.dataset is not None:
                with CatalogReader(gdal_path(self.dataset.uri, settings)) as src:
                    image = src.part(bbox, **options)
            else:
                assert self.mosaic is not None
                with open_mosaic(self.mosaic, records, settings) as backend:
                    image, _ = backend.part(bbox, **options)
        except OUTSIDE:
            return None
        band = image.array[0]
        with np.errstate(invalid="ignore"):  # masked samples may hold NaN
            values = np.ma.getdata(band).astype(np.float64)
        return np.ma.MaskedArray(values, mask=np.ma.getmaskarray(band))

    def inside(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Which sample positions lie inside the data's footprint (holes there are filled)."""
        return np.asarray(shapely.contains_xy(self.footprint, lon, lat))


def _bbox(bounds: Any) -> tuple[float, float, float, float]:
    west, south, east, north = (float(v) for v in bounds)
    return west, south, east, north


def _geometry(record: DatasetRecord) -> BaseGeometry:
    """The data's outline without its holes: a nodata hole inside a DEM is filled, not flat."""
    try:
        geometry = shape(record.footprint).buffer(0)
        parts = [p for p in getattr(geometry, "geoms", [geometry]) if isinstance(p, Polygon)]
        if parts:
            return shapely.union_all([Polygon(p.exterior) for p in parts])
    except Exception:  # a malformed stored footprint: its bounds still say where it is
        pass
    return box(*record.bounds)


def height_range(record: DatasetRecord, settings: Settings) -> tuple[float, float]:
    """The DEM's lowest and highest height: from ingest's facts, else read once (an overview)
    and remembered per file. A DEM with no valid sample at all is refused (400): it would
    only ever make flat tiles."""
    facts = elevation_of(record)
    if facts is not None:
        return float(facts["min"]), float(facts["max"])
    path = gdal_path(record.uri, settings)
    if path not in _RANGES:
        stats = band_statistics(path)[0]
        _RANGES[path] = (stats["min"], stats["max"]) if stats is not None else None
    found = _RANGES[path]
    if found is None:
        raise NotElevation(
            f"Dataset '{record.id}' has no valid elevation samples: every pixel is nodata."
        )
    return found


def dataset_terrain(record: DatasetRecord, settings: Settings) -> Terrain:
    check_dem(record)
    low, high = height_range(record, settings)
    return Terrain(
        ident=record.id,
        title=record.title,
        kind="dataset",
        bounds=_bbox(record.bounds),
        footprint=_geometry(record),
        boxes=[_bbox(record.bounds)],
        maxzoom=native_zoom(degrees_per_pixel(record)),
        low=low,
        high=high,
        visibility=record.visibility,
        dataset=record,
    )


def mosaic_terrain(record: MosaicRecord, records: RecordCache) -> Terrain:
    if len(record.band_names) != 1:
        raise NotElevation(
            f"Mosaic '{record.id}' has {len(record.band_names)} bands: terrain needs scenes "
            "that are single-band elevation models."
        )
    scenes: list[DatasetRecord] = []
    for ident in record.dataset_ids:
        try:
            scenes.append(records.dataset(ident))
        except NotFoundError:
            continue
    for scene in scenes:
        check_dem(scene)
    if scenes:
        footprint = shapely.union_all([_geometry(s) for s in scenes])
        boxes = [_bbox(s.bounds) for s in scenes]
        degrees = min(degrees_per_pixel(s) for s in scenes)
        facts = [f for s in scenes if (f := elevation_of(s))]
    else:  # a query mosaic: its bounds and zooms are all it states
        footprint, boxes = box(*record.bounds), [_bbox(record.bounds)]
        degrees, facts = 360.0 / (256 << record.maxzoom), []
    return Terrain(
        ident=record.id,
        title=record.title,
        kind="mosaic",
        bounds=_bbox(record.bounds),
        footprint=footprint,
        boxes=boxes,
        maxzoom=native_zoom(degrees),
        low=min((f["min"] for f in facts), default=None),
        high=max((f["max"] for f in facts), default=None),
        visibility=record.visibility,
        mosaic=record,
    )
