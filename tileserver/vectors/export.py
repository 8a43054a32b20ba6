"""Downloads: a vector dataset written out as GeoJSON, GeoPackage or a zipped shapefile.

Each download is written to a fresh folder in the data root's scratch area and streamed from
there; the router removes the folder once the response is sent (``ExportedFile.cleanup``). The
stored FlatGeobuf is the source, so every format carries the same features in WGS84.
"""

from __future__ import annotations

import re
import shutil
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pyogrio

from tileserver.catalog import DatasetRecord
from tileserver.errors import InvalidInput
from tileserver.scratch import as_disk_full, new_scratch
from tileserver.settings import Settings
from tileserver.vectors.store import features_path


@dataclass(frozen=True)
class ExportFormat:
    suffix: str
    driver: str
    media_type: str


EXPORT_FORMATS: dict[str, ExportFormat] = {
    "geojson": ExportFormat(".geojson", "GeoJSON", "application/geo+json"),
    "gpkg": ExportFormat(".gpkg", "GPKG", "application/geopackage+sqlite3"),
    "shapefile": ExportFormat(".zip", "ESRI Shapefile", "application/zip"),
}
SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")
MAX_FIELDS: dict[str, tuple[int, str]] = {
    "gpkg": (1998, "a GeoPackage table (SQLite's 2,000 columns, less fid and geometry)"),
    "shapefile": (2046, "a shapefile's DBF table"),
}
"""Fields a format can hold; wider datasets (registered before ``COGSIGHT_MAX_VECTOR_FIELDS``
or above it) are refused with the limit named rather than failing halfway through GDAL."""
_FAMILIES = {
    "Point": "point",
    "MultiPoint": "point",
    "LineString": "line",
    "MultiLineString": "line",
    "LinearRing": "line",
    "Polygon": "polygon",
    "MultiPolygon": "polygon",
}


@dataclass(frozen=True)
class ExportedFile:
    """A finished download: stream ``path`` as ``filename``, then call ``cleanup``."""

    path: Path
    filename: str
    media_type: str
    folder: Path

    def cleanup(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def _file_stem(record: DatasetRecord) -> str:
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", record.title).strip("_")[:80]
    return stem or record.id


def _check_shapefile_types(frame: gpd.GeoDataFrame) -> None:
    """A shapefile holds one kind of geometry; say so before GDAL fails halfway."""
    families = {_FAMILIES.get(t, "other") for t in frame.geom_type.unique()}
    if len(families) > 1 or "other" in families:
        raise InvalidInput(
            "A shapefile holds one geometry type and this dataset mixes several; "
            "download GeoJSON or GeoPackage instead."
        )


def _check_width(source: Path, fmt: str) -> None:
    limit = MAX_FIELDS.get(fmt)
    if limit is None:
        return
    count = len(pyogrio.read_info(source)["fields"])
    if count > limit[0]:
        raise InvalidInput(
            f"This dataset has {count:,} attribute fields and {limit[1]} holds at most "
            f"{limit[0]:,}; download GeoJSON instead."
        )


def _write_shapefile_zip(frame: gpd.GeoDataFrame, folder: Path, stem: str, layer: str) -> Path:
    _check_shapefile_types(frame)
    parts = folder / "shapefile"
    parts.mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # GDAL truncating long field names
        pyogrio.write_dataframe(
            frame,
            parts / f"{stem}.shp",
            driver="ESRI Shapefile",
            layer=layer,
            layer_options={"ENCODING": "UTF-8"},  # also writes the .cpg
        )
    out = folder / f"{stem}.zip"
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for suffix in SHAPEFILE_PARTS:
            member = parts / f"{stem}{suffix}"
            if member.is_file():
                archive.write(member, arcname=member.name)
    return out


def export_vector(settings: Settings, record: DatasetRecord, fmt: str) -> ExportedFile:
    """Write the dataset as ``fmt`` (geojson, gpkg, shapefile) into a new scratch folder."""
    spec = EXPORT_FORMATS.get(fmt)
    if spec is None:
        raise InvalidInput(
            f"Unknown download format '{fmt}'; use one of {', '.join(EXPORT_FORMATS)}."
        )
    source = features_path(settings, record)
    _check_width(source, fmt)
    stem = _file_stem(record)
    layer = str(record.properties.get("layer") or "features")
    folder = new_scratch(settings, "export")
    try:
        frame = pyogrio.read_dataframe(source)
        if fmt == "shapefile":
            path = _write_shapefile_zip(frame, folder, stem, layer)
        else:
            path = folder / f"{stem}{spec.suffix}"
            options = {"RFC7946": "YES"} if fmt == "geojson" else {}
            pyogrio.write_dataframe(
                frame, path, driver=spec.driver, layer=layer, layer_options=options
            )
    except BaseException as exc:
        full = as_disk_full(settings, exc)  # measured before the partial file goes
        shutil.rmtree(folder, ignore_errors=True)
        if full is not None:
            raise full from exc
        raise
    return ExportedFile(path=path, filename=path.name, media_type=spec.media_type, folder=folder)
