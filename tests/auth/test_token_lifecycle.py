"""Tokens and the tile cache: a revoked token, a dataset made private or deleted, reach cached
tiles within the principal / record cache TTL; responses to tokens are never ``public``; no log
line, error body or job record shows a token."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.auth.token_world import deployment, new_owner, wait_out_caches
from tileserver.auth.store import UserStore
from tileserver.http.cache import TileCacheMiddleware
from tileserver.jobs.store import JobStore

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def deployed(tmp_path_factory) -> Iterator[tuple[TestClient, UserStore]]:
    app, store = deployment(tmp_path_factory.mktemp("token-lifecycle"))
    with TestClient(app) as client:
        yield client, store


def _cache(client: TestClient) -> TileCacheMiddleware:
    node = client.app.middleware_stack  # type: ignore[attr-defined]
    while not isinstance(node, TileCacheMiddleware):
        node = node.app
    return node


def test_a_revoked_token_gets_no_cached_tile(deployed):
    client, store = deployed
    bob = new_owner(client, store, "bob-revoked", "private", seed=1)
    urls = bob.tile_urls()
    warm = {}
    for name in ("raster-png", "vector-mvt"):
        for mode in ("bearer", "query"):
            first = bob.get(urls[name], mode)
            assert first.status_code == 200 and first.headers["cache-control"].startswith("private")
            warm[name, mode] = first
    hits = _cache(client).hits
    assert bob.get(urls["raster-png"], "bearer").content == warm["raster-png", "bearer"].content
    assert _cache(client).hits == hits + 1, "the tile is cached"

    bob.revoke()  # `cogsight user revoke`: another process, so only the TTL reaches this one
    wait_out_caches()
    assert bob.get("/me", "bearer").status_code == 401
    for (name, mode), first in warm.items():
        for headers in ({}, {"If-None-Match": first.headers["etag"]}):
            again = bob.get(urls[name], mode, **headers)
            assert again.status_code == 401, (name, mode, headers, again.status_code)
            assert again.json()["code"] == "unauthorized" and first.content not in again.content


def test_cached_tiles_are_keyed_by_user_not_by_token(deployed):
    client, store = deployed
    bob = new_owner(client, store, "bob-rotated", "private", seed=2)
    url = bob.tile_urls()["raster-webp"]
    first = bob.get(url, "query")
    old = bob.change_token()
    wait_out_caches()
    hits = _cache(client).hits
    mine = bob.get(url, "encoded-query")  # the new token, spelled access%5Ftoken=
    assert mine.status_code == 200 and mine.content == first.content
    assert mine.headers["etag"] == first.headers["etag"]
    assert _cache(client).hits == hits + 1, "the same user hits the cache with a new token"
    stale = bob.get(url, "bearer", token=old, **{"If-None-Match": first.headers["etag"]})
    assert stale.status_code == 401


def test_tiles_of_a_dataset_made_private_or_deleted_leave_the_cache(deployed):
    client, store = deployed
    bob = new_owner(client, store, "bob-public", "public", seed=3)
    store.add("eve-public")
    eve = store.create_token("eve-public")
    urls = bob.tile_urls()
    warm = {}
    for name in ("raster-png", "mosaic-jpg", "vector-mvt"):
        anonymous = bob.get(urls[name], None)
        assert anonymous.status_code == 200, (name, anonymous.text[:200])
        assert anonymous.headers["cache-control"].startswith("public, "), name
        assert bob.get(urls[name], "query", token=eve).status_code == 200
        warm[name] = anonymous

    bob.make_private()
    wait_out_caches()
    for name, first in warm.items():
        etag = {"If-None-Match": first.headers["etag"]}
        for who in (None, "eve"):
            for headers in ({}, etag):
                again = bob.get(urls[name], "query" if who else None, token=eve, **headers)
                assert again.status_code == 404, (name, who, headers, again.status_code)
        mine = bob.get(urls[name], "bearer")
        assert mine.status_code == 200 and mine.content == first.content
        assert mine.headers["cache-control"].startswith("private")

    bob.delete_all()
    wait_out_caches()
    for name, first in warm.items():
        for headers in ({}, {"If-None-Match": first.headers["etag"]}):
            gone = bob.get(urls[name], "bearer", **headers)
            assert gone.status_code == 404 and first.content not in gone.content, (name, headers)


def test_only_public_things_asked_for_without_a_token_are_public(deployed):
    client, store = deployed
    bob = new_owner(client, store, "bob-headers", "public", seed=4)
    hidden = new_owner(client, store, "bob-headers-private", "private", seed=5)
    tile = bob.tile_urls()["raster-png"] + "&case=headers"
    assert bob.get(tile, None).headers["cache-control"] == "public, max-age=3600"
    for mode in ("bearer", "query", "encoded-query"):
        r = bob.get(tile, mode)
        assert r.status_code == 200 and r.headers["cache-control"] == "private, max-age=3600", mode

    thumbnail = f"/datasets/{bob.ids['raster']}/thumbnail.png"
    assert bob.get(thumbnail, None).headers["cache-control"] == "public, max-age=3600"
    assert bob.get(thumbnail, "encoded-query").headers["cache-control"] == "private, max-age=3600"
    private = hidden.get(f"/datasets/{hidden.ids['raster']}/thumbnail.png", "bearer")
    assert private.status_code == 200 and private.content.startswith(b"\x89PNG")
    assert private.headers["cache-control"] == "private, max-age=3600"

    rid, mid, vid = bob.ids["raster"], bob.ids["mosaic"], bob.ids["vector"]
    for url in (
        f"/raster/{rid}/WebMercatorQuad/tilejson.json",
        f"/raster/{rid}/WMTSCapabilities.xml",
        f"/raster/{rid}/tiles/WebMercatorQuad",
        f"/mosaics/{mid}/WebMercatorQuad/tilejson.json",
        f"/mosaics/{mid}/WMTSCapabilities.xml",
        f"/vectors/{vid}/tilejson.json",
    ):
        for mode in ("query", "encoded-query", "bearer"):
            r = bob.get(url, mode)
            assert r.status_code == 200, (url, r.text[:200])
            assert r.headers["cache-control"] == "private, no-store", (url, mode)
        assert "no-store" not in bob.get(url, None).headers.get("cache-control", "")
    embedded = bob.get(f"/raster/{rid}/WebMercatorQuad/tilejson.json?x=1", "query")
    assert bob.token in embedded.text, "the document does embed the token it was asked with"


# --- tokens in logs, error bodies and job records -------------------------------------------


def test_the_app_factory_redacts_its_loggers(deployed):
    _, store = deployed
    token = store.create_token("admin")
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    access, jobs = logging.getLogger("uvicorn.access"), logging.getLogger("cogsight.jobs")
    for logger in (access, jobs):
        logger.addHandler(handler)
    try:
        access.warning(
            '%s - "%s %s HTTP/%s" %d',
            "127.0.0.1:5",
            "GET",
            f"/raster/x/tiles/1/2/3.png?access%5Ftoken={token}&bidx=1",
            "1.1",
            200,
        )
        jobs.warning("job failed reading https://h/a.tif?access_token=%s", token)
    finally:
        for logger in (access, jobs):
            logger.removeHandler(handler)
    text = out.getvalue()
    assert token not in text and token[3:20] not in text
    assert "?access%5Ftoken=***&bidx=1" in text and "a.tif?access_token=***" in text
    assert '"GET /raster/x/tiles/1/2/3.png' in text and " 200" in text


def test_error_bodies_and_job_records_never_show_a_token(deployed):
    client, store = deployed
    token = store.create_token("admin")
    echoed = client.get(f"/indices/{token}")
    assert echoed.status_code == 404 and token not in echoed.text and "***" in echoed.text

    jobs = JobStore(client.app.state.catalog)  # type: ignore[attr-defined]
    job = jobs.create("index", {"dataset": f"https://h/a.tif?access_token={token}", "n": 1})
    assert token not in str(jobs.get(job.id).inputs) and jobs.get(job.id).inputs["n"] == 1
    jobs.fail(job.id, f"could not read /vsicurl/https://h/a.tif?access%5Ftoken={token}&x=1")
    message = jobs.get(job.id).message
    assert token not in message and message.endswith("access%5Ftoken=***&x=1")


def test_cogsight_serve_logs_no_token(tmp_path):
    """The real server: uvicorn's access and error logs, as `cogsight serve` sets them up."""
    from tests.servers import free_port
    from tileserver.catalog import Catalog
    from tileserver.settings import Settings

    port = free_port()
    env = {
        **os.environ,
        "COGSIGHT_DATA_DIR": str(tmp_path),
        "COGSIGHT_HOST": "127.0.0.1",
        "COGSIGHT_PORT": str(port),
    }
    settings = Settings(data_dir=tmp_path)
    store = UserStore(Catalog(settings.resolved_database_url), settings)
    store.add("dana")
    token = store.create_token("dana")
    logs = tmp_path / "server.log"
    with logs.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tileserver.cli", "serve"],
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.time() + 60
            while True:
                try:
                    if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    assert time.time() < deadline, logs.read_text()[-2000:]
                    time.sleep(0.3)
            assert httpx.get(f"{url}/me?access_token={token}").json()["name"] == "dana"
            assert httpx.get(f"{url}/me?access%5Ftoken={token}").status_code == 200
            tile = "/raster/nope/tiles/WebMercatorQuad/1/1/1.png"
            bad = httpx.get(f"{url}{tile}?access_token=cs_0123456789abcdefgh")
            assert bad.status_code == 401
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    text = logs.read_text()
    assert "GET /me?access_token=*** HTTP/1.1" in text, text[-2000:]
    assert "GET /me?access%5Ftoken=*** HTTP/1.1" in text
    assert token not in text and token[3:20] not in text and "0123456789abcdefgh" not in text
