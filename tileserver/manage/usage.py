"""What still needs a dataset: a queued or running job whose inputs name it, or a mosaic built
over it. A delete is refused (409 ``in_use``) while either exists.

A job's inputs are scanned for the id as any string, at any depth: the API already treats every
input string that is a dataset's id as naming that dataset (``routers/processes.py``), and the
scan needs neither the process registry (models may be missing in the CLI) nor a valid form.
The caller is told which jobs and mosaics, by id, when they may see them; others' are counted.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from tileserver.auth.access import can_read, owns
from tileserver.auth.schemas import Principal
from tileserver.catalog import Catalog, DatasetRecord
from tileserver.errors import InUse, name_few
from tileserver.jobs.store import JobStatus
from tileserver.jobs.tables import JobRow

PENDING = (JobStatus.accepted.value, JobStatus.running.value)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def jobs_using(session: Session, dataset_id: str) -> list[tuple[str, str, str | None]]:
    """(id, status, owner) of the queued or running jobs whose inputs name ``dataset_id``."""
    stmt = (
        select(JobRow.id, JobRow.status, JobRow.owner, JobRow.inputs)
        .where(JobRow.status.in_(PENDING))
        .order_by(JobRow.created)
    )
    return [
        (ident, status, owner)
        for ident, status, owner, inputs in session.execute(stmt)
        if any(text == dataset_id for text in _strings(inputs))
    ]


def _them(n: int) -> str:
    return "it" if n == 1 else "them"


def _jobs_message(
    record: DatasetRecord, jobs: list[tuple[str, str, str | None]], principal: Principal
) -> str:
    shown = [f"{ident} ({status})" for ident, status, owner in jobs if owns(principal, owner)]
    hidden = len(jobs) - len(shown)
    parts = []
    if shown:
        parts.append(f"{'job' if len(shown) == 1 else 'jobs'} {name_few(shown, 3)}")
    if hidden:
        parts.append(f"{hidden} {'job' if hidden == 1 else 'jobs'} of other users")
    if hidden:
        then = "try again when " + ("it has" if len(jobs) == 1 else "they have") + " finished"
    else:
        then = f"cancel {_them(len(shown))} first"
    return f"Dataset {record.id} is used by {' and '.join(parts)}; {then}."


class _Mosaic(NamedTuple):
    """Just enough of a mosaic for the visibility rule."""

    id: str
    owner: str | None
    visibility: str


def _mosaics_message(
    record: DatasetRecord,
    mosaics: list[tuple[str, str, str | None, str]],
    principal: Principal,
    anonymous_read: bool,
) -> str:
    found = [_Mosaic(ident, owner, visibility) for ident, _title, owner, visibility in mosaics]
    shown = [m.id for m in found if can_read(principal, m, anonymous_read)]
    hidden = len(found) - len(shown)
    parts = []
    if shown:
        parts.append(f"{'mosaic' if len(shown) == 1 else 'mosaics'} {name_few(shown, 3)}")
    if hidden:
        parts.append(f"{hidden} {'mosaic' if hidden == 1 else 'mosaics'} of other users")
    if all(owns(principal, m.owner) for m in found):
        then = f"delete {_them(len(found))} first"
    else:  # some are their owners' to delete
        then = ("it" if len(found) == 1 else "they") + " must be deleted first"
    return f"Dataset {record.id} is used by {' and '.join(parts)}; {then}."


def refuse_if_used(
    session: Session,
    catalog: Catalog,
    record: DatasetRecord,
    principal: Principal,
    anonymous_read: bool = True,
) -> None:
    """``InUse`` (409) naming the jobs, then the mosaics, that still need ``record``."""
    jobs = jobs_using(session, record.id)
    if jobs:
        raise InUse(_jobs_message(record, jobs, principal))
    mosaics = catalog.mosaics_using(session, record.id)
    if mosaics:
        raise InUse(_mosaics_message(record, mosaics, principal, anonymous_read))
