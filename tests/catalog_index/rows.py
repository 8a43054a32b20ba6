"""Metadata-only dataset records for catalog index tests (no files: search, collections and
the index read only the catalog)."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Literal

from tileserver.catalog.schemas import DatasetRecord

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def scene(
    bounds: tuple[float, float, float, float],
    *,
    day: int | None = 0,
    collection: str | None = "sentinel-2-l2a",
    sensor: str = "sentinel2-l2a",
    kind: Literal["raster", "vector"] = "raster",
    owner: str | None = None,
    visibility: Literal["public", "private"] = "public",
    footprint: dict | None = None,
) -> DatasetRecord:
    """A scene over ``bounds`` acquired ``day`` days after 2024-01-01 (None: unknown)."""
    west, south, east, north = bounds
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    ident = secrets.token_hex(6)
    return DatasetRecord(
        id=ident,
        title=f"scene {ident}",
        kind=kind,
        uri=f"s3://archive/{ident}.vrt",
        crs="EPSG:4326",
        bounds=bounds,
        footprint=footprint
        if footprint is not None
        else {"type": "Polygon", "coordinates": [ring]},
        datetime=None if day is None else T0 + dt.timedelta(days=day),
        sensor=sensor,
        band_names=["red", "green", "blue"],
        dtype="uint16",
        nodata=0,
        width=100,
        height=100,
        resolution=10.0,
        minzoom=8,
        maxzoom=14,
        cloud_cover=10.0,
        owner=owner,
        visibility=visibility,
        properties={},
        created=T0,
        collection=collection,
    )
