"""Job state transitions, stored in the catalog database (never only in memory).

Every transition is one conditional UPDATE whose row count says whether it happened, so API
replicas and workers never need a lock of their own. ``attempts`` is the claim token: a run
starts as attempt N+1 only from the state it was submitted in, and its heartbeat, progress,
outputs and final state count only while the row still names that attempt, so a run that the
watchdog replaced (its worker looked dead but was not) can neither publish nor finish.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import ColumnElement, Text, and_, cast, func, or_, select, update
from sqlalchemy.orm import Session

from tileserver.auth.redact import redact, redact_data
from tileserver.catalog import Catalog, DatasetRecord
from tileserver.catalog.repository import _dataset_from_row, new_id, utcnow
from tileserver.catalog.tables import DatasetRow
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


def _run_of(submitted: int) -> ColumnElement[bool]:
    """The job is still the run queued at ``submitted`` attempts: not started yet, or started
    by that run (attempts ``submitted + 1``)."""
    return or_(
        and_(JobRow.status == JobStatus.accepted.value, JobRow.attempts == submitted),
        and_(JobRow.status == JobStatus.running.value, JobRow.attempts == submitted + 1),
    )


def _remove_outputs(session: Session, job_id: str) -> list[DatasetRecord]:
    """In the caller's transaction: delete the rows of the datasets job ``job_id`` published
    (their lineage names it); the records, for their files."""
    removed: list[DatasetRecord] = []
    candidates = select(DatasetRow).where(cast(DatasetRow.properties, Text).like(f"%{job_id}%"))
    for row in session.scalars(candidates):
        lineage = (row.properties or {}).get("lineage") or {}
        if isinstance(lineage, dict) and lineage.get("job") == job_id:
            removed.append(_dataset_from_row(row))
            session.delete(row)
    return removed


class Claim(BaseModel):
    """A run's claim on its job: its attempt, and what earlier attempts published (now gone
    from the catalog; their files are the claimant's to remove)."""

    attempt: int
    earlier_outputs: list[DatasetRecord] = Field(default_factory=list)


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

    def _set(
        self,
        job_id: str,
        only_if: set[JobStatus] | None = None,
        attempt: int | None = None,
        **values: Any,
    ) -> bool:
        """Apply ``values`` when the job is in ``only_if`` (and is run ``attempt``)."""
        if "message" in values:  # an error message may quote a URL with its token
            values["message"] = redact(values["message"])
        stmt = update(JobRow).where(JobRow.id == job_id).values(**values)
        if only_if:
            stmt = stmt.where(JobRow.status.in_([s.value for s in only_if]))
        if attempt is not None:
            stmt = stmt.where(JobRow.attempts == attempt)
        with self.catalog.session() as s:
            return bool(s.execute(stmt).rowcount)  # type: ignore[attr-defined]

    def start(self, job_id: str, submitted: int | None = None) -> int | None:
        """accepted → running as attempt ``submitted + 1``; returns that attempt, or None when
        the job was dismissed, finished or claimed by another run meanwhile. ``submitted`` is
        ``attempts`` when the run was queued (now, when not given); a run Dask repeats after
        losing its worker takes over its own attempt (running, ``submitted + 1``). The claim
        alone: a run that publishes claims with ``claim``, which also clears earlier outputs."""
        if submitted is None:
            submitted = self.get(job_id).attempts
        with self.catalog.session() as s:
            return self._start(s, job_id, submitted)

    def claim(self, job_id: str, submitted: int | None = None) -> Claim | None:
        """``start``, and in the same transaction the datasets an earlier attempt published
        (their lineage names the job) leave the catalog: a run that died after publishing but
        before recording success is re-run from scratch, so the job ends with one set of
        outputs, counted once against its owner's quota. The removed datasets are returned so
        the caller removes their files; None when the run may not start."""
        if submitted is None:
            submitted = self.get(job_id).attempts
        with self.catalog.session() as s:
            attempt = self._start(s, job_id, submitted)
            if attempt is None:
                return None
            return Claim(attempt=attempt, earlier_outputs=_remove_outputs(s, job_id))

    @staticmethod
    def _start(s: Session, job_id: str, submitted: int) -> int | None:
        now = utcnow()
        stmt = (
            update(JobRow)
            .where(JobRow.id == job_id)
            .where(_run_of(submitted))
            .values(
                status=JobStatus.running,
                started=now,
                heartbeat=now,
                attempts=JobRow.attempts + 1,
                message="running",
            )
        )
        if not s.execute(stmt).rowcount:  # type: ignore[attr-defined]
            return None
        return int(s.execute(select(JobRow.attempts).where(JobRow.id == job_id)).scalar_one())

    def beat(self, job_id: str, attempt: int) -> bool:
        """Refresh the heartbeat of run ``attempt``; False once it is no longer the job's run."""
        return self._set(job_id, {JobStatus.running}, attempt, heartbeat=utcnow())

    def progress(
        self, job_id: str, percent: float, message: str, attempt: int | None = None
    ) -> None:
        """Record progress; raise JobDismissed when the job was cancelled (or handed to another
        run) meanwhile."""
        done = self._set(
            job_id,
            {JobStatus.running},
            attempt,
            progress=max(0.0, min(100.0, percent)),
            message=message,
            heartbeat=utcnow(),
        )
        if not done:
            raise JobDismissed("The job was cancelled.")

    @staticmethod
    def may_publish(session: Session, job_id: str, attempt: int) -> bool:
        """In the caller's transaction (the one that inserts an output): True when the job is
        still running as ``attempt``. The UPDATE takes the job row's lock (SQLite: the write
        lock), so a cancel or re-queue commits either wholly before it or wholly after."""
        stmt = (
            update(JobRow)
            .where(JobRow.id == job_id)
            .where(JobRow.status == JobStatus.running.value)
            .where(JobRow.attempts == attempt)
            .values(heartbeat=utcnow())
        )
        return bool(session.execute(stmt).rowcount)  # type: ignore[attr-defined]

    def succeed(self, job_id: str, results: dict[str, Any], attempt: int | None = None) -> None:
        self._set(
            job_id,
            {JobStatus.running},
            attempt,
            status=JobStatus.successful,
            progress=100.0,
            message="done",
            results=results,
            finished=utcnow(),
        )

    def fail(self, job_id: str, reason: str, attempt: int | None = None) -> None:
        self._set(
            job_id,
            {JobStatus.accepted, JobStatus.running} if attempt is None else {JobStatus.running},
            attempt,
            status=JobStatus.failed,
            message=reason[:2000],
            finished=utcnow(),
        )

    def dismiss(self, job_id: str) -> JobRecord:
        return self.dismiss_with_outputs(job_id)[0]

    def dismiss_with_outputs(self, job_id: str) -> tuple[JobRecord, list[DatasetRecord]]:
        """Cancel an unfinished job; the cancel always wins over publishing: in the same
        transaction the datasets it already published (their lineage names it) leave the
        catalog, and are returned so the caller removes their files. Publishing checks the
        job in the transaction that inserts its row (``may_publish``), so no output appears
        after this commits."""
        stmt = (
            update(JobRow)
            .where(JobRow.id == job_id)
            .where(JobRow.status.in_([JobStatus.accepted.value, JobStatus.running.value]))
            .values(status=JobStatus.dismissed, message="cancelled", finished=utcnow())
        )
        removed: list[DatasetRecord] = []
        with self.catalog.session() as s:
            if s.execute(stmt).rowcount:  # type: ignore[attr-defined]
                removed = _remove_outputs(s, job_id)
        return self.get(job_id), removed

    def fail_submitted(self, job_id: str, reason: str, submitted: int) -> None:
        """Fail the job if it is still the run queued at ``submitted`` attempts (not started,
        or started as ``submitted + 1``): a replaced run's task error leaves its successor be."""
        stmt = (
            update(JobRow)
            .where(JobRow.id == job_id)
            .where(_run_of(submitted))
            .values(status=JobStatus.failed, message=redact(reason)[:2000], finished=utcnow())
        )
        with self.catalog.session() as s:
            s.execute(stmt)

    def claim_stale(self, job: JobRecord, cutoff: dt.datetime, max_attempts: int) -> str | None:
        """Take over ``job`` (as read) if its heartbeat is still older than ``cutoff``: a
        running job goes back to ``accepted`` (``"requeued"``), or to ``failed`` with the
        reason once its attempts are used (``"failed"``); an accepted job nobody started gets
        a fresh heartbeat so it is re-submitted once (``"resubmit"``). One conditional UPDATE:
        of two replicas that see the same stale job, exactly one claims it (None for the
        other, and for a job that beat, moved or finished meanwhile)."""
        beat = func.coalesce(JobRow.heartbeat, JobRow.created)
        stmt = (
            update(JobRow)
            .where(JobRow.id == job.id)
            .where(JobRow.status == job.status.value)
            .where(JobRow.attempts == job.attempts)
            .where(beat < cutoff)
        )
        now = utcnow()
        if job.attempts >= max_attempts:
            outcome = "failed"
            stmt = stmt.values(
                status=JobStatus.failed,
                message=(f"Interrupted: its worker stopped responding; {job.attempts} attempts."),
                finished=now,
            )
        elif job.status == JobStatus.running:
            outcome = "requeued"
            stmt = stmt.values(
                status=JobStatus.accepted,
                progress=0.0,
                heartbeat=now,
                message=(
                    f"re-queued: its worker stopped responding (attempt {job.attempts} of "
                    f"{max_attempts})"
                ),
            )
        else:
            outcome = "resubmit"
            stmt = stmt.values(heartbeat=now)
        with self.catalog.session() as s:
            return outcome if s.execute(stmt).rowcount else None  # type: ignore[attr-defined]

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
