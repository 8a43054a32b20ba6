"""What a CQL2 ``filter`` may name: every property an item carries, as SQL over the datasets table.

Each queryable says its JSON Schema (published at ``/stac/queryables``), its kind (which
literals it compares with) and how to read it in SQL. Values an item derives from the CRS
(``proj:epsg``, ``proj:code``, ``gsd``) are read through a small map of the catalog's distinct
CRS strings, built once per search, so SQL and ``items.py`` agree on every row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from pyproj import CRS
from pyproj.exceptions import CRSError
from sqlalchemy import ColumnElement, Integer, Text, case, cast, literal, null, select
from sqlalchemy.orm import Session

from tileserver.catalog.tables import DatasetRow
from tileserver.catalog.types import UTCDateTime
from tileserver.ingest.acquisition import EARLIEST
from tileserver.stac.collections import collection_key

Kind = Literal["string", "number", "timestamp", "geometry", "array"]
GEOJSON_GEOMETRY = "https://geojson.org/schema/Geometry.json"
UNKNOWN_START = EARLIEST
"""An item of unknown acquisition time is published as acquired between this instant and its
registration (STAC needs ``datetime`` or a ``start_datetime``/``end_datetime`` range)."""


@lru_cache(maxsize=256)
def crs_facts(crs: str) -> tuple[int | None, bool]:
    """EPSG code of a catalog CRS string, and whether its axes are metres (so ``gsd`` applies)."""
    try:
        parsed = CRS.from_user_input(crs)
    except CRSError:
        return None, False
    metric = parsed.is_projected and all(
        axis.unit_name in ("metre", "meter") for axis in parsed.axis_info
    )
    return parsed.to_epsg(), metric


class FilterContext:
    """What compiling a filter may look up: the session, and the rows the search may return
    (``base``: the visibility rule) for predicates that are evaluated in Python."""

    def __init__(self, session: Session, base: list[ColumnElement[bool]]) -> None:
        self.session = session
        self.base = base
        self._crs: dict[str, tuple[int | None, bool]] | None = None

    def crs_map(self) -> dict[str, tuple[int | None, bool]]:
        if self._crs is None:
            stmt = select(DatasetRow.crs).where(DatasetRow.kind == "raster").distinct()
            self._crs = {c: crs_facts(c) for c in self.session.scalars(stmt)}
        return self._crs


SqlOf = Callable[[FilterContext], Any]
"""A column or SQL expression (``Compiler._sql`` turns either into a ``ColumnElement``)."""


@dataclass(frozen=True)
class Queryable:
    kind: Kind
    schema: dict[str, Any]
    sql: SqlOf | None = None
    raster_only: bool = False
    """Items of vectors do not carry it (read as null for them)."""


def _raster(expr: Any) -> ColumnElement[Any]:
    return case((DatasetRow.kind == "raster", expr), else_=null())


def _prop(name: str) -> SqlOf:
    return lambda _ctx: DatasetRow.properties[name].as_string()


def _epsg(ctx: FilterContext) -> ColumnElement[Any]:
    codes = {crs: epsg for crs, (epsg, _m) in ctx.crs_map().items() if epsg is not None}
    if not codes:
        return cast(null(), Integer)
    return _raster(case(codes, value=DatasetRow.crs, else_=null()))


def _code(ctx: FilterContext) -> ColumnElement[Any]:
    codes = {c: f"EPSG:{e}" for c, (e, _m) in ctx.crs_map().items() if e is not None}
    if not codes:
        return cast(null(), Text)
    return _raster(case(codes, value=DatasetRow.crs, else_=null()))


def _gsd(ctx: FilterContext) -> ColumnElement[Any]:
    metric = [crs for crs, (_e, is_metric) in ctx.crs_map().items() if is_metric]
    return _raster(case((DatasetRow.crs.in_(metric), DatasetRow.resolution), else_=null()))


def _collection(_ctx: FilterContext) -> ColumnElement[Any]:
    return collection_key()


def _start(_ctx: FilterContext) -> ColumnElement[Any]:
    start = literal(UNKNOWN_START, UTCDateTime())
    return case((DatasetRow.datetime.is_(None), start), else_=null())


def _end(_ctx: FilterContext) -> ColumnElement[Any]:
    return case((DatasetRow.datetime.is_(None), DatasetRow.created), else_=null())


def _string(description: str, **extra: Any) -> dict[str, Any]:
    return {"description": description, "type": "string", **extra}


def _instant(description: str) -> dict[str, Any]:
    return {"description": description, "type": "string", "format": "date-time"}


QUERYABLES: dict[str, Queryable] = {
    "id": Queryable("string", _string("Item id"), lambda _c: DatasetRow.id),
    "collection": Queryable("string", _string("Collection id"), _collection),
    "title": Queryable("string", _string("Title"), lambda _c: DatasetRow.title),
    "geometry": Queryable(
        "geometry", {"description": "Footprint (WGS84)", "$ref": GEOJSON_GEOMETRY}
    ),
    "datetime": Queryable(
        "timestamp",
        {**_instant("Acquisition time; null when unknown"), "type": ["string", "null"]},
        lambda _c: DatasetRow.datetime,
    ),
    "start_datetime": Queryable(
        "timestamp",
        _instant(f"Only when the acquisition time is unknown: {UNKNOWN_START:%Y-%m-%d}"),
        _start,
    ),
    "end_datetime": Queryable(
        "timestamp",
        _instant("Only when the acquisition time is unknown: the registration time"),
        _end,
    ),
    "created": Queryable("timestamp", _instant("Registration time"), lambda _c: DatasetRow.created),
    "eo:cloud_cover": Queryable(
        "number",
        {"description": "Cloud cover, percent", "type": "number", "minimum": 0, "maximum": 100},
        lambda _c: DatasetRow.cloud_cover,
    ),
    "gsd": Queryable(
        "number",
        {"description": "Ground sample distance, metres", "type": "number", "exclusiveMinimum": 0},
        _gsd,
    ),
    "platform": Queryable("string", _string("Platform, e.g. sentinel-2a"), _prop("platform")),
    "constellation": Queryable(
        "string", _string("Constellation, e.g. sentinel-2"), _prop("constellation")
    ),
    "instruments": Queryable(
        "array",
        {"description": "Instruments", "type": "array", "items": {"type": "string"}},
        lambda _c: DatasetRow.properties["instruments"],
    ),
    "sensor": Queryable(
        "string", _string("cogsight sensor preset"), lambda _c: _raster(DatasetRow.sensor)
    ),
    "proj:epsg": Queryable(
        "number", {"description": "EPSG code", "type": ["integer", "null"]}, _epsg
    ),
    "proj:code": Queryable("string", _string("CRS code, e.g. EPSG:32614"), _code),
    "cogsight:kind": Queryable(
        "string", _string("raster or vector", enum=["raster", "vector"]), lambda _c: DatasetRow.kind
    ),
    "cogsight:dtype": Queryable(
        "string", _string("Raster data type"), lambda _c: _raster(DatasetRow.dtype)
    ),
    "cogsight:band_names": Queryable(
        "array",
        {"description": "Band names", "type": "array", "items": {"type": "string"}},
        lambda _c: DatasetRow.band_names,
        raster_only=True,
    ),
}


def lookup(name: str) -> Queryable:
    """A queryable by name (``properties.`` prefix allowed); ``KeyError`` when there is none."""
    return QUERYABLES[name.removeprefix("properties.")]


def queryables_schema(schema_id: str) -> dict[str, Any]:
    """The JSON Schema of what ``filter`` may name (``GET /stac/queryables``)."""
    return {
        "$schema": "https://json-schema.org/draft/2019-09/schema",
        "$id": schema_id,
        "type": "object",
        "title": "Queryables for cogsight item search",
        "properties": {name: q.schema for name, q in QUERYABLES.items()},
        "additionalProperties": False,
    }
