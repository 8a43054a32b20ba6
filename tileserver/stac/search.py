"""Item search over the catalog: the one function both STAC endpoints and Python callers use.

Everything SQL can answer (ids, collections, datetime, ``filter``, sort, paging) is answered in
SQL. Space is exact, as STAC defines it (the item *geometry* intersects the area): the spatial
index (``catalog/spatial.py``: SQLite's R*Tree, a PostgreSQL GiST index) picks the datasets whose
bounds overlap the area's bounds, GEOS tests their footprints in bulk, and paging runs over what
is left. ``numberMatched`` is exact up to ``EXACT_COUNT_LIMIT`` matches and omitted beyond.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import ColumnElement, Text, and_, cast, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import UnaryExpression

from tileserver.auth.access import Viewer
from tileserver.catalog import Catalog, DatasetRecord
from tileserver.catalog.repository import _dataset_from_row
from tileserver.catalog.spatial import bounds_overlap
from tileserver.catalog.tables import DatasetRow
from tileserver.errors import InvalidInput
from tileserver.settings import Settings
from tileserver.stac.aoi import vector_dataset_geometry
from tileserver.stac.collections import in_collections, published
from tileserver.stac.datetimes import parse_interval
from tileserver.stac.filters import filter_clause, parse_filter
from tileserver.stac.geometry import (
    BBox,
    bbox_geometry,
    footprint_geometry,
    parse_bbox,
    parse_geometry,
)
from tileserver.stac.paging import decode_token, encode_token
from tileserver.stac.params import SearchRequest, SortField
from tileserver.stac.queryables import FilterContext

# sortby field (``properties.`` prefix optional) -> (column, nullable)
SORTABLE: dict[str, tuple[Any, bool]] = {
    "datetime": (DatasetRow.datetime, True),
    "id": (DatasetRow.id, False),
    "created": (DatasetRow.created, False),
    "eo:cloud_cover": (DatasetRow.cloud_cover, True),
}
DEFAULT_SORT = [SortField(field="datetime", direction="desc")]
BOUNDS = (DatasetRow.west, DatasetRow.south, DatasetRow.east, DatasetRow.north)


EXACT_COUNT_LIMIT = 10_000
"""``numberMatched`` is exact up to this many matches and omitted beyond (STAC lets a search
leave it out): counting a huge match set, and testing every footprint in it, would cost more
than the page itself. Paging does not need it (one row past the page says there is more)."""
CHUNK = 512


@dataclass(frozen=True)
class SearchPage:
    """One page of matches, in order; ``matched`` is None when more than
    ``EXACT_COUNT_LIMIT`` match; ``next_token`` is None on the last page."""

    records: list[DatasetRecord]
    matched: int | None
    next_token: str | None


def search_datasets(
    catalog: Catalog, request: SearchRequest, settings: Settings, viewer: Viewer | None = None
) -> SearchPage:
    """Run a STAC item search. Raises ``InvalidInput`` (400) for malformed parameters.

    ``settings`` is only needed to read the file behind ``intersects_dataset``; ``viewer``
    limits the items to what the caller may see (public ones when None).
    """
    spatial = spatial_filter(catalog, settings, request, viewer)
    order = sort_order(request.sortby)
    offset = decode_token(request.token) if request.token else 0
    limit = request.limit
    with catalog.session() as session:
        conditions = search_conditions(request, viewer, session)
        if spatial is None:
            rows, matched, more = _page_in_sql(session, conditions, order, offset, limit)
        else:
            prefilter, area = spatial
            rows, matched, more = _page_in_area(
                session, [*conditions, prefilter], order, area, offset, limit
            )
        records = [_dataset_from_row(r) for r in rows]
    next_token = encode_token(offset + limit) if more else None
    return SearchPage(records=records, matched=matched, next_token=next_token)


def _bounded_count(session: Session, conditions: list[ColumnElement[bool]]) -> int | None:
    """How many rows match, when at most ``EXACT_COUNT_LIMIT`` do (else None): the count
    stops there instead of walking the whole match set."""
    some = select(DatasetRow.id).where(*conditions).limit(EXACT_COUNT_LIMIT + 1).subquery()
    count = session.scalar(select(func.count()).select_from(some)) or 0
    return count if count <= EXACT_COUNT_LIMIT else None


def _page_in_sql(
    session: Session,
    conditions: list[ColumnElement[bool]],
    order: list[UnaryExpression[Any]],
    offset: int,
    limit: int,
) -> tuple[list[DatasetRow], int | None, bool]:
    """The page (one row more, to know whether another follows), the bounded count."""
    matched = _bounded_count(session, conditions)
    page = select(DatasetRow).where(*conditions).order_by(*order).offset(offset).limit(limit + 1)
    rows = list(session.scalars(page))
    return rows[:limit], matched, len(rows) > limit


def _page_in_area(
    session: Session,
    conditions: list[ColumnElement[bool]],
    order: list[UnaryExpression[Any]],
    area: BaseGeometry,
    offset: int,
    limit: int,
) -> tuple[list[DatasetRow], int | None, bool]:
    """Test the footprints of the index-selected candidates (ids and footprints only, in
    order), then load the full rows of the requested page. All candidates are tested when
    there are at most ``EXACT_COUNT_LIMIT`` (an exact ``numberMatched``); beyond, they are read
    in growing chunks only until the page and one more hit are found."""
    exact = _bounded_count(session, conditions) is not None
    columns = (DatasetRow.id, cast(DatasetRow.footprint, Text).label("footprint"), *BOUNDS)
    stmt = select(*columns).where(*conditions).order_by(*order)
    shapely.prepare(area)
    hits: list[str] = []
    if exact:  # at most EXACT_COUNT_LIMIT candidates: one query
        hits = intersecting(area, session.execute(stmt).all())
    else:  # plain LIMIT/OFFSET reads (a server-side cursor costs round trips on PostgreSQL)
        read, chunk = 0, max(CHUNK, 2 * (offset + limit + 1))
        while len(hits) <= offset + limit:
            batch = session.execute(stmt.offset(read).limit(chunk)).all()
            hits.extend(intersecting(area, batch))
            read += len(batch)
            if len(batch) < chunk:
                break
            chunk *= 2
    wanted = hits[offset : offset + limit]
    rows = {r.id: r for r in session.scalars(select(DatasetRow).where(DatasetRow.id.in_(wanted)))}
    matched = len(hits) if exact else None
    return [rows[i] for i in wanted if i in rows], matched, len(hits) > offset + limit


def intersecting(area: BaseGeometry, candidates: Sequence[Any]) -> list[str]:
    """Ids of the candidates (id, footprint as GeoJSON text, west, south, east, north) whose
    footprint intersects ``area``, in their order: the footprints are read and tested in bulk
    (GEOS), with ``footprint_geometry``'s rules for missing, broken or invalid ones."""
    if not candidates:
        return []
    texts = [c.footprint if c.footprint and c.footprint != "{}" else None for c in candidates]
    try:
        shapes = shapely.from_geojson(texts, on_invalid="ignore")
    except (shapely.errors.ShapelyError, ValueError, TypeError):
        shapes = np.array([None] * len(candidates), dtype=object)
    # Missing (unparseable) or invalid footprints take the slow path below; empty ones too.
    good = ~shapely.is_missing(shapes) & ~shapely.is_empty(shapes) & shapely.is_valid(shapes)
    hit = np.zeros(len(candidates), dtype=bool)
    hit[good] = shapely.intersects(area, shapes[good])
    for i in np.flatnonzero(~good):
        c = candidates[int(i)]
        footprint = json.loads(c.footprint) if c.footprint else {}
        hit[i] = area.intersects(footprint_geometry(footprint, (c.west, c.south, c.east, c.north)))
    return [c.id for c, h in zip(candidates, hit, strict=True) if h]


