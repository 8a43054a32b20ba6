"""Quota accounting and checks, made before work starts.

* storage: bytes of the files of every dataset the user owns (local data root; remote
  datasets served in place cost nothing);
* AI compute: seconds from start to finish of the user's *successful* model and training jobs
  in the current month (queue time excluded, failed jobs free);
* downloads: bytes recorded by download endpoints in the current month;
* largest AI task: width x height of the pixels a model run reads.

The month runs from the user's registration day: a user registered on the 31st renews on the
last day of shorter months.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Callable

from sqlalchemy import func, select

from tileserver.auth.schemas import QuotaUse, Usage, User
from tileserver.auth.tables import DownloadRow
from tileserver.catalog import Catalog
from tileserver.catalog.repository import new_id, utcnow
from tileserver.catalog.tables import DatasetRow
from tileserver.errors import CogsightError, MonthlyQuotaExceeded, NotFoundError, QuotaExceeded
from tileserver.jobs.tables import JobRow
from tileserver.settings import Settings
from tileserver.sources import local_path

GB = 1000**3


def _anniversary(created: dt.datetime, year: int, month: int) -> dt.datetime:
    day = min(created.day, calendar.monthrange(year, month)[1])
    return created.replace(year=year, month=month, day=day)


def billing_period(created: dt.datetime, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The current month of a user registered at ``created``: ``[start, end)``."""
    start = _anniversary(created, now.year, now.month)
    if start > now:
        year, month = (now.year, now.month - 1) if now.month > 1 else (now.year - 1, 12)
        start = _anniversary(created, year, month)
    year, month = (start.year, start.month + 1) if start.month < 12 else (start.year + 1, 1)
    return start, _anniversary(created, year, month)


def storage_used(catalog: Catalog, settings: Settings, user_id: str) -> int:
    total = 0
    with catalog.session() as s:
        owned = s.execute(
            select(DatasetRow.kind, DatasetRow.uri, DatasetRow.properties).where(
                DatasetRow.owner == user_id
            )
        )
        items = [(kind, uri, props or {}) for kind, uri, props in owned]
    for kind, uri, props in items:
        if props.get("size_bytes") is not None:  # recorded when the file was published
            total += int(props["size_bytes"])
            continue
        try:
            path = local_path(uri, settings)
        except CogsightError:  # remote: served in place, not stored here
            continue
        folder = path.parent if kind == "vector" else None
        if folder is not None and folder.is_dir():
            total += sum(f.stat().st_size for f in folder.iterdir() if f.is_file())
        elif path.is_file():
            total += path.stat().st_size
    return total


def compute_used(
    catalog: Catalog, user_id: str, since: dt.datetime, counts: Callable[[str], bool]
) -> int:
    with catalog.session() as s:
        rows = s.execute(
            select(JobRow.process, JobRow.started, JobRow.finished).where(
                JobRow.owner == user_id,
                JobRow.status == "successful",
                JobRow.finished >= since,
            )
        ).all()
    seconds = 0.0
    for process, started, finished in rows:
        if counts(process) and started is not None and finished is not None:
            seconds += (finished - started).total_seconds()
    return round(seconds)


def downloads_used(catalog: Catalog, user_id: str, since: dt.datetime) -> int:
    with catalog.session() as s:
        total = s.scalar(
            select(func.coalesce(func.sum(DownloadRow.bytes), 0)).where(
                DownloadRow.user_id == user_id, DownloadRow.at >= since
            )
        )
    return int(total or 0)


def record_download(catalog: Catalog, user_id: str, dataset_id: str | None, size: int) -> None:
    with catalog.session() as s:
        s.add(
            DownloadRow(
                id=new_id(), user_id=user_id, dataset_id=dataset_id, bytes=size, at=utcnow()
            )
        )


def is_ai_process(process_id: str) -> bool:
    """Model runs and training count as AI compute; plain raster tools do not."""
    if process_id == "train":
        return True
    try:
        from tileserver.processing import PROCESSES
        from tileserver.processing.models import ModelProcess

        return isinstance(PROCESSES.get(process_id), ModelProcess)
    except NotFoundError:
        return False


def usage(
    catalog: Catalog, settings: Settings, user: User, now: dt.datetime | None = None
) -> Usage:
    now = now or utcnow()
    start, end = billing_period(user.created, now)
    q = user.quotas

    def use(used: int, limit: int) -> QuotaUse:
        return QuotaUse(used=used, limit=limit, left=max(0, limit - used))

    return Usage(
        user=user.name,
        period_start=start,
        period_end=end,
        storage_bytes=use(storage_used(catalog, settings, user.id), q.storage_bytes),
        compute_seconds=use(
            compute_used(catalog, user.id, start, is_ai_process), q.compute_seconds
        ),
        download_bytes=use(downloads_used(catalog, user.id, start), q.download_bytes),
        task_pixels_limit=q.task_pixels,
    )


def _gb(n: float) -> str:
    return f"{n / GB:.2f} GB"


def check_storage(catalog: Catalog, settings: Settings, user: User, incoming: int) -> None:
    used = storage_used(catalog, settings, user.id)
    left = user.quotas.storage_bytes - used
    if incoming > left:
        raise QuotaExceeded(
            f"Storage quota: {_gb(used)} of {_gb(user.quotas.storage_bytes)} used, "
            f"{_gb(max(0, left))} left; this needs {_gb(incoming)}."
        )


def check_compute(catalog: Catalog, user: User, now: dt.datetime | None = None) -> None:
    start, end = billing_period(user.created, now or utcnow())
    used = compute_used(catalog, user.id, start, is_ai_process)
    limit = user.quotas.compute_seconds
    if used >= limit:
        raise MonthlyQuotaExceeded(
            f"AI compute quota: {used / 3600:.2f} h of {limit / 3600:.2f} h used this month, "
            f"0 h left; it renews on {end.date().isoformat()}."
        )


def check_task_pixels(user: User, pixels: int) -> None:
    limit = user.quotas.task_pixels
    if pixels > limit:
        raise QuotaExceeded(
            f"Largest AI task quota: this task reads {pixels:,} pixels, the limit is "
            f"{limit:,} (e.g. {int(limit**0.5):,} x {int(limit**0.5):,}); choose a smaller AOI."
        )


def check_download(catalog: Catalog, user: User, size: int, now: dt.datetime | None = None) -> None:
    start, end = billing_period(user.created, now or utcnow())
    used = downloads_used(catalog, user.id, start)
    left = user.quotas.download_bytes - used
    if size > left:
        raise MonthlyQuotaExceeded(
            f"Download quota: {_gb(used)} of {_gb(user.quotas.download_bytes)} used this "
            f"month, {_gb(max(0, left))} left; this download is {_gb(size)}. It renews on "
            f"{end.date().isoformat()}."
        )
