"""Mosaics over catalog queries: the stored query, and the scenes it selects for one area.

A query mosaic stores a search (area, datetime, collections, sensor, cloud cover, CQL2 filter),
an order and a pixel selection method instead of a scene list. Each tile (or WMS map, or point)
asks the catalog for the scenes whose footprints intersect its bounds, in the mosaic's order,
through the same conditions as STAC search and the shared ``bounds_overlap`` condition (so the
catalog's spatial index serves it): a mosaic over a year of a province uses every scene, and a
tile costs what the scenes under it cost, not what the whole archive does.

The scenes a query mosaic may use are decided at read time: public ones, plus its owner's own
while the mosaic is private (a public mosaic never shows private pixels, anyone's).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from shapely import prepare
from shapely.geometry import Point, box
from shapely.geometry.base import BaseGeometry
from sqlalchemy import ColumnElement, event, false, or_, select
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

from tileserver.auth.access import Viewer
from tileserver.auth.schemas import Principal
from tileserver.catalog import Catalog, MosaicRecord
from tileserver.catalog.spatial import bounds_overlap
from tileserver.catalog.tables import DatasetRow
from tileserver.errors import InvalidInput
from tileserver.mosaics.keys import QUERY_KEY
from tileserver.stac.geometry import bbox_geometry, footprint_geometry, parse_bbox, parse_geometry
from tileserver.stac.params import SearchRequest
from tileserver.stac.search import search_conditions

MAX_SCENES_PER_TILE = 100
"""Default of ``max_scenes_per_tile``: the most scenes one tile of a query mosaic reads."""
SCENES_PER_TILE_LIMIT = 500
FRESH_SECONDS = 30
"""Longest a cached tile of a query mosaic outlives a scene registered by another process."""

Order = Literal["newest", "least-cloudy"]
Method = Literal["first", "mean", "median"]


class MosaicQuery(BaseModel):
    """What a query mosaic stores: the search, the order and the pixel selection method."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    bbox: list[float] | None = None
    intersects: dict[str, Any] | None = None
    datetime: str | None = None
    collections: list[str] | None = None
    sensor: str | None = None
    cloud_cover_max: float | None = None
    filter: dict[str, Any] | str | None = None
    filter_lang: Literal["cql2-text", "cql2-json"] | None = Field(default=None, alias="filter-lang")
    order: Order = "newest"
    method: Method = "first"
    max_scenes_per_tile: int = Field(default=MAX_SCENES_PER_TILE, ge=1, le=SCENES_PER_TILE_LIMIT)

    def search(self) -> SearchRequest:
        """The non-spatial part as a STAC search request (area and order are applied here)."""
        return SearchRequest.model_validate(
            {
                "datetime": self.datetime,
                "collections": self.collections,
                "filter": self.filter,
                "filter-lang": self.filter_lang,
            }
        )

    def area(self) -> BaseGeometry | None:
        if self.bbox is not None and self.intersects is not None:
            raise InvalidInput("Use only one of bbox and intersects.")
        if self.bbox is not None:
            return bbox_geometry(parse_bbox(self.bbox))
        if self.intersects is not None:
            return parse_geometry(self.intersects)
        return None


def stored_query(record: MosaicRecord) -> MosaicQuery | None:
    """The record's query (None for a mosaic of listed scenes)."""
    stored = record.mosaicjson.get(QUERY_KEY)
    return MosaicQuery.model_validate(stored) if isinstance(stored, dict) else None


class SceneAccess(Viewer):
    """The scenes a query mosaic may use: public ones, and its owner's while it is private."""

    def __init__(self, owner: str | None, private: bool) -> None:
        super().__init__(Principal())  # its own clause below, not a caller's
        self.owner = owner
        self.private = private

    def datasets_clause(self) -> ColumnElement[bool]:
        public = DatasetRow.visibility == "public"
        if not self.private:
            return public
        own = DatasetRow.owner.is_(None) if self.owner is None else DatasetRow.owner == self.owner
        return or_(public, own)


def access_of(record: MosaicRecord) -> SceneAccess:
    return SceneAccess(record.owner, record.visibility == "private")


def _order(order: Order) -> list[Any]:
    newest = DatasetRow.datetime.desc().nulls_last()
    if order == "least-cloudy":
        return [DatasetRow.cloud_cover.asc().nulls_last(), newest, DatasetRow.id.asc()]
    return [newest, DatasetRow.id.asc()]


def _conditions(
    query: MosaicQuery, access: SceneAccess, session: Session, area: BaseGeometry | None
) -> list[ColumnElement[bool]]:
    conditions = search_conditions(query.search(), access, session)
    conditions.append(DatasetRow.kind == "raster")
    if query.sensor:
        conditions.append(DatasetRow.sensor == query.sensor)
    if query.cloud_cover_max is not None:
        conditions.append(DatasetRow.cloud_cover <= query.cloud_cover_max)
    if area is not None:
        if area.is_empty:
            conditions.append(false())
        else:
            conditions.append(bounds_overlap([float(v) for v in area.bounds]))
    return conditions


@dataclass(frozen=True)
class Scene:
    """What reading a scene into a tile needs."""

    id: str
    uri: str
    bands: int
    footprint: BaseGeometry = field(compare=False, repr=False)


_COLUMNS = (
    DatasetRow.id,
    DatasetRow.uri,
    DatasetRow.footprint,
    DatasetRow.band_names,
    DatasetRow.west,
    DatasetRow.south,
    DatasetRow.east,
    DatasetRow.north,
)


