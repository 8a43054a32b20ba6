"""Harvest runs in the catalog database: create, claim, record a batch, finish, fail, read.

``record_batch`` writes a batch's counts, refusals and the cursor after it in one transaction,
so a run's cursor never gets ahead of what was counted; registration commits first, and a
batch registered but not recorded (a kill in between) is registered again on resume, where
its items are unchanged (no write, no duplicate).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import func, or_, select, update

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


def _status(row: HarvestRunRow, now: dt.datetime) -> Status:
    """``running`` whose process stopped beating is ``interrupted`` (resumable)."""
    if row.status == "running" and (row.heartbeat is None or now - row.heartbeat > STALE_AFTER):
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
        """Mark the run running in this process; refused while another process runs it."""
        now = utcnow()
        with self.catalog.session() as s:
            claimed = s.execute(
                update(HarvestRunRow)
                .where(
                    HarvestRunRow.id == run_id,
                    HarvestRunRow.status != "completed",
                    or_(
                        HarvestRunRow.status != "running",
                        HarvestRunRow.heartbeat.is_(None),
                        HarvestRunRow.heartbeat < now - STALE_AFTER,
                    ),
                )
                .values(status="running", message="", heartbeat=now, started=now, finished=None)
            ).rowcount  # type: ignore[attr-defined]
        if not claimed:
            run = self.get(run_id)
            if run.status == "completed":
                return run
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
