"""Synthetic archive scenes for mosaic tests and the mosaic benchmark: small float32 GeoTIFFs in
Web Mercator, written in milliseconds, and their catalog rows inserted in one transaction (as a
harvest registers a batch), so thousands of scenes cost seconds."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from pathlib import Path

import morecantile
import numpy as np
import rasterio
from rasterio.transform import from_origin
from rasterio.warp import transform_bounds

from tileserver.catalog import Catalog, DatasetRecord
from tileserver.catalog.repository import new_id
from tileserver.catalog.tables import DatasetRow

TMS = morecantile.tms.get("WebMercatorQuad")
SIDE = 256
BANDS = ["red", "nir"]


def tile_origin(tile: morecantile.Tile) -> tuple[float, float, float]:
    """Top-left corner (EPSG:3857) and pixel size of a scene that is exactly ``tile``."""
    b = TMS.xy_bounds(tile)
    return b.left, b.top, (b.right - b.left) / SIDE


def write_scene(
    path: Path,
    data: np.ndarray,
    left: float,
    top: float,
    pixel: float,
    nodata: float | None = None,
    **creation: object,
) -> None:
    """``data`` (bands, SIDE, SIDE) as a tiled GeoTIFF whose top-left corner is (left, top);
    ``creation`` adds GDAL creation options (compression)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=data.shape[2],
        height=data.shape[1],
        count=data.shape[0],
        dtype=data.dtype.name,
        crs="EPSG:3857",
        transform=from_origin(left, top, pixel, pixel),
        nodata=nodata,
        tiled=True,
        blockxsize=256,
        blockysize=256,
        **creation,
    ) as dst:
        dst.write(data)
        dst.descriptions = tuple(BANDS[: data.shape[0]])


def scene_record(
    uri: str,
    left: float,
    top: float,
    pixel: float,
    *,
    when: dt.datetime,
    cloud_cover: float | None = None,
    owner: str | None = None,
    visibility: str = "public",
    nodata: float | None = None,
    zoom: int = 12,
    sensor: str = "generic",
    ident: str | None = None,
    dtype: str = "float32",
) -> DatasetRecord:
    """The catalog record of a scene written by ``write_scene``."""
    right, bottom = left + SIDE * pixel, top - SIDE * pixel
    w, s, e, n = transform_bounds("EPSG:3857", "EPSG:4326", left, bottom, right, top)
    ring = [[w, s], [e, s], [e, n], [w, n], [w, s]]
    return DatasetRecord(
        id=ident or new_id(),
        title=f"scene {uri}",
        uri=uri,
        crs="EPSG:3857",
        bounds=(w, s, e, n),
        footprint={"type": "Polygon", "coordinates": [ring]},
        datetime=when,
        sensor=sensor,
        band_names=list(BANDS),
        dtype=dtype,
        nodata=nodata,
        width=SIDE,
        height=SIDE,
        resolution=pixel,
        minzoom=max(zoom - 4, 0),
        maxzoom=zoom + 2,
        cloud_cover=cloud_cover,
        owner=owner,
        visibility=visibility,  # type: ignore[arg-type]
        created=dt.datetime.now(dt.UTC),
    )


def add_records(catalog: Catalog, records: Iterable[DatasetRecord]) -> None:
    """Insert catalog rows in one transaction."""
    with catalog.session() as session:
        for record in records:
            west, south, east, north = record.bounds
            values = record.model_dump(exclude={"bounds"})
            session.add(DatasetRow(**values, west=west, south=south, east=east, north=north))


def tile_scene(
    catalog: Catalog,
    data_dir: Path,
    tile: morecantile.Tile,
    data: np.ndarray,
    when: dt.datetime,
    **options: object,
) -> DatasetRecord:
    """Write and register one scene covering exactly ``tile``; returns its record."""
    left, top, pixel = tile_origin(tile)
    ident = new_id()
    uri = f"scenes/{ident}.tif"
    write_scene(data_dir / uri, data, left, top, pixel, options.get("nodata"))  # type: ignore[arg-type]
    record = scene_record(uri, left, top, pixel, when=when, ident=ident, zoom=tile.z, **options)  # type: ignore[arg-type]
    catalog.add_dataset(record)
    return record


def constant(values: Sequence[float]) -> np.ndarray:
    """A scene whose bands are the given constants."""
    return np.stack([np.full((SIDE, SIDE), v, dtype="float32") for v in values])
