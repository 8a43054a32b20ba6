"""The one SQL condition "a dataset's bounds overlap this box", shared by STAC search, the
dataset list and mosaics over archive queries, so an index behind it serves them all."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, and_, or_

from tileserver.catalog.tables import DatasetRow


def bounds_overlap(bbox: Sequence[float]) -> ColumnElement[bool]:
    """Datasets whose WGS84 bounds overlap ``bbox`` (west, south, east, north); west > east
    means the box crosses the antimeridian."""
    west, south, east, north = bbox
    lat = and_(DatasetRow.south <= north, DatasetRow.north >= south)
    if west <= east:
        return and_(lat, DatasetRow.west <= east, DatasetRow.east >= west)
    return and_(lat, or_(DatasetRow.west <= east, DatasetRow.east >= west))
