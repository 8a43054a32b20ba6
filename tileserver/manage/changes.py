"""Renaming, describing and publishing/hiding a dataset or mosaic after it was made.

The owner or an admin may change these (``require_owner``: another's private thing answers
404, another's public one 403). A dataset's description lives in ``properties["description"]``
and a mosaic's in its MosaicJSON document's ``description`` (no schema change for either).
After the commit this process forgets the cached record and tiles at once (``forget``), so a
dataset made private stops being served to others here immediately and on other replicas when
their short record caches expire.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from tileserver.auth.access import require_owner
from tileserver.auth.schemas import Principal
from tileserver.catalog import Catalog, DatasetRecord, MosaicRecord
from tileserver.errors import InvalidInput
from tileserver.manage.caches import Forget
from tileserver.rendering.model import RGBA, Render
from tileserver.rendering.saved import MAX_SAVED, NAME_PATTERN, merged_saved
from tileserver.settings import Settings

TITLE_MAX = 200
DESCRIPTION_MAX = 10_000
_TITLE_CONTROLS = re.compile(r"[\x00-\x1f\x7f]")
_TEXT_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # tabs and newlines allowed

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=TITLE_MAX)]
Description = Annotated[str, StringConstraints(max_length=DESCRIPTION_MAX)]


class SavedRender(Render):
    """A rendering a user saves: titiler's render parameters, bounded, nothing else."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: Annotated[str, StringConstraints(max_length=TITLE_MAX)] = ""
    bidx: list[int] | None = Field(default=None, max_length=4)
    rescale: list[tuple[float, float]] | None = Field(default=None, max_length=16)
    colormap: dict[str, RGBA] | None = Field(default=None, max_length=256)


RenderName = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]


class Changes(BaseModel):
    """The body of ``PATCH /datasets/{id}`` and ``PATCH /mosaics/{id}``: any of these;
    other fields are refused. An empty description removes it; ``null`` is refused (omit a
    field to leave it as it is). ``renders`` (datasets only) saves named presets — a
    ``null`` value removes one, and one named ``default`` is what clients get with no
    parameters."""

    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    description: Description | None = None
    visibility: Literal["public", "private"] | None = None
    renders: dict[RenderName, SavedRender | None] | None = Field(default=None, max_length=MAX_SAVED)

    @field_validator("title", "description", "visibility", "renders", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may not be null: leave the field out to keep it as it is")
        return value

    @field_validator("title")
    @classmethod
    def _plain_title(cls, value: str) -> str:
        # titles go into XML (WMTS capabilities), HTTP headers and one-line listings
        if _TITLE_CONTROLS.search(value):
            raise ValueError("may not contain control characters or line breaks")
        return value

    @field_validator("description")
    @classmethod
    def _plain_text(cls, value: str) -> str:
        if _TEXT_CONTROLS.search(value):
            raise ValueError("may not contain control characters other than tabs and newlines")
        return value


def change_dataset(
    catalog: Catalog,
    settings: Settings,
    principal: Principal,
    dataset_id: str,
    changes: Changes,
    forget: Forget | None = None,
) -> DatasetRecord:
    """Apply ``changes`` to a dataset the caller owns (or any, for an admin)."""
    record = catalog.get_dataset(dataset_id)
    require_owner(principal, record, settings.anonymous_read)
    renders = None
    if changes.renders is not None:
        if record.kind != "raster":
            raise InvalidInput(
                f"Dataset '{record.id}' is a {record.kind}; renders are for rasters."
            )
        renders = merged_saved(record, changes.renders)
    updated = catalog.update_dataset(
        record.id,
        title=changes.title,
        visibility=changes.visibility,
        description=changes.description,
        saved_renders=renders,
    )
    if forget is not None:
        forget("dataset", record.id)
    return updated


def change_mosaic(
    catalog: Catalog,
    settings: Settings,
    principal: Principal,
    mosaic_id: str,
    changes: Changes,
    forget: Forget | None = None,
) -> MosaicRecord:
    """Apply ``changes`` to a mosaic the caller owns (or any, for an admin)."""
    record = catalog.get_mosaic(mosaic_id)
    require_owner(principal, record, settings.anonymous_read, what="Mosaic")
    if changes.renders is not None:
        raise InvalidInput("Mosaics draw like their first scene; save renders on a dataset.")
    updated = catalog.update_mosaic(
        record.id,
        title=changes.title,
        visibility=changes.visibility,
        description=changes.description,
    )
    if forget is not None:
        forget("mosaic", record.id)
    return updated
