"""Quota accounting and checks, made before work starts.

* storage: bytes of the files of every dataset the user owns (local data root; remote
  datasets served in place cost nothing), plus the bytes *reserved* by uploads and job outputs
  still being stored. A reservation is checked and recorded in one transaction under a
  per-user lock (SQLite ``BEGIN IMMEDIATE``, PostgreSQL ``SELECT ... FOR UPDATE`` on the
  user's row), so parallel uploads cannot each pass a check made before any of them is stored;
* AI compute: seconds from start to finish of the user's *successful* model and training jobs
  in the current month (queue time excluded, failed jobs free);
* downloads: bytes the download endpoints actually sent in the current month (a range read
  counts its range);
* largest AI task: width x height of the pixels a model run reads.

The month runs from the user's registration day: a user registered on the 31st renews on the
last day of shorter months.
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from tileserver.auth.schemas import QuotaUse, Usage, User
from tileserver.auth.tables import DownloadRow, StorageReservationRow, UserRow
from tileserver.catalog import Catalog
from tileserver.catalog.repository import new_id, utcnow
from tileserver.catalog.tables import DatasetRow
from tileserver.errors import CogsightError, MonthlyQuotaExceeded, NotFoundError, QuotaExceeded
from tileserver.jobs.tables import JobRow
from tileserver.settings import Settings
from tileserver.sources import local_path

GB = 1000**3
MODEL_CARD = "card.json"  # inference.training.card.CARD_FILE, without importing inference
MB = 1000**2
RESERVATION_TTL = dt.timedelta(hours=6)
"""A reservation not renewed for this long belongs to a process that died; it stops counting."""
RESERVE_STEP = 16 * 1024**2
"""A streamed upload's reservation grows this much ahead of its bytes (fewer transactions)."""


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


def storage_used(
    catalog: Catalog, settings: Settings, user_id: str, session: Session | None = None
) -> int:
    """Bytes of the datasets ``user_id`` owns (reservations not included)."""
    total = 0
    query = select(DatasetRow.kind, DatasetRow.uri, DatasetRow.properties).where(
        DatasetRow.owner == user_id
    )
    if session is not None:
        items = [(kind, uri, props or {}) for kind, uri, props in session.execute(query)]
    else:
        with catalog.session() as s:
            items = [(kind, uri, props or {}) for kind, uri, props in s.execute(query)]
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
    return total + models_used(settings, user_id)


def models_used(settings: Settings, user_id: str) -> int:
    """Bytes of the trained models whose card names ``user_id`` as owner (``<data>/models``)."""
    folder = settings.data_dir / "models"
    total = 0
    for card in folder.glob(f"*/{MODEL_CARD}"):
        if card.parent.name.startswith("."):
            continue  # an upload being staged or a model being removed: scratch, not stored
        try:
            owner = json.loads(card.read_text()).get("owner")
            if owner == user_id:
                total += sum(f.stat().st_size for f in card.parent.rglob("*") if f.is_file())
        except (OSError, ValueError, AttributeError):  # a card being written or foreign
            continue
    return total


def storage_reserved(session: Session, user_id: str, *, besides: str | None = None) -> int:
    """Bytes held by ``user_id``'s live reservations (other than ``besides``)."""
    query = select(func.coalesce(func.sum(StorageReservationRow.bytes), 0)).where(
        StorageReservationRow.user_id == user_id, StorageReservationRow.expires > utcnow()
    )
    if besides is not None:
        query = query.where(StorageReservationRow.id != besides)
    return int(session.scalar(query) or 0)


@contextmanager
def _quota_lock(catalog: Catalog, user_id: str) -> Iterator[Session]:
    """A transaction no other process enters for the same user (on SQLite: for any user)
    until it commits, so a check of the quota and the reservation it allows are one step:
    the catalog's write transaction, with the user's row locked on PostgreSQL."""
    with catalog.write_session() as session:
        session.execute(select(UserRow.id).where(UserRow.id == user_id).with_for_update())
        yield session


def _size(n: float) -> str:
    """Bytes in the unit that shows them: GB from 1 GB up (quotas are set in GB), else MB or
    KB, so a small quota's refusal does not read "0.00 GB used, 0.00 GB left"."""
    if abs(n) >= GB:
        return f"{n / GB:.2f} GB"
    return f"{n / MB:.1f} MB" if abs(n) >= MB else f"{n / 1000:.1f} KB"


