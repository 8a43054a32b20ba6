"""Changes and deletes give the same answers on SQLite and on PostgreSQL (locked reads, JSON
properties and MosaicJSON rewritten, the mosaic and job scans over JSON columns)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tests.scaleout.test_catalog_pg import dataset
from tileserver.auth.schemas import Principal
from tileserver.catalog import Catalog, MosaicRecord
from tileserver.catalog.repository import new_id
from tileserver.errors import DatasetNotFound, InUse, MosaicNotFound
from tileserver.jobs.store import JobStore
from tileserver.manage import Changes, change_dataset, change_mosaic, delete_dataset, delete_mosaic
from tileserver.settings import Settings

ADMIN = Principal(single_user=True)


@pytest.fixture
def place(database_url: str, tmp_path: Path) -> tuple[Catalog, Settings]:
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url)
    settings.data_dir.mkdir()
    return Catalog(database_url), settings


def _mosaic(ids: list[str]) -> MosaicRecord:
    return MosaicRecord(
        id=new_id(),
        title="m",
        dataset_ids=ids,
        band_names=["red"],
        bounds=(113.9, 30.4, 114.1, 30.7),
        minzoom=8,
        maxzoom=14,
        quadkey_zoom=9,
        mosaicjson={"mosaicjson": "0.0.3", "tiles": {}},
        created=dt.datetime.now(dt.UTC),
    )


def test_changes_on_both_backends(place: tuple[Catalog, Settings]) -> None:
    catalog, settings = place
    record = catalog.add_dataset(dataset("a", (114.0, 30.5, 114.1, 30.6), properties={"k": 1}))
    changes = Changes(title="Renamed", description="Text.", visibility="private")
    out = change_dataset(catalog, settings, ADMIN, record.id, changes)
    assert (out.title, out.visibility, out.properties) == (
        "Renamed",
        "private",
        {"k": 1, "description": "Text."},
    )
    assert catalog.get_dataset(record.id) == out
    cleared = change_dataset(catalog, settings, ADMIN, record.id, Changes(description=""))
    assert cleared.properties == {"k": 1} and cleared.title == "Renamed"

    mosaic = catalog.add_mosaic(_mosaic([record.id]))
    changed = change_mosaic(catalog, settings, ADMIN, mosaic.id, changes)
    assert (changed.title, changed.visibility, changed.mosaicjson) == (
        "Renamed",
        "private",
        {"mosaicjson": "0.0.3", "tiles": {}, "description": "Text."},
    )
    assert catalog.get_mosaic(mosaic.id) == changed


def test_deletes_on_both_backends(place: tuple[Catalog, Settings]) -> None:
    catalog, settings = place
    used = catalog.add_dataset(dataset("used", (114.0, 30.5, 114.1, 30.6)))
    other = catalog.add_dataset(dataset("other", (114.0, 30.5, 114.1, 30.6)))
    cog = settings.data_dir / used.uri
    cog.parent.mkdir(parents=True)
    cog.write_bytes(b"II*\x00")
    mosaics = [catalog.add_mosaic(_mosaic([other.id, used.id])) for _ in range(2)]
    catalog.add_mosaic(_mosaic([other.id]))
    with pytest.raises(InUse, match=f"used by mosaics {mosaics[0].id}, {mosaics[1].id};"):
        delete_dataset(catalog, settings, ADMIN, used.id)
    for mosaic in mosaics:
        delete_mosaic(catalog, settings, ADMIN, mosaic.id)
    with pytest.raises(MosaicNotFound):
        catalog.get_mosaic(mosaics[0].id)

    jobs = JobStore(catalog)
    job = jobs.create("clip", {"dataset": used.id, "bbox": [0, 0, 1, 1]})
    with pytest.raises(InUse, match=f"used by job {job.id} \\(accepted\\)"):
        delete_dataset(catalog, settings, ADMIN, used.id)
    jobs.dismiss(job.id)

    assert delete_dataset(catalog, settings, ADMIN, used.id).id == used.id
    with pytest.raises(DatasetNotFound):
        catalog.get_dataset(used.id)
    assert not cog.exists()
    assert catalog.get_dataset(other.id) == other
