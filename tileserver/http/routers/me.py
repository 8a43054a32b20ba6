"""``/me``, ``/me/usage`` and ``/projects``: the caller, their quotas, their workspaces."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from tileserver.auth.principal import get_principal
from tileserver.auth.projects import (
    Project,
    ProjectIn,
    ProjectPatch,
    ProjectStore,
    ProjectSummary,
)
from tileserver.auth.quotas import usage
from tileserver.auth.schemas import Principal, Quotas, Usage
from tileserver.catalog import Catalog
from tileserver.errors import Unauthorized
from tileserver.http.dependencies import get_catalog, get_settings
from tileserver.http.routers.bodies import bounded_route
from tileserver.settings import Settings


class Me(BaseModel):
    id: str | None
    name: str
    is_admin: bool
    mode: str
    quotas: Quotas | None


class ProjectList(BaseModel):
    items: list[ProjectSummary]
    count: int = Field(description="Projects on this page.")
    matched: int = Field(description="Projects the caller may read, all pages.")


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

    # bodies over COGSIGHT_MAX_PROJECT_BYTES are refused (413) before they are parsed
    projects = APIRouter(route_class=bounded_route("max_project_bytes"))

    @projects.post("/projects", response_model=Project, status_code=201)
    def create_project(
        body: ProjectIn,
        principal: Principal = Depends(get_principal),
        catalog: Catalog = Depends(get_catalog),
    ) -> Project:
        return ProjectStore(catalog).create(principal, body)

    @projects.get("/projects", response_model=ProjectList)
    def list_projects(
        limit: int = Query(100, ge=1, le=1000),
        offset: int = Query(0, ge=0),
        principal: Principal = Depends(get_principal),
        catalog: Catalog = Depends(get_catalog),
        settings: Settings = Depends(get_settings),
    ) -> ProjectList:
        """Summaries, newest change first; a project's layers and history: GET it by id."""
        items, matched = ProjectStore(catalog).list(
            principal, settings.anonymous_read, limit=limit, offset=offset
        )
        return ProjectList(items=items, count=len(items), matched=matched)

    @projects.get("/projects/{project_id}", response_model=Project)
    def get_project(
        project_id: str,
        principal: Principal = Depends(get_principal),
        catalog: Catalog = Depends(get_catalog),
        settings: Settings = Depends(get_settings),
    ) -> Project:
        return ProjectStore(catalog).get(principal, project_id, settings.anonymous_read)

    @projects.patch("/projects/{project_id}", response_model=Project)
    def update_project(
        project_id: str,
        patch: ProjectPatch,
        principal: Principal = Depends(get_principal),
        catalog: Catalog = Depends(get_catalog),
    ) -> Project:
        return ProjectStore(catalog).update(principal, project_id, patch)

    @projects.delete("/projects/{project_id}", status_code=204)
    def delete_project(
        project_id: str,
        principal: Principal = Depends(get_principal),
        catalog: Catalog = Depends(get_catalog),
    ) -> Response:
        ProjectStore(catalog).delete(principal, project_id)
        return Response(status_code=204)

    router.include_router(projects)
    return router
