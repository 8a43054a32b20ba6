"""A cql2-json tree (as the ``cql2`` library writes it) as one SQL condition on the datasets.

Comparisons, ``BETWEEN``, ``IN``, ``IS NULL`` and the temporal functions become SQL on both
backends. What SQL cannot say the same way on SQLite and PostgreSQL (``LIKE``: SQLite's is
case-insensitive; geometry: footprints are GeoJSON, there is no PostGIS; arrays: JSON) is
evaluated in Python over the rows the search may return, and enters the SQL as the set of ids
that match (``NULL`` for rows whose value is unknown, so ``NOT`` keeps SQL's three-valued logic).
Everything else is a 400 naming what is supported.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import ColumnElement, and_, bindparam, case, false, literal, not_, null, or_, select
from sqlalchemy import true as sql_true

from tileserver.catalog.spatial import bounds_overlap
from tileserver.catalog.tables import DatasetRow
from tileserver.catalog.types import UTCDateTime
from tileserver.errors import InvalidInput
from tileserver.stac.datetimes import parse_rfc3339
from tileserver.stac.geometry import bbox_geometry, footprint_geometry, parse_bbox, parse_geometry
from tileserver.stac.queryables import QUERYABLES, FilterContext, Queryable, lookup

MAX_PYTHON_PREDICATES = 16
"""Spatial, LIKE and array predicates each read the searchable rows once."""
MAX_LIST = 1000
MAX_LIKE_PATTERN = 256

COMPARISONS = ("=", "<>", "<", "<=", ">", ">=")
_FLIPPED = {"=": "=", "<>": "<>", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
SPATIAL = (
    "s_intersects", "s_disjoint", "s_within", "s_contains",
    "s_equals", "s_touches", "s_overlaps", "s_crosses",
)  # fmt: skip
TEMPORAL = (
    "t_after", "t_before", "t_contains", "t_disjoint", "t_during", "t_equals", "t_finishedby",
    "t_finishes", "t_intersects", "t_meets", "t_metby", "t_overlappedby", "t_overlaps",
    "t_startedby", "t_starts",
)  # fmt: skip
ARRAYS = ("a_equals", "a_contains", "a_containedby", "a_overlaps")
SUPPORTED = "and, or, not, =, <>, <, <=, >, >=, isNull, between, in, like, " + ", ".join(
    (*SPATIAL, *TEMPORAL, *ARRAYS)
)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# A time bound: a SQL expression, an instant, or an open end of an interval.
LOW, HIGH = "-inf", "+inf"
Bound = ColumnElement[Any] | datetime | str


class Compiler:
    """Compile one filter; ``ctx`` reads the rows that Python-evaluated predicates test."""

    def __init__(self, ctx: FilterContext) -> None:
        self.ctx = ctx
        self.python_predicates = 0

    def clause(self, node: Any) -> ColumnElement[bool]:
        if isinstance(node, bool):
            return sql_true() if node else false()
        if not isinstance(node, dict) or not isinstance(node.get("args"), list):
            raise InvalidInput(f"Unsupported filter expression: {_show(node)}.")
        op, args = str(node.get("op", "")).lower(), node["args"]
        if op in ("and", "or"):
            if len(args) < 2:
                raise InvalidInput(f"'{op}' needs at least two arguments.")
            parts = [self.clause(a) for a in args]
            return and_(*parts) if op == "and" else or_(*parts)
        if op == "not":
            _arity(op, args, 1)
            return not_(self.clause(args[0]))
        if op == "isnull":
            _arity("isNull", args, 1)
            return self._is_null(args[0])
        if op == "!=":
            op = "<>"
        if op in COMPARISONS:
            _arity(op, args, 2)
            return self._compare(op, args[0], args[1])
        if op == "between":
            return self._between(args)
        if op == "in":
            _arity(op, args, 2)
            return self._in(args[0], args[1])
        if op == "like":
            _arity(op, args, 2)
            return self._like(args[0], args[1])
        if op in SPATIAL:
            _arity(op, args, 2)
            return self._spatial(op, args[0], args[1])
        if op in TEMPORAL:
            _arity(op, args, 2)
            return _temporal(op, self._interval(args[0]), self._interval(args[1]))
        if op in ARRAYS:
            _arity(op, args, 2)
            return self._array(op, args[0], args[1])
        shown = _show(node.get("op"))
        raise InvalidInput(f"Unsupported filter operator {shown}; use {SUPPORTED}.")

    # comparisons ------------------------------------------------------------------------------
    def _compare(self, op: str, left: Any, right: Any) -> ColumnElement[bool]:
        for arg in (left, right):
            if isinstance(arg, dict) and "op" in arg:
                shown = _show(arg.get("op"))
                raise InvalidInput(
                    f"Unsupported filter operator {shown} in a comparison (no functions or "
                    "arithmetic); compare a property with a value."
                )
        if not _is_property(left):
            if not _is_property(right):
                raise InvalidInput("A filter comparison needs a property, e.g. eo:cloud_cover.")
            left, right, op = right, left, _FLIPPED[op]
        name, q = _queryable(left, ("string", "number", "timestamp"), op)
        column = self._sql(q)
        if _is_property(right):
            _other, other = _queryable(right, (q.kind,), op)
            return _apply(op, column, self._sql(other))
        if q.kind == "timestamp":
            start, end = _instant_range(right, name)
            if start == end:
                return _apply(op, column, _time(start))
            return _compare_day(op, column, start, end)
        return _apply(op, column, _scalar(q.kind, right, name))

    def _is_null(self, arg: Any) -> ColumnElement[bool]:
        _name, q = _queryable(arg, ("string", "number", "timestamp", "array", "geometry"), "isNull")
        if q.kind == "geometry":
            return false()  # every item has a footprint
        if q.kind == "array":
            return self._python(q, lambda value: value is None, nulls=False)
        return self._sql(q).is_(None)

    def _between(self, args: list[Any]) -> ColumnElement[bool]:
        if len(args) == 2 and isinstance(args[1], list):
            args = [args[0], *args[1]]
        _arity("between", args, 3)
        name, q = _queryable(args[0], ("number", "timestamp"), "between")
        column = self._sql(q)
        if q.kind == "timestamp":
            low, high = _instant_range(args[1], name)[0], _instant_range(args[2], name)[1]
            return and_(column >= _time(low), column <= _time(high))
        return column.between(_scalar(q.kind, args[1], name), _scalar(q.kind, args[2], name))

    def _in(self, arg: Any, values: Any) -> ColumnElement[bool]:
        name, q = _queryable(arg, ("string", "number"), "in")
        if not isinstance(values, list) or not values:
            raise InvalidInput(f"'in' needs a non-empty list of values for {name}.")
        if len(values) > MAX_LIST:
            raise InvalidInput(f"'in' lists at most {MAX_LIST} values.")
        return self._sql(q).in_([_scalar(q.kind, v, name) for v in values])

    # evaluated in Python ------------------------------------------------------------------------
    def _like(self, arg: Any, pattern: Any) -> ColumnElement[bool]:
        name, q = _queryable(arg, ("string",), "like")
        if not isinstance(pattern, str):
            raise InvalidInput(f"'like' on {name} needs a text pattern, e.g. 'sentinel%'.")
        if len(pattern) > MAX_LIKE_PATTERN or pattern.count("%") > 8:
            raise InvalidInput(
                f"A 'like' pattern has at most {MAX_LIKE_PATTERN} characters and 8 '%'."
            )
        regex = like_regex(pattern)
        return self._python(q, lambda v: bool(regex.fullmatch(v)) if isinstance(v, str) else None)

    def _array(self, op: str, left: Any, right: Any) -> ColumnElement[bool]:
        if not _is_property(left):
            left, right = right, left
            op = {"a_contains": "a_containedby", "a_containedby": "a_contains"}.get(op, op)
        name, q = _queryable(left, ("array",), op)
        if not isinstance(right, list) or len(right) > MAX_LIST:
            raise InvalidInput(f"'{op}' compares {name} with a list of at most {MAX_LIST} values.")
        wanted = [str(v) for v in right]

        def test(value: Any) -> bool | None:
            if not isinstance(value, list):
                return None
            have = [str(v) for v in value]
            if op == "a_equals":
                return have == wanted
            if op == "a_contains":
                return set(wanted) <= set(have)
            if op == "a_containedby":
                return set(have) <= set(wanted)
            return bool(set(have) & set(wanted))

        return self._python(q, test)

    def _spatial(self, op: str, left: Any, right: Any) -> ColumnElement[bool]:
        if not _is_property(left):
            left, right = right, left
            op = {"s_within": "s_contains", "s_contains": "s_within"}.get(op, op)
        _queryable(left, ("geometry",), op)
        area = _geometry_literal(right, op)
        self._count_python()
        test = "s_intersects" if op == "s_disjoint" else op
        predicate: Callable[[BaseGeometry, BaseGeometry], bool] = getattr(
            shapely, test.removeprefix("s_")
        )
        west, south, east, north = (float(v) for v in shapely.bounds(area))
        bounds = (DatasetRow.west, DatasetRow.south, DatasetRow.east, DatasetRow.north)
        stmt = select(DatasetRow.id, DatasetRow.footprint, *bounds).where(
            *self.ctx.base, bounds_overlap((west, south, east, north))
        )
        hits = [
            row.id
            for row in self.ctx.session.execute(stmt)
            if predicate(
                footprint_geometry(row.footprint, (row.west, row.south, row.east, row.north)),
                area,
            )
        ]
        matched = _ids_in(hits)
        return not_(matched) if op == "s_disjoint" else matched

    def _python(
        self, q: Queryable, test: Callable[[Any], bool | None], nulls: bool = True
    ) -> ColumnElement[bool]:
        """``test`` over every searchable row's value: the ids where it holds (and, with
        ``nulls``, SQL NULL for rows whose value is missing or whose test is None)."""
        self._count_python()
        stmt = select(DatasetRow.id, DatasetRow.kind, self._sql(q)).where(*self.ctx.base)
        hits, unknown = [], []
        for ident, kind, value in self.ctx.session.execute(stmt):
            if q.raster_only and kind != "raster":
                value = None
            result = test(value)
            if result is None or (nulls and value is None):
                unknown.append(ident)
            elif result:
                hits.append(ident)
        if not unknown:
            return _ids_in(hits)
        return case((_ids_in(unknown), null()), else_=_ids_in(hits))

    def _count_python(self) -> None:
        self.python_predicates += 1
        if self.python_predicates > MAX_PYTHON_PREDICATES:
            raise InvalidInput(
                f"A filter has at most {MAX_PYTHON_PREDICATES} spatial, like and array predicates."
            )

    def _sql(self, q: Queryable) -> ColumnElement[Any]:
        assert q.sql is not None
        element: ColumnElement[Any] = q.sql(self.ctx).__clause_element__()
        return element

    # time -----------------------------------------------------------------------------------
    def _interval(self, arg: Any) -> tuple[Bound, Bound]:
        """A temporal operand as (start, end): an instant has start == end."""
        if _is_property(arg):
            _name, q = _queryable(arg, ("timestamp",), "a temporal function")
            column = self._sql(q)
            return column, column
        if isinstance(arg, dict) and "interval" in arg:
            ends = arg["interval"]
            if not isinstance(ends, list) or len(ends) != 2:
                raise InvalidInput("An INTERVAL has a start and an end.")
            start = self._interval_end(ends[0], first=True)
            end = self._interval_end(ends[1], first=False)
            if isinstance(start, datetime) and isinstance(end, datetime) and start > end:
                raise InvalidInput("An INTERVAL's start is after its end.")
            return start, end
        return _instant_range(arg, "a temporal function")

    def _interval_end(self, value: Any, first: bool) -> Bound:
        if value == "..":
            return LOW if first else HIGH
        if _is_property(value):
            _name, q = _queryable(value, ("timestamp",), "INTERVAL")
            return self._sql(q)
        start, end = _instant_range(value, "INTERVAL")
        return start if first else end


def like_regex(pattern: str) -> re.Pattern[str]:
    """CQL2 ``LIKE``: ``%`` any run, ``_`` one character, ``\\`` escapes; case-sensitive."""
    out, escaped = [], False
    for char in pattern:
        if escaped:
            out.append(re.escape(char))
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "%":
            out.append(".*")
        elif char == "_":
            out.append(".")
        else:
            out.append(re.escape(char))
    return re.compile("".join(out), re.DOTALL)


def _temporal(op: str, a: tuple[Bound, Bound], b: tuple[Bound, Bound]) -> ColumnElement[bool]:
    """CQL2's temporal functions on (start, end) pairs (Allen's interval relations)."""
    (a0, a1), (b0, b1) = a, b
    rules: dict[str, list[tuple[Bound, str, Bound]]] = {
        "t_after": [(a0, ">", b1)],
        "t_before": [(a1, "<", b0)],
        "t_contains": [(a0, "<", b0), (a1, ">", b1)],
        "t_during": [(a0, ">", b0), (a1, "<", b1)],
        "t_equals": [(a0, "=", b0), (a1, "=", b1)],
        "t_finishedby": [(a0, "<", b0), (a1, "=", b1)],
        "t_finishes": [(a0, ">", b0), (a1, "=", b1)],
        "t_intersects": [(a0, "<=", b1), (a1, ">=", b0)],
        "t_meets": [(a1, "=", b0)],
        "t_metby": [(a0, "=", b1)],
        "t_overlappedby": [(a0, ">", b0), (a0, "<", b1), (a1, ">", b1)],
        "t_overlaps": [(a0, "<", b0), (a1, ">", b0), (a1, "<", b1)],
        "t_startedby": [(a0, "=", b0), (a1, ">", b1)],
        "t_starts": [(a0, "=", b0), (a1, "<", b1)],
    }
    if op == "t_disjoint":
        return or_(_bound_compare(a0, ">", b1), _bound_compare(a1, "<", b0))
    return and_(*(_bound_compare(x, o, y) for x, o, y in rules[op]))


_ORDER = {LOW: -1, HIGH: 1}


def _bound_compare(x: Bound, op: str, y: Bound) -> ColumnElement[bool]:
    """``x op y`` where either may be SQL, an instant, or an open end (``..``)."""
    sql_x, sql_y = isinstance(x, ColumnElement), isinstance(y, ColumnElement)
    if not sql_x and not sql_y:
        return sql_true() if _python_compare(x, op, y) else false()
    if sql_x and sql_y:
        return _apply(op, x, y)
    column, other = (x, y) if sql_x else (y, x)
    if not sql_x:
        op = _FLIPPED[op]
    assert isinstance(column, ColumnElement)
    if isinstance(other, datetime):
        return _apply(op, column, _time(other))
    # an open end: column < +inf and column > -inf hold wherever the column is known
    below, above = op in ("<", "<=", "<>"), op in (">", ">=", "<>")
    holds = (other == HIGH and below) or (other == LOW and above)
    return case((column.is_(None), null()), else_=sql_true() if holds else false())


def _python_compare(x: Bound, op: str, y: Bound) -> bool:
    def key(v: Bound) -> tuple[int, datetime]:
        if isinstance(v, str):
            return _ORDER[v], datetime.min.replace(tzinfo=UTC)
        assert isinstance(v, datetime)
        return 0, v

    kx, ky = key(x), key(y)
    return {
        "=": kx == ky,
        "<>": kx != ky,
        "<": kx < ky,
        "<=": kx <= ky,
        ">": kx > ky,
        ">=": kx >= ky,
    }[op]


def _compare_day(
    op: str, column: ColumnElement[Any], start: datetime, end: datetime
) -> ColumnElement[bool]:
    """A timestamp against a DATE: the whole day (``=`` is within it, ``<`` before it ...)."""
    lo, hi = _time(start), _time(end)
    return {
        "=": and_(column >= lo, column <= hi),
        "<>": or_(column < lo, column > hi),
        "<": column < lo,
        "<=": column <= hi,
        ">": column > hi,
        ">=": column >= lo,
    }[op]


def _apply(op: str, left: Any, right: Any) -> ColumnElement[bool]:
    return {
        "=": lambda: left == right,
        "<>": lambda: left != right,
        "<": lambda: left < right,
        "<=": lambda: left <= right,
        ">": lambda: left > right,
        ">=": lambda: left >= right,
    }[op]()


def _time(value: datetime) -> ColumnElement[Any]:
    return literal(value, UTCDateTime())


def _ids_in(ids: Iterable[str]) -> ColumnElement[bool]:
    """``id IN (...)`` with the ids written into the statement: a catalog's worth of ids
    would pass SQLite's limit on bound parameters."""
    return DatasetRow.id.in_(bindparam(None, list(ids), expanding=True, literal_execute=True))


