"""``/samples``: sample sets (labels drawn on an image) — create, save a version, read, export,
and the inputs of a ``train`` job from a set.

Thin over ``tileserver.samples``: each endpoint calls one plain function. A set is a vector
dataset too, so its tiles, features and catalog entry are the ``/vectors`` and ``/datasets``
ones. Training is an ordinary job: ``POST /samples/{id}/train-request`` answers the checked
inputs, which the client submits to ``POST /processes/train/execution`` (progress, cancel and
results as for any job).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.background import BackgroundTask

from tileserver.auth.metering import metered_download
from tileserver.auth.principal import get_principal
from tileserver.auth.schemas import Principal
from tileserver.catalog import Catalog
from tileserver.http.dependencies import get_catalog, get_settings
from tileserver.http.routers.bodies import bounded_route
from tileserver.samples import (
    SampleSetCreate,
    SampleSetInfo,
    SampleSetSave,
    TrainFromSamples,
    create_sample_set,
    export_samples,
    list_sample_sets,
    sample_features,
    sample_set,
    save_samples,
    train_inputs,
)
from tileserver.settings import Settings


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def build_samples_router() -> APIRouter:
    router = APIRouter(
        prefix="/samples", tags=["Sample sets"], route_class=bounded_route("max_json_body_bytes")
    )

    @router.get("", response_model=list[SampleSetInfo], summary="Sample sets you may see")
    def list_sets(
        image: str | None = Query(None, max_length=128, description="Only sets for this image."),
        catalog: Catalog = Depends(get_catalog),
        settings: Settings = Depends(get_settings),
        principal: Principal = Depends(get_principal),
    ) -> list[SampleSetInfo]:
        return list_sample_sets(catalog, settings, principal, image)

    @router.post("", status_code=201, response_model=SampleSetInfo, summary="A new sample set")
    async def create_set(
        body: SampleSetCreate,
        catalog: Catalog = Depends(get_catalog),
        settings: Settings = Depends(get_settings),
        principal: Principal = Depends(get_principal),
    ) -> SampleSetInfo:
        return await run_in_threadpool(create_sample_set, catalog, settings, principal, body)

    @router.get("/{set_id}", response_model=SampleSetInfo, summary="A sample set")
    def get_set(
        set_id: str,
        catalog: Catalog = Depends(get_catalog),
        settings: Settings = Depends(get_settings),
        principal: Principal = Depends(get_principal),
    ) -> SampleSetInfo:
        return sample_set(catalog, settings, principal, set_id)

    @router.put("/{set_id}", response_model=SampleSetInfo, summary="Save: the next version")
    async def save_set(
        set_id: str,
        body: SampleSetSave,
        catalog: Catalog = Depends(get_catalog),
        settings: Settings = Depends(get_settings),
        principal: Principal = Depends(get_principal),
    ) -> SampleSetInfo:
        return await run_in_threadpool(save_samples, catalog, settings, principal, set_id, body)

    @router.get("/{set_id}/features", summary="The samples of a version, as GeoJSON")
    def get_features(
        set_id: str,
        version: int | None = Query(None, ge=1, description="Default: the latest."),
        catalog: Catalog = Depends(get_catalog),
        settings: Settings = Depends(get_settings),
        principal: Principal = Depends(get_principal),
    ) -> JSONResponse:
        collection = sample_features(catalog, settings, principal, set_id, version)
        return JSONResponse(collection, media_type="application/geo+json")

    @router.get("/{set_id}/download", response_class=FileResponse, summary="Download samples")
    def download(
        set_id: str,
        format: str = Query("geojson", description="geojson or gpkg (shapefile: latest only)."),
        version: int | None = Query(None, ge=1, description="Default: the latest."),
        catalog: Catalog = Depends(get_catalog),
        settings: Settings = Depends(get_settings),
        principal: Principal = Depends(get_principal),
    ) -> Response:
        exported = export_samples(catalog, settings, principal, set_id, format, version)
        response = FileResponse(
            exported.path,
            media_type=exported.media_type,
            filename=exported.filename,
            background=BackgroundTask(exported.cleanup),
        )
        try:
            return metered_download(response, catalog, principal, set_id, _size(exported.path))
        except BaseException:
            exported.cleanup()
            raise

    @router.post("/{set_id}/train-request", summary="The train job's inputs for this set")
    def train_request(
        set_id: str,
        body: TrainFromSamples,
        catalog: Catalog = Depends(get_catalog),
        settings: Settings = Depends(get_settings),
        principal: Principal = Depends(get_principal),
    ) -> dict[str, Any]:
        """Checked inputs of ``POST /processes/train/execution`` (400: fewer than two classes
        with samples, a band the image lacks)."""
        return train_inputs(catalog, settings, principal, set_id, body)

    return router


__all__ = ["build_samples_router"]
