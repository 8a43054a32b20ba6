"""Item search over the catalog: the one function both STAC endpoints and Python callers use.

Everything SQL can answer (ids, collections, datetime, ``filter``, sort, paging) is answered in
SQL. Space is exact, as STAC defines it (the item *geometry* intersects the area): SQL keeps the
datasets whose bounds overlap the area's bounds, shapely tests each footprint, and paging runs
over what is left. That loads the candidates' footprints per page, which is fine for catalogs
of thousands of scenes; a spatial index (PostGIS) is the step after that.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import ColumnElement, and_, func, select
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


@dataclass(frozen=True)
class SearchPage:
    """One page of matches, in order; ``next_token`` is None on the last page."""

    records: list[DatasetRecord]
    matched: int
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
            rows, matched = _page_in_sql(session, conditions, order, offset, limit)
        else:
            prefilter, area = spatial
            rows, matched = _page_in_area(
                session, [*conditions, prefilter], order, area, offset, limit
            )
        records = [_dataset_from_row(r) for r in rows]
    next_token = encode_token(offset + limit) if offset + limit < matched else None
    return SearchPage(records=records, matched=matched, next_token=next_token)


def _page_in_sql(
    session: Session,
    conditions: list[ColumnElement[bool]],
    order: list[UnaryExpression[Any]],
    offset: int,
    limit: int,
) -> tuple[list[DatasetRow], int]:
    matched = session.scalar(select(func.count()).select_from(DatasetRow).where(*conditions))
    page = select(DatasetRow).where(*conditions).order_by(*order).offset(offset).limit(limit)
    return list(session.scalars(page)), matched or 0


def _page_in_area(
    session: Session,
    conditions: list[ColumnElement[bool]],
    order: list[UnaryExpression[Any]],
    area: BaseGeometry,
    offset: int,
    limit: int,
) -> tuple[list[DatasetRow], int]:
    """Test the footprints of the bounds-filtered candidates (ids and footprints only), then
    load the full rows of the requested page."""
    columns = (DatasetRow.id, DatasetRow.footprint, *BOUNDS)
    candidates = session.execute(select(*columns).where(*conditions).order_by(*order))
    hits = [
        c.id
        for c in candidates
        if area.intersects(footprint_geometry(c.footprint, (c.west, c.south, c.east, c.north)))
    ]
    wanted = hits[offset : offset + limit]
    rows = {r.id: r for r in session.scalars(select(DatasetRow).where(DatasetRow.id.in_(wanted)))}
    return [rows[i] for i in wanted if i in rows], len(hits)


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
