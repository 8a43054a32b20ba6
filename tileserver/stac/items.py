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

EO = "https://stac-extensions.github.io/eo/v1.1.0/schema.json"
PROJECTION = "https://stac-extensions.github.io/projection/v2.0.0/schema.json"
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
    records: list[DatasetRecord], urls: StacUrls, matched: int, links: list[dict[str, Any]]
) -> dict[str, Any]:
    """A page of search results (GeoJSON FeatureCollection with STAC API counts)."""
    return {
        "type": "FeatureCollection",
        "features": [dataset_to_item(r, urls) for r in records],
        "links": links,
        "numberMatched": matched,
        "numberReturned": len(records),
    }


def _geometry(record: DatasetRecord) -> dict[str, Any]:
    if record.footprint.get("type") and (
        record.footprint.get("coordinates") or record.footprint.get("geometries")
    ):
        return record.footprint
    w, s, e, n = record.bounds
    return {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}


def _properties(record: DatasetRecord) -> dict[str, Any]:
    """STAC requires a datetime: an item without an acquisition time uses its registration
    time, flagged ``cogsight:datetime_estimated`` so clients can tell."""
    props: dict[str, Any] = {
        "title": record.title,
        "datetime": format_rfc3339(record.datetime or record.created),
        "created": format_rfc3339(record.created),
    }
    if record.datetime is None:
        props["cogsight:datetime_estimated"] = True
    if record.cloud_cover is not None:
        props["eo:cloud_cover"] = record.cloud_cover
    if record.kind == "raster":
        epsg, wkt2, metric = _crs_facts(record.crs)
        props["proj:code"] = f"EPSG:{epsg}" if epsg else None
        if epsg:
            props["proj:epsg"] = epsg
        elif wkt2:
            props["proj:wkt2"] = wkt2
        props["proj:shape"] = [record.height, record.width]
        if metric:
            props["gsd"] = record.resolution
        props["cogsight:band_names"] = list(record.band_names)
        props["cogsight:dtype"] = record.dtype
    props["cogsight:kind"] = record.kind
    return props


@lru_cache(maxsize=256)
def _crs_facts(crs: str) -> tuple[int | None, str | None, bool]:
    """EPSG code (or WKT2 when there is none) and whether pixels are metres (so gsd applies)."""
    try:
        parsed = CRS.from_user_input(crs)
    except CRSError:
        return None, None, False
    epsg = parsed.to_epsg()
    metric = parsed.is_projected and all(
        axis.unit_name in ("metre", "meter") for axis in parsed.axis_info
    )
    return epsg, None if epsg else parsed.to_wkt(), metric


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
