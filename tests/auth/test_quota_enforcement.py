"""Quotas hold against the ways around them: a chunked upload without Content-Length, parallel
uploads racing one check, job outputs, and downloads charged by what they send (a range read
costs its range; vector files and PMTiles archives cost their bytes).

A deployment of its own (creating users ends single-user mode).
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import rasterio
from fastapi.testclient import TestClient
from rasterio.transform import from_origin
from sqlalchemy import func, select

from tests.rasters import utm_geotiff
from tileserver.auth.metering import requested_length
from tileserver.auth.quotas import StorageReservation, reserve_storage, storage_used
from tileserver.auth.store import UserStore
from tileserver.auth.tables import StorageReservationRow
from tileserver.catalog import Catalog
from tileserver.errors import QuotaExceeded
from tileserver.http.app import create_app
from tileserver.settings import Settings

TIFF = "image/tiff"
BOUNDARY = "quota-test-boundary"
GEOJSON = json.dumps(
    {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"class": i},
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [
                        [
                            [114.4 + i * 0.01, 30.55],
                            [114.405 + i * 0.01, 30.55],
                            [114.405 + i * 0.01, 30.555],
                            [114.4 + i * 0.01, 30.555],
                            [114.4 + i * 0.01, 30.55],
                        ]
                    ],
                },
            }
            for i in range(20)
        ],
    }
).encode()


def noise_tif(seed: int, size: int = 256, bands: int = 1) -> bytes:
    """Incompressible pixels: the stored COG is about as large as the upload."""
    data = np.random.default_rng(seed).integers(0, 65535, (bands, size, size)).astype("uint16")
    return utm_geotiff(data, 250000 + 3000 * seed, tiled=True, blockxsize=256, blockysize=256)


def multipart(filename: str, body: bytes, ctype: str = TIFF) -> bytes:
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="{filename}"\r\nContent-Type: {ctype}\r\n\r\n'
    ).encode()
    return head + body + f"\r\n--{BOUNDARY}--\r\n".encode()


def chunked(data: bytes, sent: list[int], chunk: int = 16 * 1024) -> Iterator[bytes]:
    """The body as a generator: httpx sends it chunked, with no Content-Length."""
    for start in range(0, len(data), chunk):
        sent[0] += min(chunk, len(data) - start)
        yield data[start : start + chunk]


class Deployment:
    def __init__(self, client: TestClient, settings: Settings, store: UserStore) -> None:
        self.client, self.settings, self.store = client, settings, store
        self.catalog: Catalog = client.app.state.catalog  # type: ignore[attr-defined]

    def user(self, name: str, **quotas: int) -> tuple[str, dict[str, str]]:
        user = self.store.add(name, quotas=quotas)
        return user.id, {"Authorization": f"Bearer {self.store.create_token(name)}"}

    def stored(self, user_id: str) -> int:
        return storage_used(self.catalog, self.settings, user_id)

    def owned(self, user_id: str) -> list[str]:
        return [d.id for d in self.catalog.find_datasets() if d.owner == user_id]

    def reservations(self) -> int:
        with self.catalog.session() as s:
            return int(s.scalar(select(func.count()).select_from(StorageReservationRow)) or 0)

    def leftovers(self) -> list[Path]:
        scratch = self.settings.data_dir / ".tmp"
        return [p for p in scratch.glob("*") if p.name.startswith(("upload-", "."))]

    def downloaded(self, headers: dict[str, str]) -> int:
        return int(self.client.get("/me/usage", headers=headers).json()["download_bytes"]["used"])


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("quota-data"), tile_cache_bytes=0)
    app = create_app(settings)
    store = UserStore(app.state.catalog, settings)
    store.add("owner")
    with TestClient(app) as client:
        yield Deployment(client, settings, store)


@pytest.fixture(scope="module")
def public_raster(world: Deployment) -> str:
    """A public raster owned by an unlimited user, for others' jobs and downloads."""
    token = world.store.create_token("owner")
    response = world.client.post(
        "/datasets",
        files={"file": ("public.tif", noise_tif(1, bands=4), TIFF)},
        data={"visibility": "public", "bands": "blue,green,red,nir"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


@pytest.fixture(scope="module")
def public_vector(world: Deployment) -> str:
    token = world.store.create_token("owner")
    response = world.client.post(
        "/datasets",
        files={"file": ("zones.geojson", GEOJSON, "application/geo+json")},
        data={"visibility": "public"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


# 1a: a chunked upload is counted as it streams ------------------------------------------------
def test_chunked_upload_without_content_length_is_refused_at_the_quota(world):
    """It used to be checked against Content-Length, 0 when absent: 3x the quota was stored."""
    user_id, headers = world.user("chunky", storage_bytes=60_000)
    body = multipart("big.tif", noise_tif(2))  # about 131 KB
    sent = [0]
    response = world.client.post(
        "/datasets",
        content=chunked(body, sent),
        headers={**headers, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
    )
    assert response.status_code == 403, response.text
    assert response.json()["code"] == "quota_exceeded"
    detail = response.json()["detail"]
    assert detail.startswith("Storage quota: ") and "left; this upload has passed" in detail
    assert world.stored(user_id) == 0 and world.owned(user_id) == []
    assert world.reservations() == 0 and world.leftovers() == []


def test_chunked_upload_within_the_quota_is_stored_and_counted(world):
    user_id, headers = world.user("chunky-ok", storage_bytes=400_000)
    body = multipart("fits.tif", noise_tif(3))
    response = world.client.post(
        "/datasets",
        content=chunked(body, [0]),
        headers={**headers, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
    )
    assert response.status_code == 201, response.text
    stored = world.stored(user_id)
    assert 120_000 < stored <= 400_000
    usage = world.client.get("/me/usage", headers=headers).json()["storage_bytes"]
    assert usage == {"used": stored, "limit": 400_000, "left": 400_000 - stored}
    assert world.reservations() == 0


def test_a_stored_file_larger_than_the_upload_is_checked_at_its_real_size(world):
    """A 13 KB upload (a constant band in zstd strips) is stored as a ~27 KB COG (tiles and
    overviews): the stored size is what counts, checked before the file is stored."""
    user_id, headers = world.user("inflater", storage_bytes=20_000)
    flat = io.BytesIO()
    with rasterio.MemoryFile() as memfile:
        with memfile.open(
            driver="GTiff", width=2048, height=2048, count=1, dtype="uint8",
            crs="EPSG:32650", transform=from_origin(250000, 3385000, 10, 10),
            compress="zstd", zstd_level=22, tiled=False,
        ) as dst:  # fmt: skip
            dst.write(np.full((1, 2048, 2048), 7, "uint8"))
        flat.write(memfile.read())
    assert len(flat.getvalue()) < 15_000
    cogs = set((world.settings.data_dir / "cogs").glob("*"))
    response = world.client.post(
        "/datasets", files={"file": ("flat.tif", flat.getvalue(), TIFF)}, headers=headers
    )
    assert response.status_code == 403, response.text
    assert response.json()["code"] == "quota_exceeded"
    assert "20.0 KB left; this upload needs" in response.json()["detail"]
    assert world.owned(user_id) == [] and world.stored(user_id) == 0
    assert set((world.settings.data_dir / "cogs").glob("*")) == cogs
    assert world.reservations() == 0 and world.leftovers() == []


# 1b: parallel uploads cannot all pass one check -------------------------------------------------
def test_parallel_uploads_never_store_more_than_the_quota(world):
    """Twelve uploads of ~131 KB at once against 400 KB: a check made before any was stored
    used to let them all through."""
    user_id, headers = world.user("racer", storage_bytes=400_000)
    bodies = [noise_tif(10 + i) for i in range(12)]
    barrier = threading.Barrier(len(bodies))
    results: list[tuple[int, dict]] = []

    def upload(body: bytes) -> None:
        barrier.wait()
        r = world.client.post("/datasets", files={"file": ("r.tif", body, TIFF)}, headers=headers)
        results.append((r.status_code, r.json()))

    threads = [threading.Thread(target=upload, args=(b,)) for b in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    accepted = [body for status, body in results if status == 201]
    refused = [body for status, body in results if status != 201]
    assert len(results) == 12 and 1 <= len(accepted) <= 3
    assert all(status in (201, 403) for status, _ in results), results
    assert all(b["code"] == "quota_exceeded" for b in refused)
    assert world.stored(user_id) <= 400_000
    assert sorted(world.owned(user_id)) == sorted(b["id"] for b in accepted)
    assert world.reservations() == 0 and world.leftovers() == []


def test_reservations_are_one_step_under_the_lock(world):
    """Eight threads reserving 30 % each at the same instant: exactly three get theirs."""
    user = world.store.add("reserver", quotas={"storage_bytes": 1_000_000})
    barrier = threading.Barrier(8)
    held: list[StorageReservation] = []
    refused: list[str] = []

    def reserve() -> None:
        r = StorageReservation(world.catalog, world.settings, user, "test")
        barrier.wait()
        try:
            r.settle(300_000)
            held.append(r)
        except QuotaExceeded as exc:
            refused.append(str(exc))

    threads = [threading.Thread(target=reserve) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(held) == 3 and len(refused) == 5
    assert refused[0] == (
        "Storage quota: 900.0 KB of 1.0 MB used (900.0 KB of it held by uploads and jobs in "
        "progress), 100.0 KB left; this upload needs 300.0 KB."
    )
    for r in held:
        r.release()
    assert world.reservations() == 0


@pytest.fixture(params=["sqlite", "postgresql"])
def bare_catalog(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Catalog]:
    """An empty catalog on each backend (the lock differs: BEGIN IMMEDIATE / FOR UPDATE)."""
    if request.param == "sqlite":
        yield Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
        return
    from tests.scaleout.pg import pg_bindir, pg_cluster
    from tileserver.catalog.engine import dispose_shared

    if pg_bindir() is None:
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) not installed")
    with pg_cluster() as cluster:
        url = cluster.database()
        yield Catalog(url)
        dispose_shared(url)


def test_reservations_race_on_both_backends(bare_catalog: Catalog, tmp_path: Path) -> None:
    """Twelve threads, each with its own engine (as separate processes would be), reserving
    25 % of one user's quota at once: exactly four get theirs, on SQLite and PostgreSQL."""
    settings = Settings(data_dir=tmp_path / "data")
    url = bare_catalog.engine.url.render_as_string(hide_password=False)
    user = UserStore(bare_catalog, settings).add("pg-racer", quotas={"storage_bytes": 1_000_000})
    barrier = threading.Barrier(12)
    held: list[StorageReservation] = []
    refused: list[str] = []

    def reserve() -> None:
        catalog = Catalog(url) if bare_catalog.engine.dialect.name == "sqlite" else bare_catalog
        r = StorageReservation(catalog, settings, user, "race")
        barrier.wait()
        try:
            r.settle(250_000)
            held.append(r)
        except QuotaExceeded as exc:
            refused.append(str(exc))

    threads = [threading.Thread(target=reserve) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(held) == 4 and len(refused) == 8, refused[:1]
    with bare_catalog.session() as s:
        total = s.scalar(select(func.sum(StorageReservationRow.bytes)))
    assert total == 1_000_000
    for r in held:
        r.release()


def test_a_dead_process_reservation_expires(world):
    import datetime as dt

    user = world.store.add("crashed", quotas={"storage_bytes": 100_000})
    stale = StorageReservation(world.catalog, world.settings, user, "crashed upload")
    stale.settle(100_000)
    with pytest.raises(QuotaExceeded):
        StorageReservation(world.catalog, world.settings, user, "next").settle(1)
    with world.catalog.session() as s:
        row = s.get(StorageReservationRow, stale.id)
        assert row is not None
        row.expires = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    with reserve_storage(world.catalog, world.settings, user, "next", initial=90_000) as r:
        assert r.bytes == 90_000
    assert world.reservations() == 0  # the stale one was swept, the new one released


# 1c: job and model outputs count ---------------------------------------------------------------
def test_a_job_whose_estimated_output_is_over_the_quota_is_refused_at_submit(world, public_raster):
    """A ``resample`` 4x finer of a 256 px raster is ~2 MB: it used to be stored whatever the
    owner's quota; now its estimate is refused before a job exists."""
    _, headers = world.user("jobber-est", storage_bytes=200_000)
    response = world.client.post(
        "/processes/resample/execution",
        json={"inputs": {"dataset": public_raster, "resolution": 2.5}},
        headers={**headers, "Prefer": "respond-sync"},
    )
    assert response.status_code == 403, response.text
    assert response.json()["code"] == "quota_exceeded"
    assert "this job's output needs" in response.json()["detail"]
    assert world.client.get("/jobs", headers=headers).json()["jobs"] == []


def test_a_job_output_over_the_quota_fails_and_publishes_nothing(world, public_raster, monkeypatch):
    """An output larger than its estimate (the estimate said nothing) is still refused when it
    is published: the job fails with the figures and stores nothing."""
    from tileserver.processing.base import PROCESSES
    from tileserver.processing.estimate import NOTHING

    monkeypatch.setattr(type(PROCESSES.get("resample")), "estimate", lambda *a, **k: NOTHING)
    user_id, headers = world.user("jobber", storage_bytes=200_000)
    cogs = set((world.settings.data_dir / "cogs").glob("*"))
    response = world.client.post(
        "/processes/resample/execution",
        json={"inputs": {"dataset": public_raster, "resolution": 2.5}},
        headers={**headers, "Prefer": "respond-sync"},
    )
    assert response.status_code == 400, response.text
    assert response.json()["detail"].startswith("The job failed: Storage quota: ")
    (job,) = world.client.get("/jobs", headers=headers).json()["jobs"]
    assert job["status"] == "failed", job
    assert job["message"].startswith("Storage quota: ") and "this output needs" in job["message"]
    assert world.owned(user_id) == [] and world.stored(user_id) == 0
    assert set((world.settings.data_dir / "cogs").glob("*")) == cogs
    assert world.reservations() == 0


def test_a_job_output_within_the_quota_is_charged(world, public_raster):
    user_id, headers = world.user("jobber-ok", storage_bytes=5_000_000)
    response = world.client.post(
        "/processes/index/execution",
        json={"inputs": {"dataset": public_raster, "index": "NDVI"}},
        headers={**headers, "Prefer": "respond-sync"},
    )
    assert response.status_code == 200, response.text
    assert world.owned(user_id) == response.json()["datasets"]
    assert 0 < world.stored(user_id) <= 5_000_000


def test_a_job_is_refused_at_submit_when_storage_is_full(world, public_raster):
    _, headers = world.user("full", storage_bytes=0)
    response = world.client.post(
        "/processes/index/execution",
        json={"inputs": {"dataset": public_raster, "index": "NDVI"}},
        headers=headers,
    )
    assert response.status_code == 403, response.text
    assert response.json() == {
        "code": "quota_exceeded",
        "detail": "Storage quota: 0.0 KB of 0.0 KB used, 0.0 KB left; this job's output "
        "needs 262.1 KB.",
    }
    assert world.client.get("/jobs", headers=headers).json()["jobs"] == []


def test_a_vector_output_over_the_quota_is_not_published(world, tmp_path):
    from tileserver.vectors.register import register_vector

    user_id, _ = world.user("vectorer", storage_bytes=1_000)
    source = tmp_path / "polygons.geojson"
    source.write_bytes(GEOJSON)
    vectors = set((world.settings.data_dir / "vectors").glob("*"))
    with pytest.raises(QuotaExceeded, match=r"^Storage quota: .* this output needs"):
        register_vector(world.catalog, world.settings, source, owner=user_id)
    assert world.owned(user_id) == []
    assert set((world.settings.data_dir / "vectors").glob("*")) == vectors
    assert world.reservations() == 0


def test_trained_models_count_to_their_owners_storage(world):
    user_id, _ = world.user("trainer")
    model = world.settings.data_dir / "models" / "my-water"
    model.mkdir(parents=True)
    (model / "card.json").write_text(json.dumps({"name": "my-water", "owner": user_id}))
    (model / "model.pt").write_bytes(b"\0" * 50_000)
    other = world.settings.data_dir / "models" / "theirs"
    other.mkdir()
    (other / "card.json").write_text(json.dumps({"name": "theirs", "owner": "someone"}))
    (other / "model.pt").write_bytes(b"\0" * 70_000)
    expected = 50_000 + (model / "card.json").stat().st_size
    assert world.stored(user_id) == expected


# 2: downloads cost the bytes they send --------------------------------------------------------
def test_a_range_read_costs_its_range(world, public_raster):
    """A GIS client's 100-byte read of a COG used to be charged the whole file."""
    _, headers = world.user("gis")
    url = f"/datasets/{public_raster}/download"
    response = world.client.get(url, headers={**headers, "Range": "bytes=0-99"})
    assert response.status_code == 206 and len(response.content) == 100
    assert world.downloaded(headers) == 100
    tail = world.client.get(url, headers={**headers, "Range": "bytes=-50"})
    assert tail.status_code == 206 and len(tail.content) == 50
    assert world.downloaded(headers) == 150
    whole = world.client.get(url, headers=headers)
    assert world.downloaded(headers) == 150 + len(whole.content)


def test_vector_downloads_and_pmtiles_reads_are_charged(world, public_vector):
    _, headers = world.user("mapper")
    formats = {}
    for fmt in ("geojson", "gpkg", "shapefile"):
        before = world.downloaded(headers)
        r = world.client.get(f"/vectors/{public_vector}/download?format={fmt}", headers=headers)
        assert r.status_code == 200, r.text
        formats[fmt] = world.downloaded(headers) - before
        assert formats[fmt] == len(r.content) > 0, fmt
    before = world.downloaded(headers)
    archive = world.client.get(f"/vectors/{public_vector}.pmtiles", headers=headers)
    assert archive.status_code == 200
    assert world.downloaded(headers) - before == len(archive.content) > 0
    ranged = world.client.get(
        f"/vectors/{public_vector}.pmtiles", headers={**headers, "Range": "bytes=0-126"}
    )
    assert ranged.status_code == 206
    assert world.downloaded(headers) - before == len(archive.content) + 127


def test_an_exhausted_month_refuses_every_download_path(world, public_raster, public_vector):
    _, headers = world.user("thrifty", download_bytes=1_000)
    first = world.client.get(
        f"/datasets/{public_raster}/download", headers={**headers, "Range": "bytes=0-899"}
    )
    assert first.status_code == 206 and world.downloaded(headers) == 900
    exports = set((world.settings.data_dir / ".tmp").glob("export-*"))
    for url, extra in (
        (f"/datasets/{public_raster}/download", {"Range": "bytes=0-199"}),
        (f"/datasets/{public_raster}/download", {}),
        (f"/vectors/{public_vector}/download?format=geojson", {}),
        (f"/vectors/{public_vector}.pmtiles", {}),
        (f"/vectors/{public_vector}.pmtiles", {"Range": "bytes=0-499"}),
    ):
        r = world.client.get(url, headers={**headers, **extra})
        assert r.status_code == 429, (url, r.status_code)
        assert r.json()["code"] == "monthly_quota_exceeded"
        assert r.json()["detail"].startswith("Download quota: ") and "left" in r.json()["detail"]
    assert world.downloaded(headers) == 900
    assert set((world.settings.data_dir / ".tmp").glob("export-*")) == exports
    small = world.client.get(
        f"/datasets/{public_raster}/download", headers={**headers, "Range": "bytes=0-99"}
    )
    assert small.status_code == 206 and world.downloaded(headers) == 1_000


def test_bbox_and_feature_exports_are_charged_and_tiles_are_not(world, public_raster):
    """A ``bbox`` or ``feature`` image is an area of the data at up to full resolution (a
    GeoTIFF among its formats): it used to cost nothing."""
    _, headers = world.user("exporter", download_bytes=1_000_000)
    w, s, e, n = world.client.get(f"/datasets/{public_raster}", headers=headers).json()["bounds"]
    bbox = f"/raster/{public_raster}/bbox/{w},{s},{(w + e) / 2},{(s + n) / 2}.tif"
    area = world.client.get(bbox, headers=headers)
    assert area.status_code == 200 and area.content.startswith(b"II*")
    assert world.downloaded(headers) == len(area.content)
    ring = [[w, s], [e, s], [e, n], [w, s]]
    feature = {
        "type": "Feature",
        "properties": {},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }
    clipped = world.client.post(
        f"/raster/{public_raster}/feature.png?bidx=1&rescale=0,65535", json=feature, headers=headers
    )
    assert clipped.status_code == 200, clipped.text
    assert world.downloaded(headers) == len(area.content) + len(clipped.content)
    before = world.downloaded(headers)
    assert world.client.get(f"/raster/{public_raster}/info", headers=headers).status_code == 200
    assert world.downloaded(headers) == before, "reading metadata is not a download"

    _, broke = world.user("exporter-broke", download_bytes=100)
    assert world.client.get(bbox, headers=broke).status_code == 200  # the month had 100 bytes
    refused = world.client.get(bbox, headers=broke)
    assert refused.status_code == 429 and refused.json()["code"] == "monthly_quota_exceeded"
    assert refused.json()["detail"].startswith("Download quota: ")
    assert " left; it renews on " in refused.json()["detail"]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, 1000),
        ("bytes=0-99", 100),
        ("bytes=900-", 100),
        ("bytes=-10", 10),
        ("bytes=990-5000", 10),
        ("bytes=0-1,5-9", 1000),
        ("items=0-1", 1000),
        ("bytes=-", 1000),
    ],
)
def test_requested_length(header, expected):
    """What a presigned redirect is charged, and the check before a file is sent."""
    assert requested_length(header, 1000) == expected
