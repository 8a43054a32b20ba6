"""STAC collections derived from the catalog: one per raster sensor, plus ``vectors``.

Collections are not stored: they are grouped out of the datasets table on every request, so
extents are always the union of what is there and a collection exists exactly while it has
datasets. Only public datasets are published.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, false, func, or_, select

from tileserver.auth.access import Viewer
from tileserver.catalog import Catalog, DatasetRecord
from tileserver.catalog.tables import DatasetRow
from tileserver.errors import NotFoundError
from tileserver.sensors import SENSORS
from tileserver.stac.datetimes import format_rfc3339
from tileserver.stac.links import GEOJSON, JSON, SCHEMA, StacUrls, link

VECTORS = "vectors"
STAC_VERSION = "1.0.0"

# A collection's temporal extent spans the acquisition times that are known (an item of
# unknown time widens nothing: its published 1900-to-registration range is a placeholder).
item_start = DatasetRow.datetime
item_end = DatasetRow.datetime


class CollectionNotFound(NotFoundError):
    code = "collection_not_found"


def collection_id(record: DatasetRecord) -> str:
    return VECTORS if record.kind == "vector" else record.sensor


def published(viewer: Viewer | None = None) -> ColumnElement[bool]:
    """The datasets STAC shows: what ``viewer`` may see; public ones without a viewer."""
    if viewer is None:
        return DatasetRow.visibility == "public"
    return viewer.datasets_clause()


def in_collections(ids: list[str]) -> ColumnElement[bool]:
    """SQL condition: the dataset belongs to one of these collections."""
    clauses: list[ColumnElement[bool]] = []
    sensors = [i for i in ids if i != VECTORS]
    if VECTORS in ids:
        clauses.append(DatasetRow.kind == "vector")
    if sensors:
        clauses.append(and_(DatasetRow.kind == "raster", DatasetRow.sensor.in_(sensors)))
    return or_(*clauses) if clauses else false()


@dataclass
class CollectionSummary:
    """A collection's id and what its datasets cover."""

    id: str
    count: int
    bbox: tuple[float, float, float, float]
    start: dt.datetime | None
    end: dt.datetime | None

    def merge(self, other: CollectionSummary) -> None:
        w, s, e, n = self.bbox
        ow, os_, oe, on = other.bbox
        self.bbox = (min(w, ow), min(s, os_), max(e, oe), max(n, on))
        self.count += other.count
        self.start = min((d for d in (self.start, other.start) if d), default=None)
        self.end = max((d for d in (self.end, other.end) if d), default=None)


def list_collections(catalog: Catalog, viewer: Viewer | None = None) -> list[CollectionSummary]:
    """Every collection that has at least one published dataset, sorted by id."""
    stmt = (
        select(
            DatasetRow.kind,
            DatasetRow.sensor,
            func.count(),
            func.min(DatasetRow.west),
            func.min(DatasetRow.south),
            func.max(DatasetRow.east),
            func.max(DatasetRow.north),
            func.min(item_start),
            func.max(item_end),
        )
        .where(published(viewer))
        .group_by(DatasetRow.kind, DatasetRow.sensor)
    )
    found: dict[str, CollectionSummary] = {}
    with catalog.session() as session:
        for kind, sensor, count, w, s, e, n, start, end in session.execute(stmt):
            summary = CollectionSummary(
                id=VECTORS if kind == "vector" else sensor,
                count=count,
                bbox=(w, s, e, n),
                start=_utc(start),
                end=_utc(end),
            )
            if summary.id in found:
                found[summary.id].merge(summary)
            else:
                found[summary.id] = summary
    return [found[k] for k in sorted(found)]


def get_collection(catalog: Catalog, cid: str, viewer: Viewer | None = None) -> CollectionSummary:
    for summary in list_collections(catalog, viewer):
        if summary.id == cid:
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


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
