"""``/datasets``: the catalog over HTTP (reads; changes and deletes through ``tileserver.manage``;
uploads arrive with the ingest API)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from tileserver.auth.access import can_read
from tileserver.auth.principal import get_principal
from tileserver.auth.schemas import Principal
from tileserver.catalog import Catalog, DatasetRecord
from tileserver.catalog.schemas import DatasetQuery
from tileserver.errors import InvalidInput
from tileserver.http.app_caches import AppCaches
from tileserver.http.dependencies import get_catalog, get_settings, readable_dataset
from tileserver.http.routers.bodies import bounded_route
from tileserver.http.routers.links import raster_links, render_links, vector_links
from tileserver.manage import Changes, change_dataset, delete_dataset
from tileserver.mosaics.build import parse_interval
from tileserver.rendering import dataset_presets
from tileserver.scenes.api import ItemRegistration, register_posted_item
from tileserver.settings import Settings


class DatasetOut(BaseModel):
    id: str
    title: str
    kind: str
    uri: str
    crs: str
    bounds: tuple[float, float, float, float]
    footprint: dict[str, Any]
    datetime: str | None
    sensor: str
    band_names: list[str]
    dtype: str
    nodata: float | None
    width: int
    height: int
    resolution: float
    minzoom: int
    maxzoom: int
    cloud_cover: float | None
    owner: str | None
    visibility: str
    created: str
    properties: dict[str, Any]
    links: dict[str, str]
    renders: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Named renderings of a raster ('default' first, then true-color, "
        "false-color, indices ... as its bands allow), each with its tile, TileJSON and WMTS "
        "layer; tiles with no parameters draw 'default', '?render=NAME' the others.",
    )


class DatasetList(BaseModel):
    items: list[DatasetOut]
    count: int


def dataset_out(record: DatasetRecord, request: Request) -> DatasetOut:
    data = record.model_dump(
        exclude={"datetime", "created", "reflectance_scale", "reflectance_offset"}
    )
    return DatasetOut(
        **data,
        datetime=record.datetime.isoformat() if record.datetime else None,
        created=record.created.isoformat(),
        links=(
            raster_links(request, record.id)
            if record.kind == "raster"
            else vector_links(request, record.id)
        ),
        renders=(
            render_links(request, record.id, dataset_presets(record))
            if record.kind == "raster"
            else {}
        ),
    )


def _bbox(value: str | None) -> tuple[float, float, float, float] | None:
    if not value:
        return None
    try:
        w, s, e, n = (float(v) for v in value.split(","))
    except ValueError:
        raise InvalidInput("bbox must be 'west,south,east,north' in degrees.") from None
    if not (-180 <= w <= e <= 180 and -90 <= s <= n <= 90):
        raise InvalidInput("bbox must be 'west,south,east,north' with west<=east, south<=north.")
    return (w, s, e, n)


def build_datasets_router() -> APIRouter:
    router = APIRouter(tags=["Catalog"])

    @router.get("/datasets", response_model=DatasetList)
    def list_datasets(
        request: Request,
        bbox: str | None = Query(None, description="west,south,east,north (WGS84)."),
        datetime: str | None = Query(None, description="ISO instant or 'start/end'."),
        sensor: str | None = None,
        kind: str | None = Query(None, pattern="^(raster|vector)$"),
        limit: int = Query(1000, ge=1, le=10000),
        catalog: Catalog = Depends(get_catalog),
        principal: Principal = Depends(get_principal),
        settings: Settings = Depends(get_settings),
    ) -> DatasetList:
        start, end = parse_interval(datetime)
        try:
            query = DatasetQuery.model_validate(
                {
                    "bbox": _bbox(bbox),
                    "sensor": sensor,
                    "kind": kind,
                    "limit": limit,
                    "datetime_start": start,
                    "datetime_end": end,
                }
            )
        except ValueError as exc:
            raise InvalidInput(f"Invalid query: {exc}") from None
        items = [
            dataset_out(r, request)
            for r in catalog.find_datasets(query)
            if can_read(principal, r, settings.anonymous_read)
        ]
        return DatasetList(items=items, count=len(items))

    @router.get("/datasets/{dataset_id}", response_model=DatasetOut)
    def get_dataset(
        request: Request, record: DatasetRecord = Depends(readable_dataset)
    ) -> DatasetOut:
        return dataset_out(record, request)

    def patch_dataset(
        dataset_id: str,
        body: Changes,
        request: Request,
        catalog: Catalog = Depends(get_catalog),
        settings: Settings = Depends(get_settings),
        principal: Principal = Depends(get_principal),
    ) -> DatasetOut:
        """Rename, describe, or make public/private (the owner or an admin)."""
        record = change_dataset(
            catalog, settings, principal, dataset_id, body, forget=AppCaches(request.app)
        )
        return dataset_out(record, request)

    def remove_dataset(
        dataset_id: str,
        request: Request,
        catalog: Catalog = Depends(get_catalog),
        settings: Settings = Depends(get_settings),
        principal: Principal = Depends(get_principal),
    ) -> Response:
        """Delete with its files, thumbnail, stored objects and cached tiles (the owner or an
        admin); 409 while a queued or running job or a mosaic uses it."""
        delete_dataset(catalog, settings, principal, dataset_id, forget=AppCaches(request.app))
        return Response(status_code=204)

    router.add_api_route(
        "/datasets/{dataset_id}",
        patch_dataset,
        methods=["PATCH"],
        response_model=DatasetOut,
        route_class_override=bounded_route("max_json_body_bytes"),
    )

    def add_item(
        body: ItemRegistration,
        request: Request,
        catalog: Catalog = Depends(get_catalog),
        settings: Settings = Depends(get_settings),
        principal: Principal = Depends(get_principal),
    ) -> DatasetOut:
        """Register a STAC item (bands as separate COG assets, read in place) as a dataset."""
        forget = AppCaches(request.app)
        record = register_posted_item(catalog, settings, principal, body, forget)
        return dataset_out(record, request)

    router.add_api_route(
        "/datasets/items",
        add_item,
        methods=["POST"],
        status_code=201,
        response_model=DatasetOut,
        route_class_override=bounded_route("max_json_body_bytes"),
    )
    router.add_api_route(
        "/datasets/{dataset_id}",
        remove_dataset,
        methods=["DELETE"],
        status_code=204,
        response_class=Response,
    )
    return router
