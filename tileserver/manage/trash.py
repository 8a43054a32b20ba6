"""The trash folder: how a dataset is deleted so that a crash at any moment leaves it whole or
gone, and whatever a crash left is swept.

A delete (``manage.delete.delete_dataset``) runs these steps, each one safe to die after:

1. ``manifest``: ``<data>/trash/<id>.<nonce>/manifest.json`` is written atomically, naming the
   dataset and every local file or folder and every stored object it owns. Nothing else changed:
   a crash here leaves the dataset whole (the sweep drops the manifest).
2. ``row``: the catalog row is removed, in one transaction that first re-checks that no job or
   mosaic uses the dataset. From this commit the dataset is gone for every reader (API, tiles,
   STAC, quota usage); the files left are the sweep's to finish.
3. ``moved:<path>``: each local file or folder is renamed into the entry (atomic, one
   filesystem), so none is ever half-removed where the server looks.
4. ``objects``: objects in this deployment's S3 storage are deleted (idempotent).
5. ``removed``: the entry is removed, its manifest last.

``sweep_trash`` (at start-up and before every delete) finishes or undoes what a dead delete
left: a manifest whose row still exists is a delete that never committed (the manifest goes and
the dataset stays whole); one whose row is gone is finished (steps 3-5). Deletes hold a shared
``flock`` on ``trash/.lock`` for their whole run, and a sweep takes it exclusively without
waiting (skipping the sweep when busy), so it never touches a delete that is still running in
any process on the data folder; the kernel releases a dead process's lock.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from pydantic import BaseModel, Field

from tileserver.catalog import Catalog, DatasetRecord
from tileserver.errors import CogsightError, DatasetNotFound
from tileserver.ingest.thumbnail import thumbnail_path
from tileserver.objectstore import delete_stored, stored_here
from tileserver.settings import Settings
from tileserver.sources import is_remote, local_path
from tileserver.storage import atomic_file, dataset_folder

logger = logging.getLogger("cogsight.trash")

MANIFEST = "manifest.json"
LOCK = ".lock"
Stage = Callable[[str], None]
"""Told the name of each step as it completes (``manifest``, ``row``, ``moved:<path>``,
``objects``, ``removed``); the crash tests stop a delete there with SIGKILL."""


class Manifest(BaseModel):
    """What one delete removes; paths are relative to the data root."""

    id: str
    kind: str
    owner: str | None = None
    local: list[str] = Field(default_factory=list)
    objects: list[str] = Field(default_factory=list)


def trash_root(settings: Settings) -> Path:
    return settings.data_dir / "trash"


def _relative(path: Path, settings: Settings) -> str:
    return str(path.relative_to(settings.data_dir.resolve()))


def owned_files(record: DatasetRecord, settings: Settings) -> Manifest:
    """The files and objects that are this dataset's alone: its COG (and sidecars) or its
    vector folder (FlatGeobuf, PMTiles, edit history, lock), its thumbnail, and its object in
    this deployment's storage. Remote files served in place are not ours to delete."""
    local: list[Path] = []
    objects: list[str] = []
    if is_remote(record.uri):
        if stored_here(record.uri, settings):
            objects.append(record.uri)
    else:
        path = local_path(record.uri, settings)
        folder = dataset_folder(settings, "vectors", record.id).resolve()
        if record.kind == "vector" and path.parent == folder:
            local.append(folder)
        else:
            local.append(path)
            local.extend(path.parent.glob(f"{path.name}.*"))  # .aux.xml, .msk, .ovr
            pmtiles = record.properties.get("pmtiles")
            if record.kind == "vector" and isinstance(pmtiles, str) and not is_remote(pmtiles):
                local.append(local_path(pmtiles, settings))
    local.append(thumbnail_path(settings, record.id).resolve())
    return Manifest(
        id=record.id,
        kind=record.kind,
        owner=record.owner,
        local=list(dict.fromkeys(_relative(p, settings) for p in local)),
        objects=objects,
    )


def close_handles(record: DatasetRecord, settings: Settings) -> None:
    """Close the tile readers' kept-open handles on a deleted raster's local file (each
    thread closes its own when it next reads), so none keeps the file's space in use."""
    if record.kind != "raster" or is_remote(record.uri):
        return
    from tileserver.tiling.reader import release_file

    try:
        release_file(str(local_path(record.uri, settings)))
    except CogsightError:  # a path outside the data root was never opened here
        return


