"""``/places``: find a country, region or city by name; its polygon is a search area."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from tileserver.http.dependencies import get_settings
from tileserver.places import Gazetteer, Place, open_gazetteer, place_feature
from tileserver.places.gazetteer import Kind
from tileserver.settings import Settings


class PlaceList(BaseModel):
    places: list[Place]
    attribution: str


def get_gazetteer(settings: Settings = Depends(get_settings)) -> Gazetteer:
    return open_gazetteer(settings.places_path)


def build_places_router() -> APIRouter:
    router = APIRouter(prefix="/places", tags=["Places"])

    @router.get("", response_model=PlaceList, summary="Places whose name starts with q")
    def find_places(
        q: str = Query(..., min_length=1, max_length=200, description="e.g. Wuhan, Hubei, hub"),
        limit: int = Query(10, ge=1, le=50),
        kind: list[Kind] | None = Query(None, description="country, region or city (repeatable)."),
        gazetteer: Gazetteer = Depends(get_gazetteer),
    ) -> PlaceList:
        """Prefix match on any of a place's names (case and accents ignored): exact names
        first, then countries, regions (provinces, states …), cities by population. The
        polygon is at ``/places/{id}``."""
        kinds = list(kind) if kind else None
        return PlaceList(
            places=gazetteer.search(q, limit, kinds), attribution=gazetteer.attribution
        )

    @router.get("/{place_id}", summary="A place as a GeoJSON Feature (its polygon)")
    def get_place(place_id: str, gazetteer: Gazetteer = Depends(get_gazetteer)) -> JSONResponse:
        place, geometry = gazetteer.get(place_id)
        feature: dict[str, Any] = place_feature(place, geometry, gazetteer.attribution)
        return JSONResponse(feature, media_type="application/geo+json")

    return router


__all__ = ["build_places_router"]