def search_conditions(
    request: SearchRequest, viewer: Viewer | None, session: Session
) -> list[ColumnElement[bool]]:
    """The SQL conditions of everything but space (ids, collections, datetime, filter).

    ``session`` is where a filter's spatial, ``like`` and array predicates read the rows they
    test. The filter is parsed before anything is read, so a malformed one costs nothing."""
    visible = published(viewer)
    conditions: list[ColumnElement[bool]] = [visible]
    tree = None
    if request.filter is not None:
        default_lang = "cql2-text" if isinstance(request.filter, str) else "cql2-json"
        tree = parse_filter(request.filter, request.filter_lang, default_lang)
    if request.ids:
        conditions.append(DatasetRow.id.in_(request.ids))
    if request.collections:
        conditions.append(in_collections(request.collections))
    if request.datetime:
        conditions.append(in_interval(*parse_interval(request.datetime)))
    if tree is not None:
        conditions.append(filter_clause(tree, FilterContext(session, [visible])))
    return conditions


def in_interval(start: dt.datetime | None, end: dt.datetime | None) -> ColumnElement[bool]:
    """Items acquired within [start, end]. Items of unknown acquisition time match no time
    range (their published 1900-to-registration range says only "some time before this"): a
    search for 2020 lists what was taken in 2020; ``filter=datetime IS NULL`` finds the rest."""
    known: list[ColumnElement[bool]] = [DatasetRow.datetime.is_not(None)]
    if start is not None:
        known.append(DatasetRow.datetime >= start)
    if end is not None:
        known.append(DatasetRow.datetime <= end)
    return and_(*known)