class StorageReservation:
    """Bytes held against ``user``'s storage quota while something is being stored.

    ``grow`` (a stream of unknown length) and ``settle`` (the final size) each check and
    record in one locked transaction; ``release`` drops the hold once the dataset is recorded
    (it then counts itself) or the work failed. A reservation for no user (single-user mode,
    anonymous) checks nothing.
    """

    def __init__(
        self,
        catalog: Catalog,
        settings: Settings,
        user: User | None,
        what: str,
        noun: str = "this upload",
    ) -> None:
        self.catalog, self.settings, self.user = catalog, settings, user
        self.what, self.noun = what, noun
        self.id = new_id()
        self.bytes = 0

    @property
    def allowed(self) -> int:
        """Bytes the holder may store without asking again."""
        return self.bytes if self.user is not None else 2**63 - 1

    def grow(self, size: int) -> None:
        """Hold at least ``size`` bytes and a step more while the quota has room (a step of at
        most 1/32 of the quota, so one stream does not starve others), or raise
        ``QuotaExceeded``."""
        limit = self.user.quotas.storage_bytes if self.user is not None else 0
        step = min(RESERVE_STEP, max(limit // 32, 64 * 1024))
        self._hold(size, size + step, f"{self.noun} has passed {_size(size)}")

    def settle(self, size: int) -> None:
        """Hold exactly ``size`` bytes, the final size, or raise ``QuotaExceeded``."""
        self._hold(size, size, f"{self.noun} needs {_size(size)}")

    def _hold(self, at_least: int, up_to: int, need: str) -> None:
        user = self.user
        if user is None:
            self.bytes = up_to
            return
        limit = user.quotas.storage_bytes
        with _quota_lock(self.catalog, user.id) as s:
            now = utcnow()
            s.execute(delete(StorageReservationRow).where(StorageReservationRow.expires <= now))
            used = storage_used(self.catalog, self.settings, user.id, session=s)
            held = storage_reserved(s, user.id, besides=self.id)
            left = limit - used - held
            if at_least > left:
                raise QuotaExceeded(_storage_refusal(used, held, limit, need))
            size = min(up_to, left)
            row = s.get(StorageReservationRow, self.id)
            if row is None:
                s.add(
                    StorageReservationRow(
                        id=self.id,
                        user_id=user.id,
                        bytes=size,
                        what=self.what,
                        created=now,
                        expires=now + RESERVATION_TTL,
                    )
                )
            else:
                row.bytes, row.expires = size, now + RESERVATION_TTL
        self.bytes = size

    def release(self) -> None:
        if self.user is None or not self.bytes:
            return
        with self.catalog.session() as s:
            s.execute(delete(StorageReservationRow).where(StorageReservationRow.id == self.id))
        self.bytes = 0


@contextmanager
def reserve_storage(
    catalog: Catalog,
    settings: Settings,
    user: User | None,
    what: str,
    *,
    noun: str = "this upload",
    initial: int = 0,
) -> Iterator[StorageReservation]:
    """A ``StorageReservation`` (holding ``initial`` bytes at once), released when the block
    ends, whether the work succeeded (the dataset now counts itself) or failed."""
    reservation = StorageReservation(catalog, settings, user, what, noun)
    try:
        if initial:
            reservation.settle(initial)
        yield reservation
    finally:
        reservation.release()


def owner_user(catalog: Catalog, settings: Settings, owner: str | None) -> User | None:
    """The user a dataset's ``owner`` id names, or None (no owner, or not a user)."""
    if not owner:
        return None
    from tileserver.auth.store import UserStore

    try:
        return UserStore(catalog, settings).get(owner)
    except NotFoundError:
        return None


def _storage_refusal(used: int, held: int, limit: int, need: str) -> str:
    left = max(0, limit - used - held)
    pending = f" ({_size(held)} of it held by uploads and jobs in progress)" if held else ""
    return (
        f"Storage quota: {_size(used + held)} of {_size(limit)} used{pending}, "
        f"{_size(left)} left; {need}."
    )


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


def check_storage(
    catalog: Catalog, settings: Settings, user: User, incoming: int = 0, noun: str = "this"
) -> None:
    """Refuse at once what cannot fit, or anything when nothing is left (reservations in
    progress count as used). The binding check is the reservation made as bytes are stored."""
    used = storage_used(catalog, settings, user.id)
    with catalog.session() as s:
        held = storage_reserved(s, user.id)
    limit = user.quotas.storage_bytes
    left = limit - used - held
    if incoming > left or left <= 0:
        need = (
            f"{noun} needs {_size(incoming)}" if incoming else f"{noun} needs room for its output"
        )
        raise QuotaExceeded(_storage_refusal(used, held, limit, need))


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


def check_download(
    catalog: Catalog, user: User, size: int | None, now: dt.datetime | None = None
) -> None:
    """Refuse a download of ``size`` bytes the month cannot hold (``None``: a size known only
    once it is sent; refused when nothing is left)."""
    start, end = billing_period(user.created, now or utcnow())
    used = downloads_used(catalog, user.id, start)
    left = user.quotas.download_bytes - used
    if (size is None and left <= 0) or (size is not None and size > left):
        this = "it" if size is None else f"this download is {_size(size)}. It"
        raise MonthlyQuotaExceeded(
            f"Download quota: {_size(used)} of {_size(user.quotas.download_bytes)} used this "
            f"month, {_size(max(0, left))} left; {this} renews on {end.date().isoformat()}."
        )
