"""A model's input from a catalog dataset: which bands, their scaling, an AOI window (no copy).

A model names bands by common name (red, nir, vv ...); the dataset's band names or its sensor
preset say which band that is. Optical models want reflectance: the dataset's own scale and
offset when it has them (Landsat C2L2: x 2.75e-5 - 0.2), else the model's ``input_scale``.
An AOI becomes a GDAL ``vrt://`` window over the source: no pixels are copied.

Not to be confused with ``tileserver.sources`` (reading: catalog URI → GDAL path),
``storage`` (atomic local writes), ``objectstore`` (publishing locally or to S3) or
``vectors.store`` (a vector dataset's files); see "Where the bytes live" in
docs/architecture.md.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import rasterio
import shapely
from rasterio.warp import transform_geom
from rasterio.windows import Window, from_bounds

from inference.models import ModelSpec
from tileserver.catalog import DatasetRecord
from tileserver.errors import InvalidInput, UnknownBand
from tileserver.expressions import resolve_band


@dataclass(frozen=True)
class Scaling:
    scale: float | None
    offset: float


def band_set(spec: ModelSpec, records: Sequence[DatasetRecord]) -> list[str]:
    """The first of the spec's band sets (``bands``, then ``band_options``) every one of
    ``records`` (the dates of a change pair) has: what the engine feeds and the model is
    built for; UnknownBand 400 naming every set otherwise."""
    for names in spec.band_sets:
        if all(_resolves(names, r) for r in records):
            return names
    for record in records:
        _chosen(spec, record)  # a 400 naming every set for an image that has none
    wanted = spec.band_sets_text
    raise UnknownBand(f"{spec.name} needs the same bands on both dates: {wanted}.")


def band_indexes(
    spec: ModelSpec, record: DatasetRecord, names: Sequence[str] | None = None
) -> list[int]:
    """1-based band in ``record`` of each of ``names`` (default: the first of the spec's band
    sets the record has all of)."""
    return _chosen(spec, record)[1] if names is None else _indexes(names, record)


def _indexes(names: Sequence[str], record: DatasetRecord) -> list[int]:
    return [resolve_band(n, record.band_names, record.sensor) for n in names]


def _resolves(names: Sequence[str], record: DatasetRecord) -> bool:
    try:
        _indexes(names, record)
    except UnknownBand:
        return False
    return True


def _chosen(spec: ModelSpec, record: DatasetRecord) -> tuple[list[str], list[int]]:
    first: UnknownBand | None = None
    for names in spec.band_sets:
        try:
            return names, _indexes(names, record)
        except UnknownBand as exc:
            first = first or exc
    if len(spec.band_sets) == 1 and first is not None:
        raise first
    wanted = spec.band_sets_text
    raise UnknownBand(
        f"{spec.name} needs the bands {wanted}; this dataset has "
        f"{', '.join(record.band_names)} (sensor: {record.sensor or 'generic'})."
    )


def scaling(spec: ModelSpec, record: DatasetRecord) -> Scaling:
    if spec.fixed_scaling:
        return Scaling(spec.input_scale, spec.input_offset)
    if spec.input_scale is None:
        return Scaling(None, 0.0)
    if record.reflectance_scale is not None:
        return Scaling(record.reflectance_scale, record.reflectance_offset or 0.0)
    return Scaling(spec.input_scale, 0.0)


def aoi_shape(aoi: dict[str, Any] | None) -> shapely.Geometry | None:
    """The AOI as a valid shapely polygon in WGS84, or a 400 saying what is wrong with it."""
    if aoi is None:
        return None
    try:
        geom = shapely.geometry.shape(aoi)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InvalidInput(f"The AOI is not a GeoJSON geometry: {exc}") from None
    if geom.geom_type not in ("Polygon", "MultiPolygon") or geom.is_empty:
        raise InvalidInput("The AOI must be a GeoJSON Polygon or MultiPolygon.")
    w, s, e, n = geom.bounds
    if not (-180 <= w <= e <= 180 and -90 <= s <= n <= 90):
        raise InvalidInput("The AOI must be in WGS84 longitude/latitude.")
    return shapely.make_valid(geom)


def aoi_window(path: str, aoi: shapely.Geometry) -> tuple[Window, shapely.Geometry]:
    """The pixel window of ``path`` covering ``aoi`` and the AOI in the raster's CRS."""
    with rasterio.open(path) as src:
        local = shapely.geometry.shape(
            transform_geom("EPSG:4326", src.crs, shapely.geometry.mapping(aoi))
        )
        win = from_bounds(*local.bounds, transform=src.transform)
        col0, row0 = max(0, math.floor(win.col_off)), max(0, math.floor(win.row_off))
        col1 = min(src.width, math.ceil(win.col_off + win.width))
        row1 = min(src.height, math.ceil(win.row_off + win.height))
    if col1 - col0 < 1 or row1 - row0 < 1:
        raise InvalidInput("The AOI does not overlap the image.")
    return Window(col0, row0, col1 - col0, row1 - row0), local


def subset(path: str, window: Window) -> str:
    """A GDAL path reading only ``window`` of ``path``."""
    c, r, w, h = (int(v) for v in (window.col_off, window.row_off, window.width, window.height))
    return f"vrt://{path}?srcwin={c},{r},{w},{h}"
