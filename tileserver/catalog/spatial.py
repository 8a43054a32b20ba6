"""The one SQL condition "a dataset's bounds overlap this box", shared by STAC search, the
dataset list, CQL2 spatial predicates and mosaics over archive queries, so the spatial index
behind it serves them all.

The index is an existing engine's (revision 0004): SQLite's R*Tree module (``datasets_rtree``,
keyed by the datasets rowid, kept by triggers) and, on PostgreSQL, a GiST index over the bounds
as a PostGIS envelope, or as the native ``box`` type on a server without PostGIS. The condition
is the index lookup *and* the exact test on the plain columns: the R*Tree stores 32-bit floats
rounded outwards and a box crossing the antimeridian is indexed as a wider one, so the index
alone may return a few extra candidates, never fewer.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    Float,
    and_,
    bindparam,
    column,
    func,
    literal_column,
    or_,
    select,
    table,
    text,
    union_all,
)
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import operators
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import Grouping
from sqlalchemy.sql.sqltypes import NullType
from sqlalchemy.sql.visitors import InternalTraversal

from tileserver.catalog.tables import DatasetRow

Flavour = Literal["postgis", "box"]
GIST_INDEX = "ix_datasets_bounds_gist"
# Beyond any longitude: "west of ``east``" as a box for the GiST operators.
_FAR = 1e9
_RTREE = table(
    "datasets_rtree", column("id"), column("west"), column("east"), column("south"), column("north")
)
_flavours: weakref.WeakKeyDictionary[Dialect, Flavour] = weakref.WeakKeyDictionary()


def detect_index(engine: Engine) -> Flavour | None:
    """Remember which GiST index a PostgreSQL catalog has (PostGIS envelope or native box), so
    the condition compiles to the expression that index covers; None on SQLite (the R*Tree
    is always there) or when there is none (the plain columns still answer, unindexed)."""
    if engine.dialect.name != "postgresql":
        return None
    with engine.connect() as conn:
        definition = conn.execute(
            text("SELECT indexdef FROM pg_indexes WHERE indexname = :name"), {"name": GIST_INDEX}
        ).scalar()
    if definition is None:
        _flavours.pop(engine.dialect, None)
        return None
    flavour: Flavour = "postgis" if "envelope" in definition.lower() else "box"
    _flavours[engine.dialect] = flavour
    return flavour


class _BoundsOverlap(ColumnElement[Any]):
    """``bounds_overlap``'s condition; compiled per backend (see ``_compile_*``). The box is
    four bound parameters, so statements using it are cached like any other."""

    # No Boolean type: SQLite would get "... = 1" glued to the last term of the expansion.
    type = NullType()
    inherit_cache = True
    _traverse_internals = [
        ("west", InternalTraversal.dp_clauseelement),
        ("south", InternalTraversal.dp_clauseelement),
        ("east", InternalTraversal.dp_clauseelement),
        ("north", InternalTraversal.dp_clauseelement),
        ("crosses", InternalTraversal.dp_boolean),
    ]

    def __init__(self, bbox: Sequence[float]) -> None:
        w, s, e, n = (float(v) for v in bbox)
        self.west, self.south, self.east, self.north = (
            bindparam(None, v, type_=Float) for v in (w, s, e, n)
        )
        self.crosses = w > e

    def self_group(self, against: Any = None) -> ColumnElement[Any]:
        """Bare where terms are ANDed (the planner sees each one, and so uses the index);
        under any other operator (NOT, OR ...) the expansion is parenthesised."""
        if against is None or against is operators.and_:
            return self
        return Grouping(self)

    def plain(self) -> ColumnElement[bool]:
        """The exact test on the columns (what every backend ends with)."""
        lat = and_(DatasetRow.south <= self.north, DatasetRow.north >= self.south)
        if not self.crosses:
            return and_(lat, DatasetRow.west <= self.east, DatasetRow.east >= self.west)
        return and_(lat, or_(DatasetRow.west <= self.east, DatasetRow.east >= self.west))

    def ranges(self) -> list[tuple[Any, Any]]:
        """The longitude ranges the box covers: one, or two across the antimeridian."""
        if not self.crosses:
            return [(self.west, self.east)]
        return [(-_FAR, self.east), (self.west, _FAR)]

    def rtree(self) -> ColumnElement[bool]:
        lookups = [
            select(_RTREE.c.id).where(
                _RTREE.c.west <= east,
                _RTREE.c.east >= west,
                _RTREE.c.south <= self.north,
                _RTREE.c.north >= self.south,
            )
            for west, east in self.ranges()
        ]
        ids = lookups[0] if len(lookups) == 1 else union_all(*lookups)
        return literal_column("datasets.rowid").in_(ids)

    def gist(self, flavour: Flavour) -> ColumnElement[bool]:
        def envelope(w: Any, s: Any, e: Any, n: Any) -> ColumnElement[Any]:
            if flavour == "postgis":
                return func.ST_MakeEnvelope(w, s, e, n, literal_column("4326"))
            return func.box(func.point(w, s), func.point(e, n))

        indexed = envelope(DatasetRow.west, DatasetRow.south, DatasetRow.east, DatasetRow.north)
        return or_(
            *(indexed.op("&&")(envelope(w, self.south, e, self.north)) for w, e in self.ranges())
        )


@compiles(_BoundsOverlap)
def _compile_plain(element: _BoundsOverlap, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.plain(), **kw)


@compiles(_BoundsOverlap, "sqlite")
def _compile_sqlite(element: _BoundsOverlap, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(and_(element.rtree(), element.plain()), **kw)


@compiles(_BoundsOverlap, "postgresql")
def _compile_postgresql(element: _BoundsOverlap, compiler: SQLCompiler, **kw: Any) -> str:
    flavour = _flavours.get(compiler.dialect)
    if flavour is None:
        return compiler.process(element.plain(), **kw)
    return compiler.process(and_(element.gist(flavour), element.plain()), **kw)


def bounds_overlap(bbox: Sequence[float]) -> ColumnElement[bool]:
    """Datasets whose WGS84 bounds overlap ``bbox`` (west, south, east, north); west > east
    means the box crosses the antimeridian. Index-backed on both backends."""
    return _BoundsOverlap(bbox)
