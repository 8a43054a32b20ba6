"""Helpers of the crash-hygiene tests: a data dir with a user, a real server that can be killed
with SIGKILL, and what counts as a leftover."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import numpy as np
import psutil
import rasterio
from rasterio.transform import from_origin

from tests.servers import uvicorn_server
from tileserver.auth.quotas import storage_used
from tileserver.auth.store import UserStore
from tileserver.catalog import Catalog
from tileserver.manage.sweep import LEGACY_BESIDE_DATA
from tileserver.settings import Settings


class World:
    """A data dir with one user (``alice``, a token) and its settings and catalog."""

    def __init__(self, data: Path, **settings: object) -> None:
        self.data = data
        self.settings = Settings(data_dir=data, **settings)  # type: ignore[arg-type]
        data.mkdir(parents=True, exist_ok=True)
        self.catalog = Catalog(self.settings.resolved_database_url)
        store = UserStore(self.catalog, self.settings)
        self.user = store.add("alice")
        self.token = store.create_token("alice")
        self.headers = {"Authorization": f"Bearer {self.token}"}

    def used(self) -> int:
        """alice's storage use, as the quota counts it."""
        return storage_used(self.catalog, self.settings, self.user.id)


def scratch(data: Path) -> list[str]:
    """Every entry of the scratch area."""
    root = data / ".tmp"
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


def leftovers(data: Path) -> list[str]:
    """Scratch entries, plus any temporary name beside the data (what a sweep must leave none
    of once no record owns them)."""
    found = [f".tmp/{name}" for name in scratch(data)]
    for root, dirs, files in os.walk(data):
        here = Path(root)
        if here == data:
            dirs[:] = [d for d in dirs if d not in (".tmp", "trash")]
        found += [
            (here / n).relative_to(data).as_posix()
            for n in (*dirs, *files)
            if LEGACY_BESIDE_DATA.match(n) or re.match(r"^(tmp|tiles-|\.features\.)", n)
        ]
    return found


def data_files(data: Path) -> dict[str, int]:
    """Dataset files and their sizes (no database, no scratch, no empty lock files)."""
    out = {}
    for path in data.rglob("*"):
        rel = path.relative_to(data).as_posix()
        if rel.startswith((".tmp/", "catalog.db")) or path.suffix == ".lock":
            continue
        if path.is_file():
            out[rel] = path.stat().st_size
    return out


def wait_until(check: Callable[[], object], timeout: float = 60, what: str = "") -> object:
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what or check}")


def kill9(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the server and every process it started (its Dask workers), then reap it."""
    try:
        family = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        family = []
    for child in family:
        with suppress(psutil.NoSuchProcess):
            child.send_signal(signal.SIGKILL)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    psutil.wait_procs(family, timeout=30)


@contextmanager
def server(world: World, **env: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A real uvicorn server over the world's data dir (killable: yields its process)."""
    procs: list[subprocess.Popen[bytes]] = []
    environ = {"COGSIGHT_TILE_CACHE_BYTES": "0", **env}
    with uvicorn_server(world.data, env=environ, procs=procs) as url:
        yield url, procs[0]


def write_striped_tif(path: Path, size: int, count: int = 3) -> Path:
    """A plain striped (non-COG) GeoTIFF of noisy uint16: conversion has work to do."""
    rng = np.random.default_rng(7)
    profile = dict(
        driver="GTiff", width=size, height=size, count=count, dtype="uint16",
        crs="EPSG:32650", transform=from_origin(250000, 3400000, 10, 10),
    )  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        for row in range(0, size, 512):
            rows = min(512, size - row)
            block = rng.integers(0, 4000, (count, rows, size), dtype="uint16")
            dst.write(block, window=((row, row + rows), (0, size)))
    return path


def squares_geojson(path: Path, n: int) -> Path:
    """``n`` small squares near Wuhan as GeoJSON."""
    side = int(np.ceil(np.sqrt(n)))
    d = 0.0004
    features = []
    for i in range(n):
        x, y = 114.2 + (i % side) * d * 1.5, 30.4 + (i // side) * d * 1.5
        ring = [[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]]
        features.append(
            {
                "type": "Feature",
                "properties": {"n": i, "name": f"square {i}"},
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        )
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path
