"""Projects: a user's analysis workspace — the layers on the map, the jobs run for it, and a
history of every change (who, when, what), so a workspace can be listed and reopened.

A project is bounded (its request body by ``COGSIGHT_MAX_PROJECT_BYTES``, checked by the router;
layers, jobs, history and each layer's ``render`` here), because public projects are served to
everyone and every listing reads them.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, false, func, or_, select, true

from tileserver.auth.access import require_owner, require_readable, require_writer
from tileserver.auth.schemas import Principal
from tileserver.auth.tables import ProjectRow
from tileserver.catalog import Catalog
from tileserver.catalog.repository import new_id, utcnow
from tileserver.errors import InvalidInput, NotFoundError, PayloadTooLarge, name_few

HISTORY_LIMIT = 500
"""History entries kept per project (the oldest are dropped)."""
MAX_LAYERS = 500
MAX_JOBS = 10_000
MAX_RENDER_DEPTH = 16
"""Nesting levels of a layer's ``render`` (the viewer's use at most 4: classes → colour)."""
MAX_RENDER_BYTES = 64 * 1024
"""A layer's ``render`` as compact JSON (a 256-entry colormap is about 6 KiB)."""

JobId = Annotated[str, Field(max_length=64)]


class Layer(BaseModel):
    """One map layer: a dataset or mosaic id plus how it is drawn."""

    id: str = Field(max_length=64)
    kind: Literal["dataset", "mosaic"] = "dataset"
    visible: bool = True
    opacity: float = Field(default=1.0, ge=0, le=1)
    render: dict[str, Any] = Field(
        default_factory=dict,
        description=f"bands, index, colormap …; at most {MAX_RENDER_DEPTH} levels deep and "
        f"{MAX_RENDER_BYTES // 1024} KiB as JSON.",
    )


class ProjectIn(BaseModel):
    title: str = Field(min_length=1, max_length=512)
    description: str = Field(default="", max_length=10_000)
    visibility: Literal["public", "private"] = "private"
    layers: list[Layer] = Field(default_factory=list, max_length=MAX_LAYERS)
    jobs: list[JobId] = Field(default_factory=list, max_length=MAX_JOBS)


class ProjectPatch(BaseModel):
    title: str | None = Field(default=None, min_length=1, max_length=512)
    description: str | None = Field(default=None, max_length=10_000)
    visibility: Literal["public", "private"] | None = None
    layers: list[Layer] | None = Field(default=None, max_length=MAX_LAYERS)
    add_jobs: list[JobId] = Field(default_factory=list, max_length=1000)


class HistoryEntry(BaseModel):
    at: dt.datetime
    by: str | None
    change: str


class ProjectSummary(BaseModel):
    """A project as listed: what identifies it, not its layers or history (GET it for those)."""

    id: str
    owner: str | None
    visibility: str
    title: str
    description: str
    created: dt.datetime
    updated: dt.datetime


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


def _depth(value: Any) -> int:
    """Nesting depth of a JSON value (a flat object is 1), without recursion, stopping as soon
    as it passes ``MAX_RENDER_DEPTH``."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if not isinstance(item, dict | list):
            continue
        deepest = max(deepest, level)
        if deepest > MAX_RENDER_DEPTH:
            break
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, level + 1) for child in children)
    return deepest


def check_layers(layers: list[Layer]) -> None:
    """Refuse a ``render`` nested deeper than ``MAX_RENDER_DEPTH`` (400) or larger than
    ``MAX_RENDER_BYTES`` (413): it is stored, listed and serialized on every read."""
    for index, layer in enumerate(layers):
        if _depth(layer.render) > MAX_RENDER_DEPTH:
            raise InvalidInput(
                f"layers[{index}].render is nested too deep: at most {MAX_RENDER_DEPTH} levels "
                "of objects and arrays."
            )
        size = len(json.dumps(layer.render, separators=(",", ":"), ensure_ascii=False).encode())
        if size > MAX_RENDER_BYTES:
            raise PayloadTooLarge(
                f"layers[{index}].render is {size:,} bytes as JSON; at most {MAX_RENDER_BYTES:,}."
            )


def _listed(principal: Principal, anonymous_read: bool) -> ColumnElement[bool]:
    """The projects a listing shows: the one visibility rule (``access.can_read``) in SQL."""
    if principal.is_admin:
        return true()
    public = ProjectRow.visibility == "public"
    if principal.anonymous:
        return public if anonymous_read else false()
    return or_(public, ProjectRow.owner == principal.id)


class ProjectStore:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def create(self, principal: Principal, body: ProjectIn) -> Project:
        require_writer(principal)
        check_layers(body.layers)
        now = utcnow()
        row = ProjectRow(
            id=new_id(),
            owner=principal.id,
            visibility=body.visibility,
            title=body.title,
            description=body.description,
            layers=[layer.model_dump(mode="json") for layer in body.layers],
            jobs=list(dict.fromkeys(body.jobs)),
            history=[_entry(principal, "created")],
            created=now,
            updated=now,
        )
        with self.catalog.session() as s:
            s.add(row)
        return _project(row)

    def list(
        self,
        principal: Principal,
        anonymous_read: bool = True,
        *,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[list[ProjectSummary], int]:
        """One page of the projects the caller may read, newest change first, as summaries;
        and how many there are in all."""
        where = _listed(principal, anonymous_read)
        columns = [getattr(ProjectRow, name) for name in ProjectSummary.model_fields]
        stmt = (
            select(*columns)
            .where(where)
            .order_by(ProjectRow.updated.desc(), ProjectRow.id)
            .limit(limit)
            .offset(offset)
        )
        with self.catalog.session() as s:
            items = [ProjectSummary.model_validate(row._asdict()) for row in s.execute(stmt)]
            matched = s.scalar(select(func.count()).select_from(ProjectRow).where(where)) or 0
        return items, matched

    def get(self, principal: Principal, project_id: str, anonymous_read: bool = True) -> Project:
        with self.catalog.session() as s:
            row = s.get(ProjectRow, project_id)
            if row is None:
                raise NotFoundError(f"Project '{project_id}' not found.")
            project = _project(row)
        require_readable(principal, project, anonymous_read, what="Project")
        return project

    def update(self, principal: Principal, project_id: str, patch: ProjectPatch) -> Project:
        if patch.layers is not None:
            check_layers(patch.layers)
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
            jobs = list(row.jobs or [])
            known = set(jobs)
            added = [j for j in dict.fromkeys(patch.add_jobs) if j not in known]
            if len(jobs) + len(added) > MAX_JOBS:
                raise PayloadTooLarge(
                    f"A project lists at most {MAX_JOBS:,} jobs; this one has {len(jobs):,} "
                    f"and the change adds {len(added):,}."
                )
            if added:
                row.jobs = jobs + added
                changes.append(f"jobs added: {name_few(added)}")
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
