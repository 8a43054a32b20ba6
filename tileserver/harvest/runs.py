"""Harvest runs in the catalog database: create, claim, record a batch, finish, fail, read.

``record_batch`` writes a batch's counts, refusals and the cursor after it in one transaction,
so a run's cursor never gets ahead of what was counted; registration commits first, and a
batch registered but not recorded (a kill in between) is registered again on resume, where
its items are unchanged (no write, no duplicate).
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import uuid
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, func, select, update

from tileserver.catalog import Catalog
from tileserver.catalog.repository import utcnow
from tileserver.errors import AlreadyExists, NotFoundError
from tileserver.harvest.tables import HarvestRefusalRow, HarvestRunRow

Status = Literal["running", "completed", "failed", "interrupted"]
STALE_AFTER = dt.timedelta(seconds=60)  # a running run without a heartbeat for this long died


class Refusal(BaseModel):
    item_id: str
    collection: str | None = None
    reason: str


class HarvestRun(BaseModel):
    """A run as the CLI prints it and ``GET /harvests/{id}`` returns it (no credentials)."""

    id: str
    source: str
    source_kind: str
    params: dict[str, Any]
    status: Status
    message: str = ""
    total: int | None = Field(default=None, description="Items the source said match.")
    seen: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    refused: int = 0
    percent: float | None = None
    created: dt.datetime
    started: dt.datetime | None = None
    finished: dt.datetime | None = None


def this_worker() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _gone(worker: str | None) -> bool:
    """Whether ``worker`` ("host:pid") is a process of this host that no longer exists."""
    if not worker or ":" not in worker:
        return False
    host, pid = worker.rsplit(":", 1)
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _dead(row: HarvestRunRow, now: dt.datetime) -> bool:
    """A ``running`` row whose process stopped: no heartbeat for a while, or gone from here."""
    stale = row.heartbeat is None or now - row.heartbeat > STALE_AFTER
    return row.status == "running" and (stale or _gone(row.worker))


def _status(row: HarvestRunRow, now: dt.datetime) -> Status:
    """``running`` whose process died is ``interrupted`` (resumable)."""
    if _dead(row, now):
        return "interrupted"
    return row.status  # type: ignore[return-value]


def _view(row: HarvestRunRow) -> HarvestRun:
    status = _status(row, utcnow())
    limit = row.params.get("max_items")
    expected = min(x for x in (row.total, limit) if x is not None) if (row.total or limit) else None
    if status == "completed":
        percent: float | None = 100.0
    elif expected:
        percent = round(min(100.0, 100.0 * row.seen / expected), 1)
    else:
        percent = None
    return HarvestRun(
        id=row.id,
        source=row.source,
        source_kind=row.source_kind,
        params=row.params,
        status=status,
        message=row.message,
        total=row.total,
        seen=row.seen,
        added=row.added,
        updated=row.updated,
        unchanged=row.unchanged,
        refused=row.refused,
        percent=percent,
        created=row.created,
        started=row.started,
        finished=row.finished,
    )


def _same(column: Any, value: Any) -> ColumnElement[bool]:
    return column.is_(None) if value is None else column == value


class RunStore:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def create(
        self,
        *,
        key: str,
        source: str,
        source_kind: str,
        source_id: str | None,
        params: dict[str, Any],
        owner: str | None,
    ) -> HarvestRun:
        now = utcnow()
        row = HarvestRunRow(
            id=uuid.uuid4().hex,
            key=key,
            source=source,
            source_kind=source_kind,
            source_id=source_id,
            params=params,
            status="interrupted",  # nothing claims it yet
            message="",
            cursor=None,
            total=None,
            seen=0,
            added=0,
            updated=0,
            unchanged=0,
            refused=0,
            owner=owner,
            created=now,
        )
        with self.catalog.session() as s:
            s.add(row)
            s.flush()
            return _view(row)

    def row(self, run_id: str) -> HarvestRunRow:
        with self.catalog.session() as s:
            row = s.get(HarvestRunRow, run_id)
            if row is None:
                raise NotFoundError(f"Harvest run '{run_id[:64]}' not found.")
            s.expunge(row)
            return row

    def get(self, run_id: str) -> HarvestRun:
        return _view(self.row(run_id))

    def unfinished(self, key: str) -> HarvestRunRow | None:
        """The newest run of this source + search that did not complete (to continue it)."""
        with self.catalog.session() as s:
            row = s.scalars(
                select(HarvestRunRow)
                .where(HarvestRunRow.key == key, HarvestRunRow.status != "completed")
                .order_by(HarvestRunRow.created.desc())
                .limit(1)
            ).first()
            if row is not None:
                s.expunge(row)
            return row

    def claim(self, run_id: str) -> HarvestRun:
        """Mark the run running in this process; refused while a live process runs it."""
        now = utcnow()
        row = self.row(run_id)
        if row.status == "completed":
            return _view(row)
        if row.status == "running" and not _dead(row, now):
            raise AlreadyExists(f"Harvest run '{run_id}' is already running.")
        with self.catalog.session() as s:
            # only if nobody claimed it since it was read (same status, beat and worker)
            claimed = s.execute(
                update(HarvestRunRow)
                .where(
                    HarvestRunRow.id == run_id,
                    HarvestRunRow.status == row.status,
                    _same(HarvestRunRow.heartbeat, row.heartbeat),
                    _same(HarvestRunRow.worker, row.worker),
                )
                .values(
                    status="running",
                    message="",
                    heartbeat=now,
                    started=now,
                    finished=None,
                    worker=this_worker(),
                )
            ).rowcount  # type: ignore[attr-defined]
        if not claimed:
            raise AlreadyExists(f"Harvest run '{run_id}' is already running.")
        return self.get(run_id)

    def record_batch(
        self,
        run_id: str,
        *,
        counts: dict[str, int],
        refusals: list[Refusal],
        cursor: dict[str, Any] | None,
        total: int | None,
    ) -> None:
        now = utcnow()
        with self.catalog.session() as s:
            values: dict[str, Any] = {
                name: getattr(HarvestRunRow, name) + counts.get(name, 0)
                for name in ("seen", "added", "updated", "unchanged", "refused")
            }
            values.update(cursor=cursor, heartbeat=now)
            if total is not None:
                values["total"] = total
            s.execute(update(HarvestRunRow).where(HarvestRunRow.id == run_id).values(**values))
            if refusals:
                s.add_all(
                    HarvestRefusalRow(
                        run_id=run_id, item_id=r.item_id, collection=r.collection, reason=r.reason
                    )
                    for r in refusals
                )

    def beat(self, run_id: str) -> None:
        """Keep a running run's claim fresh (between batches that take long)."""
        with self.catalog.session() as s:
            s.execute(
                update(HarvestRunRow)
                .where(HarvestRunRow.id == run_id, HarvestRunRow.worker == this_worker())
                .values(heartbeat=utcnow())
            )

    def finish(self, run_id: str, status: Status, message: str = "") -> HarvestRun:
        with self.catalog.session() as s:
            s.execute(
                update(HarvestRunRow)
                .where(HarvestRunRow.id == run_id)
                .values(status=status, message=message, finished=utcnow(), heartbeat=utcnow())
            )
        return self.get(run_id)

    def refusals(self, run_id: str, offset: int = 0, limit: int | None = None) -> list[Refusal]:
        with self.catalog.session() as s:
            query = (
                select(HarvestRefusalRow)
                .where(HarvestRefusalRow.run_id == run_id)
                .order_by(HarvestRefusalRow.id)
                .offset(offset)
            )
            if limit is not None:
                query = query.limit(limit)
            return [
                Refusal(item_id=r.item_id, collection=r.collection, reason=r.reason)
                for r in s.scalars(query)
            ]

    def count_refusals(self, run_id: str) -> int:
        with self.catalog.session() as s:
            return int(
                s.scalar(
                    select(func.count())
                    .select_from(HarvestRefusalRow)
                    .where(HarvestRefusalRow.run_id == run_id)
                )
                or 0
            )

    def list(self, limit: int = 50) -> list[HarvestRun]:
        with self.catalog.session() as s:
            rows = s.scalars(
                select(HarvestRunRow).order_by(HarvestRunRow.created.desc()).limit(limit)
            ).all()
            return [_view(r) for r in rows]