def _instant_range(value: Any, where: str) -> tuple[datetime, datetime]:
    """A TIMESTAMP (or an RFC 3339 string) as (t, t); a DATE as its whole day in UTC."""
    if isinstance(value, dict) and set(value) == {"timestamp"}:
        value = value["timestamp"]
    elif isinstance(value, dict) and set(value) == {"date"}:
        day = value["date"]
        if not isinstance(day, str) or not _DATE.match(day):
            raise InvalidInput(f"Invalid DATE in {where}: {_show(day)}; use YYYY-MM-DD.")
        start = parse_rfc3339(f"{day}T00:00:00Z")
        return start, start + timedelta(days=1) - timedelta(microseconds=1)
    if isinstance(value, str):
        if _DATE.match(value):
            return _instant_range({"date": value}, where)
        instant = parse_rfc3339(value)
        return instant, instant
    shown = _show(value)
    raise InvalidInput(f"{where} compares with TIMESTAMP('...') or DATE('...'), not {shown}.")


def _scalar(kind: str, value: Any, name: str) -> Any:
    if kind == "string":
        if not isinstance(value, str):
            raise InvalidInput(f"{name} compares with text, not {_show(value)}.")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput(f"{name} compares with a number, not {_show(value)}.")
    return float(value)


def _geometry_literal(value: Any, op: str) -> BaseGeometry:
    try:
        if isinstance(value, dict) and set(value) == {"bbox"}:
            return bbox_geometry(parse_bbox(value["bbox"]))
        geometry = parse_geometry(value)
        west, south, east, north = shapely.bounds(geometry)
        if not (-180 <= west <= east <= 180 and -90 <= south <= north <= 90):
            raise InvalidInput("coordinates must be longitude, latitude within the world.")
        return geometry
    except InvalidInput as exc:
        raise InvalidInput(
            f"'{op}' needs a GeoJSON geometry, WKT or BBOX in WGS84: {exc}"
        ) from None
    except (TypeError, ValueError):
        raise InvalidInput(f"'{op}' needs a GeoJSON geometry, WKT or BBOX in WGS84.") from None


