"""Job state transitions, stored in the catalog database (never only in memory)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Text, cast, select, update

from tileserver.auth.redact import redact, redact_data
from tileserver.catalog import Catalog
from tileserver.catalog.repository import new_id, utcnow
from tileserver.errors import CogsightError, NotFoundError
from tileserver.jobs.tables import JobRow


class JobStatus(StrEnum):
    accepted = "accepted"
    running = "running"
    successful = "successful"
    failed = "failed"
    dismissed = "dismissed"


FINAL = {JobStatus.successful, JobStatus.failed, JobStatus.dismissed}


class JobNotFound(NotFoundError):
    code = "job_not_found"


class JobDismissed(CogsightError):
    """Raised inside a running job when someone cancelled it."""

    code = "dismissed"


class JobRecord(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    process: str
    status: JobStatus
    progress: float
    message: str
    inputs: dict[str, Any]
    results: dict[str, Any] | None
    owner: str | None
    attempts: int
    created: dt.datetime
    started: dt.datetime | None
    finished: dt.datetime | None
    heartbeat: dt.datetime | None


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    return value.replace(tzinfo=dt.UTC) if value and value.tzinfo is None else value


def _record(row: JobRow) -> JobRecord:
    record = JobRecord.model_validate(row)
    for key in ("created", "started", "finished", "heartbeat"):
        setattr(record, key, _aware(getattr(record, key)))
    return record


class JobStore:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def create(self, process: str, inputs: dict[str, Any], owner: str | None = None) -> JobRecord:
        row = JobRow(
            id=new_id(),
            process=process,
            status=JobStatus.accepted,
            progress=0.0,
            message="queued",
            inputs=redact_data(inputs),  # a URL input may carry ?access_token=
            results=None,
            owner=owner,
            attempts=0,
            created=utcnow(),
        )
        with self.catalog.session() as s:
            s.add(row)
            s.flush()
            return _record(row)

    def get(self, job_id: str) -> JobRecord:
        with self.catalog.session() as s:
            row = s.get(JobRow, job_id)
            if row is None:
                raise JobNotFound(f"No job with id '{job_id}'.")
            return _record(row)

    def recent(
        self, limit: int = 100, process: str | None = None, owner: str | None = None
    ) -> list[JobRecord]:
        """Newest first; ``owner`` limits the list to one user's jobs."""
        stmt = select(JobRow).order_by(JobRow.created.desc()).limit(limit)
        if process:
            stmt = stmt.where(JobRow.process == process)
        if owner is not None:
            stmt = stmt.where(JobRow.owner == owner)
        with self.catalog.session() as s:
            return [_record(r) for r in s.scalars(stmt)]

    def _set(self, job_id: str, only_if: set[JobStatus] | None = None, **values: Any) -> bool:
        if "message" in values:  # an error message may quote a URL with its token
            values["message"] = redact(values["message"])
        stmt = update(JobRow).where(JobRow.id == job_id).values(**values)
        if only_if:
            stmt = stmt.where(JobRow.status.in_([s.value for s in only_if]))
        with self.catalog.session() as s:
            return bool(s.execute(stmt).rowcount)  # type: ignore[attr-defined]

    def start(self, job_id: str) -> bool:
        """accepted → running; False when the job was dismissed (or finished) meanwhile."""
        job = self.get(job_id)
        now = utcnow()
        return self._set(
            job_id,
            {JobStatus.accepted, JobStatus.running},
            status=JobStatus.running,
            started=now,
            heartbeat=now,
            attempts=job.attempts + 1,
            message="running",
        )

    def progress(self, job_id: str, percent: float, message: str) -> None:
        """Record progress; raise JobDismissed when the job was cancelled meanwhile."""
        done = self._set(
            job_id,
            {JobStatus.running},
            progress=max(0.0, min(100.0, percent)),
            message=message,
            heartbeat=utcnow(),
        )
        if not done:
            raise JobDismissed("The job was cancelled.")

    def succeed(self, job_id: str, results: dict[str, Any]) -> None:
        self._set(
            job_id,
            {JobStatus.running},
            status=JobStatus.successful,
            progress=100.0,
            message="done",
            results=results,
            finished=utcnow(),
        )

    def fail(self, job_id: str, reason: str) -> None:
        self._set(
            job_id,
            {JobStatus.accepted, JobStatus.running},
            status=JobStatus.failed,
            message=reason[:2000],
            finished=utcnow(),
        )

    def dismiss(self, job_id: str) -> JobRecord:
        job = self.get(job_id)
        if job.status not in FINAL:
            self._set(
                job_id,
                {JobStatus.accepted, JobStatus.running},
                status=JobStatus.dismissed,
                message="cancelled",
                finished=utcnow(),
            )
        return self.get(job_id)

    def requeue(self, job_id: str, reason: str) -> None:
        self._set(
            job_id,
            {JobStatus.running, JobStatus.accepted},
            status=JobStatus.accepted,
            progress=0.0,
            message=reason,
        )

    def owning_file(self, key: str) -> JobRecord | None:
        """The successful job whose results link ``/files/<key>/...`` (its files are as private
        as the job). ``key`` is 16 hex digits (no LIKE wildcards); the match is confirmed on
        the values themselves, not only on the JSON text."""
        prefix = f"/files/{key}/"
        stmt = (
            select(JobRow)
            .where(JobRow.status == JobStatus.successful.value)
            .where(cast(JobRow.results, Text).like(f"%{prefix}%"))
            .order_by(JobRow.created)
        )
        with self.catalog.session() as s:
            for row in s.scalars(stmt):
                values = (row.results or {}).get("values") or {}
                if any(isinstance(v, str) and v.startswith(prefix) for v in values.values()):
                    return _record(row)
        return None

    def unfinished(self) -> list[JobRecord]:
        stmt = select(JobRow).where(
            JobRow.status.in_([JobStatus.accepted.value, JobStatus.running.value])
        )
        with self.catalog.session() as s:
            return [_record(r) for r in s.scalars(stmt)]
