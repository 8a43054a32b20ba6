"""A catalog dataset as a STAC Item, and a page of them as an ItemCollection.

Items link to what already serves the data: the COG download, tiles (``xyz``/``tilejson``/
``wmts`` from the web-map-links extension) and the plain ``/datasets/{id}`` record. Tile links
carry no render parameters: the server draws each raster's default rendering for them.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from pyproj import CRS
from pyproj.exceptions import CRSError

from tileserver.catalog import DatasetRecord
from tileserver.stac.collections import STAC_VERSION, collection_id
from tileserver.stac.datetimes import format_rfc3339
from tileserver.stac.links import COG, GEOJSON, JSON, MVT, PNG, StacUrls, link
from tileserver.stac.queryables import UNKNOWN_START, crs_facts

EO = "https://stac-extensions.github.io/eo/v1.1.0/schema.json"
PROJECTION = "https://stac-extensions.github.io/projection/v1.2.0/schema.json"
WEB_MAP_LINKS = "https://stac-extensions.github.io/web-map-links/v1.2.0/schema.json"

EO_COMMON_NAMES = {
    "pan", "coastal", "blue", "green", "green05", "yellow", "red", "rededge", "rededge071",
    "rededge075", "rededge078", "nir", "nir08", "nir09", "cirrus", "swir16", "swir22", "lwir",
    "lwir11", "lwir12",
}  # fmt: skip


def dataset_to_item(record: DatasetRecord, urls: StacUrls) -> dict[str, Any]:
    """The STAC Item (a plain dict, GeoJSON-ready) of one dataset."""
    cid = collection_id(record)
    raster = record.kind == "raster"
    extensions = [EO, PROJECTION, WEB_MAP_LINKS] if raster else [WEB_MAP_LINKS]
    if not raster and record.cloud_cover is not None:
        extensions.insert(0, EO)
    return {
        "type": "Feature",
        "stac_version": STAC_VERSION,
        "stac_extensions": extensions,
        "id": record.id,
        "collection": cid,
        "geometry": _geometry(record),
        "bbox": list(record.bounds),
        "properties": _properties(record),
        "links": [
            link("self", urls.item(cid, record.id), GEOJSON),
            link("parent", urls.collection(cid), JSON),
            link("collection", urls.collection(cid), JSON),
            link("root", urls.root, JSON),
            link("alternate", urls.dataset(record.id), JSON, title="cogsight dataset record"),
            *(_raster_tile_links(record, urls) if raster else _vector_tile_links(record, urls)),
        ],
        "assets": _raster_assets(record, urls) if raster else _vector_assets(record, urls),
    }


def item_collection(
    records: list[DatasetRecord],
    urls: StacUrls,
    matched: int | None,
    links: list[dict[str, Any]],
) -> dict[str, Any]:
    """A page of search results (GeoJSON FeatureCollection with STAC API counts;
    ``numberMatched`` left out when the search did not count that far)."""
    page: dict[str, Any] = {
        "type": "FeatureCollection",
        "features": [dataset_to_item(r, urls) for r in records],
        "links": links,
        "numberMatched": matched,
        "numberReturned": len(records),
    }
    if matched is None:
        del page["numberMatched"]
    return page


def _geometry(record: DatasetRecord) -> dict[str, Any]:
    if record.footprint.get("type") and (
        record.footprint.get("coordinates") or record.footprint.get("geometries")
    ):
        return record.footprint
    w, s, e, n = record.bounds
    return {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}


def _properties(record: DatasetRecord) -> dict[str, Any]:
    """STAC needs a ``datetime`` or a range. An item whose acquisition time is unknown says
    so: ``datetime`` null, acquired between ``UNKNOWN_START`` and its registration; its
    registration time is never passed off as its acquisition time."""
    props: dict[str, Any] = {"title": record.title}
    if record.datetime is not None:
        props["datetime"] = format_rfc3339(record.datetime)
    else:
        props["datetime"] = None
        props["start_datetime"] = format_rfc3339(UNKNOWN_START)
        props["end_datetime"] = format_rfc3339(record.created)
    props["created"] = format_rfc3339(record.created)
    for key in ("platform", "constellation"):
        if isinstance(record.properties.get(key), str):
            props[key] = record.properties[key]
    instruments = record.properties.get("instruments")
    if isinstance(instruments, list) and instruments:
        props["instruments"] = [str(i) for i in instruments]
    if record.cloud_cover is not None:
        props["eo:cloud_cover"] = record.cloud_cover
    if record.kind == "raster":
        epsg, metric = crs_facts(record.crs)
        props["proj:epsg"] = epsg
        props["proj:code"] = f"EPSG:{epsg}" if epsg else None
        if not epsg:
            props["proj:wkt2"] = _wkt2(record.crs)
        props["proj:shape"] = [record.height, record.width]
        if metric:
            props["gsd"] = record.resolution
        props["sensor"] = record.sensor
        props["cogsight:band_names"] = list(record.band_names)
        props["cogsight:dtype"] = record.dtype
    if isinstance(record.properties.get("acquisition_source"), str):
        props["cogsight:acquisition_source"] = record.properties["acquisition_source"]
    props["cogsight:kind"] = record.kind
    return props


@lru_cache(maxsize=256)
def _wkt2(crs: str) -> str | None:
    try:
        return CRS.from_user_input(crs).to_wkt()
    except CRSError:
        return None


def _eo_bands(record: DatasetRecord) -> list[dict[str, str]]:
    bands = []
    for name in record.band_names:
        band = {"name": name}
        if name.lower() in EO_COMMON_NAMES:
            band["common_name"] = name.lower()
        bands.append(band)
    return bands


def _raster_assets(record: DatasetRecord, urls: StacUrls) -> dict[str, Any]:
    return {
        "data": {
            "href": urls.download(record.id),
            "type": COG,
            "title": record.title,
            "roles": ["data"],
            "eo:bands": _eo_bands(record),
        },
        "thumbnail": {
            "href": urls.thumbnail(record.id),
            "type": PNG,
            "title": "Thumbnail",
            "roles": ["thumbnail"],
        },
        "tilejson": {
            "href": urls.raster_tilejson(record.id),
            "type": JSON,
            "title": "TileJSON (default render)",
            "roles": ["tiles"],
        },
    }


def _vector_assets(record: DatasetRecord, urls: StacUrls) -> dict[str, Any]:
    return {
        "tilejson": {
            "href": urls.vector_tilejson(record.id),
            "type": JSON,
            "title": "TileJSON (vector tiles)",
            "roles": ["tiles"],
        }
    }


def _raster_tile_links(record: DatasetRecord, urls: StacUrls) -> list[dict[str, Any]]:
    return [
        link("xyz", urls.raster_tiles(record.id), PNG, title=f"{record.title} (tiles)"),
        link("tilejson", urls.raster_tilejson(record.id), JSON, title="TileJSON"),
        link(
            "wmts",
            urls.raster_wmts(record.id),
            PNG,
            title="WMTS",
            **{"wmts:layer": f"cogsight_{record.id}_WebMercatorQuad_default"},
        ),
    ]


def _vector_tile_links(record: DatasetRecord, urls: StacUrls) -> list[dict[str, Any]]:
    return [
        link("xyz", urls.vector_tiles(record.id), MVT, title=f"{record.title} (vector tiles)"),
        link("tilejson", urls.vector_tilejson(record.id), JSON, title="TileJSON"),
    ]
