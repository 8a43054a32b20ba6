"""``/indices``: the named spectral indices, with formulas, for clients and the viewer."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from tileserver.errors import NotFoundError, UnknownIndex
from tileserver.indices import INDICES
from tileserver.sensors import SENSORS


class IndexOut(BaseModel):
    name: str
    title: str
    formula: str
    bands: list[str]
    range: tuple[float, float]
    colormap: str
    description: str
    reference: str


class IndexList(BaseModel):
    items: list[IndexOut]
    sensors: dict[str, dict[str, list[str]]]


def build_indices_router() -> APIRouter:
    router = APIRouter(tags=["Indices"])

    def _out(name: str) -> IndexOut:
        index = INDICES.get(name)
        return IndexOut(**index.model_dump(), bands=index.bands)

    @router.get("/indices", response_model=IndexList)
    def list_indices() -> IndexList:
        return IndexList(
            items=[_out(i.name) for i in INDICES],
            sensors={s.name: s.aliases for s in SENSORS},
        )

    @router.get("/indices/{name}", response_model=IndexOut)
    def get_index(name: str) -> IndexOut:
        try:
            return _out(name)
        except UnknownIndex as exc:  # a resource that does not exist, not a bad parameter
            raise NotFoundError(str(exc)) from None

    return router
