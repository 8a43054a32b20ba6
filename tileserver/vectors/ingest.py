"""Reading an uploaded vector file into a clean WGS84 GeoDataFrame, or refusing it.

Accepted: a zipped shapefile (or a bare ``.shp`` beside its sidecar files), GeoJSON, and
GeoPackage. "Clean" means what every later step assumes without re-checking: the file was read
by the driver its name promises (so a ``.geojson`` that is really an OGR VRT pointing at server
files is refused, not followed), it has a coordinate system, it has at least one feature with a
geometry, every geometry is valid, and coordinates are finite WGS84 degrees.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import shapely
from pyogrio.errors import DataLayerError, DataSourceError, FeatureError, FieldError, GeometryError
from pyproj import CRS
from pyproj.exceptions import CRSError

from tileserver.errors import InvalidInput
from tileserver.vectors.archive import REQUIRED_PARTS, extract_shapefile

SOURCE_FORMATS: dict[str, str] = {
    ".zip": "shapefile",
    ".shp": "shapefile",
    ".geojson": "geojson",
    ".json": "geojson",
    ".gpkg": "gpkg",
}
DRIVERS = {"shapefile": "ESRI Shapefile", "geojson": "GeoJSON", "gpkg": "GPKG"}
FORMAT_NAMES = {"shapefile": "shapefile", "geojson": "GeoJSON", "gpkg": "GeoPackage"}
WGS84 = "EPSG:4326"
MAX_REPAIR_VERTICES = 100_000
"""Repairing an invalid geometry takes GEOS super-linear time in its vertices (2 s at 10^5, minutes
at 10^6), so larger invalid geometries, or more than ten times as many vertices in all, are
refused rather than repaired."""
MAX_FIELDS = 1000
"""Default most attribute fields of an uploaded layer (``COGSIGHT_MAX_VECTOR_FIELDS``): every
download format can hold them (a GeoPackage table at most 1,998, a shapefile's DBF 2,046)."""
_READ_ERRORS = (DataSourceError, DataLayerError, FeatureError, FieldError, GeometryError)


@dataclass
class LoadedVector:
    """A validated vector layer in WGS84, and what was learnt (and fixed) on the way."""

    frame: gpd.GeoDataFrame
    source_format: str
    source_crs: str
    source_layer: str
    layers: list[str] = field(default_factory=list)
    repaired: int = 0
    dropped: int = 0


def source_format(name: str) -> str:
    """``shapefile`` / ``geojson`` / ``gpkg`` from a file name, or ``InvalidInput``."""
    fmt = SOURCE_FORMATS.get(Path(name).suffix.lower())
    if fmt is None:
        accepted = ", ".join(sorted(SOURCE_FORMATS))
        raise InvalidInput(f"Unsupported vector file '{Path(name).name}'; accepted: {accepted}.")
    return fmt


def layer_name(name: str) -> str:
    """A tile layer id clients can type in a style: ``[a-z0-9_]``, at most 64 characters."""
    cleaned = re.sub(r"[^a-z0-9_]+", "_", name.lower()).strip("_")[:64]
    return cleaned or "features"


def crs_name(crs: CRS) -> str:
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg is not None else crs.to_string()


def _reason(exc: Exception, path: Path) -> str:
    """GDAL's message without server paths."""
    text = str(exc).replace(str(path.parent) + "/", "").replace(str(path.parent), "")
    return text.strip().rstrip(".")[:300]


def _readable(path: Path, fmt: str) -> Path:
    """The path GDAL should open; a bare .shp must have its sidecars."""
    if fmt != "shapefile" or path.suffix.lower() != ".shp":
        return path
    for suffix, message in REQUIRED_PARTS.items():
        if not any(path.with_suffix(s).is_file() for s in (suffix, suffix.upper())):
            raise InvalidInput(message[0].upper() + message[1:] + ".")
    return path


def _sniff(path: Path, fmt: str) -> None:
    """Check the file's first bytes before GDAL sees it.

    GDAL picks a driver by content, not by name, and some drivers follow references while
    merely opening (an OGR VRT can name any local path or URL). Only bytes that look like the
    promised format reach GDAL at all.
    """
    with path.open("rb") as f:
        head = f.read(1024)
    if fmt == "geojson":
        ok = head.removeprefix(b"\xef\xbb\xbf").lstrip()[:1] in (b"{", b"[")
    elif fmt == "gpkg":
        ok = head.startswith(b"SQLite format 3\x00")
    else:
        ok = head.startswith(b"\x00\x00\x27\x0a")  # the .shp file code, 9994
    if not ok:
        raise InvalidInput(f"The file is not a {FORMAT_NAMES[fmt]}.")


def _pick_layer(path: Path, fmt: str) -> tuple[str, list[str]]:
    """The layer to read (the first one with geometries) and every layer's name."""
    try:
        listed = pyogrio.list_layers(path)
        driver = pyogrio.read_info(path, layer=str(listed[0][0]))["driver"] if len(listed) else ""
    except _READ_ERRORS as exc:
        raise InvalidInput(
            f"The {FORMAT_NAMES[fmt]} could not be read: {_reason(exc, path)}."
        ) from exc
    if driver != DRIVERS[fmt]:
        raise InvalidInput(f"The file is not a {FORMAT_NAMES[fmt]} (it reads as {driver}).")
    names = [str(name) for name, _ in listed]
    spatial = [str(name) for name, geometry_type in listed if geometry_type is not None]
    if not spatial:
        raise InvalidInput(f"The {FORMAT_NAMES[fmt]} has no layer with geometries.")
    return spatial[0], names


def _check_fields(path: Path, fmt: str, layer: str, max_fields: int) -> None:
    """Count the layer's fields from its schema before reading a single row."""
    try:
        count = len(pyogrio.read_info(path, layer=layer)["fields"])
    except _READ_ERRORS as exc:
        raise InvalidInput(
            f"The {FORMAT_NAMES[fmt]} could not be read: {_reason(exc, path)}."
        ) from exc
    if count > max_fields:
        raise InvalidInput(
            f"The {FORMAT_NAMES[fmt]} has {count:,} attribute fields; at most {max_fields:,} are "
            "accepted (COGSIGHT_MAX_VECTOR_FIELDS). Drop the fields you do not need."
        )


def _read(path: Path, fmt: str, layer: str) -> gpd.GeoDataFrame:
    try:
        frame = pyogrio.read_dataframe(path, layer=layer, on_invalid="warn")
    except _READ_ERRORS as exc:
        raise InvalidInput(
            f"The {FORMAT_NAMES[fmt]} could not be read: {_reason(exc, path)}."
        ) from exc
    if not isinstance(frame, gpd.GeoDataFrame):
        raise InvalidInput(f"The {FORMAT_NAMES[fmt]} has no geometries.")
    return frame


def _with_crs(frame: gpd.GeoDataFrame, fmt: str) -> gpd.GeoDataFrame:
    if frame.crs is not None:
        return frame
    if fmt == "geojson":  # RFC 7946: GeoJSON without a crs member is WGS84
        return frame.set_crs(WGS84)
    raise InvalidInput(f"The {FORMAT_NAMES[fmt]} has no coordinate system.")


def _drop_empty(frame: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, int]:
    geoms = frame.geometry.values
    keep = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    return frame.loc[keep].reset_index(drop=True), int((~keep).sum())


def _to_wgs84(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    try:
        out = frame if CRS.from_user_input(frame.crs).equals(WGS84) else frame.to_crs(WGS84)
    except (CRSError, ValueError) as exc:
        raise InvalidInput(f"The coordinate system cannot be converted to WGS84: {exc}") from exc
    with np.errstate(invalid="ignore"):
        w, s, e, n = out.total_bounds
    eps = 1e-6
    if not (np.isfinite([w, s, e, n]).all() and -180 - eps <= w and e <= 180 + eps):
        raise InvalidInput(
            "The coordinates fall outside the world once converted to WGS84; "
            "is the declared coordinate system right?"
        )
    if not (-90 - eps <= s and n <= 90 + eps):
        raise InvalidInput("The coordinates fall outside the world (latitude beyond ±90°).")
    return out.set_crs(WGS84, allow_override=True)


def _make_valid(frame: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, int]:
    """Repair invalid geometries in place (``structure`` keeps polygons polygonal)."""
    geoms = np.asarray(frame.geometry.values, dtype=object)
    invalid = ~shapely.is_valid(geoms)
    count = int(invalid.sum())
    vertices = shapely.get_num_coordinates(geoms[invalid])
    if count and (
        vertices.max() > MAX_REPAIR_VERTICES or vertices.sum() > 10 * MAX_REPAIR_VERTICES
    ):
        raise InvalidInput(
            f"{count} geometries are invalid (self-intersecting or badly closed) and too large "
            f"to repair here (at most {MAX_REPAIR_VERTICES} vertices each); repair them first."
        )
    if count:
        geoms[invalid] = shapely.make_valid(
            geoms[invalid], method="structure", keep_collapsed=False
        )
        frame = frame.set_geometry(gpd.GeoSeries(geoms, crs=frame.crs, index=frame.index))
    return frame, count


def load_vector(
    path: Path, workdir: Path, *, filename: str | None = None, max_fields: int = MAX_FIELDS
) -> LoadedVector:
    """Read, check, repair and reproject ``path``; ``workdir`` is scratch space it may fill.

    ``filename`` is the client's name for the file when ``path`` is a temporary upload: its
    suffix chooses the format. A layer with more than ``max_fields`` attribute fields is
    refused. Raises ``InvalidInput`` for anything that cannot be served.
    """
    name = filename or path.name
    fmt = source_format(name)
    readable = _readable(path, fmt)
    if fmt == "shapefile" and path.suffix.lower() != ".shp":
        readable = extract_shapefile(path, workdir / "unzipped")
    _sniff(readable, fmt)
    layer, layers = _pick_layer(readable, fmt)
    _check_fields(readable, fmt, layer, max_fields)
    frame = _read(readable, fmt, layer)
    frame = _with_crs(frame, fmt)
    source_crs = crs_name(CRS.from_user_input(frame.crs))
    frame, dropped = _drop_empty(frame)
    if frame.empty:
        raise InvalidInput(f"The {FORMAT_NAMES[fmt]} has no features with a geometry.")
    frame = _to_wgs84(frame)
    frame, repaired = _make_valid(frame)
    frame, dropped_after = _drop_empty(frame)  # a repair can collapse a sliver to nothing
    if frame.empty:
        raise InvalidInput(f"The {FORMAT_NAMES[fmt]} has no valid geometries.")
    if filename and fmt == "geojson" and layer == readable.stem:
        layer = Path(filename).stem  # GDAL named the layer after the temporary upload file
    return LoadedVector(
        frame=frame,
        source_format=fmt,
        source_crs=source_crs,
        source_layer=layer,
        layers=layers,
        repaired=repaired,
        dropped=dropped + dropped_after,
    )
