"""Absolute links to a dataset's or mosaic's tile endpoints, for clients and the viewer.

The plain links need no parameters: every raster draws its default rendering. Links to a
named rendering carry ``?render=NAME``; any other query is URL-encoded (commas as ``%2C``:
GDAL splits its ``WMTS:`` connection string at commas).
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import Request

from tileserver.rendering import Render
from tileserver.rendering.records import DEFAULT

TMS = "WebMercatorQuad"


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _with(url: str, query: str) -> str:
    return f"{url}?{query}" if query else url


def raster_links(request: Request, dataset_id: str) -> dict[str, str]:
    root = f"{_base(request)}/raster/{dataset_id}"
    return {
        "self": f"{_base(request)}/datasets/{dataset_id}",
        "tiles": f"{root}/tiles/{TMS}/{{z}}/{{x}}/{{y}}.png",
        "tilejson": f"{root}/{TMS}/tilejson.json",
        "wmts": f"{root}/WMTSCapabilities.xml",
        "wms": f"{root}/wms?SERVICE=WMS&REQUEST=GetCapabilities",
        "info": f"{root}/info",
        "statistics": f"{root}/statistics",
        "preview": f"{root}/preview.png",
    }


def render_links(
    request: Request, dataset_id: str, renders: dict[str, Render]
) -> dict[str, dict[str, object]]:
    """Each named rendering: what it draws, its parameters, and its tile, TileJSON and WMTS
    layer (``default`` is the parameter-free URL, the others add ``?render=NAME``)."""
    root = f"{_base(request)}/raster/{dataset_id}"
    out: dict[str, dict[str, object]] = {}
    for name, render in renders.items():
        query = "" if name == DEFAULT else urlencode({"render": name})
        out[name] = {
            "title": render.title,
            "params": render.query_values(),
            "query": render.query_string(),
            "tiles": _with(f"{root}/tiles/{TMS}/{{z}}/{{x}}/{{y}}.png", query),
            "tilejson": _with(f"{root}/{TMS}/tilejson.json", query),
            "wmts_layer": f"cogsight_{dataset_id}_{TMS}_{name}",
        }
    return out


def mosaic_links(request: Request, mosaic_id: str) -> dict[str, str]:
    root = f"{_base(request)}/mosaics/{mosaic_id}"
    return {
        "self": root,
        "tiles": f"{root}/tiles/{TMS}/{{z}}/{{x}}/{{y}}.png",
        "tilejson": f"{root}/{TMS}/tilejson.json",
        "wmts": f"{root}/WMTSCapabilities.xml",
        "info": f"{root}/info",
    }


def vector_links(request: Request, dataset_id: str) -> dict[str, str]:
    """A vector dataset's endpoints (``/vectors/{id}/…``): vector tiles, TileJSON, PMTiles,
    features and download; the raster tiler answers 400 for a vector."""
    root = f"{_base(request)}/vectors/{dataset_id}"
    return {
        "self": f"{_base(request)}/datasets/{dataset_id}",
        "tiles": f"{root}/tiles/{{z}}/{{x}}/{{y}}.mvt",
        "tilejson": f"{root}/tilejson.json",
        "pmtiles": f"{root}.pmtiles",
        "features": f"{root}/features",
        "download": f"{root}/download",
    }
