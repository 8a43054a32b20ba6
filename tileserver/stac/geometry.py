"""Spatial search inputs: ``bbox`` and ``intersects``, checked before they reach SQL or GEOS."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from tileserver.errors import InvalidInput

BBox = tuple[float, float, float, float]

GEOMETRY_TYPES = {
    "Point",
    "MultiPoint",
    "LineString",
    "MultiLineString",
    "Polygon",
    "MultiPolygon",
    "GeometryCollection",
}


def parse_bbox(value: str | Sequence[float]) -> BBox:
    """``west,south,east,north`` (or the 6-number 3D form) in WGS84 degrees.

    ``west > east`` is allowed: it is a box crossing the antimeridian, as the spec says.
    """
    if isinstance(value, str):
        try:
            numbers = [float(v) for v in value.split(",")]
        except ValueError:
            raise InvalidInput("bbox must be 4 (or 6) comma-separated numbers.") from None
    else:
        numbers = [float(v) for v in value]
    if len(numbers) == 6:
        numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
    if len(numbers) != 4 or not all(math.isfinite(v) for v in numbers):
        raise InvalidInput("bbox must be 4 (or 6) finite numbers: west,south,east,north.")
    west, south, east, north = numbers
    if not (-180 <= west <= 180 and -180 <= east <= 180):
        raise InvalidInput("bbox longitudes must lie in [-180, 180].")
    if not (-90 <= south <= north <= 90):
        raise InvalidInput("bbox latitudes must lie in [-90, 90] with south <= north.")
    return west, south, east, north


def bbox_geometry(bbox: BBox) -> BaseGeometry:
    """The box as a geometry; across the antimeridian it is two boxes."""
    west, south, east, north = bbox
    if west <= east:
        geometry = shapely.box(west, south, east, north)
    else:
        geometry = shapely.MultiPolygon(
            [shapely.box(west, south, 180, north), shapely.box(-180, south, east, north)]
        )
    shapely.prepare(geometry)
    return geometry


def parse_geometry(geojson: Any) -> BaseGeometry:
    """A GeoJSON geometry (WGS84) as a valid, prepared shapely geometry."""
    if not isinstance(geojson, dict) or geojson.get("type") not in GEOMETRY_TYPES:
        raise InvalidInput(
            "intersects must be a GeoJSON geometry (Point, Polygon, MultiPolygon, ...)."
        )
    try:
        geometry = shape(geojson)
    except (
        ValueError,
        TypeError,
        AttributeError,
        IndexError,
        RecursionError,
        shapely.errors.ShapelyError,
    ):
        raise InvalidInput("intersects is not a readable GeoJSON geometry.") from None
    if geometry.is_empty:
        raise InvalidInput("intersects must not be an empty geometry.")
    if not np.isfinite(shapely.get_coordinates(geometry)).all():
        raise InvalidInput("intersects has coordinates that are not finite numbers.")
    if not geometry.is_valid:
        geometry = shapely.make_valid(geometry)
    shapely.prepare(geometry)
    return geometry


def footprint_geometry(footprint: dict[str, Any], bounds: BBox) -> BaseGeometry:
    """A dataset's footprint; its bounds box when the stored footprint is missing or broken."""
    try:
        geometry = shape(footprint) if footprint else None
    except (ValueError, TypeError, AttributeError, IndexError, shapely.errors.ShapelyError):
        geometry = None
    if geometry is None or geometry.is_empty:
        return shapely.box(*bounds)
    return geometry if geometry.is_valid else shapely.make_valid(geometry)
