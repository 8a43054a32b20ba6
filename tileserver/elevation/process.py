"""The post-process a tile request gets: ``?algorithm=``, ``?encoding=`` or its rendering's.

Replaces titiler's algorithm dependency on the raster and mosaic tilers so that a preset such
as ``?render=hillshade`` brings its algorithm, ``?encoding=terrarium|terrainrgb`` asks for
MapLibre's height-encoded PNG, unknown names are a 400 listing the choices, and a tile whose
algorithm needs neighbouring pixels is read with a 1-pixel buffer (``buffered_tile``) and
heights are resampled bilinearly by default (``smooth_dataset``).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from pydantic import ValidationError
from titiler.core.algorithm import BaseAlgorithm
from titiler.core.dependencies import DatasetParams, TileParams

from tileserver.elevation.algorithms import (
    ALGORITHMS,
    ENCODINGS,
    needs_neighbours,
    smooth_heights,
)
from tileserver.errors import InvalidInput
from tileserver.rendering.model import Render
from tileserver.tiling.dependencies import requested_render

TILE_ROUTES = frozenset({"tile"})
LOSSLESS_FORMATS = frozenset({"png", "pngraw"})
MAX_PARAMS = 2000


def _params(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    if len(text) > MAX_PARAMS:
        raise InvalidInput(f"'algorithm_params' is over {MAX_PARAMS} characters.")
    try:
        value = json.loads(text)
    except ValueError:
        raise InvalidInput("'algorithm_params' must be a JSON object.") from None
    if not isinstance(value, dict):
        raise InvalidInput("'algorithm_params' must be a JSON object.")
    return value


def build_algorithm(name: str, params: dict[str, Any], tile: bool) -> BaseAlgorithm:
    """The named algorithm with its parameters (a 400 naming the problem otherwise); on a tile,
    one that needs neighbours cuts off the 1-pixel buffer it is read with."""
    if name not in ALGORITHMS.data:
        raise InvalidInput(
            f"Unknown algorithm '{name[:40]}'; choose one of: {', '.join(ALGORITHMS.list())}."
        )
    cls = ALGORITHMS.get(name)
    if getattr(cls, "needs_neighbours", False):
        params = {**params, "buffer": 1 if tile else 0}
    try:
        return cls(**params)
    except (ValidationError, TypeError) as exc:
        raise InvalidInput(f"Bad 'algorithm_params' for '{name}': {exc}"[:500]) from None


def render_algorithm(render: Render) -> BaseAlgorithm | None:
    """A rendering's own post-process (a DEM preset's hillshade ...), for readers outside the
    tilers (WMS), which read no buffer: edge pixels use one-sided differences."""
    if not render.algorithm:
        return None
    return build_algorithm(render.algorithm, dict(render.algorithm_params or {}), tile=False)


async def post_process(
    request: Request,
    algorithm: Annotated[
        str | None,
        Query(description="A post-process: hillshade, slope, aspect, contours, terrarium, ..."),
    ] = None,
    algorithm_params: Annotated[
        str | None, Query(description="The algorithm's parameters as a JSON object.")
    ] = None,
    encoding: Annotated[
        str | None,
        Query(
            description="Heights encoded in RGB for MapLibre 3D terrain: terrarium or "
            "terrainrgb (PNG tiles of a DEM)."
        ),
    ] = None,
    chosen: Render | None = Depends(requested_render),
) -> BaseAlgorithm | None:
    route = getattr(request.scope.get("route"), "name", None)
    tile = route in TILE_ROUTES
    if encoding is not None:
        if algorithm is not None:
            raise InvalidInput("Use either 'encoding' or 'algorithm', not both.")
        if encoding not in ENCODINGS:
            raise InvalidInput(f"Unknown encoding '{encoding[:40]}'; use {' or '.join(ENCODINGS)}.")
        if request.path_params.get("format") not in LOSSLESS_FORMATS:
            raise InvalidInput(f"The '{encoding}' encoding needs lossless tiles: ask for .png.")
        return build_algorithm(encoding, _params(algorithm_params), tile)
    if algorithm is not None:
        return build_algorithm(algorithm, _params(algorithm_params), tile)
    if chosen is not None and chosen.algorithm:
        return build_algorithm(chosen.algorithm, dict(chosen.algorithm_params or {}), tile)
    return None


async def buffered_tile(
    tile: TileParams = Depends(),
    algorithm: BaseAlgorithm | None = Depends(post_process),
) -> TileParams:
    """titiler's tile options, with one more pixel read on each side when the algorithm
    looks at neighbours (it cuts that pixel off again: the tile keeps its size)."""
    if needs_neighbours(algorithm) and getattr(algorithm, "buffer", None):
        tile.buffer = (tile.buffer or 0) + 1
    return tile


async def smooth_dataset(
    params: DatasetParams = Depends(),
    algorithm: BaseAlgorithm | None = Depends(post_process),
) -> DatasetParams:
    """titiler's dataset options, resampling heights bilinearly for a DEM algorithm unless the
    request chose (nearest makes a DEM drawn past its resolution a flight of terraces)."""
    if smooth_heights(algorithm):
        params.resampling_method = params.resampling_method or "bilinear"  # type: ignore[assignment]
        params.reproject_method = params.reproject_method or "bilinear"  # type: ignore[assignment]
    return params
