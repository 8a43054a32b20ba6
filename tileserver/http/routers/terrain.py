"""``/terrain``: Cesium terrain (``layer.json`` + quantized-mesh tiles) from DEMs and DEM mosaics.

Thin over ``tileserver.terrain.service``. Access is the raster rule: another user's private DEM
is a 404. Tiles are gzip bodies (``Content-Encoding: gzip``); the tile cache middleware keys and
authenticates them as it does raster tiles and sets their ``Cache-Control``. ``layer.json`` asked
for with ``?access_token=`` repeats it in its tile URLs, so it is ``private, no-store``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from tileserver.auth.principal import get_principal, token_of
from tileserver.auth.schemas import Principal
from tileserver.http.cache import cache_scope
from tileserver.http.dependencies import get_records, get_settings
from tileserver.settings import Settings
from tileserver.terrain import service
from tileserver.terrain.encode import MEDIA_TYPE
from tileserver.tiling.records import RecordCache

TerrainId = Annotated[str, Path(description="A DEM dataset's or DEM mosaic's id.")]


class TerrainEntry(BaseModel):
    id: str
    title: str
    kind: str
    bounds: list[float]
    min: float | None
    max: float | None
    maxzoom: int
    url: str


def build_terrain_router() -> APIRouter:
    router = APIRouter(prefix="/terrain", tags=["3D terrain"])

    @router.get("", response_model=list[TerrainEntry])
    async def terrains(
        principal: Principal = Depends(get_principal),
        records: RecordCache = Depends(get_records),
        settings: Settings = Depends(get_settings),
    ) -> Any:
        """The DEMs and DEM mosaics the caller may use as Cesium terrain."""
        return await run_in_threadpool(service.list_terrains, principal, records, settings)

    @router.get("/{terrain_id}/layer.json")
    async def layer(
        terrain_id: TerrainId,
        request: Request,
        principal: Principal = Depends(get_principal),
        records: RecordCache = Depends(get_records),
        settings: Settings = Depends(get_settings),
    ) -> JSONResponse:
        """Cesium's tileset description: quantized-mesh-1.0, EPSG:4326, TMS, ``available``."""
        terrain = await run_in_threadpool(
            service.get_terrain, terrain_id, principal, records, settings
        )
        token = request.query_params.get("access_token")
        body = service.layer(terrain, token)
        control = (
            "private, no-store"
            if token
            else f"{cache_scope(terrain.visibility, principal)}, no-cache"
        )
        return JSONResponse(body, headers={"cache-control": control})

    @router.get(
        "/{terrain_id}/{z}/{x}/{y}.terrain",
        response_class=Response,
        responses={200: {"content": {MEDIA_TYPE: {}}}},
    )
    async def tile(
        terrain_id: TerrainId,
        z: Annotated[int, Path(ge=0)],
        x: Annotated[int, Path(ge=0)],
        y: Annotated[int, Path(ge=0)],
        request: Request,
        principal: Principal = Depends(get_principal),
        records: RecordCache = Depends(get_records),
        settings: Settings = Depends(get_settings),
    ) -> Response:
        """A gzip-compressed quantized-mesh tile (``octvertexnormals``, ``watermask``)."""
        terrain = await run_in_threadpool(
            service.get_terrain, terrain_id, principal, records, settings
        )
        body = await run_in_threadpool(service.tile, terrain, z, x, y, records, settings)
        who = cache_scope(terrain.visibility, principal)
        if token_of(request.scope) is not None:
            who = "private"
        return Response(
            body,
            media_type=MEDIA_TYPE,
            headers={
                "content-encoding": "gzip",
                "cache-control": f"{who}, max-age={settings.tile_cache_max_age}",
                "vary": "Accept-Encoding",
            },
        )

    return router
