"""One function per terrain operation, called by ``routers/terrain.py``."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from cachetools import TTLCache

from tileserver.auth.access import Viewer, can_read
from tileserver.auth.schemas import Principal
from tileserver.catalog.schemas import DatasetQuery
from tileserver.errors import CogsightError, NotFoundError
from tileserver.settings import Settings
from tileserver.terrain.encode import encode_tile, water_mask
from tileserver.terrain.grid import check_tile, tile_bounds
from tileserver.terrain.heights import tile_heights
from tileserver.terrain.layer import layer_json
from tileserver.terrain.mesh import build_mesh
from tileserver.terrain.source import Terrain, dataset_terrain, elevation_of, mosaic_terrain
from tileserver.tiling.records import RecordCache

_TERRAINS: TTLCache[str, Terrain] = TTLCache(maxsize=512, ttl=10.0)
"""Built terrains (a mosaic's footprint is a union of its scenes'): as short-lived as records."""


class TerrainNotFound(NotFoundError):
    code = "terrain_not_found"


class BeyondMaxZoom(NotFoundError):
    code = "beyond_maxzoom"


def _build(ident: str, records: RecordCache, settings: Settings) -> Terrain:
    cached = _TERRAINS.get(ident)
    if cached is not None:
        return cached
    try:
        terrain = dataset_terrain(records.dataset(ident), settings)
    except NotFoundError:
        try:
            terrain = mosaic_terrain(records.mosaic(ident), records)
        except NotFoundError:
            raise TerrainNotFound(f"No terrain '{ident}': no such dataset or mosaic.") from None
    _TERRAINS[ident] = terrain
    return terrain


def get_terrain(
    ident: str, principal: Principal, records: RecordCache, settings: Settings
) -> Terrain:
    """The dataset or mosaic ``ident`` as a terrain, if the caller may read it: another user's
    private DEM is a 404 as if it did not exist (checked before anything about the data)."""
    record: Any
    try:
        record = records.dataset(ident)
    except NotFoundError:
        try:
            record = records.mosaic(ident)
        except NotFoundError:
            raise TerrainNotFound(f"No terrain '{ident}': no such dataset or mosaic.") from None
    if not can_read(principal, record, settings.anonymous_read):
        raise TerrainNotFound(f"No terrain '{ident}': no such dataset or mosaic.")
    return _build(ident, records, settings)


def layer(terrain: Terrain, token: str | None) -> dict[str, Any]:
    query = "?v={version}" + (f"&access_token={quote(token, safe='')}" if token else "")
    return layer_json(terrain, "{z}/{x}/{y}.terrain" + query)


def tile(
    terrain: Terrain, z: int, x: int, y: int, records: RecordCache, settings: Settings
) -> bytes:
    """The gzip-compressed quantized-mesh tile (flat at the ellipsoid where there is no data)."""
    check_tile(z, x, y)
    if z > terrain.maxzoom:
        raise BeyondMaxZoom(
            f"Zoom {z} is past this terrain's maxzoom {terrain.maxzoom} (see layer.json); "
            "Cesium refines deeper by itself."
        )
    heights, has_data = tile_heights(terrain, z, x, y, records, settings)
    bounds = tile_bounds(z, x, y)
    return encode_tile(build_mesh(heights, bounds, z), bounds, water_mask(heights, has_data))


def list_terrains(
    principal: Principal, records: RecordCache, settings: Settings
) -> list[dict[str, Any]]:
    """The DEMs and DEM mosaics the caller may use as terrain (ingest marked them elevation)."""
    viewer = Viewer(principal, settings.anonymous_read)
    out: list[dict[str, Any]] = []
    catalog = records.catalog
    for record in catalog.find_datasets(DatasetQuery(kind="raster", limit=10000)):
        if viewer.sees(record) and elevation_of(record) is not None:
            out.append(_entry(record.id, records, settings))
    for mosaic in catalog.list_mosaics():
        if not viewer.sees(mosaic) or len(mosaic.band_names) != 1 or not mosaic.dataset_ids:
            continue
        try:
            first = records.dataset(mosaic.dataset_ids[0])
        except NotFoundError:
            continue
        if elevation_of(first) is not None:
            out.append(_entry(mosaic.id, records, settings))
    return [e for e in out if e]


def _entry(ident: str, records: RecordCache, settings: Settings) -> dict[str, Any]:
    try:
        terrain = _build(ident, records, settings)
    except CogsightError:
        return {}
    return {
        "id": terrain.ident,
        "title": terrain.title,
        "kind": terrain.kind,
        "bounds": list(terrain.bounds),
        "min": terrain.low,
        "max": terrain.high,
        "maxzoom": terrain.maxzoom,
        "url": f"/terrain/{terrain.ident}/layer.json",
    }
