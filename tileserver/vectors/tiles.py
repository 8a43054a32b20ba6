"""Serving tiles out of a dataset's PMTiles archive, and its TileJSON.

The ``pmtiles`` package's ``Reader`` re-reads the header and re-decodes the (gzip, varint)
root directory on every ``get``; for a tile server that is most of the cost of a tile. So an
archive here is opened once, its header and root directory are kept, leaf directories go in a
small LRU, and tile bytes are read with ``os.pread`` (thread-safe on one descriptor, no mmap
to invalidate). Archives are cached per path and re-opened when the file's identity (inode,
mtime, size) changes, so a deleted or replaced dataset is never served from a stale handle.

Tiles are returned decompressed: clients then need no ``Content-Encoding`` handling and the
tile cache middleware stores what it sends.
"""

from __future__ import annotations

import gzip
import json
import os
import threading
from pathlib import Path
from typing import Any

from cachetools import LRUCache
from pmtiles.tile import (
    Compression,
    Entry,
    HeaderDict,
    TileType,
    deserialize_directory,
    deserialize_header,
    find_tile,
    zxy_to_tileid,
)
from pydantic import BaseModel, Field

from tileserver.catalog import DatasetRecord
from tileserver.errors import NotFoundError, OutsideBounds
from tileserver.settings import Settings
from tileserver.vectors.store import tiles_path

MAX_TILE_ZOOM = 24
HEADER_BYTES = 127
MVT_MEDIA_TYPE = "application/vnd.mapbox-vector-tile"


class PMTilesArchive:
    """One open PMTiles v3 archive of MVT tiles; ``tile(z, x, y)`` is safe across threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_RDONLY)
        try:
            st = os.fstat(self._fd)
            self.identity = (st.st_ino, st.st_mtime_ns, st.st_size)
            self.header: HeaderDict = deserialize_header(self._read(0, HEADER_BYTES))
            if self.header["version"] != 3:
                raise ValueError(f"unsupported PMTiles version {self.header['version']}")
            if self.header["internal_compression"] != Compression.GZIP:
                raise ValueError("PMTiles directories must be gzip-compressed")
            if self.header["tile_type"] != TileType.MVT:
                raise ValueError("the archive does not hold vector tiles")
            self._root = deserialize_directory(
                self._read(self.header["root_offset"], self.header["root_length"])
            )
        except Exception:
            self.close()
            raise
        self._leaves: LRUCache[int, list[Entry]] = LRUCache(maxsize=64)
        self._lock = threading.Lock()
        self._metadata: dict[str, Any] | None = None

    def _read(self, offset: int, length: int) -> bytes:
        return os.pread(self._fd, length, offset)

    def _leaf(self, offset: int, length: int) -> list[Entry]:
        with self._lock:
            entries = self._leaves.get(offset)
        if entries is None:
            start = self.header["leaf_directory_offset"] + offset
            entries = deserialize_directory(self._read(start, length))
            with self._lock:
                self._leaves[offset] = entries
        return entries

    def raw_tile(self, z: int, x: int, y: int) -> bytes | None:
        """The tile's bytes as stored (compressed per the header), or None when absent."""
        tile_id = zxy_to_tileid(z, x, y)
        directory = self._root
        for _depth in range(4):  # the spec allows at most three leaf levels
            entry = find_tile(directory, tile_id)
            if entry is None:
                return None
            if entry.run_length > 0:
                return self._read(self.header["tile_data_offset"] + entry.offset, entry.length)
            directory = self._leaf(entry.offset, entry.length)
        return None

    def tile(self, z: int, x: int, y: int) -> bytes | None:
        """The decompressed MVT bytes, or None when the archive has no such tile."""
        data = self.raw_tile(z, x, y)
        if data is None:
            return None
        compression = self.header["tile_compression"]
        if compression == Compression.GZIP:
            return gzip.decompress(data)
        if compression in (Compression.NONE, Compression.UNKNOWN):
            return data
        raise ValueError(f"unsupported tile compression {compression}")

    def metadata(self) -> dict[str, Any]:
        """The archive's JSON metadata (``vector_layers``, ``tilestats`` ...), read once."""
        if self._metadata is None:
            raw = self._read(self.header["metadata_offset"], self.header["metadata_length"])
            self._metadata = json.loads(gzip.decompress(raw)) if raw else {}
        return self._metadata

    def close(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)

    def __del__(self) -> None:
        self.close()