def _queryable(arg: Any, kinds: tuple[str, ...], op: str) -> tuple[str, Queryable]:
    if not _is_property(arg):
        raise InvalidInput(f"'{op}' needs a property here, not {_show(arg)}.")
    name = str(arg["property"])
    try:
        q = lookup(name)
    except KeyError:
        known = ", ".join(QUERYABLES)
        raise InvalidInput(f"Cannot filter on '{name[:64]}'; queryables: {known}.") from None
    if q.kind not in kinds:
        hint = {
            "geometry": " (use S_INTERSECTS and the other spatial functions)",
            "array": " (use A_CONTAINS, A_OVERLAPS, A_EQUALS or A_CONTAINEDBY)",
        }.get(q.kind, "")
        raise InvalidInput(f"'{op}' does not apply to {name}, a {q.kind}{hint}.")
    return name, q


def _is_property(arg: Any) -> bool:
    return isinstance(arg, dict) and set(arg) == {"property"} and isinstance(arg["property"], str)


def _arity(op: str, args: list[Any], count: int) -> None:
    if len(args) != count:
        raise InvalidInput(f"'{op}' takes {count} argument{'s' if count > 1 else ''}.")


def _show(value: Any) -> str:
    try:
        text = json.dumps(value)
    except (TypeError, ValueError, RecursionError):
        text = type(value).__name__
    return text[:120]
