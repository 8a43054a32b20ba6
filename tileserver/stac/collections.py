"""STAC collections derived from the catalog: a dataset's own ``collection`` when it has one
(scenes registered from STAC items), else its raster sensor, else ``vectors``.

Collections are not stored as such: triggers on the datasets table keep a summary per
(collection, owner, visibility) (revision 0004: count, bounds, time span), and a listing adds up
the summaries the viewer may see (public ones, plus their own). So extents are always the union
of what is there, a collection exists exactly while it has visible datasets, and listing costs
a few rows however large the catalog.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, ColumnElement, and_, case, false, func, or_, select
from sqlalchemy.sql.visitors import replacement_traverse

from tileserver.auth.access import Viewer
from tileserver.catalog import Catalog, DatasetRecord
from tileserver.catalog.tables import CollectionSummaryRow, DatasetRow
from tileserver.errors import NotFoundError
from tileserver.sensors import SENSORS
from tileserver.stac.datetimes import format_rfc3339
from tileserver.stac.links import GEOJSON, JSON, SCHEMA, StacUrls, link

VECTORS = "vectors"
STAC_VERSION = "1.0.0"


class CollectionNotFound(NotFoundError):
    code = "collection_not_found"


def collection_id(record: DatasetRecord) -> str:
    if record.collection:
        return record.collection
    return VECTORS if record.kind == "vector" else record.sensor


def collection_key() -> ColumnElement[str]:
    """``collection_id`` in SQL (the same expression revision 0004's triggers group by)."""
    return case(
        (DatasetRow.collection.is_not(None), DatasetRow.collection),
        (DatasetRow.kind == "vector", VECTORS),
        else_=DatasetRow.sensor,
    )


def published(viewer: Viewer | None = None) -> ColumnElement[bool]:
    """The datasets STAC shows: what ``viewer`` may see; public ones without a viewer."""
    if viewer is None:
        return DatasetRow.visibility == "public"
    return viewer.datasets_clause()


def in_collections(ids: list[str]) -> ColumnElement[bool]:
    """SQL condition: the dataset belongs to one of these collections (spelled per column,
    so the collection and sensor indexes serve it)."""
    if not ids:
        return false()
    unset = DatasetRow.collection.is_(None)
    clauses: list[ColumnElement[bool]] = [DatasetRow.collection.in_(ids)]
    sensors = [i for i in ids if i != VECTORS]
    if VECTORS in ids:
        clauses.append(and_(unset, DatasetRow.kind == "vector"))
    if sensors:
        clauses.append(and_(unset, DatasetRow.kind == "raster", DatasetRow.sensor.in_(sensors)))
    return or_(*clauses)


def _on_summaries(clause: ColumnElement[bool]) -> ColumnElement[bool]:
    """A visibility rule written over datasets columns (``owner``, ``visibility``), read on
    the summaries instead: the rule stays the one in ``auth/access.py``."""
    summaries = CollectionSummaryRow.__table__.c

    def swap(element: Any, **_kw: Any) -> Any:
        if isinstance(element, Column) and element.table is DatasetRow.__table__:
            return summaries[element.name]
        return None

    no_options: dict[str, Any] = {}
    return replacement_traverse(clause, no_options, swap)


@dataclass
class CollectionSummary:
    """A collection's id and what its datasets cover. The temporal extent spans the known
    acquisition times (an item of unknown time widens nothing: its published
    1900-to-registration range is a placeholder)."""

    id: str
    count: int
    bbox: tuple[float, float, float, float]
    start: dt.datetime | None
    end: dt.datetime | None


def list_collections(
    catalog: Catalog, viewer: Viewer | None = None, only: str | None = None
) -> list[CollectionSummary]:
    """Every collection that has at least one published dataset (or just ``only``), by id."""
    summary = CollectionSummaryRow
    stmt = (
        select(
            summary.collection,
            func.sum(summary.item_count),
            func.min(summary.west),
            func.min(summary.south),
            func.max(summary.east),
            func.max(summary.north),
            func.min(summary.start_datetime),
            func.max(summary.end_datetime),
        )
        .where(_on_summaries(published(viewer)), summary.item_count > 0)
        .group_by(summary.collection)
        .order_by(summary.collection)
    )
    if only is not None:
        stmt = stmt.where(summary.collection == only)
    with catalog.session() as session:
        return [
            CollectionSummary(
                id=cid,
                count=int(count),
                bbox=_bbox(w, s, e, n),
                start=_utc(start),
                end=_utc(end),
            )
            for cid, count, w, s, e, n, start, end in session.execute(stmt)
        ]


def get_collection(catalog: Catalog, cid: str, viewer: Viewer | None = None) -> CollectionSummary:
    for summary in list_collections(catalog, viewer, only=cid):
        return summary
    raise CollectionNotFound(f"No collection '{cid}'.")


def collection_dict(summary: CollectionSummary, urls: StacUrls) -> dict:
    """A STAC Collection document for a summary."""
    title, description = _describe(summary.id)
    interval = [
        format_rfc3339(summary.start) if summary.start else None,
        format_rfc3339(summary.end) if summary.end else None,
    ]
    return {
        "type": "Collection",
        "stac_version": STAC_VERSION,
        "stac_extensions": [],
        "id": summary.id,
        "title": title,
        "description": description,
        "license": "various",
        "extent": {
            "spatial": {"bbox": [list(summary.bbox)]},
            "temporal": {"interval": [interval]},
        },
        "keywords": ["cogsight", "vector" if summary.id == VECTORS else "raster"],
        "cogsight:item_count": summary.count,
        "links": [
            link("self", urls.collection(summary.id), JSON),
            link("root", urls.root, JSON),
            link("parent", urls.root, JSON),
            link("items", urls.items(summary.id), GEOJSON),
            link(
                "http://www.opengis.net/def/rel/ogc/1.0/queryables",
                urls.collection_queryables(summary.id),
                SCHEMA,
            ),
        ],
    }


def _describe(cid: str) -> tuple[str, str]:
    if cid == VECTORS:
        return "Vector datasets", "Uploaded vector datasets (FlatGeobuf, served as vector tiles)."
    if cid == "generic":
        return "Generic rasters", "Rasters without a sensor preset, served as dynamic tiles."
    title = SENSORS.get(cid).title if cid in SENSORS else cid
    return title, f"{title} rasters, served as dynamic tiles."


def _bbox(*edges: float | None) -> tuple[float, float, float, float]:
    """Summaries always have bounds (datasets' are required); NaN should one be missing."""
    west, south, east, north = (math.nan if v is None else float(v) for v in edges)
    return west, south, east, north


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
