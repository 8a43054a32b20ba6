"""A deleted raster's file is closed by every tile-serving thread that kept it open, so its
disk space is freed rather than held by an open handle until the thread's LRU drops it."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin

from tileserver.auth.schemas import Principal
from tileserver.catalog import Catalog
from tileserver.ingest import register_raster
from tileserver.manage import delete_dataset
from tileserver.settings import Settings
from tileserver.sources import local_path
from tileserver.tiling.reader import shared_handle


def _scene(path: Path, seed: int) -> Path:
    data = np.random.default_rng(seed).integers(1, 9000, (1, 64, 64), dtype="uint16")
    profile = dict(driver="GTiff", width=64, height=64, count=1, dtype="uint16")
    transform = from_origin(200000, 3400000, 10, 10)
    with rasterio.open(path, "w", crs="EPSG:32650", transform=transform, **profile) as dst:
        dst.write(data)
    return path


def _open_deleted_files() -> set[str]:
    """Files this process holds open that no longer exist (Linux marks them ``(deleted)``)."""
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.endswith(" (deleted)"):
            found.add(target.removesuffix(" (deleted)"))
    return found


def test_deleting_a_raster_closes_every_threads_handle(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    settings.data_dir.mkdir()
    catalog = Catalog(settings.resolved_database_url)
    doomed = register_raster(catalog, settings, _scene(tmp_path / "a.tif", 1))
    kept = register_raster(catalog, settings, _scene(tmp_path / "b.tif", 2))
    doomed_path = str(local_path(doomed.uri, settings))
    kept_path = str(local_path(kept.uri, settings))

    opened, deleted, handles = threading.Barrier(3), threading.Event(), {}

    def serve(name: str) -> None:
        """A request thread: reads the doomed file, then (after the delete) another one."""
        handles[name] = shared_handle(doomed_path)
        assert handles[name].read(1, window=((0, 1), (0, 1))).shape == (1, 1)
        opened.wait()
        deleted.wait()
        shared_handle(kept_path)  # its next read, of anything

    threads = [threading.Thread(target=serve, args=(f"t{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    opened.wait()
    delete_dataset(catalog, settings, Principal(single_user=True), doomed.id)
    assert not Path(doomed_path).exists()
    deleted.set()
    for thread in threads:
        thread.join(timeout=30)

    assert [h.closed for h in handles.values()] == [True, True]
    assert not any(Path(p).name == Path(doomed_path).name for p in _open_deleted_files())
    assert Path(kept_path).is_file()
