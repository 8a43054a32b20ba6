"""Pydantic views of catalog rows: what the API returns and what the library passes around."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

BBox = tuple[float, float, float, float]


class DatasetRecord(BaseModel):
    """A registered raster or vector; ``uri`` is relative to the data root, or remote."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    title: str
    kind: Literal["raster", "vector"] = "raster"
    uri: str
    crs: str
    bounds: BBox = Field(description="WGS84 west, south, east, north (degrees).")
    footprint: dict[str, Any] = Field(description="GeoJSON geometry of valid data, WGS84.")
    datetime: dt.datetime | None = None
    sensor: str = "generic"
    band_names: list[str]
    dtype: str
    nodata: float | None = None
    width: int
    height: int
    resolution: float = Field(description="Pixel size in the dataset's CRS units.")
    minzoom: int
    maxzoom: int
    reflectance_scale: float | None = None
    reflectance_offset: float | None = None
    cloud_cover: float | None = None
    owner: str | None = None
    visibility: Literal["public", "private"] = "public"
    properties: dict[str, Any] = Field(default_factory=dict)
    created: dt.datetime
    collection: str | None = Field(
        default=None, description="STAC collection of a scene registered from a STAC item."
    )
    source: str | None = Field(
        default=None, description="Archive source (COGSIGHT_STAC_SOURCES id) it came from."
    )
    external_id: str | None = Field(
        default=None, description="'collection/item id' of the item at its source."
    )
    source_hash: str | None = Field(default=None, description="Hash of the item as last seen.")


class MosaicRecord(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    title: str
    dataset_ids: list[str]
    band_names: list[str]
    bounds: BBox
    minzoom: int
    maxzoom: int
    quadkey_zoom: int
    sensor: str | None = None
    reflectance_scale: float | None = None
    reflectance_offset: float | None = None
    mosaicjson: dict[str, Any] = Field(repr=False)
    owner: str | None = None
    visibility: Literal["public", "private"] = "public"
    created: dt.datetime


class DatasetQuery(BaseModel):
    """Catalog filters shared by the dataset list and mosaic building."""

    ids: list[str] | None = None
    bbox: BBox | None = None
    datetime_start: dt.datetime | None = None
    datetime_end: dt.datetime | None = None
    sensor: str | None = None
    kind: Literal["raster", "vector"] | None = None
    limit: int = Field(default=1000, ge=1, le=10000)
