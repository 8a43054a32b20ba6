"""``POST /datasets/items/from-source``: add a remote search result to the catalog, to draw it."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from tileserver.auth.access import Viewer, owner_of_new, require_writer
from tileserver.auth.principal import get_principal
from tileserver.auth.schemas import Principal
from tileserver.catalog import Catalog
from tileserver.http.dependencies import get_catalog, get_settings
from tileserver.http.routers.bodies import bounded_route
from tileserver.http.routers.datasets import DatasetOut, dataset_out
from tileserver.http.routers.stac import get_viewer
from tileserver.settings import Settings
from tileserver.stac.federated import add_from_source

NAME = r"^[^\x00-\x1f/?#]{1,256}$"


class FromSource(BaseModel):
    """A search result of a federated source, named as the source names it."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(max_length=64, description="A source id from GET /stac/sources.")
    collection: str = Field(pattern=NAME, description="The item's collection at the source.")
    item_id: str = Field(pattern=NAME, description="The item's id at the source.")


def build_federated_router() -> APIRouter:
    router = APIRouter(tags=["Catalog"], route_class=bounded_route("max_json_body_bytes"))

    @router.post("/datasets/items/from-source", response_model=DatasetOut)
    def from_source(
        body: FromSource,
        request: Request,
        catalog: Catalog = Depends(get_catalog),
        settings: Settings = Depends(get_settings),
        principal: Principal = Depends(get_principal),
        viewer: Viewer = Depends(get_viewer),
    ) -> DatasetOut:
        """Fetch the item from the configured source (by id, never from a URL a client
        gives) and register it as a dataset owned by the caller, drawn at once with its
        default rendering; the same item again returns the dataset registered before."""
        require_writer(principal)
        record = add_from_source(
            catalog,
            settings,
            viewer,
            owner_of_new(principal),
            body.source,
            body.collection,
            body.item_id,
        )
        return dataset_out(record, request)

    return router


__all__ = ["build_federated_router"]
