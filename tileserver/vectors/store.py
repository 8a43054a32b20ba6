"""A vector dataset's files: its folder layout and the check that a record really is a vector.

A vector dataset is one folder, ``<data>/vectors/{id}/``, holding ``features.fgb`` (WGS84
FlatGeobuf with a spatial index, the source of truth for queries and downloads) and
``tiles.pmtiles`` (the map tiles). Paths are always resolved through ``sources.local_path`` so a
tampered record can never point outside the data root.

Not to be confused with ``sources`` (reading: catalog URI → GDAL path), ``storage`` (atomic
local writes), ``objectstore`` (publishing finished files locally or to S3) or
``processing.models.sources`` (a model's bands); see "Where the bytes live" in
docs/architecture.md.
"""

from __future__ import annotations

from pathlib import Path

from tileserver.catalog import DatasetRecord
from tileserver.errors import InvalidInput, NotFoundError
from tileserver.settings import Settings
from tileserver.sources import local_path

KIND = "vectors"
FEATURES_FILE = "features.fgb"
TILES_FILE = "tiles.pmtiles"


def features_uri(dataset_id: str) -> str:
    return f"{KIND}/{dataset_id}/{FEATURES_FILE}"


def tiles_uri(dataset_id: str) -> str:
    return f"{KIND}/{dataset_id}/{TILES_FILE}"


def require_vector(record: DatasetRecord) -> DatasetRecord:
    """The record itself, or ``InvalidInput`` (400) when a raster id is used as a vector."""
    if record.kind != "vector":
        raise InvalidInput(f"Dataset '{record.id}' is a {record.kind}, not a vector.")
    return record


def _existing(path: Path, what: str, record: DatasetRecord) -> Path:
    if not path.is_file():
        raise NotFoundError(f"The {what} of dataset '{record.id}' is missing.")
    return path


def features_path(settings: Settings, record: DatasetRecord) -> Path:
    """The dataset's FlatGeobuf file (404 if it has gone missing)."""
    require_vector(record)
    return _existing(local_path(record.uri, settings), "features", record)


def tiles_path(settings: Settings, record: DatasetRecord) -> Path:
    """The dataset's PMTiles archive (404 if it has gone missing)."""
    require_vector(record)
    uri = str(record.properties.get("pmtiles") or tiles_uri(record.id))
    return _existing(local_path(uri, settings), "tile archive", record)
