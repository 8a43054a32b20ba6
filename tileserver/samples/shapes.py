"""Drawn samples as polygons on their image: brush strokes and points grown to their width,
each checked against the image's footprint (a sample off the image teaches nothing)."""

from __future__ import annotations

import json

import geopandas as gpd
import shapely
from pyproj import CRS
from shapely.geometry.base import BaseGeometry

from tileserver.catalog import DatasetRecord
from tileserver.errors import InvalidInput
from tileserver.samples.schemas import Sample, SampleClass, SampleKind

DEFAULT_WIDTH_PX = 3.0
"""A brush stroke's width and a point's diameter when the client gives none, in pixels."""
_KINDS: dict[str, SampleKind] = {
    "Polygon": "polygon",
    "MultiPolygon": "polygon",
    "LineString": "brush",
    "MultiLineString": "brush",
    "Point": "point",
}


def pixel_size_m(image: DatasetRecord) -> float:
    """The image's pixel side in metres (degrees x 111.32 km for a geographic CRS)."""
    size = float(image.resolution or 1.0)
    try:
        geographic = CRS.from_user_input(image.crs).is_geographic
    except Exception:  # an unreadable CRS: take its units as metres
        geographic = False
    return size * 111_320.0 if geographic else size


def footprint(image: DatasetRecord) -> BaseGeometry:
    """Where the image has data (its footprint, else its bounds), WGS84."""
    if image.footprint:
        return shapely.from_geojson(json.dumps(image.footprint))
    return shapely.box(*image.bounds)


def _parse(sample: Sample, number: int) -> BaseGeometry:
    try:
        shape = shapely.from_geojson(json.dumps(sample.geometry))
    except (shapely.errors.GEOSException, ValueError, TypeError) as exc:
        raise InvalidInput(f"Sample {number}: the geometry is not valid GeoJSON ({exc}).") from None
    if shape is None or shape.is_empty:
        raise InvalidInput(f"Sample {number}: the geometry is empty.")
    shape = shapely.force_2d(shape)
    coords = shapely.get_coordinates(shape)
    if not (abs(coords[:, 0]) <= 180).all() or not (abs(coords[:, 1]) <= 90).all():
        raise InvalidInput(f"Sample {number}: coordinates must be WGS84 degrees, longitude first.")
    if not shape.is_valid:
        reason = shapely.is_valid_reason(shape)
        raise InvalidInput(f"Sample {number}: the geometry is not valid ({reason}).")
    return shape


def _grown(shape: BaseGeometry, width_m: float) -> BaseGeometry:
    """A line or point buffered by half ``width_m``, in the local UTM zone's metres."""
    series = gpd.GeoSeries([shape], crs="EPSG:4326")
    local = series.to_crs(series.estimate_utm_crs())
    grown = local.buffer(width_m / 2, quad_segs=4).to_crs("EPSG:4326")
    return grown.iloc[0]


def sample_polygon(
    sample: Sample, number: int, image: DatasetRecord, area: BaseGeometry
) -> tuple[BaseGeometry, SampleKind]:
    """The sample's polygon (clipped to the image) and its kind, or ``InvalidInput`` saying
    which sample is wrong and why."""
    shape = _parse(sample, number)
    kind = _KINDS.get(shape.geom_type)
    if kind is None:
        raise InvalidInput(
            f"Sample {number}: a {shape.geom_type} is not a sample; draw a polygon, a brush "
            "stroke (LineString) or a point."
        )
    if kind == "polygon":
        kind = sample.kind or kind  # a stroke or point saved before comes back as its polygon
    elif sample.kind is not None and sample.kind != kind:
        raise InvalidInput(f"Sample {number}: a {shape.geom_type} cannot be a {sample.kind}.")
    else:
        width = sample.width_m or DEFAULT_WIDTH_PX * pixel_size_m(image)
        shape = _grown(shape, width)
    if not shape.intersects(area):
        raise InvalidInput(
            f"Sample {number} lies outside image '{image.id}'; draw samples on the image."
        )
    clipped = shape.intersection(area)
    if clipped.geom_type == "GeometryCollection":
        clipped = shapely.union_all([g for g in clipped.geoms if g.area > 0])
    if clipped.is_empty or not clipped.area > 0:
        raise InvalidInput(f"Sample {number} only touches the edge of image '{image.id}'.")
    return clipped, kind


def samples_frame(
    samples: list[Sample], classes: list[SampleClass], image: DatasetRecord
) -> gpd.GeoDataFrame:
    """The samples as rows (class, kind, polygon), checked: known class, on the image."""
    known = {c.value for c in classes}
    area = footprint(image)
    rows: list[dict[str, object]] = []
    for number, sample in enumerate(samples, start=1):
        if sample.class_value not in known:
            raise InvalidInput(
                f"Sample {number} has class {sample.class_value}, which the set does not have "
                f"(classes: {', '.join(str(v) for v in sorted(known))})."
            )
        polygon, kind = sample_polygon(sample, number, image, area)
        rows.append({"class": sample.class_value, "kind": kind, "geometry": polygon})
    frame = gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")
    frame["class"] = frame["class"].astype("int32")
    return frame
