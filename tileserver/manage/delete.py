"""Deleting a dataset or a mosaic: the owner's or an admin's, and only when nothing needs it.

A dataset's delete follows the steps in ``manage.trash`` (manifest, row, files moved to the
trash, stored objects, trash emptied), so a crash at any point leaves the dataset whole or gone
and the next sweep removes what is left. Its files, thumbnail, stored objects, cached record and
tiles, STAC item (built from the row) and quota usage (counted from the rows) all follow. A
mosaic is one row (its MosaicJSON lives in the catalog).
"""

from __future__ import annotations

import logging

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tileserver.auth.access import require_owner
from tileserver.auth.schemas import Principal
from tileserver.catalog import Catalog, DatasetRecord, MosaicRecord
from tileserver.catalog.tables import DatasetRow
from tileserver.ingest.thumbnail import thumbnail_path
from tileserver.manage.caches import Forget
from tileserver.manage.trash import (
    Manifest,
    Stage,
    close_handles,
    delete_lock,
    discard_entry,
    finish,
    open_entry,
    owned_files,
    sweep_trash,
)
from tileserver.manage.usage import refuse_if_used
from tileserver.settings import Settings

logger = logging.getLogger("cogsight.manage")


def _shared(catalog: Catalog, record: DatasetRecord) -> bool:
    """Whether another row names the same file (never made by cogsight; then only the row and
    thumbnail go)."""
    with catalog.session() as s:
        stmt = select(func.count()).where(DatasetRow.uri == record.uri, DatasetRow.id != record.id)
        return bool(s.scalar(stmt))


def _gone(catalog: Catalog, dataset_id: str) -> bool:
    try:
        catalog.get_dataset(dataset_id)
    except Exception:
        return True
    return False


def delete_dataset(
    catalog: Catalog,
    settings: Settings,
    principal: Principal,
    dataset_id: str,
    forget: Forget | None = None,
    stage: Stage | None = None,
) -> DatasetRecord:
    """Delete a dataset the caller owns (or any, for an admin); ``InUse`` (409) while a queued
    or running job or a mosaic needs it. ``stage`` hears each step (tests kill it there)."""
    say = stage or (lambda _name: None)
    sweep_trash(catalog, settings)  # what an earlier, interrupted delete left
    record = catalog.get_dataset(dataset_id)
    require_owner(principal, record, settings.anonymous_read)
    manifest = owned_files(record, settings)
    if _shared(catalog, record):
        thumb = str(
            thumbnail_path(settings, record.id).resolve().relative_to(settings.data_dir.resolve())
        )
        manifest = Manifest(id=record.id, kind=record.kind, owner=record.owner, local=[thumb])

    def guard(session: Session, current: DatasetRecord) -> None:
        refuse_if_used(session, catalog, current, principal, settings.anonymous_read)

    with delete_lock(settings):
        entry = open_entry(settings, manifest)
        say("manifest")
        try:
            catalog.delete_dataset(record.id, guard=guard)
        except BaseException:
            if not _gone(catalog, record.id):  # refused or failed before the commit
                discard_entry(entry)
            raise
        say("row")
        if forget is not None:
            forget("dataset", record.id)
        close_handles(record, settings)
        try:
            finish(entry, manifest, settings, stage)
        except Exception:  # the dataset is gone; the next sweep removes what is left
            logger.exception("dataset %s deleted; its files wait in the trash", record.id)
    return record


def delete_mosaic(
    catalog: Catalog,
    settings: Settings,
    principal: Principal,
    mosaic_id: str,
    forget: Forget | None = None,
) -> MosaicRecord:
    """Delete a mosaic the caller owns (or any, for an admin); its scenes stay."""
    record = catalog.get_mosaic(mosaic_id)
    require_owner(principal, record, settings.anonymous_read, what="Mosaic")
    catalog.delete_mosaic(record.id)
    if forget is not None:
        forget("mosaic", record.id)
    return record
