"""A delete killed with SIGKILL after each of its steps leaves the dataset whole or gone, never
half; the sweep (at start-up, or before the next delete) then leaves no row without its files,
no files without their row, an empty trash and the owner's storage usage back down."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.catalog_manage.world import geojson_bytes, started, tif_bytes
from tests.conftest import ROOT
from tileserver.auth.quotas import storage_used
from tileserver.auth.schemas import Principal
from tileserver.auth.store import UserStore
from tileserver.catalog import Catalog
from tileserver.errors import DatasetNotFound
from tileserver.http.app import create_app
from tileserver.ingest import register_raster
from tileserver.ingest.thumbnail import thumbnail_path
from tileserver.manage import delete_dataset, sweep_trash
from tileserver.manage.trash import LOCK, trash_root
from tileserver.settings import Settings
from tileserver.sources import local_path
from tileserver.storage import dataset_folder
from tileserver.vectors.register import register_vector

RASTER_STEPS = [
    "manifest",
    "row",
    "moved:cogs/{id}.tif",
    "moved:thumbs/{id}.png",
    "objects",
    "removed",
]
VECTOR_STEPS = ["manifest", "row", "moved:vectors/{id}", "objects", "removed"]


@dataclass
class Place:
    settings: Settings
    catalog: Catalog
    owner: str
    sources: Path

    def raster(self) -> str:
        path = self.sources / "scene.tif"
        path.write_bytes(tif_bytes(3))
        return register_raster(self.catalog, self.settings, path, owner=self.owner).id

    def vector(self) -> str:
        path = self.sources / "zones.geojson"
        path.write_bytes(geojson_bytes())
        return register_vector(self.catalog, self.settings, path, title="z", owner=self.owner).id

    def files(self, ident: str, kind: str) -> list[Path]:
        if kind == "vector":
            return [dataset_folder(self.settings, "vectors", ident)]
        return [
            self.settings.data_dir / "cogs" / f"{ident}.tif",
            thumbnail_path(self.settings, ident),
        ]

    def exists(self, ident: str) -> bool:
        try:
            self.catalog.get_dataset(ident)
        except DatasetNotFound:
            return False
        return True

    def used(self) -> int:
        return storage_used(self.catalog, self.settings, self.owner)

    def trash(self) -> list[str]:
        root = trash_root(self.settings)
        return sorted(p.name for p in root.iterdir() if p.name != LOCK) if root.is_dir() else []

    def orphans(self) -> list[str]:
        """Files without a row, and rows without their files."""
        rows = {r.id: r for r in self.catalog.find_datasets()}
        problems = []
        data = self.settings.data_dir
        for cog in (data / "cogs").glob("*"):
            if cog.stem not in rows:
                problems.append(f"file without row: {cog.name}")
        for thumb in (data / "thumbs").glob("*.png"):
            if thumb.stem not in rows:
                problems.append(f"thumbnail without row: {thumb.name}")
        for folder in (data / "vectors").glob("*"):
            if folder.name not in rows:
                problems.append(f"folder without row: {folder.name}")
        for record in rows.values():
            if not local_path(record.uri, self.settings).is_file():
                problems.append(f"row without file: {record.id}")
        return problems


@pytest.fixture(scope="module")
def place(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Place]:
    data = tmp_path_factory.mktemp("manage-crash")
    settings = Settings(data_dir=data)
    catalog = Catalog(settings.resolved_database_url)
    owner = UserStore(catalog, settings).add("alice").id
    sources = tmp_path_factory.mktemp("manage-crash-sources")
    yield Place(settings, catalog, owner, sources)


def kill_at(settings: Settings, ident: str, stop: int) -> list[str]:
    """Run the delete of ``ident`` in a child process and SIGKILL it after step ``stop``."""
    env = {**os.environ, "COGSIGHT_DATA_DIR": str(settings.data_dir)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.catalog_manage.crash_child", ident, str(stop)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    steps: list[str] = []
    for line in proc.stdout:
        steps.append(line.strip())
        if len(steps) == stop:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, steps
    return steps


def _check(place: Place, kind: str, stop: int) -> None:
    baseline = place.used()
    ident = place.raster() if kind == "raster" else place.vector()
    files = place.files(ident, kind)
    assert all(f.exists() for f in files)
    assert place.used() > baseline
    names = RASTER_STEPS if kind == "raster" else VECTOR_STEPS

    steps = kill_at(place.settings, ident, stop)
    assert steps == [n.format(id=ident) for n in names[:stop]]

    # whole, or gone: before the row's commit all of it is there, after it none is visible
    committed = stop >= names.index("row") + 1
    assert place.exists(ident) is not committed
    if not committed:
        assert all(f.exists() for f in files)

    swept = sweep_trash(place.catalog, place.settings)
    assert place.trash() == []
    assert place.orphans() == []
    if committed:
        assert not any(f.exists() for f in files)
        assert place.used() == baseline
        assert swept == ([ident] if stop < len(names) else [])
    else:
        assert place.exists(ident) and all(f.exists() for f in files)
        # and a delete that runs to the end still works
        delete_dataset(place.catalog, place.settings, Principal(single_user=True), ident)
        assert not any(f.exists() for f in files) and place.used() == baseline


@pytest.mark.parametrize("stop", range(1, len(RASTER_STEPS) + 1), ids=RASTER_STEPS)
def test_a_raster_delete_killed_after_each_step(place: Place, stop: int) -> None:
    _check(place, "raster", stop)


@pytest.mark.parametrize("stop", range(1, len(VECTOR_STEPS) + 1), ids=VECTOR_STEPS)
def test_a_vector_delete_killed_after_each_step(place: Place, stop: int) -> None:
    _check(place, "vector", stop)


def test_the_next_delete_sweeps_what_a_killed_one_left(place: Place) -> None:
    first, second = place.raster(), place.raster()
    kill_at(place.settings, first, 3)  # row gone, the COG in the trash, the thumbnail not
    assert place.trash() != [] and thumbnail_path(place.settings, first).exists()
    delete_dataset(place.catalog, place.settings, Principal(single_user=True), second)
    assert place.trash() == [] and place.orphans() == []
    assert not thumbnail_path(place.settings, first).exists()


def test_the_server_sweeps_at_start_up(place: Place) -> None:
    ident = place.raster()
    kill_at(place.settings, ident, 2)  # the row is gone, every file still in place
    cog = place.settings.data_dir / "cogs" / f"{ident}.tif"
    assert cog.exists() and place.trash() != []
    with TestClient(create_app(place.settings)) as client:
        started()
        assert client.get(f"/datasets/{ident}").status_code in (401, 404)
    assert not cog.exists() and place.trash() == [] and place.orphans() == []