@contextmanager
def _lock(settings: Settings, mode: int) -> Iterator[bool]:
    """``trash/.lock`` held with ``mode``; yields False when a non-blocking lock is busy."""
    root = trash_root(settings)
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, mode)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextmanager
def delete_lock(settings: Settings) -> Iterator[None]:
    """Held by a delete for its whole run (shared: deletes run side by side)."""
    with _lock(settings, fcntl.LOCK_SH):
        yield


def open_entry(settings: Settings, manifest: Manifest) -> Path:
    """Step 1: a new trash entry holding ``manifest`` (written whole or not at all)."""
    entry = trash_root(settings) / f"{manifest.id}.{uuid.uuid4().hex[:8]}"
    entry.mkdir(parents=True)
    with atomic_file(entry / MANIFEST, settings) as tmp:
        tmp.write_text(manifest.model_dump_json())
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
    return entry


def discard_entry(entry: Path) -> None:
    """Undo step 1 (the delete was refused or never committed): nothing was moved yet."""
    shutil.rmtree(entry, ignore_errors=True)


def finish(entry: Path, manifest: Manifest, settings: Settings, stage: Stage | None = None) -> None:
    """Steps 3-5 for a committed delete; safe to repeat after a crash at any point."""
    say = stage or (lambda _name: None)
    for n, relative in enumerate(manifest.local):
        try:
            source = local_path(relative, settings)
        except CogsightError:  # a tampered manifest never reaches outside the data root
            continue
        target = entry / f"{n}-{source.name}"
        if source.exists() and not target.exists():
            _move(source, target, manifest)
            say(f"moved:{relative}")
    for uri in manifest.objects:
        delete_stored(uri, settings)
    say("objects")
    for child in entry.iterdir():
        if child.name != MANIFEST:
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
    (entry / MANIFEST).unlink(missing_ok=True)
    entry.rmdir()
    say("removed")


def _move(source: Path, target: Path, manifest: Manifest) -> None:
    """Rename into the trash; a vector folder waits for an edit in progress to finish."""
    try:
        if manifest.kind == "vector" and source.is_dir():
            from tileserver.vectors.history import edit_lock

            with edit_lock(source):
                os.replace(source, target)
        else:
            os.replace(source, target)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        # a folder mounted from another filesystem: the row is gone and nothing reads these
        # files any more, so they are removed where they are (a crash midway: the sweep goes on)
        if source.is_dir() and not source.is_symlink():
            shutil.rmtree(source)
        else:
            source.unlink(missing_ok=True)


def _read(entry: Path) -> Manifest | None:
    try:
        return Manifest.model_validate(json.loads((entry / MANIFEST).read_text()))
    except (OSError, ValueError):
        return None


def _exists(catalog: Catalog, dataset_id: str) -> bool:
    try:
        catalog.get_dataset(dataset_id)
    except DatasetNotFound:
        return False
    return True


def sweep_trash(catalog: Catalog, settings: Settings) -> list[str]:
    """Finish or undo the deletes a crash interrupted; the ids whose files were removed.
    Does nothing while a delete is running anywhere on this data folder (it sweeps next time)."""
    root = trash_root(settings)
    if not root.is_dir():
        return []
    swept: list[str] = []
    with _lock(settings, fcntl.LOCK_EX | fcntl.LOCK_NB) as held:
        if not held:
            return []
        for entry in sorted(root.iterdir()):
            if entry.name == LOCK or not entry.is_dir():
                continue
            manifest = _read(entry)
            try:
                if manifest is None:  # died before the manifest, or while removing the entry
                    shutil.rmtree(entry)
                elif _exists(catalog, manifest.id):  # the row was never removed: keep it whole
                    discard_entry(entry)
                else:
                    finish(entry, manifest, settings)
                    swept.append(manifest.id)
            except Exception:  # one stuck entry (storage down) must not stop the others
                logger.exception("could not empty the trash entry %s", entry.name)
    if swept:
        logger.info("finished %d interrupted delete(s): %s", len(swept), ", ".join(swept))
    return swept
