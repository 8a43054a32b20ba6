"""Users never see, tile, download or change another's private data — every endpoint family.

A deployment of its own (its own data dir and catalog): creating users ends single-user mode,
which the shared session app must keep.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import morecantile
import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.rasters import utm_geotiff
from tileserver.auth.store import UserStore
from tileserver.http.app import create_app
from tileserver.settings import Settings

TIFF = "image/tiff"


def _tif_bytes(seed: int, size: int = 64) -> bytes:
    data = np.random.default_rng(seed).integers(100, 3000, (4, size, size)).astype("uint16")
    return utm_geotiff(data, 250000 + 1000 * seed, ("blue", "green", "red", "nir"))


GEOJSON = json.dumps(
    {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"class": 1},
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [
                        [
                            [114.4, 30.55],
                            [114.41, 30.55],
                            [114.41, 30.56],
                            [114.4, 30.56],
                            [114.4, 30.55],
                        ]
                    ],
                },
            }
        ],
    }
).encode()


class World:
    def __init__(self, client: TestClient, tokens: dict[str, str], ids: dict[str, str]):
        self.client, self.tokens, self.ids = client, tokens, ids

    def as_(self, who: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}

    def get(self, who: str | None, url: str, **kw):  # type: ignore[no-untyped-def]
        return self.client.get(url, headers=self.as_(who), **kw)

    def post(self, who: str | None, url: str, **kw):  # type: ignore[no-untyped-def]
        headers = {**self.as_(who), **kw.pop("headers", {})}
        return self.client.post(url, headers=headers, **kw)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[World]:
    data = tmp_path_factory.mktemp("auth-data")
    settings = Settings(data_dir=data, tile_cache_bytes=16 * 1024 * 1024)
    app = create_app(settings)
    store = UserStore(app.state.catalog, settings)
    tokens = {}
    for name, admin in (("alice", False), ("bob", False), ("root", True)):
        store.add(name, is_admin=admin)
        tokens[name] = store.create_token(name)
    with TestClient(app) as client:
        w = World(client, tokens, {})

        def upload(name: str, body: bytes, ctype: str, visibility: str) -> str:
            response = w.post(
                "alice",
                "/datasets",
                files={"file": (name, body, ctype)},
                data={"visibility": visibility, "title": name},
            )
            assert response.status_code == 201, response.text
            return response.json()["id"]

        w.ids["private"] = upload("private.tif", _tif_bytes(1), TIFF, "private")
        w.ids["public"] = upload("public.tif", _tif_bytes(2), TIFF, "public")
        w.ids["vector"] = upload("zones.geojson", GEOJSON, "application/geo+json", "private")
        yield w


TMS = morecantile.tms.get("WebMercatorQuad")
RENDER = "bidx=3&bidx=2&bidx=1&rescale=0,3000"


def _centre(world: World, i: str) -> tuple[float, float]:
    w, s, e, n = world.get("root", f"/datasets/{i}").json()["bounds"]
    return (w + e) / 2, (s + n) / 2


def _tile(world: World, i: str, z: int = 14) -> str:
    t = TMS.tile(*_centre(world, i), z)
    return f"{t.z}/{t.x}/{t.y}"


def _maxzoom(world: World, i: str) -> int:
    return int(world.get("root", f"/datasets/{i}").json()["maxzoom"])


def _raster_urls(world: World, i: str) -> list[str]:
    x, y = _centre(world, i)
    return [
        f"/datasets/{i}",
        f"/datasets/{i}/thumbnail.png",
        f"/datasets/{i}/download",
        f"/raster/{i}/info",
        f"/raster/{i}/WebMercatorQuad/tilejson.json",
        f"/raster/{i}/WMTSCapabilities.xml",
        f"/raster/{i}/tiles/WebMercatorQuad/{_tile(world, i)}.png?{RENDER}",
        f"/raster/{i}/statistics",
        f"/raster/{i}/preview.png?{RENDER}",
        f"/raster/{i}/point/{x},{y}",
    ]


def _vector_urls(world: World, i: str) -> list[str]:
    return [
        f"/datasets/{i}",
        f"/vectors/{i}/tilejson.json",
        f"/vectors/{i}/tiles/{_tile(world, i, _maxzoom(world, i))}.mvt",
        f"/vectors/{i}.pmtiles",
        f"/vectors/{i}/features",
        f"/vectors/{i}/download?format=geojson",
    ]


def _stac_item(world: World, who: str | None, i: str) -> int:
    found = world.get(who, "/stac/search", params={"ids": i}).json()["features"]
    return len(found)


def test_owner_and_admin_reach_every_endpoint(world):
    for who in ("alice", "root"):
        for url in _raster_urls(world, world.ids["private"]) + _vector_urls(
            world, world.ids["vector"]
        ):
            response = world.get(who, url)
            assert response.status_code in (200, 204), (who, url, response.text[:300])
        assert _stac_item(world, who, world.ids["private"]) == 1
        listed = {d["id"] for d in world.get(who, "/datasets").json()["items"]}
        assert {world.ids["private"], world.ids["vector"]} <= listed


@pytest.mark.parametrize("who", ["bob", None])
def test_others_get_404_for_private_data_everywhere(world, who):
    for url in _raster_urls(world, world.ids["private"]) + _vector_urls(world, world.ids["vector"]):
        response = world.get(who, url)
        assert response.status_code == 404, (who, url, response.status_code)
    assert _stac_item(world, who, world.ids["private"]) == 0
    listed = {d["id"] for d in world.get(who, "/datasets").json()["items"]}
    assert world.ids["private"] not in listed and world.ids["vector"] not in listed
    assert world.ids["public"] in listed
    item = world.get(who, f"/stac/collections/generic/items/{world.ids['private']}")
    assert item.status_code == 404
    aoi = world.get(who, "/stac/search", params={"intersects_dataset": world.ids["vector"]})
    assert aoi.status_code == 400
    mosaic = world.post(who, "/mosaics", json={"ids": [world.ids["private"]]})
    assert mosaic.status_code in (400, 401)


def test_public_data_is_readable_by_everyone_and_anonymous_read_can_be_off(world):
    for who in ("bob", None):
        for url in _raster_urls(world, world.ids["public"]):
            assert world.get(who, url).status_code == 200, (who, url)
    app = world.client.app
    settings = app.state.settings  # type: ignore[attr-defined]
    app.state.settings = settings.model_copy(update={"anonymous_read": False})  # type: ignore[attr-defined]
    try:
        tile = _tile(world, world.ids["public"])
        url = f"/raster/{world.ids['public']}/tiles/WebMercatorQuad/{tile}.png?x=off&{RENDER}"
        assert world.get(None, url).status_code == 404
        assert world.get("bob", url).status_code == 200
        assert _stac_item(world, None, world.ids["public"]) == 0
    finally:
        app.state.settings = settings  # type: ignore[attr-defined]


def test_writes_need_a_token_and_tokens_must_be_valid(world):
    anonymous = world.client.post("/datasets", files={"file": ("a.tif", _tif_bytes(3), TIFF)})
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "unauthorized"
    bad = world.client.get("/datasets", headers={"Authorization": "Bearer cs_nope"})
    assert bad.status_code == 401
    query = world.client.get(f"/datasets?access_token={world.tokens['alice']}")
    assert world.ids["private"] in {d["id"] for d in query.json()["items"]}
    job = world.client.post(
        "/processes/index/execution",
        json={"inputs": {"dataset": world.ids["public"], "index": "NDVI"}},
    )
    assert job.status_code == 401


def test_tile_cache_never_answers_one_user_with_anothers_tile(world):
    tile = _tile(world, world.ids["private"])
    url = f"/raster/{world.ids['private']}/tiles/WebMercatorQuad/{tile}.png?cache=1&{RENDER}"
    first = world.get("alice", url)
    assert first.status_code == 200 and first.headers["cache-control"].startswith("private")
    assert world.get("bob", url).status_code == 404
    assert world.get(None, url).status_code == 404
    token_url = f"{url}&access_token={world.tokens['alice']}"
    assert world.client.get(token_url).status_code == 200


def test_jobs_belong_to_their_owner(world):
    response = world.post(
        "alice",
        "/processes/index/execution",
        json={"inputs": {"dataset": world.ids["private"], "index": "NDVI"}},
        headers={"Prefer": "respond-sync"},
    )
    assert response.status_code == 200, response.text
    job_id = response.headers["Location"].rsplit("/", 1)[-1]
    output = response.json()["datasets"][0]
    assert world.get("alice", f"/jobs/{job_id}").status_code == 200
    for who in ("bob", None):
        assert world.get(who, f"/jobs/{job_id}").status_code == 404
        assert world.get(who, f"/jobs/{job_id}/results").status_code == 404
        assert job_id not in {j["jobID"] for j in world.get(who, "/jobs").json()["jobs"]}
        assert world.get(who, f"/datasets/{output}").status_code == 404, "results are private"
    assert world.get("root", f"/jobs/{job_id}").status_code == 200
    # using someone else's private dataset as an input is as if it did not exist
    stolen = world.post(
        "bob",
        "/processes/index/execution",
        json={"inputs": {"dataset": world.ids["private"], "index": "NDVI"}},
    )
    assert stolen.status_code == 404


def test_projects_are_private_workspaces_with_history(world):
    created = world.post("alice", "/projects", json={"title": "Lake survey"})
    assert created.status_code == 201
    pid = created.json()["id"]
    patched = world.client.patch(
        f"/projects/{pid}",
        json={"layers": [{"id": world.ids["private"], "opacity": 0.5}], "add_jobs": ["j1"]},
        headers=world.as_("alice"),
    )
    assert patched.status_code == 200
    body = patched.json()
    assert body["history"][0]["change"] == "created" and len(body["history"]) == 2
    assert body["layers"][0]["opacity"] == 0.5 and body["jobs"] == ["j1"]
    assert world.get("bob", f"/projects/{pid}").status_code == 404
    assert pid not in {p["id"] for p in world.get("bob", "/projects").json()["items"]}
    denied = world.client.patch(
        f"/projects/{pid}", json={"title": "mine"}, headers=world.as_("bob")
    )
    assert denied.status_code == 404
    assert world.client.delete(f"/projects/{pid}", headers=world.as_("alice")).status_code == 204


def test_quotas_refuse_with_what_is_left(world):
    app = world.client.app
    store = UserStore(app.state.catalog, app.state.settings)  # type: ignore[attr-defined]
    store.add("carol", quotas={"storage_bytes": 1000, "compute_seconds": 0})
    token = store.create_token("carol")
    carol = {"Authorization": f"Bearer {token}"}

    usage = world.client.get("/me/usage", headers=carol).json()
    assert usage["storage_bytes"] == {"used": 0, "limit": 1000, "left": 1000}
    assert usage["compute_seconds"]["limit"] == 0

    upload = world.client.post(
        "/datasets", files={"file": ("big.tif", _tif_bytes(4), TIFF)}, headers=carol
    )
    assert upload.status_code == 403 and "Storage quota" in upload.json()["detail"]
    assert "left" in upload.json()["detail"]

    ai = world.client.post(
        "/processes/water-optical-ndwi/execution",
        json={"inputs": {"dataset": world.ids["public"]}},
        headers=carol,
    )
    assert ai.status_code == 429 and "AI compute quota" in ai.json()["detail"]
    assert "renews on" in ai.json()["detail"]

    store.set_quotas("carol", {"compute_seconds": 3600, "task_pixels": 100})
    world.client.app.state.principals.forget()  # type: ignore[attr-defined]
    big = world.client.post(
        "/processes/water-optical-ndwi/execution",
        json={"inputs": {"dataset": world.ids["public"]}},
        headers=carol,
    )
    assert big.status_code == 403 and "Largest AI task" in big.json()["detail"]

    store.set_quotas("carol", {"download_bytes": 10})
    world.client.app.state.principals.forget()  # type: ignore[attr-defined]
    download = world.client.get(f"/datasets/{world.ids['public']}/download", headers=carol)
    assert download.status_code == 429 and "Download quota" in download.json()["detail"]


def test_downloads_and_storage_are_counted(world):
    before = world.get("alice", "/me/usage").json()
    body = world.get("alice", f"/datasets/{world.ids['public']}/download").content
    after = world.get("alice", "/me/usage").json()
    assert after["download_bytes"]["used"] - before["download_bytes"]["used"] == len(body)
    assert after["storage_bytes"]["used"] > 0
    assert world.get(None, "/me/usage").status_code == 401
    assert world.get("bob", "/me").json()["name"] == "bob"


def test_billing_month_runs_from_the_registration_day():
    import datetime as dt

    from tileserver.auth.quotas import billing_period

    created = dt.datetime(2026, 1, 31, 9, 0, tzinfo=dt.UTC)
    start, end = billing_period(created, dt.datetime(2026, 3, 5, tzinfo=dt.UTC))
    assert start == dt.datetime(2026, 2, 28, 9, 0, tzinfo=dt.UTC)
    assert end == dt.datetime(2026, 3, 31, 9, 0, tzinfo=dt.UTC)
    start, _ = billing_period(created, dt.datetime(2026, 12, 31, 10, tzinfo=dt.UTC))
    assert start == dt.datetime(2026, 12, 31, 9, 0, tzinfo=dt.UTC)


def test_cli_user_commands(tmp_path: Path):
    import subprocess
    import sys

    env = {"COGSIGHT_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    cli = [sys.executable, "-m", "tileserver.cli"]
    out = subprocess.run(
        [*cli, "user", "add", "dana", "--compute-hours", "2"],
        capture_output=True, text=True, env=env, check=True,
    ).stdout.splitlines()  # fmt: skip
    assert json.loads(out[0])["name"] == "dana" and out[1].startswith("cs_")
    listed = subprocess.run(
        [*cli, "user", "list"], capture_output=True, text=True, env=env, check=True
    ).stdout
    assert json.loads(listed)["quotas"]["compute_seconds"] == 7200
    again = subprocess.run([*cli, "user", "add", "dana"], capture_output=True, text=True, env=env)
    assert again.returncode == 2 and "exists" in again.stderr


def test_only_the_owner_edits_a_vector(world):
    vector = world.ids["vector"]
    features = world.get("alice", f"/vectors/{vector}/features").json()["features"]
    fid = features[0].get("id", 0)
    patch = {"properties": {"class": 2}}
    for who, expected in (("bob", 404), (None, 404)):
        response = world.client.patch(
            f"/vectors/{vector}/features/{fid}", json=patch, headers=world.as_(who)
        )
        assert response.status_code == expected, (who, response.text)
        assert world.post(who, f"/vectors/{vector}/undo").status_code == expected
    # a public vector: others may read it but not change it
    public = world.post(
        "alice",
        "/datasets",
        files={"file": ("open.geojson", GEOJSON, "application/geo+json")},
        data={"visibility": "public"},
    ).json()["id"]
    denied = world.client.patch(
        f"/vectors/{public}/features/{fid}", json=patch, headers=world.as_("bob")
    )
    assert denied.status_code == 403
    anonymous = world.client.patch(f"/vectors/{public}/features/{fid}", json=patch)
    assert anonymous.status_code == 401
    mine = world.client.patch(
        f"/vectors/{public}/features/{fid}", json=patch, headers=world.as_("alice")
    )
    assert mine.status_code == 200, mine.text
