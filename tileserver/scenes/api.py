"""``POST /datasets/items``: a STAC item registered by the caller as their dataset.

The body is the item itself, or ``{"item": {...}, "visibility": "private"}``. Asset hrefs must
be ``https://`` / ``s3://`` under ``COGSIGHT_ALLOWED_PREFIXES``: a client never names a path on
the server (local files are for ``cogsight add-item``, run by an admin on the machine).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from tileserver.auth.access import require_writer
from tileserver.auth.schemas import Principal
from tileserver.catalog import Catalog, DatasetRecord
from tileserver.manage.caches import Forget
from tileserver.scenes.register import register_item
from tileserver.settings import Settings


class ItemRegistration(BaseModel):
    """A STAC item to register; a bare item (``"type": "Feature"``) is accepted as it is."""

    item: dict[str, Any] = Field(description="The STAC item (GeoJSON Feature).")
    visibility: Literal["public", "private"] = "public"

    @model_validator(mode="before")
    @classmethod
    def _bare_item(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("type") == "Feature":
            return {"item": data}
        return data


def register_posted_item(
    catalog: Catalog,
    settings: Settings,
    principal: Principal,
    body: ItemRegistration,
    forget: Forget | None = None,
) -> DatasetRecord:
    """Register the item for the caller (its owner); remote assets only. A changed item
    re-posted updates its scene in place: ``forget`` drops its cached record and tiles."""
    require_writer(principal)
    record = register_item(
        catalog,
        settings,
        body.item,
        owner=principal.id,
        visibility=body.visibility,
        allow_local=False,
    )
    if forget is not None:
        forget("dataset", record.id)
    return record
