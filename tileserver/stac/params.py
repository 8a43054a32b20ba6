"""Item-search parameters: one pydantic model for the POST body, and the GET query parsed into it.

Both methods land in ``SearchRequest`` so the search itself has one input shape, and a POST
``next`` link can echo the body back with a new token. Every malformed value is a 400
(``InvalidInput``), not FastAPI's 422, as STAC API asks.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from tileserver.errors import InvalidInput
from tileserver.stac.geometry import parse_bbox

DEFAULT_LIMIT = 10
MAX_LIMIT = 1000
MAX_IDS = 1000
"""Most ``ids`` one search may name (and a tenth as many ``collections``); more is a 400."""
MAX_SORT_FIELDS = 8
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"


class SortField(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: str = Field(description="datetime, id, created or eo:cloud_cover (properties. ok).")
    direction: Literal["asc", "desc"] = "asc"


class SearchRequest(BaseModel):
    """STAC API item search (core, sort and filter extensions) plus ``intersects_dataset``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    bbox: list[float] | None = Field(default=None, description="[west, south, east, north].")
    intersects: dict[str, Any] | None = Field(default=None, description="GeoJSON geometry.")
    intersects_dataset: str | None = Field(
        default=None,
        description="cogsight extension: id of a vector dataset whose union geometry is "
        "the search area (like intersects).",
    )
    datetime: str | None = Field(
        default=None, description="RFC 3339 instant or interval ('../end', 'start/..')."
    )
    ids: list[str] | None = Field(default=None, max_length=MAX_IDS)
    collections: list[str] | None = Field(default=None, max_length=MAX_IDS // 10)
    limit: int = Field(default=DEFAULT_LIMIT, description=f"1 to {MAX_LIMIT} (larger clamped).")
    sortby: list[SortField] | None = Field(default=None, max_length=MAX_SORT_FIELDS)
    filter: dict[str, Any] | str | None = Field(
        default=None, description='CQL2 over /stac/queryables, e.g. "eo:cloud_cover < 10".'
    )
    filter_lang: Literal["cql2-text", "cql2-json"] | None = Field(default=None, alias="filter-lang")
    filter_crs: str | None = Field(default=None, alias="filter-crs")
    token: str | None = Field(default=None, description="Paging token from a 'next' link.")

    @field_validator("collections", mode="before")
    @classmethod
    def _collections(cls, value: Any) -> Any:
        """One collection sent as a string (stac-api-validator's sort test does) is read as
        the GET form, comma-separated; ids stay strict."""
        return split_list(value) if isinstance(value, str) else value

    @field_validator("limit")
    @classmethod
    def _limit(cls, value: int) -> int:
        """Below 1 is an error; above the maximum is served at the maximum (OGC Features)."""
        if value < 1:
            raise ValueError("limit must be at least 1")
        return min(value, MAX_LIMIT)

    @field_validator("filter_crs")
    @classmethod
    def _filter_crs(cls, value: str | None) -> str | None:
        if value is not None and value != CRS84:
            raise ValueError(f"only {CRS84} is supported")
        return value

    def body(self, **changes: Any) -> dict[str, Any]:
        """The JSON body that repeats this search (for POST ``next`` links)."""
        data = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        data.update(changes)
        return data


def parse_search_body(body: Any) -> SearchRequest:
    """A POST body as a ``SearchRequest``; a malformed one is a 400 that says what is wrong."""
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise InvalidInput("The search body must be a JSON object.")
    return _validate(body)


def parse_search_query(params: Mapping[str, str | None]) -> SearchRequest:
    """GET parameters (comma lists, JSON-encoded ``intersects``) as a ``SearchRequest``."""
    data: dict[str, Any] = {}
    for key in ("intersects_dataset", "datetime", "filter", "filter-lang", "filter-crs", "token"):
        if params.get(key):
            data[key] = params[key]
    if params.get("bbox"):
        data["bbox"] = list(parse_bbox(str(params["bbox"])))
    if params.get("intersects"):
        try:
            data["intersects"] = json.loads(str(params["intersects"]))
        except (ValueError, RecursionError):
            raise InvalidInput("intersects must be a JSON-encoded GeoJSON geometry.") from None
    for key in ("ids", "collections"):
        if params.get(key):
            data[key] = split_list(str(params[key]))
    if params.get("limit"):
        data["limit"] = parse_limit(str(params["limit"]))
    if params.get("sortby"):
        data["sortby"] = parse_sortby(str(params["sortby"]))
    return _validate(data)


def split_list(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def parse_limit(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise InvalidInput("limit must be an integer.") from None


def parse_sortby(value: str) -> list[dict[str, str]]:
    """``+datetime,-properties.eo:cloud_cover,id`` as the POST form (a leading + may arrive
    as a space when a client does not escape it)."""
    fields = []
    for part in value.split(","):
        part = part.strip()
        if not part:
            continue
        direction = "desc" if part.startswith("-") else "asc"
        fields.append({"field": part.lstrip("+-").strip(), "direction": direction})
    return fields


def _validate(data: dict[str, Any]) -> SearchRequest:
    try:
        return SearchRequest.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ())) or "body"
            problems.append(f"{where}: {err.get('msg')}")
        raise InvalidInput("Invalid search: " + "; ".join(problems)) from None
