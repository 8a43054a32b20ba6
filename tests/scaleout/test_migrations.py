"""Alembic owns the schema: revisions match the tables in code, old data dirs are adopted, and
processes starting together migrate once."""

from __future__ import annotations

import datetime as dt
import fcntl
import threading
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, Table, create_engine, inspect, text
from sqlalchemy.pool import NullPool

from tileserver.catalog import Catalog
from tileserver.catalog.engine import catalog_engine, normalize_url
from tileserver.catalog.migrate import (
    ADVISORY_LOCK_KEY,
    SchemaTooNew,
    alembic_config,
    current_revisions,
    head_revisions,
    include_name,
    target_metadata,
    upgrade,
)
from tileserver.catalog.tables import DatasetRow, MosaicRow
from tileserver.jobs.store import JobStore

V1 = {
    "id",
    "title",
    "kind",
    "uri",
    "crs",
    "west",
    "south",
    "east",
    "north",
    "footprint",
    "datetime",
    "sensor",
    "band_names",
    "dtype",
    "nodata",
    "width",
    "height",
    "resolution",
    "minzoom",
    "maxzoom",
    "reflectance_scale",
    "reflectance_offset",
    "cloud_cover",
    "owner",
    "visibility",
    "properties",
    "created",
}
TABLES = {"datasets", "mosaics", "jobs", "users", "tokens", "downloads", "projects"}


def open_together(database_url: str, count: int = 6) -> list[BaseException]:
    """Open ``count`` catalogs on ``database_url`` at the same instant; what they raised."""
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def open_catalog() -> None:
        try:
            barrier.wait()
            Catalog(database_url)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_catalog) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return errors


def test_revisions_create_exactly_the_tables_in_code(database_url: str) -> None:
    """Fails when a table or column changed without a revision: add one with
    ``python -m tileserver.catalog.migrate revision "what changed"``."""
    engine = catalog_engine(database_url)
    upgrade(engine)
    with engine.connect() as conn:
        opts = {"compare_type": True, "include_name": include_name}
        context = MigrationContext.configure(conn, opts=opts)
        assert compare_metadata(context, target_metadata()) == []
        assert current_revisions(conn) == head_revisions()
    assert set(inspect(engine).get_table_names()) >= TABLES


def test_down_and_up_again(database_url: str) -> None:
    engine = catalog_engine(database_url)
    upgrade(engine)
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "base")
    assert not TABLES & set(inspect(engine).get_table_names())
    upgrade(engine)
    assert set(inspect(engine).get_table_names()) >= TABLES


def test_a_data_dir_from_before_migrations_is_adopted(tmp_path) -> None:
    """A SQLite catalog made by ``create_all`` when cogsight had only datasets and mosaics."""
    path = tmp_path / "catalog.db"
    old = create_engine(f"sqlite:///{path}")
    before = MetaData()  # the two tables as they were then: no columns added by revisions
    Table("datasets", before, *(c.copy() for c in DatasetRow.__table__.columns if c.name in V1))
    MosaicRow.__table__.to_metadata(before)  # type: ignore[attr-defined]
    before.create_all(old)
    with old.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO datasets (id, title, kind, uri, crs, west, south, east, north, "
                "footprint, datetime, sensor, band_names, dtype, nodata, width, height, "
                "resolution, minzoom, maxzoom, visibility, properties, created) VALUES "
                "('abc', 'old scene', 'raster', 'cogs/a.tif', 'EPSG:4326', 0, 0, 1, 1, "
                '\'{"type": "Point", "coordinates": [0, 0]}\', \'2024-05-12 02:30:00.000000\', '
                "'generic', '[\"red\"]', 'uint8', NULL, 10, 10, 0.1, 0, 5, 'public', '{}', "
                "'2024-06-01 00:00:00.000000')"
            )
        )
    old.dispose()

    catalog = Catalog(f"sqlite:///{path}")
    record = catalog.get_dataset("abc")
    assert record.title == "old scene"
    assert record.datetime == dt.datetime(2024, 5, 12, 2, 30, tzinfo=dt.UTC)
    assert set(inspect(catalog.engine).get_table_names()) >= TABLES
    with catalog.engine.connect() as conn:
        assert current_revisions(conn) == head_revisions()
    assert JobStore(catalog).create("index", {}).status == "accepted"  # the new tables work


def test_processes_starting_together_migrate_once(database_url: str) -> None:
    """Six catalogs opened at the same instant on an empty database (threads here; the lock
    is per connection on PostgreSQL and per open file on SQLite, as between processes)."""
    assert open_together(database_url) == []
    with catalog_engine(database_url).connect() as conn:
        versions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    assert set(versions) == set(head_revisions()) and len(versions) == 1


def test_new_sqlite_catalogs_opened_together_all_open(tmp_path: Path) -> None:
    """Switching a new SQLite file to WAL raced: one of several connections opening it together
    could get "database is locked" at once (about one round in 25). Forty rounds of six."""
    for round_ in range(40):
        url = f"sqlite:///{tmp_path / f'catalog-{round_}.db'}"
        assert open_together(url) == [], f"round {round_}"
        with catalog_engine(url).connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_a_migration_waits_for_the_one_under_way(database_url: str) -> None:
    """While another process holds the migration lock, opening the catalog waits for it."""
    engine = catalog_engine(database_url)
    if engine.dialect.name == "postgresql":
        other = create_engine(normalize_url(database_url), poolclass=NullPool)
        holder = other.connect()
        holder.execute(text("SELECT pg_advisory_lock(:k)"), {"k": ADVISORY_LOCK_KEY})
        release = holder.close  # a session lock ends with its connection (no pool here)
    else:
        lock = open(f"{engine.url.database}.migrate-lock", "a")  # noqa: SIM115
        fcntl.flock(lock, fcntl.LOCK_EX)
        release = lock.close
    opened = threading.Thread(target=Catalog, args=(database_url,))
    opened.start()
    opened.join(1.5)
    assert opened.is_alive(), "the catalog did not wait for the lock"
    assert "datasets" not in inspect(engine).get_table_names()
    release()
    opened.join(30)
    assert not opened.is_alive()
    assert set(inspect(engine).get_table_names()) >= TABLES


def test_a_database_from_a_newer_cogsight_is_refused(database_url: str) -> None:
    engine = catalog_engine(database_url)
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(SchemaTooNew, match="9999"):
        Catalog(database_url)
