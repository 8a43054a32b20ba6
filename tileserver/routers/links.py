"""Absolute links to a dataset's or mosaic's tile endpoints, for clients and the viewer."""

from __future__ import annotations

from fastapi import Request


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def raster_links(request: Request, dataset_id: str) -> dict[str, str]:
    root = f"{_base(request)}/raster/{dataset_id}"
    return {
        "self": f"{_base(request)}/datasets/{dataset_id}",
        "tiles": f"{root}/tiles/WebMercatorQuad/{{z}}/{{x}}/{{y}}.png",
        "tilejson": f"{root}/WebMercatorQuad/tilejson.json",
        "wmts": f"{root}/WMTSCapabilities.xml",
        "info": f"{root}/info",
        "statistics": f"{root}/statistics",
        "preview": f"{root}/preview.png",
    }


def mosaic_links(request: Request, mosaic_id: str) -> dict[str, str]:
    root = f"{_base(request)}/mosaics/{mosaic_id}"
    return {
        "self": root,
        "tiles": f"{root}/tiles/WebMercatorQuad/{{z}}/{{x}}/{{y}}.png",
        "tilejson": f"{root}/WebMercatorQuad/tilejson.json",
        "wmts": f"{root}/WMTSCapabilities.xml",
        "info": f"{root}/info",
    }
