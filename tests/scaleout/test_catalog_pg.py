"""The catalog and the job store give the same answers on SQLite and on PostgreSQL.

Every test runs twice (``database_url`` is parametrised over both backends) and asserts
values, so a difference between the backends fails one of the two runs.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest

from tileserver.auth.store import UserStore
from tileserver.catalog import Catalog, DatasetRecord, MosaicRecord
from tileserver.catalog.repository import new_id
from tileserver.catalog.schemas import DatasetQuery
from tileserver.errors import DatasetNotFound, MosaicNotFound
from tileserver.jobs.store import JobDismissed, JobNotFound, JobStatus, JobStore
from tileserver.settings import Settings
from tileserver.stac.params import SearchRequest
from tileserver.stac.search import search_datasets

UTC = dt.UTC
T0 = dt.datetime(2024, 5, 12, 2, 30, 15, 123456, tzinfo=UTC)


def box(west: float, south: float, east: float, north: float) -> dict:
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {"type": "Polygon", "coordinates": [ring]}


def dataset(title: str, bounds: tuple[float, float, float, float], **extra: object):
    values: dict = {
        "id": new_id(),
        "title": title,
        "uri": f"cogs/{title}.tif",
        "crs": "EPSG:32650",
        "bounds": bounds,
        "footprint": box(*bounds),
        "datetime": T0,
        "sensor": "generic",
        "band_names": ["blue", "green", "red", "nir"],
        "dtype": "uint16",
        "nodata": 0.0,
        "width": 768,
        "height": 768,
        "resolution": 10.0,
        "minzoom": 10,
        "maxzoom": 16,
        "created": dt.datetime.now(UTC),
    }
    values.update(extra)
    return DatasetRecord.model_validate(values)


@pytest.fixture
def catalog(database_url: str) -> Catalog:
    return Catalog(database_url)


def test_a_dataset_reads_back_as_written(catalog: Catalog) -> None:
    plus_two = dt.timezone(dt.timedelta(hours=2))
    written = dataset(
        "t" * 700,  # longer than any VARCHAR the schema used to have
        (114.25, 30.5, 114.5, 30.625),
        datetime=dt.datetime(2024, 5, 12, 10, 0, tzinfo=plus_two),
        nodata=float("nan"),
        cloud_cover=12.5,
        reflectance_scale=2.75e-05,
        reflectance_offset=-0.2,
        properties={"z": 1, "a": [1, 2.5, None, "ü"], "nested": {"b": True, "a": {"x": []}}},
        owner="u1",
        visibility="private",
    )
    catalog.add_dataset(written)
    read = catalog.get_dataset(written.id)

    # the instant is kept and comes back in UTC on both backends (SQLite used to drop offsets)
    assert read.datetime == dt.datetime(2024, 5, 12, 8, 0, tzinfo=UTC)
    assert read.datetime is not None and read.datetime.utcoffset() == dt.timedelta(0)
    assert read.created == written.created and read.created.utcoffset() == dt.timedelta(0)
    assert read.nodata is None  # NaN is NULL on both, as SQLite always stored it
    assert list(read.properties) == ["z", "a", "nested"]  # JSON text kept, key order too
    assert read.properties == written.properties
    assert read.footprint == written.footprint
    same = {"datetime", "nodata"}
    assert read.model_dump(exclude=same) == written.model_dump(exclude=same)

    assert catalog.delete_dataset(written.id).id == written.id
    with pytest.raises(DatasetNotFound):
        catalog.get_dataset(written.id)


@pytest.fixture
def scenes(catalog: Catalog) -> dict[str, DatasetRecord]:
    day = dt.timedelta(days=1)
    records = {
        "west": dataset("west", (0.0, 0.0, 10.0, 10.0), datetime=T0, sensor="sentinel-2-l2a"),
        "east": dataset("east", (10.0, 0.0, 20.0, 10.0), datetime=T0 + day),
        "south": dataset("south", (-30.0, -30.0, -20.0, -20.0), datetime=T0 - 30 * day),
        "vector": dataset("vector", (1.0, 1.0, 2.0, 2.0), datetime=None, kind="vector"),
    }
    for record in records.values():
        catalog.add_dataset(record)
        time.sleep(0.002)  # distinct ``created``
    return records


def titles(records: list[DatasetRecord]) -> list[str]:
    return [r.title for r in records]


def test_find_by_bounds_time_sensor_and_ids(catalog: Catalog, scenes: dict) -> None:
    find = catalog.find_datasets
    # no datetime sorts first (SQLite's order, spelled out for PostgreSQL), then by time
    assert titles(find()) == ["vector", "south", "west", "east"]
    # bounds overlap is inclusive: a box touching the shared edge at 10°E finds both sides
    assert titles(find(DatasetQuery(bbox=(5, 5, 10, 6)))) == ["west", "east"]
    assert titles(find(DatasetQuery(bbox=(10.5, 5, 11, 6)))) == ["east"]
    assert titles(find(DatasetQuery(bbox=(-180, -90, 0, 0)))) == ["south", "west"]
    assert titles(find(DatasetQuery(bbox=(30, 30, 40, 40)))) == []
    # times compare as instants, whatever offset the query is written in
    plus_eight = dt.timezone(dt.timedelta(hours=8))
    start = (T0 + dt.timedelta(hours=12)).astimezone(plus_eight)
    assert titles(find(DatasetQuery(datetime_start=start))) == ["east"]
    assert titles(find(DatasetQuery(datetime_start=T0, datetime_end=T0))) == ["west"]
    assert titles(find(DatasetQuery(datetime_end=T0 - dt.timedelta(microseconds=1)))) == ["south"]
    assert titles(find(DatasetQuery(sensor="sentinel-2-l2a"))) == ["west"]
    assert titles(find(DatasetQuery(kind="vector"))) == ["vector"]
    ids = [scenes["east"].id, scenes["vector"].id, scenes["west"].id]
    assert titles(find(DatasetQuery(ids=ids))) == ["east", "vector", "west"]
    assert find(DatasetQuery(ids=[])) == []
    assert titles(find(DatasetQuery(limit=2))) == ["vector", "south"]


def test_stac_search_bounds_time_filter_and_sort(catalog: Catalog, scenes: dict, tmp_path) -> None:
    settings = Settings(data_dir=tmp_path)
    catalog.add_dataset(dataset("cloudy", (12, 2, 13, 3), datetime=T0, cloud_cover=80.0))

    def search(**params: object) -> list[str]:
        page = search_datasets(catalog, SearchRequest.model_validate(params), settings)
        return titles(page.records)

    assert search(bbox=[5, 5, 10, 6], sortby=[{"field": "datetime"}]) == ["west", "east"]
    # "vector" has no acquisition time: no time range finds it
    instant = "2024-05-12T10:30:15.123456+08:00"
    assert sorted(search(datetime=instant)) == ["cloudy", "west"]
    assert search(filter="eo:cloud_cover > 50") == ["cloudy"]
    got = search(sortby=[{"field": "eo:cloud_cover", "direction": "desc"}, {"field": "created"}])
    assert got[0] == "cloudy"  # nulls last on both backends
    assert search(intersects=box(-25, -25, -24, -24)) == ["south"]


def test_stac_cql2_filter_on_both_backends(catalog: Catalog, scenes: dict, tmp_path) -> None:
    """Every kind of queryable the filter compiles to SQL (CASE over CRS strings, JSON
    properties, nullable timestamps, literal id sets) answers the same on both backends."""
    settings = Settings(data_dir=tmp_path)
    s2 = {"platform": "sentinel-2a", "instruments": ["msi"]}
    catalog.add_dataset(dataset("S2x", (40, 40, 41, 41), properties=s2, cloud_cover=5.0))
    catalog.add_dataset(dataset("geo", (50, 40, 51, 41), crs="EPSG:4326", datetime=None))

    def search(text: str) -> list[str]:
        request = SearchRequest.model_validate({"filter": text, "limit": 100})
        return sorted(titles(search_datasets(catalog, request, settings).records))

    assert search("datetime IS NULL") == ["geo", "vector"]
    assert search("T_INTERSECTS(datetime, INTERVAL('2024-05-13T00:00:00Z', '..'))") == ["east"]
    assert search("datetime = DATE('2024-05-12')") == ["S2x", "west"]
    assert search("end_datetime > TIMESTAMP('2024-01-01T00:00:00Z')") == ["geo", "vector"]
    assert search("collection = 'sentinel-2-l2a'") == ["west"]
    assert search("collection = 'vectors'") == ["vector"]
    assert search("gsd = 10 AND proj:epsg = 32650 AND S_INTERSECTS(geometry, BBOX(0,0,45,45))") == [
        "S2x", "east", "west"]  # fmt: skip
    assert search("proj:code = 'EPSG:4326'") == ["geo"]
    assert search("platform = 'sentinel-2a' AND A_CONTAINS(instruments, ('msi'))") == ["S2x"]
    assert search("NOT A_CONTAINS(instruments, ('msi'))") == []  # unknown stays unknown
    assert search("title LIKE 'S2%' OR title LIKE 's2%'") == ["S2x"]
    assert search("eo:cloud_cover BETWEEN 1 AND 10 AND NOT id IN ('x')") == ["S2x"]
    window = SearchRequest(datetime="2020-01-01T00:00:00Z/2020-12-31T00:00:00Z", limit=100)
    assert titles(search_datasets(catalog, window, settings).records) == []  # none dated 2020
    window = SearchRequest(datetime="2030-01-01T00:00:00Z/..", limit=100)
    assert titles(search_datasets(catalog, window, settings).records) == []


def test_mosaics(catalog: Catalog) -> None:
    document = {"mosaicjson": "0.0.3", "tiles": {f"{q:04d}": [f"id{q}"] for q in range(200)}}
    first = MosaicRecord(
        id=new_id(),
        title="m" * 600,
        dataset_ids=["a", "b"],
        band_names=["red", "nir"],
        bounds=(113.9, 30.4, 114.1, 30.7),
        minzoom=8,
        maxzoom=14,
        quadkey_zoom=9,
        mosaicjson=document,
        created=dt.datetime.now(UTC),
    )
    second = first.model_copy(update={"id": new_id(), "created": first.created + dt.timedelta(1)})
    catalog.add_mosaic(second)
    catalog.add_mosaic(first)
    assert catalog.get_mosaic(first.id) == first
    assert [m.id for m in catalog.list_mosaics()] == [first.id, second.id]
    with pytest.raises(MosaicNotFound):
        catalog.get_mosaic("nope")


def test_job_lifecycle(catalog: Catalog) -> None:
    store = JobStore(catalog)
    job = store.create("index", {"dataset": "d1", "index": "NDVI"}, owner="u1")
    assert job.status == JobStatus.accepted and job.attempts == 0 and job.results is None
    assert job.created.utcoffset() == dt.timedelta(0)
    assert store.get(job.id) == job

    assert store.start(job.id)
    running = store.get(job.id)
    assert running.status == JobStatus.running and running.attempts == 1
    assert running.started is not None and running.heartbeat == running.started

    time.sleep(0.01)
    store.progress(job.id, 150.0, "blocks 3/3")  # clamped
    beat = store.get(job.id)
    assert beat.progress == 100.0 and beat.message == "blocks 3/3"
    assert beat.heartbeat is not None and beat.heartbeat > running.heartbeat

    store.requeue(job.id, "re-queued after a server restart")
    requeued = store.get(job.id)
    assert requeued.status == JobStatus.accepted and requeued.progress == 0.0
    assert store.start(job.id) and store.get(job.id).attempts == 2

    results = {"datasets": ["x"], "metrics": {"iou": float("nan"), "f1": 0.5, "n": [1, None]}}
    store.succeed(job.id, results)
    done = store.get(job.id)
    assert done.status == JobStatus.successful and done.progress == 100.0
    # NaN is not JSON: stored as null on both backends (PostgreSQL's json refuses it)
    assert done.results == {"datasets": ["x"], "metrics": {"iou": None, "f1": 0.5, "n": [1, None]}}
    assert done.finished is not None and done.finished >= done.started  # type: ignore[operator]
    store.fail(job.id, "too late")  # a final job does not change
    assert store.get(job.id).status == JobStatus.successful


def test_job_fail_dismiss_recent_and_unfinished(catalog: Catalog) -> None:
    store = JobStore(catalog)
    ids = []
    for n, (process, owner) in enumerate([("index", "u1"), ("clip", "u2"), ("index", None)]):
        ids.append(store.create(process, {"n": n}, owner=owner).id)
        time.sleep(0.002)
    failing, dismissed, waiting = ids

    store.start(failing)
    store.fail(failing, "x" * 5000)
    failed = store.get(failing)
    assert failed.status == JobStatus.failed and len(failed.message) == 2000

    store.start(dismissed)
    assert store.dismiss(dismissed).status == JobStatus.dismissed
    with pytest.raises(JobDismissed):
        store.progress(dismissed, 50, "late")
    assert not store.start(dismissed)

    assert [j.id for j in store.recent()] == [waiting, dismissed, failing]
    assert [j.id for j in store.recent(limit=1)] == [waiting]
    assert [j.id for j in store.recent(process="index")] == [waiting, failing]
    assert [j.id for j in store.recent(owner="u1")] == [failing]
    assert [j.id for j in store.unfinished()] == [waiting]
    with pytest.raises(JobNotFound):
        store.get("missing")


def test_users_and_tokens(catalog: Catalog, tmp_path) -> None:
    users = UserStore(catalog, Settings(data_dir=tmp_path))
    users.add("bob")
    users.add("Alice", is_admin=True, quotas={"storage_bytes": 10})
    token = users.create_token("bob", label="laptop")
    assert [u.name for u in users.list()] == ["Alice", "bob"]  # byte order (C collation)
    authenticated = users.authenticate(token)
    assert authenticated is not None and authenticated.name == "bob"
    assert users.revoke_tokens("bob") == 1
    assert users.authenticate(token) is None
    assert users.get_by_name("Alice").quotas.storage_bytes == 10
