"""Small readers of the catalog for harvest assertions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event, select

from tileserver.catalog import Catalog
from tileserver.catalog.tables import DatasetRow


def registered(catalog: Catalog, source: str | None = None) -> dict[str, DatasetRow]:
    """external id -> row, for the scenes of ``source`` (None: those of no configured source)."""
    with catalog.session() as s:
        where = DatasetRow.source.is_(None) if source is None else DatasetRow.source == source
        rows = s.scalars(select(DatasetRow).where(where, DatasetRow.external_id.is_not(None)))
        out: dict[str, DatasetRow] = {}
        for row in rows:
            s.expunge(row)
            assert row.external_id not in out, f"{row.external_id} registered twice"
            out[str(row.external_id)] = row
        return out


def item_ids(catalog: Catalog, source: str | None = None) -> set[str]:
    return {key.split("/", 1)[1] for key in registered(catalog, source)}


@contextmanager
def dataset_writes(catalog: Catalog) -> Iterator[list[str]]:
    """The INSERT / UPDATE / DELETE statements on ``datasets`` run inside the block."""
    seen: list[str] = []

    def before(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        text = statement.lstrip().upper()
        if text.startswith(("INSERT", "UPDATE", "DELETE")) and " DATASETS" in text:
            seen.append(statement)

    event.listen(catalog.engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(catalog.engine, "before_cursor_execute", before)