def spatial_filter(
    catalog: Catalog, settings: Settings, request: SearchRequest, viewer: Viewer | None = None
) -> tuple[ColumnElement[bool], BaseGeometry] | None:
    """The search area (``bbox``, ``intersects`` or ``intersects_dataset``, at most one) as a
    SQL prefilter on dataset bounds plus the geometry footprints must intersect exactly."""
    given = [
        name
        for name in ("bbox", "intersects", "intersects_dataset")
        if getattr(request, name) is not None
    ]
    if len(given) > 1:
        raise InvalidInput(f"Use only one of bbox, intersects, intersects_dataset (got {given}).")
    if request.bbox is not None:
        bbox = parse_bbox(request.bbox)
        return bbox_overlaps(bbox), bbox_geometry(bbox)
    if request.intersects is not None:
        area = parse_geometry(request.intersects)
    elif request.intersects_dataset is not None:
        area = vector_dataset_geometry(catalog, settings, request.intersects_dataset, viewer)
    else:
        return None
    west, south, east, north = (float(v) for v in shapely.bounds(area))
    return bbox_overlaps((west, south, east, north)), area


def bbox_overlaps(bbox: BBox | list[float]) -> ColumnElement[bool]:
    """Datasets whose bounds overlap the box; west > east means it crosses the antimeridian."""
    return bounds_overlap(bbox)


def sort_order(sortby: list[SortField] | None) -> list[UnaryExpression[Any]]:
    """ORDER BY for ``sortby``, always ending in ``id`` so pages never overlap or skip."""
    order: list[UnaryExpression[Any]] = []
    names: list[str] = []
    for field in sortby or DEFAULT_SORT:
        name = field.field.removeprefix("properties.")
        if name not in SORTABLE:
            known = ", ".join(SORTABLE)
            raise InvalidInput(f"Cannot sort by '{field.field}'; sortable fields: {known}.")
        if name in names:
            continue
        column, nullable = SORTABLE[name]
        expr = column.desc() if field.direction == "desc" else column.asc()
        order.append(expr.nulls_last() if nullable else expr)
        names.append(name)
    if "id" not in names:
        order.append(DatasetRow.id.asc())
    return order
