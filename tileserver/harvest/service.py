"""One harvest, start to end: the function the CLI and ``POST /harvests`` both call.

Reads batches from the source (``read_api`` / ``read_static`` / ``read_file``; remote ones one
batch ahead: ``prefetch``), registers each with ``scenes.register.register_items`` (one transaction
per batch, idempotent by source and item key, ``source_hash`` deciding unchanged / updated),
then records the batch's counts, refusals and cursor on the run. Running the same source +
search again continues an unfinished run from its cursor, or starts a new run whose unchanged
items cost no write.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from tileserver.catalog import Catalog
from tileserver.errors import CogsightError, InvalidInput
from tileserver.harvest.batches import Batch
from tileserver.harvest.options import HarvestOptions, run_key
from tileserver.harvest.prefetch import prefetch
from tileserver.harvest.read_api import TIMEOUT_S, read_api
from tileserver.harvest.read_file import read_file
from tileserver.harvest.read_static import read_static
from tileserver.harvest.runs import HarvestRun, Refusal, RunStore
from tileserver.harvest.sources import Source, resolve
from tileserver.harvest.tables import HarvestRunRow
from tileserver.settings import Settings

logger = logging.getLogger("cogsight.harvest")

Progress = Callable[[HarvestRun], None]
BEAT_SECONDS = 15.0


@contextmanager
def _beating(store: RunStore, run_id: str) -> Iterator[None]:
    """A thread refreshing the run's heartbeat while the block runs."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(BEAT_SECONDS):
            try:
                store.beat(run_id)
            except Exception:  # a missed beat is retried; the run itself reports errors
                logger.warning("harvest %s: heartbeat failed", run_id)

    thread = threading.Thread(target=beat, name=f"harvest-beat-{run_id[:8]}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def batches(
    source: Source, options: HarvestOptions, cursor: dict[str, Any] | None, timeout: float
) -> Iterator[Batch]:
    if source.kind == "api":
        return read_api(source, options, cursor, timeout=timeout)
    if source.kind == "static":
        return read_static(source, options, cursor)
    return read_file(source, options, cursor)


def prepare(
    catalog: Catalog,
    settings: Settings,
    source_name: str,
    options: HarvestOptions,
    *,
    owner: str | None = None,
    configured_only: bool = False,
) -> HarvestRun:
    """The run for this source + search: the unfinished one to continue, or a new one."""
    source = resolve(settings, source_name, configured_only=configured_only)
    store = RunStore(catalog)
    key = run_key(source.label, options)
    found = store.unfinished(key)
    if found is not None:
        return store.get(found.id)
    return store.create(
        key=key,
        source=source.label,
        source_kind=source.kind,
        source_id=source.source_id,
        params=options.model_dump(exclude_none=True),
        owner=owner,
    )


def run_harvest(
    catalog: Catalog,
    settings: Settings,
    run_id: str,
    *,
    progress: Progress | None = None,
    timeout: float = TIMEOUT_S,
    claimed: bool = False,
    allow_local: bool = False,
) -> HarvestRun:
    """Run (or resume) ``run_id`` to its end (``claimed``: the caller already claimed it;
    ``allow_local``: items may name local files, for the CLI only, never the API).
    Raises the source's error after marking the run failed with it; refused items do not fail
    a run."""
    store = RunStore(catalog)
    row = store.row(run_id)
    options = HarvestOptions.model_validate(row.params)
    source = _source_of(settings, row.source, row.source_id, row.source_kind)
    run = store.get(run_id) if claimed else store.claim(run_id)
    if run.status == "completed":
        return run
    try:
        with _beating(store, run_id):
            _run_batches(catalog, settings, row, source, options, progress, timeout, allow_local)
    except CogsightError as exc:
        store.finish(run_id, "failed", str(exc))
        raise
    except Exception as exc:
        message = f"The harvest stopped on an unexpected error ({type(exc).__name__})."
        logger.exception("harvest %s failed", run_id)
        store.finish(run_id, "failed", message)
        raise
    run = store.finish(run_id, "completed")
    if progress is not None:
        progress(run)
    return run


def _run_batches(
    catalog: Catalog,
    settings: Settings,
    row: HarvestRunRow,
    source: Source,
    options: HarvestOptions,
    progress: Progress | None,
    timeout: float,
    allow_local: bool,
) -> None:
    """Register batch after batch from the run's cursor, recording each on the run."""
    from tileserver.scenes.register import register_items

    store = RunStore(catalog)
    seen = row.seen
    reader = batches(source, options, row.cursor, timeout)
    if options.max_items is not None:
        reader = _up_to(reader, options.max_items - seen)
    # a remote page is a network wait worth overlapping; a local file is parsing that would
    # only contend for the interpreter with registration
    for batch in prefetch(reader) if source.kind != "file" else reader:
        items = batch.items
        rejected = batch.rejected
        if options.max_items is not None:
            room = max(0, options.max_items - seen)
            rejected = rejected[:room]
            items = items[: max(0, room - len(rejected))]
        outcomes = register_items(
            catalog,
            settings,
            items,
            source=source.source_id,
            owner=row.owner,
            visibility=options.visibility,
            allow_local=allow_local,
        )
        counts = {"seen": len(items) + len(rejected), "refused": len(rejected)}
        refusals = [Refusal(item_id=r.item_id, reason=r.reason) for r in rejected]
        collections = {str(i.get("id")): i.get("collection") for i in items}
        for outcome in outcomes:
            counts[outcome.status] = counts.get(outcome.status, 0) + 1
            if outcome.status == "refused":
                refusals.append(
                    Refusal(
                        item_id=outcome.item_id,
                        collection=_text(collections.get(outcome.item_id)),
                        reason=outcome.reason or "refused",
                    )
                )
        seen += counts["seen"]
        full = options.max_items is not None and seen >= options.max_items
        store.record_batch(
            row.id,
            counts=counts,
            refusals=refusals,
            cursor=None if full else batch.cursor,
            total=batch.total,
        )
        if progress is not None:
            progress(store.get(row.id))
        if full:
            return


def harvest(
    catalog: Catalog,
    settings: Settings,
    source_name: str,
    options: HarvestOptions,
    *,
    owner: str | None = None,
    progress: Progress | None = None,
    timeout: float = TIMEOUT_S,
    allow_local: bool = False,
) -> HarvestRun:
    """Harvest ``source_name`` (continuing its unfinished run when there is one)."""
    run = prepare(catalog, settings, source_name, options, owner=owner)
    return run_harvest(
        catalog, settings, run.id, progress=progress, timeout=timeout, allow_local=allow_local
    )


def _up_to(reader: Iterator[Batch], remaining: int) -> Iterator[Batch]:
    """Batches until ``remaining`` entries are read: no page past ``--max-items`` is asked."""
    for batch in reader:
        yield batch
        remaining -= batch.size
        if remaining <= 0:
            return


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _source_of(settings: Settings, label: str, source_id: str | None, kind: str) -> Source:
    """The run's source again, with credentials from the settings (never from the row)."""
    if source_id is not None:
        configured = settings.stac_source(source_id)
        if configured is None:
            raise InvalidInput(f"STAC source '{source_id}' is no longer configured.")
        return resolve(settings, source_id)
    return Source(kind=kind, location=label)  # type: ignore[arg-type]
