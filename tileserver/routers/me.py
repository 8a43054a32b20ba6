"""``/me``, ``/me/usage`` and ``/projects``: the caller, their quotas, their workspaces."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from tileserver.auth.principal import get_principal
from tileserver.auth.projects import Project, ProjectIn, ProjectPatch, ProjectStore
from tileserver.auth.quotas import usage
from tileserver.auth.schemas import Principal, Quotas, Usage
from tileserver.catalog import Catalog
from tileserver.errors import Unauthorized
from tileserver.settings import Settings
from tileserver.tiling.dependencies import get_catalog, get_settings


class Me(BaseModel):
    id: str | None
    name: str
    is_admin: bool
    mode: str
    quotas: Quotas | None


class ProjectList(BaseModel):
    items: list[Project]
    count: int


def build_me_router() -> APIRouter:
    router = APIRouter(tags=["Users"])

    @router.get("/me", response_model=Me)
    def me(principal: Principal = Depends(get_principal)) -> Me:
        if principal.user is not None:
            u = principal.user
            return Me(id=u.id, name=u.name, is_admin=u.is_admin, mode="token", quotas=u.quotas)
        mode = "single-user" if principal.single_user else "anonymous"
        return Me(id=None, name=mode, is_admin=principal.is_admin, mode=mode, quotas=None)

    @router.get("/me/usage", response_model=Usage)
    async def me_usage(
        principal: Principal = Depends(get_principal),
        catalog: Catalog = Depends(get_catalog),
        settings: Settings = Depends(get_settings),
    ) -> Usage:
        if principal.user is None:
            raise Unauthorized("Usage belongs to a user: send an API token.")
        return await run_in_threadpool(usage, catalog, settings, principal.user)

    @router.post("/projects", response_model=Project, status_code=201)
    def create_project(
        body: ProjectIn,
        principal: Principal = Depends(get_principal),
        catalog: Catalog = Depends(get_catalog),
    ) -> Project:
        return ProjectStore(catalog).create(principal, body)

    @router.get("/projects", response_model=ProjectList)
    def list_projects(
        principal: Principal = Depends(get_principal), catalog: Catalog = Depends(get_catalog)
    ) -> ProjectList:
        items = ProjectStore(catalog).list(principal)
        return ProjectList(items=items, count=len(items))

    @router.get("/projects/{project_id}", response_model=Project)
    def get_project(
        project_id: str,
        principal: Principal = Depends(get_principal),
        catalog: Catalog = Depends(get_catalog),
        settings: Settings = Depends(get_settings),
    ) -> Project:
        return ProjectStore(catalog).get(principal, project_id, settings.anonymous_read)

    @router.patch("/projects/{project_id}", response_model=Project)
    def update_project(
        project_id: str,
        patch: ProjectPatch,
        principal: Principal = Depends(get_principal),
        catalog: Catalog = Depends(get_catalog),
    ) -> Project:
        return ProjectStore(catalog).update(principal, project_id, patch)

    @router.delete("/projects/{project_id}", status_code=204)
    def delete_project(
        project_id: str,
        principal: Principal = Depends(get_principal),
        catalog: Catalog = Depends(get_catalog),
    ) -> Response:
        ProjectStore(catalog).delete(principal, project_id)
        return Response(status_code=204)

    return router
