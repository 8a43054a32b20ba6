"""Quota races with concurrent clients: a real server (uvicorn, two worker processes, on
loopback) and many HTTP clients uploading at the same instant against a small storage quota,
with and without Content-Length.

A check made before anything was stored let every one of twenty parallel uploads through
(2.6x the quota stored), and a chunked body (no Content-Length) was not counted at all. Each
case asserts, once every answer is in: the bytes stored are within the quota, every refusal is
a 403 ``quota_exceeded`` with the quota's message, the accepted ids are exactly the datasets
the user owns, and no reservation, upload folder or partial file is left behind.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin
from sqlalchemy import func, select

from tests.servers import uvicorn_server
from tileserver.auth.quotas import storage_used
from tileserver.auth.store import UserStore
from tileserver.auth.tables import StorageReservationRow
from tileserver.catalog import Catalog
from tileserver.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
BOUNDARY = "race-boundary"


def noise_tif(seed: int, size: int = 256) -> bytes:
    """A one-band uint16 GeoTIFF of noise (~131 KB): stored as a COG of about its own size."""
    data = np.random.default_rng(seed).integers(0, 65535, (1, size, size)).astype("uint16")
    with rasterio.MemoryFile() as memfile:
        with memfile.open(
            driver="GTiff", width=size, height=size, count=1, dtype="uint16",
            crs="EPSG:32650", transform=from_origin(250000 + 3000 * seed, 3385000, 10, 10),
            tiled=True, blockxsize=256, blockysize=256,
        ) as dst:  # fmt: skip
            dst.write(data)
        return bytes(memfile.read())


def squares_geojson(seed: int, count: int = 400) -> bytes:
    rng = np.random.default_rng(seed)
    features = []
    for i in range(count):
        x, y = 114.3 + rng.random() * 0.2, 30.5 + rng.random() * 0.2
        ring = [[x, y], [x + 0.001, y], [x + 0.001, y + 0.001], [x, y + 0.001], [x, y]]
        geometry = {"type": "Polygon", "coordinates": [ring]}
        features.append({"type": "Feature", "properties": {"n": i}, "geometry": geometry})
    return json.dumps({"type": "FeatureCollection", "features": features}).encode()


def multipart(filename: str, body: bytes) -> bytes:
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'
    ).encode()
    return head + body + f"\r\n--{BOUNDARY}--\r\n".encode()


@dataclass(frozen=True)
class Race:
    """``clients`` uploads at once; ``chunked`` is every client (True), none (False), or every
    other one (None); ``quota`` in bytes; ``accepted`` the range of 201s allowed."""

    name: str
    clients: int
    quota: int
    chunked: bool | None
    kind: str = "raster"
    chunk: int = 16 * 1024
    accepted: tuple[int, int] = (1, 3)


RACES = [
    Race("twenty-with-content-length", 20, 400_000, chunked=False),
    Race("twenty-chunked-no-content-length", 20, 400_000, chunked=True),
    Race("sixteen-mixed", 16, 400_000, chunked=None),
    Race("twelve-chunked-in-1-KiB-pieces", 12, 400_000, chunked=True, chunk=1024),
    Race("each-larger-than-the-quota-chunked", 8, 100_000, chunked=True, accepted=(0, 0)),
    Race("each-larger-than-the-quota-declared", 8, 100_000, chunked=False, accepted=(0, 0)),
    Race("one-byte-short-of-one", 6, 131_000, chunked=True, accepted=(0, 0)),
    Race("twelve-vectors-mixed", 12, 250_000, chunked=None, kind="vector", accepted=(1, 12)),
]


@dataclass
class Server:
    url: str
    settings: Settings
    catalog: Catalog
    store: UserStore


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data = tmp_path_factory.mktemp("quota-races")
    settings = Settings(data_dir=data)
    catalog = Catalog(settings.resolved_database_url)
    store = UserStore(catalog, settings)
    store.add("admin", is_admin=True)  # users exist: not single-user mode
    with uvicorn_server(data, workers=2, start_timeout=90) as url:
        yield Server(url, settings, catalog, store)


def _bodies(race: Race) -> list[tuple[bytes, bool]]:
    out = []
    for i in range(race.clients):
        if race.kind == "raster":
            body = multipart(f"scene-{i}.tif", noise_tif(100 + i))
        else:
            body = multipart(f"zones-{i}.geojson", squares_geojson(100 + i))
        chunked = race.chunked if race.chunked is not None else i % 2 == 0
        out.append((body, chunked))
    return out


def _race(server: Server, race: Race, token: str) -> list[httpx.Response]:
    barrier = threading.Barrier(race.clients)
    responses: list[httpx.Response] = []
    lock = threading.Lock()

    def client(body: bytes, chunked: bool) -> None:
        headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
        }

        def pieces() -> Iterator[bytes]:
            for start in range(0, len(body), race.chunk):
                yield body[start : start + race.chunk]

        content: bytes | Iterator[bytes] = pieces() if chunked else body
        with httpx.Client(base_url=server.url, timeout=120) as http:
            barrier.wait()
            response = http.post("/datasets", content=content, headers=headers)
            response.read()
        with lock:
            responses.append(response)

    threads = [threading.Thread(target=client, args=b) for b in _bodies(race)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    return responses


@pytest.mark.parametrize("race", RACES, ids=[r.name for r in RACES])
def test_quota_races_with_concurrent_clients(server: Server, race: Race) -> None:
    user = server.store.add(f"racer-{race.name}", quotas={"storage_bytes": race.quota})
    token = server.store.create_token(user.name)

    responses = _race(server, race, token)

    assert len(responses) == race.clients
    accepted, refused = [], []
    for response in responses:
        body = response.json()
        if response.status_code == 201:
            accepted.append(body["id"])
            continue
        assert response.status_code == 403, (response.status_code, body)
        assert body["code"] == "quota_exceeded", body
        assert (
            body["detail"].startswith("Storage quota: ") and " left; this upload " in body["detail"]
        ), body
        refused.append(body)
    low, high = race.accepted
    assert low <= len(accepted) <= high, (len(accepted), refused[:2])
    stored = storage_used(server.catalog, server.settings, user.id)
    assert stored <= race.quota, f"{stored} bytes stored against a {race.quota} quota"
    owned = {d.id for d in server.catalog.find_datasets() if d.owner == user.id}
    assert owned == set(accepted)
    on_disk = sum(
        f.stat().st_size
        for i in owned
        for f in [*server.settings.data_dir.glob(f"cogs/{i}.tif"),
                  *server.settings.data_dir.glob(f"vectors/{i}/*")]
    )  # fmt: skip
    assert on_disk <= race.quota
    with server.catalog.session() as s:
        held = s.scalar(
            select(func.count())
            .select_from(StorageReservationRow)
            .where(StorageReservationRow.user_id == user.id)
        )
    assert held == 0, "a reservation outlived its upload"
    scratch = server.settings.data_dir / ".tmp"
    assert [p.name for p in scratch.glob("upload-*")] == []
    assert [p.name for p in server.settings.data_dir.rglob("*.partial")] == []


def test_the_quota_left_after_a_race_is_exact(server: Server) -> None:
    """After a race the user can still fill exactly what is left: no reservation leaked."""
    user = server.store.add("racer-then-fill", quotas={"storage_bytes": 400_000})
    token = server.store.create_token(user.name)
    _race(server, Race("warm-up", 6, 400_000, chunked=True), token)
    stored = storage_used(server.catalog, server.settings, user.id)
    usage = httpx.get(
        f"{server.url}/me/usage", headers={"Authorization": f"Bearer {token}"}
    ).json()["storage_bytes"]
    assert usage == {"used": stored, "limit": 400_000, "left": 400_000 - stored}
    if 400_000 - stored > 140_000:  # room for one more scene: it must be accepted
        one = httpx.post(
            f"{server.url}/datasets",
            content=multipart("last.tif", noise_tif(999)),
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
            },
            timeout=60,
        )
        assert one.status_code == 201, one.text
    assert storage_used(server.catalog, server.settings, user.id) <= 400_000
