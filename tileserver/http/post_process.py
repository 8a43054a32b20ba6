"""The post-process a tile request gets: ``?algorithm=``, ``?encoding=`` or its rendering's.

Replaces titiler's algorithm dependency on the raster and mosaic tilers so that a preset such
as ``?render=hillshade`` brings its algorithm, ``?encoding=terrarium|terrainrgb`` asks for
MapLibre's height-encoded PNG, unknown names are a 400 listing the choices, and a tile whose
algorithm needs neighbouring pixels is read with a 1-pixel buffer (``buffered_tile``) and
heights are resampled bilinearly by default (``smooth_dataset``). The algorithms themselves are
built by ``tileserver.elevation.process``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request
from titiler.core.algorithm import BaseAlgorithm
from titiler.core.dependencies import DatasetParams, TileParams

from tileserver.elevation.algorithms import ENCODINGS, needs_neighbours, smooth_heights
from tileserver.elevation.process import build_algorithm, parse_algorithm_params
from tileserver.errors import InvalidInput
from tileserver.http.dependencies import requested_render
from tileserver.rendering.model import Render

TILE_ROUTES = frozenset({"tile"})
LOSSLESS_FORMATS = frozenset({"png", "pngraw"})


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
        return build_algorithm(encoding, parse_algorithm_params(algorithm_params), tile)
    if algorithm is not None:
        return build_algorithm(algorithm, parse_algorithm_params(algorithm_params), tile)
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
