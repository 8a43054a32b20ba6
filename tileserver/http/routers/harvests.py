"""``/harvests``: administrators harvest configured STAC sources into the catalog.

Only a configured source id is accepted (``COGSIGHT_STAC_SOURCES``), never a URL from a
client: the server does not fetch what a request names. The run executes in a thread of this
process (``harvest.background``); its row answers ``GET /harvests/{id}`` from any replica.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from tileserver.auth.principal import get_principal
from tileserver.auth.schemas import Principal
from tileserver.catalog import Catalog
from tileserver.errors import AlreadyExists, Forbidden, Unauthorized
from tileserver.harvest.background import HarvestThreads
from tileserver.harvest.options import HarvestOptions
from tileserver.harvest.runs import HarvestRun, Refusal, RunStore
from tileserver.harvest.service import prepare
from tileserver.http.dependencies import get_catalog, get_settings
from tileserver.http.routers.bodies import bounded_route
from tileserver.settings import Settings


class HarvestIn(HarvestOptions):
    model_config = ConfigDict(extra="forbid")

    source: str = Field(
        min_length=1, max_length=64, description="The id of a configured STAC source."
    )


class RefusalPage(BaseModel):
    items: list[Refusal]
    count: int = Field(description="Refusals on this page.")
    matched: int = Field(description="Refusals of the run, all pages.")
    next_offset: int | None = None


def require_admin(principal: Principal = Depends(get_principal)) -> Principal:
    """Harvests are an administrator's: anonymous callers 401, other users 403."""
    if principal.anonymous:
        raise Unauthorized("This needs an API token: Authorization: Bearer <token>.")
    if not principal.is_admin:
        raise Forbidden("Harvesting is for administrators.")
    return principal


def _threads(request: Request) -> HarvestThreads:
    threads = getattr(request.app.state, "harvests", None)
    if threads is None:
        threads = request.app.state.harvests = HarvestThreads()
    return threads


def build_harvests_router() -> APIRouter:
    router = APIRouter(
        tags=["Harvests"],
        dependencies=[Depends(require_admin)],
        route_class=bounded_route("max_json_body_bytes"),
    )

    @router.post("/harvests", response_model=HarvestRun, status_code=202)
    def start_harvest(
        body: HarvestIn,
        request: Request,
        principal: Principal = Depends(get_principal),
        catalog: Catalog = Depends(get_catalog),
        settings: Settings = Depends(get_settings),
    ) -> HarvestRun:
        options = HarvestOptions.model_validate(body.model_dump(exclude={"source"}))
        run = prepare(
            catalog, settings, body.source, options, owner=principal.id, configured_only=True
        )
        return _start(request, catalog, settings, run)

    @router.post("/harvests/{run_id}/resume", response_model=HarvestRun, status_code=202)
    def resume_harvest(
        run_id: str,
        request: Request,
        catalog: Catalog = Depends(get_catalog),
        settings: Settings = Depends(get_settings),
    ) -> HarvestRun:
        return _start(request, catalog, settings, RunStore(catalog).get(run_id))

    @router.get("/harvests", response_model=list[HarvestRun])
    async def list_harvests(
        limit: int = Query(50, ge=1, le=500), catalog: Catalog = Depends(get_catalog)
    ) -> list[HarvestRun]:
        return await run_in_threadpool(RunStore(catalog).list, limit)

    @router.get("/harvests/{run_id}", response_model=HarvestRun)
    async def get_harvest(run_id: str, catalog: Catalog = Depends(get_catalog)) -> HarvestRun:
        return await run_in_threadpool(RunStore(catalog).get, run_id)

    @router.get("/harvests/{run_id}/refused", response_model=RefusalPage)
    def refused_items(
        run_id: str,
        offset: int = Query(0, ge=0),
        limit: int = Query(100, ge=1, le=1000),
        catalog: Catalog = Depends(get_catalog),
    ) -> RefusalPage:
        store = RunStore(catalog)
        store.get(run_id)  # 404 for an unknown run
        items = store.refusals(run_id, offset=offset, limit=limit)
        matched = store.count_refusals(run_id)
        after = offset + len(items)
        return RefusalPage(
            items=items,
            count=len(items),
            matched=matched,
            next_offset=after if after < matched else None,
        )

    return router


def _start(request: Request, catalog: Catalog, settings: Settings, run: HarvestRun) -> HarvestRun:
    if run.status == "completed":
        return run
    threads = _threads(request)
    if run.status == "running" or threads.running(run.id):
        raise AlreadyExists(f"Harvest run '{run.id}' is already running.")
    claimed = RunStore(catalog).claim(run.id)  # 409 when another process runs it
    threads.start(catalog, settings, run.id)
    return claimed