def scenes_for_area(
    catalog: Catalog,
    query: MosaicQuery,
    access: SceneAccess,
    bounds: Sequence[float],
    limit: int,
    skip: int = 0,
    bands: int | None = None,
) -> list[Scene]:
    """Up to ``limit`` scenes, in the mosaic's order, whose footprints intersect ``bounds``
    (WGS84 west, south, east, north) and the query's area, after the first ``skip`` such;
    with ``bands``, only scenes of that many bands (one of other bands registered later is
    left out of the mosaic, not an error)."""
    area = query.area()
    west, south, east, north = bounds
    where: BaseGeometry = box(*bounds) if west < east and south < north else Point(west, south)
    if area is not None:
        where = where.intersection(area)
    if where.is_empty:
        return []
    inside = _touching_is_not_enough(where)
    found: list[Scene] = []
    with catalog.session() as session:
        conditions = _conditions(query, access, session, area)
        stmt = (
            select(*_COLUMNS)
            .where(*conditions, bounds_overlap(bounds))
            .order_by(*_order(query.order))
        )
        for row in session.execute(stmt.execution_options(yield_per=64)):
            shape = footprint_geometry(row.footprint, (row.west, row.south, row.east, row.north))
            if not inside(shape) or (bands is not None and len(row.band_names) != bands):
                continue
            if skip:
                skip -= 1
                continue
            found.append(Scene(row.id, row.uri, len(row.band_names), shape))
            if len(found) >= limit:
                break
    return found


def _touching_is_not_enough(where: BaseGeometry) -> Callable[[BaseGeometry], bool]:
    """A footprint is under an area when their interiors meet: a scene that only shares the
    tile's edge has no pixel in it (and would crowd the per-tile cap). A point is under the
    footprints that contain it, edges included."""
    if where.area == 0:
        return lambda shape: bool(shape.intersects(where))
    prepare(where)
    return lambda shape: bool(where.intersects(shape) and not where.touches(shape))


@dataclass
class Summary:
    """What creating a query mosaic records about the scenes that match it today."""

    matched: int
    first_id: str
    bounds: tuple[float, float, float, float]
    minzoom: int
    maxzoom: int
    band_counts: dict[int, tuple[int, str]]
    """Scenes per band count: how many, and one of them."""
    private: bool
    looks: set[tuple[str, float | None, float | None]]
    """Distinct (sensor, reflectance scale, offset): one means the mosaic shares them."""


def summarize(catalog: Catalog, query: MosaicQuery, access: SceneAccess) -> Summary | None:
    """Every matching scene counted (None when none matches), in one pass over id, bounds and
    footprint columns: no scene list is kept."""
    area = query.area()
    columns = (
        *_COLUMNS,
        DatasetRow.minzoom,
        DatasetRow.maxzoom,
        DatasetRow.visibility,
        DatasetRow.sensor,
        DatasetRow.reflectance_scale,
        DatasetRow.reflectance_offset,
    )
    matched, first = 0, ""
    west = south = float("inf")
    east = north = float("-inf")
    minzoom, maxzoom = 99, 0
    band_counts: dict[int, tuple[int, str]] = {}
    private = False
    looks: set[tuple[str, float | None, float | None]] = set()
    with catalog.session() as session:
        stmt = select(*columns).where(*_conditions(query, access, session, area))
        for row in session.execute(
            stmt.order_by(*_order(query.order)).execution_options(yield_per=1000)
        ):
            bounds = (row.west, row.south, row.east, row.north)
            if area is not None and not footprint_geometry(row.footprint, bounds).intersects(area):
                continue
            matched += 1
            first = first or row.id
            west, south = min(west, row.west), min(south, row.south)
            east, north = max(east, row.east), max(north, row.north)
            minzoom, maxzoom = min(minzoom, row.minzoom), max(maxzoom, row.maxzoom)
            count, example = band_counts.get(len(row.band_names), (0, row.id))
            band_counts[len(row.band_names)] = (count + 1, example)
            private = private or row.visibility == "private"
            looks.add((row.sensor, row.reflectance_scale, row.reflectance_offset))
    if not matched:
        return None
    if area is not None:
        a_w, a_s, a_e, a_n = area.bounds
        west, south, east, north = max(west, a_w), max(south, a_s), min(east, a_e), min(north, a_n)
    return Summary(
        matched, first, (west, south, east, north), minzoom, maxzoom, band_counts, private, looks
    )


# Freshness of cached tiles ---------------------------------------------------------------------
# A query mosaic's tiles change when a scene is registered, changed or deleted. Writes to the
# datasets table in this process bump a counter that cached tiles are stamped with; writes by
# other processes (a harvest run, another replica) reach cached tiles within FRESH_SECONDS.
_writes = itertools.count()
_generation = 0


def _bump() -> None:
    global _generation
    _generation = next(_writes) + 1


def _after_flush(session: Session, _context: UOWTransaction) -> None:
    if any(isinstance(o, DatasetRow) for o in (*session.new, *session.dirty, *session.deleted)):
        _bump()


def _on_execute(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        table = getattr(state.statement, "table", None)
        if getattr(table, "name", None) == DatasetRow.__tablename__:
            _bump()


event.listen(Session, "after_flush", _after_flush)
event.listen(Session, "do_orm_execute", _on_execute)


def catalog_version(_scope: object = None) -> tuple[int, int]:
    """Changes whenever this process writes a dataset, and every FRESH_SECONDS regardless."""
    return _generation, int(time.time() // FRESH_SECONDS)
