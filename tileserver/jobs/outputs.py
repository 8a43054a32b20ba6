"""Removing the files of a job's outputs whose catalog rows are already gone (a cancelled job,
or an earlier attempt of a re-run job).

The rows leave the catalog in the job's own transaction (``JobStore.dismiss_with_outputs``,
``JobStore.claim``), so readers and quotas stop seeing them at once; the files then go the way
every dataset delete goes (``manage.trash``): a trash entry naming them, then moved and
emptied, so a crash midway leaves an entry the next trash sweep finishes.
"""

from __future__ import annotations

import logging

from tileserver.catalog import DatasetRecord
from tileserver.manage.trash import (
    close_handles,
    delete_lock,
    finish,
    open_entry,
    owned_files,
)
from tileserver.settings import Settings

logger = logging.getLogger("cogsight.jobs")


def remove_outputs(job_id: str, records: list[DatasetRecord], settings: Settings) -> None:
    """The files and stored objects of ``records`` (rows already deleted), via the trash."""
    if not records:
        return
    with delete_lock(settings):
        for record in records:
            close_handles(record, settings)
            manifest = owned_files(record, settings)
            try:
                finish(open_entry(settings, manifest), manifest, settings)
            except Exception:  # the row is gone; the next trash sweep removes what is left
                logger.exception("job %s: output %s waits in the trash", job_id, record.id)
            else:
                logger.info("job %s: removed its output %s", job_id, record.id)
