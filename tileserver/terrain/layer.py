"""``layer.json``: the tileset description Cesium's ``CesiumTerrainProvider`` reads first."""

from __future__ import annotations

from typing import Any

from tileserver import __version__
from tileserver.terrain.available import available
from tileserver.terrain.encode import EXTENSIONS
from tileserver.terrain.source import Terrain


def layer_json(terrain: Terrain, tiles_url: str) -> dict[str, Any]:
    """``tiles_url`` is relative to layer.json (Cesium resolves it), with any query to repeat."""
    return {
        "tilejson": "2.1.0",
        "name": terrain.title,
        "description": f"Terrain from {terrain.kind} '{terrain.ident}' (quantized-mesh).",
        "version": __version__,
        "format": "quantized-mesh-1.0",
        "attribution": "",
        "scheme": "tms",
        "projection": "EPSG:4326",
        "extensions": list(EXTENSIONS),
        "tiles": [tiles_url],
        "bounds": list(terrain.bounds),
        "minzoom": 0,
        "maxzoom": terrain.maxzoom,
        "available": available(terrain.boxes, terrain.maxzoom),
    }
