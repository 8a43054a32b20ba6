"""``/mosaics``: build mosaics from catalog queries and serve them through MosaicTilerFactory."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from titiler.mosaic.extensions.wmts import wmtsExtension
from titiler.mosaic.factory import MosaicTilerFactory

from tileserver.auth.access import can_read, require_writer
from tileserver.auth.principal import get_principal
from tileserver.auth.schemas import Principal
from tileserver.catalog import Catalog, MosaicRecord
from tileserver.http.app_caches import AppCaches
from tileserver.http.dependencies import (
    WMTS_TILE_QUERY,
    MosaicBackendParams,
    checked_factory_options,
    get_catalog,
    get_records,
    get_settings,
    index_rendering,
    layer_identifier,
    mosaic_layer,
    mosaic_path,
    mosaic_record,
)
from tileserver.http.post_process import buffered_tile, post_process, smooth_dataset
from tileserver.http.routers.bodies import bounded_route
from tileserver.http.routers.links import mosaic_links
from tileserver.manage import Changes, change_mosaic, delete_mosaic
from tileserver.mosaics.backend import CatalogMosaicBackend, backend_options
from tileserver.mosaics.build import MosaicRequest, build_mosaic
from tileserver.mosaics.keys import MATCHED_KEY, QUERY_KEY
from tileserver.mosaics.query import MosaicQuery, SceneAccess
from tileserver.settings import Settings
from tileserver.tiling.grids import supported_tms
from tileserver.tiling.reader import CatalogReader
from tileserver.tiling.records import RecordCache

PREFIX = "/mosaics/{mosaic_id}"


class MosaicOut(BaseModel):
    id: str
    title: str
    kind: Literal["scenes", "query"] = Field(
        default="scenes", description="Listed scenes, or a query read per tile."
    )
    query: dict[str, Any] | None = Field(
        default=None, description="A query mosaic's stored query, order and method."
    )
    matched: int | None = Field(
        default=None, description="Scenes a query mosaic matched when it was created."
    )
    dataset_ids: list[str] = Field(
        description="The scenes, first on top (empty for a query mosaic: its scenes are "
        "found per tile)."
    )
    band_names: list[str]
    bounds: tuple[float, float, float, float]
    minzoom: int
    maxzoom: int
    quadkey_zoom: int
    sensor: str | None
    created: str
    owner: str | None = None
    visibility: str = "public"
    description: str | None = Field(
        default=None, description="Set with PATCH /mosaics/{id} (MosaicJSON's description)."
    )
    links: dict[str, str]


class MosaicList(BaseModel):
    items: list[MosaicOut]
    count: int


def _out(record: MosaicRecord, request: Request) -> MosaicOut:
    data = record.model_dump(exclude={"mosaicjson", "created"})
    description = record.mosaicjson.get("description")
    query = record.mosaicjson.get(QUERY_KEY)
    matched = record.mosaicjson.get(MATCHED_KEY)
    return MosaicOut(
        **data,
        kind="query" if isinstance(query, dict) else "scenes",
        query=query if isinstance(query, dict) else None,
        matched=matched if isinstance(matched, int) else None,
        created=record.created.isoformat(),
        description=description if isinstance(description, str) else None,
        links=mosaic_links(request, record.id),
    )


@dataclass
class CatalogBackendParams(MosaicBackendParams):
    """The backend's options: a query mosaic adds its query, the catalog and scene access."""

    query: MosaicQuery | None = None
    catalog: Catalog | None = None
    access: SceneAccess | None = None
    band_count: int | None = None


async def catalog_backend_params(
    record: MosaicRecord = Depends(mosaic_record),
    records: RecordCache = Depends(get_records),
    settings: Settings = Depends(get_settings),
) -> CatalogBackendParams:
    options = await run_in_threadpool(backend_options, record, records, settings)
    return CatalogBackendParams(**options)


def build_mosaic_tiler() -> MosaicTilerFactory:
    return MosaicTilerFactory(
        **checked_factory_options(),
        router_prefix=PREFIX,
        backend=CatalogMosaicBackend,
        backend_dependency=catalog_backend_params,  # type: ignore[arg-type]
        dataset_reader=CatalogReader,
        path_dependency=mosaic_path,
        layer_dependency=mosaic_layer,  # type: ignore[arg-type]
        render_dependency=index_rendering,  # type: ignore[arg-type]
        process_dependency=post_process,  # type: ignore[arg-type]
        tile_dependency=buffered_tile,  # type: ignore[arg-type]
        dataset_dependency=smooth_dataset,  # type: ignore[arg-type]
        supported_tms=supported_tms,
        add_viewer=False,
        extensions=[
            wmtsExtension(
                layer_identifier_provider=layer_identifier,
                tile_dependencies=WMTS_TILE_QUERY,
            )
        ],
    )


def build_mosaics_router() -> APIRouter:
    router = APIRouter(tags=["Mosaics"], route_class=bounded_route("max_json_body_bytes"))

    @router.post("/mosaics", response_model=MosaicOut, status_code=201)
    def create_mosaic(
        body: MosaicRequest,
        request: Request,
        catalog: Catalog = Depends(get_catalog),
        settings: Settings = Depends(get_settings),
        principal: Principal = Depends(get_principal),
    ) -> MosaicOut:
        """Build a mosaic: a MosaicJSON of catalog scenes (ids, or bbox + datetime + sensor),
        or ("kind": "query") a stored query whose tiles read the scenes under them."""
        require_writer(principal)
        record = build_mosaic(
            catalog,
            body,
            settings.mosaic_quadkey_zoom_max,
            owner=principal.id,
            visible=lambda r: can_read(principal, r, settings.anonymous_read),
        )
        return _out(record, request)

    @router.get("/mosaics", response_model=MosaicList)
    def list_mosaics(
        request: Request,
        catalog: Catalog = Depends(get_catalog),
        settings: Settings = Depends(get_settings),
        principal: Principal = Depends(get_principal),
    ) -> MosaicList:
        items = [
            _out(m, request)
            for m in catalog.list_mosaics()
            if can_read(principal, m, settings.anonymous_read)
        ]
        return MosaicList(items=items, count=len(items))

    @router.get("/mosaics/{mosaic_id}", response_model=MosaicOut)
    def get_mosaic(request: Request, record: MosaicRecord = Depends(mosaic_record)) -> MosaicOut:
        return _out(record, request)

    @router.patch("/mosaics/{mosaic_id}", response_model=MosaicOut)
    def patch_mosaic(
        mosaic_id: str,
        body: Changes,
        request: Request,
        catalog: Catalog = Depends(get_catalog),
        settings: Settings = Depends(get_settings),
        principal: Principal = Depends(get_principal),
    ) -> MosaicOut:
        """Rename, describe, or make public/private (the owner or an admin)."""
        record = change_mosaic(
            catalog, settings, principal, mosaic_id, body, forget=AppCaches(request.app)
        )
        return _out(record, request)

    @router.delete("/mosaics/{mosaic_id}", status_code=204, response_class=Response)
    def remove_mosaic(
        mosaic_id: str,
        request: Request,
        catalog: Catalog = Depends(get_catalog),
        settings: Settings = Depends(get_settings),
        principal: Principal = Depends(get_principal),
    ) -> Response:
        """Delete the mosaic (the owner or an admin); its scenes stay."""
        delete_mosaic(catalog, settings, principal, mosaic_id, forget=AppCaches(request.app))
        return Response(status_code=204)

    return router
