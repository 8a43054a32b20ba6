"""Catalog reads and writes over SQLAlchemy; no HTTP here, so the CLI and tests reuse it."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

from tileserver.catalog import migrate
from tileserver.catalog.engine import catalog_engine
from tileserver.catalog.schemas import DatasetQuery, DatasetRecord, MosaicRecord
from tileserver.catalog.spatial import bounds_overlap, detect_index
from tileserver.catalog.tables import DatasetRow, MosaicRow
from tileserver.errors import DatasetNotFound, MosaicNotFound


def new_id() -> str:
    """Short, URL-safe, unguessable id (12 hex chars)."""
    return secrets.token_hex(6)


def _with_key(mapping: dict[str, Any] | None, key: str, value: Any) -> dict[str, Any]:
    """A copy of ``mapping`` with ``key`` set to ``value``, or without it when ``value`` is
    empty (a new dict, so SQLAlchemy sees the JSON column change)."""
    out = {k: v for k, v in (mapping or {}).items() if k != key}
    if value:
        out[key] = value
    return out


def _dataset_from_row(row: DatasetRow) -> DatasetRecord:
    data = {c: getattr(row, c) for c in DatasetRecord.model_fields if hasattr(row, c)}
    data["bounds"] = (row.west, row.south, row.east, row.north)
    for key in ("datetime", "created"):
        if data.get(key) is not None and data[key].tzinfo is None:
            data[key] = data[key].replace(tzinfo=UTC)
    return DatasetRecord.model_validate(data)


def _mosaic_from_row(row: MosaicRow) -> MosaicRecord:
    data = {c: getattr(row, c) for c in MosaicRecord.model_fields if hasattr(row, c)}
    data["bounds"] = (row.west, row.south, row.east, row.north)
    if data["created"].tzinfo is None:
        data["created"] = data["created"].replace(tzinfo=UTC)
    return MosaicRecord.model_validate(data)


class Catalog:
    """Datasets and mosaics by id, plus the spatial/temporal queries the API needs."""

    def __init__(self, database_url: str) -> None:
        """Open the database and bring its schema to the newest revision (Alembic; a single
        query when it is already there, so every process and job may do it)."""
        self.engine = catalog_engine(database_url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        migrate.upgrade(self.engine)
        detect_index(self.engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def write_session(self) -> Iterator[Session]:
        """A transaction that reads what it is about to change: SQLite's write lock is taken
        at its start (``BEGIN IMMEDIATE``: nothing is written between its reads and its
        writes); on PostgreSQL the rows read ``with_for_update`` are locked."""
        with self._sessions() as session:
            connection = session.connection()
            if connection.dialect.name == "sqlite":
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    # datasets -------------------------------------------------------------------------------
    def add_dataset(self, record: DatasetRecord) -> DatasetRecord:
        values = record.model_dump(exclude={"bounds"})
        west, south, east, north = record.bounds
        with self.session() as s:
            s.add(DatasetRow(**values, west=west, south=south, east=east, north=north))
        return record

    def add_datasets(self, records: Iterable[DatasetRecord]) -> int:
        """Insert a batch in one transaction (one multi-row statement per chunk; the spatial
        index and collection summaries follow by trigger); how many rows were added."""
        rows = []
        for record in records:
            values = record.model_dump(exclude={"bounds"})
            values["west"], values["south"], values["east"], values["north"] = record.bounds
            rows.append(values)
        if rows:
            with self.session() as s:
                s.execute(insert(DatasetRow), rows)
        return len(rows)

    def get_dataset(self, dataset_id: str) -> DatasetRecord:
        with self.session() as s:
            row = s.get(DatasetRow, dataset_id)
            if row is None:
                raise DatasetNotFound(f"No dataset with id '{dataset_id}'.")
            return _dataset_from_row(row)

    def find_datasets(self, query: DatasetQuery | None = None) -> list[DatasetRecord]:
        query = query or DatasetQuery()
        stmt = select(DatasetRow)
        if query.ids is not None:
            stmt = stmt.where(DatasetRow.id.in_(query.ids))
        if query.kind:
            stmt = stmt.where(DatasetRow.kind == query.kind)
        if query.sensor:
            stmt = stmt.where(DatasetRow.sensor == query.sensor)
        if query.bbox:
            stmt = stmt.where(bounds_overlap(query.bbox))
        if query.datetime_start:
            stmt = stmt.where(DatasetRow.datetime >= query.datetime_start)
        if query.datetime_end:
            stmt = stmt.where(DatasetRow.datetime <= query.datetime_end)
        # NULLS FIRST spelled out: SQLite's default, PostgreSQL's is the opposite.
        stmt = stmt.order_by(DatasetRow.datetime.asc().nulls_first(), DatasetRow.created)
        stmt = stmt.limit(query.limit)
        with self.session() as s:
            rows = [_dataset_from_row(r) for r in s.scalars(stmt)]
        if query.ids is not None:
            order = {i: n for n, i in enumerate(query.ids)}
            rows.sort(key=lambda r: order[r.id])
        return rows

    def update_dataset(
        self,
        dataset_id: str,
        *,
        title: str | None = None,
        visibility: str | None = None,
        description: str | None = None,
        saved_renders: dict[str, Any] | None = None,
        properties: dict[str, Any] | None = None,
    ) -> DatasetRecord:
        """Change what is given (None: unchanged). The description lives in
        ``properties["description"]`` (an empty one removes it), saved renderings in
        ``properties["saved_renders"]`` (replaced whole; empty removes them); ``properties``
        sets those keys (a service's own facts, e.g. a sample set's version)."""
        with self.write_session() as s:
            row = s.get(DatasetRow, dataset_id, with_for_update=True)
            if row is None:
                raise DatasetNotFound(f"No dataset with id '{dataset_id}'.")
            if title is not None:
                row.title = title
            if visibility is not None:
                row.visibility = visibility
            if description is not None:
                row.properties = _with_key(row.properties, "description", description)
            if saved_renders is not None:
                row.properties = _with_key(row.properties, "saved_renders", saved_renders)
            if properties:
                row.properties = {**(row.properties or {}), **properties}
            s.flush()
            return _dataset_from_row(row)

    def delete_dataset(
        self, dataset_id: str, guard: Callable[[Session, DatasetRecord], None] | None = None
    ) -> DatasetRecord:
        """Remove the row; ``guard`` runs first in the same write transaction and may raise
        to refuse (what still uses the dataset cannot appear between its check and the delete
        on SQLite, whose write lock is taken at the start)."""
        with self.write_session() as s:
            row = s.get(DatasetRow, dataset_id, with_for_update=True)
            if row is None:
                raise DatasetNotFound(f"No dataset with id '{dataset_id}'.")
            record = _dataset_from_row(row)
            if guard is not None:
                guard(s, record)
            s.delete(row)
        return record

    # mosaics --------------------------------------------------------------------------------
    def add_mosaic(self, record: MosaicRecord) -> MosaicRecord:
        values = record.model_dump(exclude={"bounds"})
        west, south, east, north = record.bounds
        with self.session() as s:
            s.add(MosaicRow(**values, west=west, south=south, east=east, north=north))
        return record

    def get_mosaic(self, mosaic_id: str) -> MosaicRecord:
        with self.session() as s:
            row = s.get(MosaicRow, mosaic_id)
            if row is None:
                raise MosaicNotFound(f"No mosaic with id '{mosaic_id}'.")
            return _mosaic_from_row(row)

    def update_mosaic(
        self,
        mosaic_id: str,
        *,
        title: str | None = None,
        visibility: str | None = None,
        description: str | None = None,
    ) -> MosaicRecord:
        """Change what is given (None: unchanged). The description is the MosaicJSON
        document's own ``description``; an empty one removes it."""
        with self.write_session() as s:
            row = s.get(MosaicRow, mosaic_id, with_for_update=True)
            if row is None:
                raise MosaicNotFound(f"No mosaic with id '{mosaic_id}'.")
            if title is not None:
                row.title = title
            if visibility is not None:
                row.visibility = visibility
            if description is not None:
                row.mosaicjson = _with_key(row.mosaicjson, "description", description)
            s.flush()
            return _mosaic_from_row(row)

    def delete_mosaic(self, mosaic_id: str) -> MosaicRecord:
        with self.write_session() as s:
            row = s.get(MosaicRow, mosaic_id, with_for_update=True)
            if row is None:
                raise MosaicNotFound(f"No mosaic with id '{mosaic_id}'.")
            record = _mosaic_from_row(row)
            s.delete(row)
        return record

    def mosaics_using(
        self, session: Session, dataset_id: str
    ) -> list[tuple[str, str, str | None, str]]:
        """(id, title, owner, visibility) of the mosaics built over ``dataset_id`` (JSON lists
        have no portable containment query: the id lists are read and searched here)."""
        stmt = select(
            MosaicRow.id,
            MosaicRow.title,
            MosaicRow.owner,
            MosaicRow.visibility,
            MosaicRow.dataset_ids,
        ).order_by(MosaicRow.created)
        return [
            (ident, title, owner, visibility)
            for ident, title, owner, visibility, ids in session.execute(stmt)
            if dataset_id in (ids or [])
        ]

    def list_mosaics(self) -> list[MosaicRecord]:
        with self.session() as s:
            return [
                _mosaic_from_row(r)
                for r in s.scalars(select(MosaicRow).order_by(MosaicRow.created))
            ]


def utcnow() -> datetime:
    return datetime.now(UTC)
