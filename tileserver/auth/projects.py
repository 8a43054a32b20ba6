"""Projects: a user's analysis workspace — the layers on the map, the jobs run for it, and a
history of every change (who, when, what), so a workspace can be listed and reopened."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import or_, select

from tileserver.auth.access import require_owner, require_readable, require_writer
from tileserver.auth.schemas import Principal
from tileserver.auth.tables import ProjectRow
from tileserver.catalog import Catalog
from tileserver.catalog.repository import new_id, utcnow
from tileserver.errors import NotFoundError

HISTORY_LIMIT = 500


class Layer(BaseModel):
    """One map layer: a dataset or mosaic id plus how it is drawn."""

    id: str = Field(max_length=64)
    kind: Literal["dataset", "mosaic"] = "dataset"
    visible: bool = True
    opacity: float = Field(default=1.0, ge=0, le=1)
    render: dict[str, Any] = Field(default_factory=dict, description="bands, index, colormap …")


class ProjectIn(BaseModel):
    title: str = Field(min_length=1, max_length=512)
    description: str = Field(default="", max_length=10_000)
    visibility: Literal["public", "private"] = "private"
    layers: list[Layer] = Field(default_factory=list, max_length=500)
    jobs: list[str] = Field(default_factory=list, max_length=10_000)


class ProjectPatch(BaseModel):
    title: str | None = Field(default=None, min_length=1, max_length=512)
    description: str | None = Field(default=None, max_length=10_000)
    visibility: Literal["public", "private"] | None = None
    layers: list[Layer] | None = Field(default=None, max_length=500)
    add_jobs: list[str] = Field(default_factory=list, max_length=1000)


class HistoryEntry(BaseModel):
    at: dt.datetime
    by: str | None
    change: str


class Project(BaseModel):
    id: str
    owner: str | None
    visibility: str
    title: str
    description: str
    layers: list[Layer]
    jobs: list[str]
    history: list[HistoryEntry]
    created: dt.datetime
    updated: dt.datetime


def _project(row: ProjectRow) -> Project:
    return Project(
        id=row.id,
        owner=row.owner,
        visibility=row.visibility,
        title=row.title,
        description=row.description,
        layers=[Layer.model_validate(x) for x in row.layers or []],
        jobs=list(row.jobs or []),
        history=[HistoryEntry.model_validate(h) for h in row.history or []],
        created=row.created,
        updated=row.updated,
    )


def _entry(principal: Principal, change: str) -> dict[str, Any]:
    return HistoryEntry(at=utcnow(), by=principal.id, change=change).model_dump(mode="json")


class ProjectStore:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def create(self, principal: Principal, body: ProjectIn) -> Project:
        require_writer(principal)
        now = utcnow()
        row = ProjectRow(
            id=new_id(),
            owner=principal.id,
            visibility=body.visibility,
            title=body.title,
            description=body.description,
            layers=[layer.model_dump(mode="json") for layer in body.layers],
            jobs=list(body.jobs),
            history=[_entry(principal, "created")],
            created=now,
            updated=now,
        )
        with self.catalog.session() as s:
            s.add(row)
        return _project(row)

    def list(self, principal: Principal) -> list[Project]:
        stmt = select(ProjectRow).order_by(ProjectRow.updated.desc())
        if not principal.is_admin:
            mine = ProjectRow.owner == principal.id if principal.id else ProjectRow.id.is_(None)
            stmt = stmt.where(or_(mine, ProjectRow.visibility == "public"))
        with self.catalog.session() as s:
            return [_project(r) for r in s.scalars(stmt)]

    def get(self, principal: Principal, project_id: str, anonymous_read: bool = True) -> Project:
        with self.catalog.session() as s:
            row = s.get(ProjectRow, project_id)
            if row is None:
                raise NotFoundError(f"Project '{project_id}' not found.")
            project = _project(row)
        require_readable(principal, project, anonymous_read, what="Project")
        return project

    def update(self, principal: Principal, project_id: str, patch: ProjectPatch) -> Project:
        with self.catalog.session() as s:
            row = s.get(ProjectRow, project_id)
            if row is None:
                raise NotFoundError(f"Project '{project_id}' not found.")
            require_owner(principal, _project(row), what="Project")
            changes = []
            for name in ("title", "description", "visibility"):
                value = getattr(patch, name)
                if value is not None and value != getattr(row, name):
                    setattr(row, name, value)
                    changes.append(f"{name} set")
            if patch.layers is not None:
                row.layers = [layer.model_dump(mode="json") for layer in patch.layers]
                changes.append(f"layers set ({len(patch.layers)})")
            if patch.add_jobs:
                row.jobs = list(row.jobs or []) + [j for j in patch.add_jobs if j not in row.jobs]
                changes.append(f"jobs added: {', '.join(patch.add_jobs)}")
            if changes:
                entries = [*(row.history or []), _entry(principal, "; ".join(changes))]
                row.history = entries[-HISTORY_LIMIT:]
                row.updated = utcnow()
            return _project(row)

    def delete(self, principal: Principal, project_id: str) -> None:
        with self.catalog.session() as s:
            row = s.get(ProjectRow, project_id)
            if row is None:
                raise NotFoundError(f"Project '{project_id}' not found.")
            require_owner(principal, _project(row), what="Project")
            s.delete(row)
