"""Reading a vector dataset's features: GeoJSON pages by bbox, and its whole geometry.

Both read the dataset's FlatGeobuf, whose packed R-tree lets GDAL answer a bbox query without
scanning the file; GDAL then tests each candidate's real geometry, so a line whose envelope
touches the box but whose path misses it is not returned. Feature ids are FlatGeobuf feature
ids: stable for the dataset's life (the file is immutable) and the same across pages.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import numpy as np
import pyogrio
import shapely
from pydantic import BaseModel, Field
from shapely.geometry.base import BaseGeometry

from tileserver.catalog import DatasetRecord
from tileserver.errors import InvalidInput
from tileserver.settings import Settings
from tileserver.vectors.store import features_path

BBox = tuple[float, float, float, float]
MAX_LIMIT = 10_000


class Feature(BaseModel):
    type: Literal["Feature"] = "Feature"
    id: int = Field(description="The feature's id in the stored dataset (stable).")
    geometry: dict[str, Any] | None
    properties: dict[str, Any]


class FeatureCollection(BaseModel):
    """A page of features (WGS84) with OGC API - Features style counts."""

    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[Feature]
    numberMatched: int = Field(description="Features matching the query, all pages.")
    numberReturned: int


def parse_bbox(value: str | None) -> BBox | None:
    """``'w,s,e,n'`` in WGS84 degrees, or ``InvalidInput`` (400)."""
    if value is None or not value.strip():
        return None
    try:
        w, s, e, n = (float(v) for v in value.split(","))
    except ValueError:
        raise InvalidInput("bbox must be 'west,south,east,north' in degrees.") from None
    if not all(np.isfinite([w, s, e, n])):
        raise InvalidInput("bbox values must be finite numbers.")
    if not (-180 <= w <= e <= 180 and -90 <= s <= n <= 90):
        raise InvalidInput("bbox must be 'west,south,east,north' with west<=east, south<=north.")
    return (w, s, e, n)


def query_features(
    settings: Settings,
    record: DatasetRecord,
    *,
    bbox: BBox | None = None,
    limit: int = 100,
    offset: int = 0,
) -> FeatureCollection:
    """Features intersecting ``bbox`` (all when None), ``limit`` of them from ``offset``."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}.")
    if offset < 0:
        raise InvalidInput("offset must be 0 or more.")
    path = features_path(settings, record)
    if bbox is None:
        matched = int(pyogrio.read_info(path)["features"])
    else:
        matched = len(pyogrio.read_bounds(path, bbox=bbox)[0])
    if offset >= matched:
        return FeatureCollection(features=[], numberMatched=matched, numberReturned=0)
    frame = pyogrio.read_dataframe(
        path, bbox=bbox, skip_features=offset, max_features=limit, fid_as_index=True
    )
    attributes = frame.drop(columns=frame.geometry.name)
    properties = (
        json.loads(attributes.to_json(orient="records", date_format="iso"))
        if len(attributes.columns)
        else [{} for _ in range(len(frame))]
    )
    geometries = [
        json.loads(text) if text is not None else None
        for text in shapely.to_geojson(np.asarray(frame.geometry.values, dtype=object))
    ]
    features = [
        Feature(id=int(fid), geometry=geometry, properties=props)
        for fid, geometry, props in zip(frame.index, geometries, properties, strict=True)
    ]
    return FeatureCollection(features=features, numberMatched=matched, numberReturned=len(features))


def vector_geometry(settings: Settings, record: DatasetRecord) -> BaseGeometry:
    """The union of all the dataset's geometries (WGS84), e.g. to search imagery "under" it.

    Costs a full read and a union: about a second for tens of thousands of polygons. Callers
    that only need a coarse shape can use ``record.footprint`` (the convex hull) instead.
    """
    path = features_path(settings, record)
    frame = pyogrio.read_dataframe(path, columns=[])
    geometry: BaseGeometry = shapely.union_all(np.asarray(frame.geometry.values, dtype=object))
    return geometry
