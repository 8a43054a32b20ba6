"""The application factory: ``create_app(settings)`` wires catalog, tilers, routers, middleware."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import APIRouter, Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from pydantic import BaseModel
from titiler.core.factory import ColorMapFactory, TMSFactory

from tileserver import __version__
from tileserver.auth.redact import install_redaction
from tileserver.catalog import Catalog
from tileserver.errors import install_error_handlers
from tileserver.http.admission import AdmissionMiddleware
from tileserver.http.cache import TileCacheMiddleware
from tileserver.http.dependencies import request_limits
from tileserver.http.freshness import install_freshness
from tileserver.http.routers.datasets import build_datasets_router
from tileserver.http.routers.federated import build_federated_router
from tileserver.http.routers.harvests import build_harvests_router
from tileserver.http.routers.indices import build_indices_router
from tileserver.http.routers.me import build_me_router
from tileserver.http.routers.models import build_models_router
from tileserver.http.routers.mosaics import build_mosaic_tiler, build_mosaics_router
from tileserver.http.routers.places import build_places_router
from tileserver.http.routers.processes import build_processes_router
from tileserver.http.routers.raster import build_raster_tiler
from tileserver.http.routers.samples import build_samples_router
from tileserver.http.routers.stac import build_stac_router
from tileserver.http.routers.terrain import build_terrain_router
from tileserver.http.routers.uploads import build_uploads_router
from tileserver.http.routers.vectors import build_vectors_router
from tileserver.http.routers.viewer import mount_viewer
from tileserver.http.routers.wms import build_wms_router
from tileserver.jobs.runner import JobRunner
from tileserver.manage.sweep import ScratchSweeper
from tileserver.manage.trash import sweep_trash
from tileserver.memory import tune_malloc
from tileserver.settings import Settings
from tileserver.sources import configure_gdal
from tileserver.tiling.encoding import configure_png
from tileserver.tiling.grids import supported_tms
from tileserver.tiling.records import RecordCache

logger = logging.getLogger("cogsight")


class Health(BaseModel):
    status: str
    version: str
    datasets: int


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    install_redaction()  # URLs may carry ?access_token=; no log line shows one
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    configure_gdal(settings)
    tune_malloc(settings.malloc_arenas, settings.malloc_mmap_threshold_kib)
    configure_png(settings.png_zlevel)

    catalog = Catalog(settings.resolved_database_url)
    runner = JobRunner(settings, catalog)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Tiles, previews and statistics run in anyio's thread pool, and each of its threads
        # keeps its own dataset handles and block caches: the pool's size bounds that memory.
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.request_threads
        # re-queues (or fails) jobs whose heartbeat stopped, now and while the server runs
        runner.start_watchdog()
        if settings.job_warm_start:  # workers ready (and warm) before the first job
            runner.warm_start()
        # finish deletes a crash interrupted (their datasets are already whole or gone)
        threading.Thread(target=sweep_trash, args=(catalog, settings), daemon=True).start()
        # scratch no live upload, job or edit owns: now (with older versions' leftovers), then
        # every COGSIGHT_SCRATCH_SWEEP_SECONDS
        sweeper = ScratchSweeper(catalog, settings)
        sweeper.start()
        yield
        sweeper.stop()
        runner.close()

    app = FastAPI(
        lifespan=lifespan,
        title="cogsight",
        version=__version__,
        description="Dynamic tiles, spectral indices and mosaics over a catalog of COGs.",
    )
    app.state.settings = settings
    app.state.jobs = runner
    app.state.catalog = catalog
    app.state.records = RecordCache(catalog)

    install_error_handlers(app)
    install_freshness()  # tiles of edited vectors and query mosaics are re-checked per hit

    app.include_router(build_uploads_router())
    app.include_router(build_federated_router())  # before /datasets/{id}
    app.include_router(build_datasets_router())
    app.include_router(build_vectors_router())
    app.include_router(build_stac_router())
    app.include_router(build_places_router())
    app.include_router(build_processes_router())
    app.include_router(build_indices_router())
    app.include_router(build_mosaics_router())
    app.include_router(build_me_router())
    app.include_router(build_harvests_router())
    app.include_router(build_samples_router())
    app.include_router(build_models_router())
    app.include_router(build_wms_router())  # before the tilers: /raster/{id}/wms
    app.include_router(build_terrain_router())
    raster = build_raster_tiler()
    app.include_router(raster.router, prefix=raster.router_prefix, tags=["Raster tiles"])
    mosaic = build_mosaic_tiler()
    app.include_router(mosaic.router, prefix=mosaic.router_prefix, tags=["Mosaic tiles"])
    app.include_router(TMSFactory(supported_tms=supported_tms).router, tags=["Tiling schemes"])
    colormaps = ColorMapFactory(router=APIRouter(dependencies=[Depends(request_limits)]))
    app.include_router(colormaps.router, tags=["Colormaps"])

    @app.get("/healthz", response_model=Health, tags=["Health"])
    def health() -> Health:
        return Health(status="ok", version=__version__, datasets=len(catalog.find_datasets()))

    mount_viewer(app, settings.viewer_dir)

    # expensive requests in bounded pools with a per-client cap: tiles keep their threads
    app.add_middleware(AdmissionMiddleware, settings=settings)
    app.add_middleware(
        TileCacheMiddleware,
        max_bytes=settings.tile_cache_bytes,
        max_age=settings.tile_cache_max_age,
    )
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["GET", "POST", "PATCH", "DELETE", "OPTIONS"],
        allow_headers=["*"],
        expose_headers=["ETag", "Content-Bbox", "Content-Crs", "X-Error-Code", "X-Error-Detail"],
    )
    return app
