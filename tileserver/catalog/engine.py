"""SQLAlchemy engines for the catalog database: SQLite by default, PostgreSQL for scale-out.

What differs between the two backends is settled here, once, so the queries elsewhere can stay
plain: PostgreSQL sessions run in UTC (aware datetimes come back as ``+00:00``, as SQLite's do
after ``UTCDateTime``), and JSON is written without NaN, which PostgreSQL's ``json`` refuses
and no JSON client can read back.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import threading
import time
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Engine, make_url

_POSTGRES_DRIVER = "postgresql+psycopg"
_shared: dict[tuple[str, int], Engine] = {}
_shared_lock = threading.Lock()


def normalize_url(url: str) -> URL:
    """``postgres://`` and ``postgresql://`` (what hosting platforms hand out) use psycopg 3,
    the driver cogsight installs; SQLAlchemy would otherwise look for psycopg2."""
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername=_POSTGRES_DRIVER)
    return parsed


def is_postgres(url: str | URL) -> bool:
    return make_url(url).get_backend_name() == "postgresql"


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def json_dumps(value: Any) -> str:
    """``json.dumps`` with NaN and infinities written as ``null`` (on every backend alike)."""
    try:
        return json.dumps(value, allow_nan=False)
    except ValueError:
        return json.dumps(_finite(value), allow_nan=False)


def _enable_wal(cursor: Any, wait_s: float = 30.0) -> None:
    """Switch the database to WAL, which persists in the file, so this is done once per file.

    Switching needs the exclusive lock, and SQLite answers "database is locked" at once rather
    than calling the busy handler when another connection reads the file at that moment (as
    when several processes open a new catalog together): retry until one of them has switched
    it, for as long as a busy write would wait.
    """
    deadline = time.monotonic() + wait_s
    while True:
        try:
            mode = str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower()
            if mode not in ("wal", "memory"):
                cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _sqlite_engine(url: URL) -> Engine:
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": 30},
        json_serializer=json_dumps,
    )

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_conn: Any, _: Any) -> None:
        cur = dbapi_conn.cursor()
        _enable_wal(cur)
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    return engine


def _postgres_engine(url: URL) -> Engine:
    return create_engine(
        url,
        pool_pre_ping=True,
        # No server-side prepared statements: after five runs psycopg would prepare a query,
        # and PostgreSQL's generic plan for it guesses how selective a box or a time range is
        # (it ANDs the spatial index with the whole range of the datetime index, however long
        # the range); each search is planned for its own box and time range instead.
        connect_args={"options": "-c timezone=UTC", "prepare_threshold": None},
        json_serializer=json_dumps,
    )


def catalog_engine(url: str) -> Engine:
    """The engine for ``url``. PostgreSQL engines are shared within a process: every
    ``Catalog(...)`` (one per job on a Dask worker) would otherwise keep a pool of server
    connections open until the server runs out of them. SQLite engines are not shared: they
    are cheap, and a file replaced under a cached engine would keep serving the old one."""
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    key = (parsed.render_as_string(hide_password=False), os.getpid())
    with _shared_lock:
        engine = _shared.get(key)
        if engine is None:
            engine = _shared[key] = (
                _postgres_engine(parsed) if is_postgres(parsed) else create_engine(parsed)
            )
        return engine


def dispose_shared(url: str | None = None) -> None:
    """Close the pooled connections of shared engines (all, or ``url``'s); tests use it
    before dropping a database."""
    with _shared_lock:
        for key in list(_shared):
            if url is None or key[0] == normalize_url(url).render_as_string(hide_password=False):
                _shared.pop(key).dispose()
