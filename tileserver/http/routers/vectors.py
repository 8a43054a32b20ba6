"""``/vectors``: vector tiles, TileJSON, the PMTiles archive, features, downloads and edits.

Thin over ``tileserver.vectors``: each endpoint resolves the id (404 unknown, 400 for a
raster), calls one plain function and shapes the HTTP answer. ETag and Cache-Control on
``/vectors/{id}/tiles/`` come from the app's tile cache middleware. Edits (``PATCH``,
``POST``, ``DELETE`` on features, ``POST .../undo``) need the dataset's owner or an admin and
are done by ``tileserver.vectors.editing``. The archive and the file downloads are charged
to the user's monthly download quota by the bytes they send (``auth.metering``).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.background import BackgroundTask

from tileserver.auth.access import require_owner
from tileserver.auth.metering import metered_download, requested_length
from tileserver.auth.principal import get_principal
from tileserver.auth.schemas import Principal
from tileserver.catalog import Catalog, DatasetRecord
from tileserver.http.dependencies import get_catalog, get_settings, readable_dataset
from tileserver.http.routers.bodies import bounded_route
from tileserver.settings import Settings
from tileserver.vectors import (
    EXPORT_FORMATS,
    editing,
    export_vector,
    query_features,
    read_tile,
    require_vector,
    tilejson,
    tiles_path,
)
from tileserver.vectors.editing import EditHistory, EditResult, FeatureIn, FeaturePatch
from tileserver.vectors.features import MAX_LIMIT, Feature, FeatureCollection, parse_bbox
from tileserver.vectors.tiles import MVT_MEDIA_TYPE, TileJSON


class GeoJSONResponse(JSONResponse):
    media_type = "application/geo+json"


async def vector_record(record: DatasetRecord = Depends(readable_dataset)) -> DatasetRecord:
    """The vector dataset if the request may see it (404 otherwise)."""
    return require_vector(record)


async def editable_vector(
    record: DatasetRecord = Depends(vector_record),
    principal: Principal = Depends(get_principal),
    settings: Settings = Depends(get_settings),
) -> DatasetRecord:
    """The vector dataset if the request may change it (owner or admin; 401/403/404)."""
    require_owner(principal, record, settings.anonymous_read)
    return record


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:  # FileResponse answers the missing file
        return 0


def build_vectors_router() -> APIRouter:
    router = APIRouter(tags=["Vectors"], route_class=bounded_route("max_json_body_bytes"))

    @router.get(
        "/vectors/{dataset_id}/tiles/{z}/{x}/{y}.mvt",
        response_class=Response,
        responses={
            200: {"content": {MVT_MEDIA_TYPE: {}}, "description": "A Mapbox Vector Tile."},
            204: {"description": "A valid tile where the layer has no features."},
            404: {"description": "Unknown dataset, or no such tile address / zoom."},
        },
    )
    def vector_tile(
        z: int,
        x: int,
        y: int,
        record: DatasetRecord = Depends(vector_record),
        settings: Settings = Depends(get_settings),
    ) -> Response:
        data = read_tile(settings, record, z, x, y)
        if data is None:
            return Response(status_code=204)
        return Response(content=data, media_type=MVT_MEDIA_TYPE)

    @router.get("/vectors/{dataset_id}/tilejson.json", response_model=TileJSON)
    def vector_tilejson(
        request: Request,
        record: DatasetRecord = Depends(vector_record),
        settings: Settings = Depends(get_settings),
    ) -> TileJSON:
        return tilejson(settings, record, str(request.base_url))

    @router.get(
        "/vectors/{dataset_id}.pmtiles",
        response_class=FileResponse,
        responses={
            200: {"content": {"application/vnd.pmtiles": {}}},
            206: {"description": "The requested byte range (HTTP Range)."},
            416: {"description": "The range lies outside the file."},
        },
    )
    def vector_pmtiles(
        request: Request,
        record: DatasetRecord = Depends(vector_record),
        settings: Settings = Depends(get_settings),
        catalog: Catalog = Depends(get_catalog),
        principal: Principal = Depends(get_principal),
    ) -> Response:
        """The whole archive, with Range support, for clients that read PMTiles directly."""
        path = tiles_path(settings, record)
        response = FileResponse(
            path,
            media_type="application/vnd.pmtiles",
            filename=f"{record.id}.pmtiles",
            content_disposition_type="inline",
        )
        expected = requested_length(request.headers.get("range"), _size(path))
        return metered_download(response, catalog, principal, record.id, expected)

    @router.get(
        "/vectors/{dataset_id}/features",
        response_model=FeatureCollection,
        response_class=GeoJSONResponse,
    )
    def vector_features(
        bbox: str | None = Query(None, description="west,south,east,north (WGS84 degrees)."),
        limit: int = Query(100, ge=1, le=MAX_LIMIT),
        offset: int = Query(0, ge=0),
        record: DatasetRecord = Depends(vector_record),
        settings: Settings = Depends(get_settings),
    ) -> FeatureCollection:
        page = query_features(settings, record, bbox=parse_bbox(bbox), limit=limit, offset=offset)
        editing.stable_ids(settings, record, page)
        return page

    @router.get(
        "/vectors/{dataset_id}/features/{fid}",
        response_model=Feature,
        response_class=GeoJSONResponse,
    )
    def vector_feature(
        fid: int,
        record: DatasetRecord = Depends(vector_record),
        settings: Settings = Depends(get_settings),
    ) -> Feature:
        return editing.get_feature(settings, record, fid)

    @router.patch("/vectors/{dataset_id}/features/{fid}", response_model=EditResult)
    def patch_feature(
        fid: int,
        patch: FeaturePatch,
        record: DatasetRecord = Depends(editable_vector),
        settings: Settings = Depends(get_settings),
        principal: Principal = Depends(get_principal),
    ) -> EditResult:
        """Move vertices / change attributes; the tiles are rebuilt before this answers."""
        return editing.update_feature(settings, record, fid, patch, user=principal.id)

    @router.post("/vectors/{dataset_id}/features", response_model=EditResult, status_code=201)
    def post_feature(
        feature: FeatureIn,
        record: DatasetRecord = Depends(editable_vector),
        settings: Settings = Depends(get_settings),
        principal: Principal = Depends(get_principal),
    ) -> EditResult:
        return editing.create_feature(settings, record, feature, user=principal.id)

    @router.delete("/vectors/{dataset_id}/features/{fid}", response_model=EditResult)
    def delete_feature(
        fid: int,
        record: DatasetRecord = Depends(editable_vector),
        settings: Settings = Depends(get_settings),
        principal: Principal = Depends(get_principal),
    ) -> EditResult:
        return editing.delete_feature(settings, record, fid, user=principal.id)

    @router.post("/vectors/{dataset_id}/undo", response_model=EditResult)
    def undo_edit(
        record: DatasetRecord = Depends(editable_vector),
        settings: Settings = Depends(get_settings),
        principal: Principal = Depends(get_principal),
    ) -> EditResult:
        """Revert the last edit not yet undone; answers the feature as restored."""
        return editing.undo_last(settings, record, user=principal.id)

    @router.get("/vectors/{dataset_id}/history", response_model=EditHistory)
    def vector_history(
        limit: int = Query(100, ge=1, le=10_000),
        record: DatasetRecord = Depends(vector_record),
        settings: Settings = Depends(get_settings),
    ) -> EditHistory:
        return editing.edit_history(settings, record, limit=limit)

    @router.get(
        "/vectors/{dataset_id}/download",
        response_class=FileResponse,
        responses={200: {"description": "The dataset as a file attachment."}},
    )
    def vector_download(
        format: str = Query(
            "geojson", description=f"One of: {', '.join(EXPORT_FORMATS)} (a zip of .shp ...)."
        ),
        record: DatasetRecord = Depends(vector_record),
        settings: Settings = Depends(get_settings),
        catalog: Catalog = Depends(get_catalog),
        principal: Principal = Depends(get_principal),
    ) -> Response:
        exported = export_vector(settings, record, format)
        response = FileResponse(
            exported.path,
            media_type=exported.media_type,
            filename=exported.filename,
            background=BackgroundTask(exported.cleanup),
        )
        try:
            return metered_download(response, catalog, principal, record.id, _size(exported.path))
        except BaseException:
            exported.cleanup()
            raise

    return router