_ARCHIVES: LRUCache[str, PMTilesArchive] = LRUCache(maxsize=64)
_ARCHIVES_LOCK = threading.Lock()


def open_archive(path: Path) -> PMTilesArchive:
    """A cached open archive for ``path``, re-opened if the file changed since."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise NotFoundError("The tile archive is missing.") from None
    key = str(path)
    with _ARCHIVES_LOCK:
        archive = _ARCHIVES.get(key)
    if archive is not None and archive.identity == (st.st_ino, st.st_mtime_ns, st.st_size):
        return archive
    archive = PMTilesArchive(path)
    with _ARCHIVES_LOCK:
        _ARCHIVES[key] = archive  # an evicted archive closes when its last reader drops it
    return archive


def check_tile(record: DatasetRecord, z: int, x: int, y: int) -> None:
    """``OutsideBounds`` (404) for an address no tile can have, or outside the zoom range."""
    if not 0 <= z <= MAX_TILE_ZOOM:
        raise OutsideBounds(f"Zoom {z} is outside 0-{MAX_TILE_ZOOM}.")
    n = 1 << z
    if not (0 <= x < n and 0 <= y < n):
        raise OutsideBounds(f"Tile {z}/{x}/{y} does not exist (x and y run 0-{n - 1}).")
    if not record.minzoom <= z <= record.maxzoom:
        raise OutsideBounds(
            f"Dataset '{record.id}' has tiles for zooms {record.minzoom}-{record.maxzoom}; "
            "clients overzoom past the last one."
        )


def read_tile(settings: Settings, record: DatasetRecord, z: int, x: int, y: int) -> bytes | None:
    """The decompressed MVT tile, or None for a valid address where the layer has no data."""
    check_tile(record, z, x, y)
    return open_archive(tiles_path(settings, record)).tile(z, x, y)


class VectorLayer(BaseModel):
    id: str
    fields: dict[str, str] = Field(description="Attribute name → Number / String / Boolean.")
    minzoom: int
    maxzoom: int
    description: str = ""


class TileJSON(BaseModel):
    """TileJSON 3.0.0 for a vector dataset (what MapLibre, OpenLayers and QGIS read)."""

    tilejson: str = "3.0.0"
    name: str
    description: str = ""
    scheme: str = "xyz"
    tiles: list[str]
    vector_layers: list[VectorLayer]
    minzoom: int
    maxzoom: int
    bounds: list[float]
    center: list[float]


_MVT_TYPE = {"integer": "Number", "number": "Number", "boolean": "Boolean"}


def _record_fields(record: DatasetRecord) -> dict[str, str]:
    fields = record.properties.get("fields") or []
    return {f["name"]: _MVT_TYPE.get(f.get("type", ""), "String") for f in fields}


def tilejson(settings: Settings, record: DatasetRecord, base_url: str) -> TileJSON:
    """The dataset's TileJSON; ``base_url`` is the server's public root (``request.base_url``)."""
    layer = str(record.properties.get("layer") or "features")
    fields = _record_fields(record)
    archive = open_archive(tiles_path(settings, record))
    for entry in archive.metadata().get("vector_layers", []):
        if entry.get("id") == layer and isinstance(entry.get("fields"), dict):
            fields = {str(k): str(v) for k, v in entry["fields"].items()}  # what tiles carry
    w, s, e, n = record.bounds
    root = base_url.rstrip("/")
    return TileJSON(
        name=record.title,
        tiles=[f"{root}/vectors/{record.id}/tiles/{{z}}/{{x}}/{{y}}.mvt"],
        vector_layers=[
            VectorLayer(id=layer, fields=fields, minzoom=record.minzoom, maxzoom=record.maxzoom)
        ],
        minzoom=record.minzoom,
        maxzoom=record.maxzoom,
        bounds=[w, s, e, n],
        center=[(w + e) / 2, (s + n) / 2, float(record.minzoom)],
    )
