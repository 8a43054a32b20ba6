"""Column types that make SQLite and PostgreSQL store and return the same values.

SQLite keeps a datetime as text without its offset and turns a float NaN into NULL; PostgreSQL
keeps the instant (``timestamptz``) and stores NaN as NaN. Without these two types a dataset
registered at ``10:00+02:00`` would read back as ``10:00Z`` on SQLite and ``08:00Z`` on
PostgreSQL, and an index output (nodata NaN) would answer ``null`` from one and ``NaN`` (which
JSON cannot carry) from the other.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from sqlalchemy import DateTime, Dialect, Float
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[dt.datetime]):
    """An aware datetime stored as UTC and always returned aware, in UTC.

    Naive values are taken as UTC (what the catalog has always assumed for them).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return _as_utc(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return _as_utc(value)


class NaNAsNull(TypeDecorator[float]):
    """A nullable float where NaN is stored as NULL, as SQLite has always done by itself."""

    impl = Float
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if isinstance(value, float) and math.isnan(value):
            return None
        return value


def _as_utc(value: Any) -> Any:
    """A datetime in UTC (a naive one is taken to be UTC already); anything else as it is."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)
    return value
