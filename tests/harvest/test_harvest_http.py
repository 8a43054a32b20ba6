"""``/harvests``: administrators only, configured sources only, progress and the refused items
paged; a source's credentials reach the archive and nowhere else."""

from __future__ import annotations

import copy
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.harvest.helpers import item_ids
from tileserver.auth.store import UserStore
from tileserver.catalog import Catalog
from tileserver.harvest.tables import HarvestRefusalRow, HarvestRunRow
from tileserver.http.app import create_app
from tileserver.settings import Settings, StacSource

SECRET = "sk-live-7f3a9c1e55d04b2e"
WRONG = "sk-old-0d9e8f7a6b5c4d3e"


class World:
    def __init__(self, client: TestClient, tokens: dict[str, str], api: Any) -> None:
        self.client, self.tokens, self.api = client, tokens, api
        self.catalog: Catalog = client.app.state.catalog  # type: ignore[attr-defined]

    def as_(self, who: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}

    def wait(self, run_id: str, who: str = "root") -> dict[str, Any]:
        deadline = time.time() + 30
        while True:
            run = self.client.get(f"/harvests/{run_id}", headers=self.as_(who)).json()
            if run["status"] != "running" or time.time() > deadline:
                return run
            time.sleep(0.05)


@pytest.fixture
def world(stac_api: Any, many_items: Any, tmp_path: Path, settings: Settings) -> Iterator[World]:
    items = many_items(12)
    bad = copy.deepcopy(items[0])
    bad["id"], bad["assets"] = "NO_RASTER", {"meta": {"href": "x.xml", "type": "text/xml"}}
    outside = copy.deepcopy(items[0])
    outside["id"] = "OUTSIDE"
    for asset in outside["assets"].values():
        asset["href"] = "https://elsewhere.example.com/" + asset["href"].rsplit("/", 1)[-1]
    api = stac_api([*items, bad, outside], required_headers={"X-Api-Key": SECRET})
    configured = settings.model_copy(
        update={
            "stac_sources": [
                StacSource(id="earth", url=api.url, headers={"X-Api-Key": SECRET}),
                StacSource(id="wrongkey", url=api.url, headers={"X-Api-Key": WRONG}),
            ]
        }
    )
    app = create_app(configured)
    store = UserStore(app.state.catalog, configured)
    tokens = {}
    for name, admin in (("root", True), ("alice", False)):
        store.add(name, is_admin=admin)
        tokens[name] = store.create_token(name)
    with TestClient(app) as client:
        yield World(client, tokens, api)


def test_only_admins_harvest(world: World) -> None:
    body = {"source": "earth"}
    anonymous = world.client.post("/harvests", json=body)
    user = world.client.post("/harvests", json=body, headers=world.as_("alice"))
    assert (anonymous.status_code, anonymous.json()["code"]) == (401, "unauthorized")
    assert (user.status_code, user.json()["code"]) == (403, "forbidden")
    assert world.client.get("/harvests", headers=world.as_("alice")).status_code == 403
    assert world.api.requests == []  # nothing was fetched for them
    assert item_ids(world.catalog, "earth") == set()

    started = world.client.post("/harvests", json=body, headers=world.as_("root"))
    assert started.status_code == 202
    run_id = started.json()["id"]
    for path in (f"/harvests/{run_id}", f"/harvests/{run_id}/refused"):
        assert world.client.get(path, headers=world.as_("alice")).status_code == 403
        assert world.client.get(path).status_code == 401
    world.wait(run_id)


def test_only_configured_sources(world: World) -> None:
    root = world.as_("root")
    url = world.client.post("/harvests", json={"source": world.api.url}, headers=root)
    assert url.status_code == 422 or url.status_code == 400 or url.status_code == 404
    unknown = world.client.post("/harvests", json={"source": "nowhere"}, headers=root)
    assert unknown.status_code == 404
    assert "No STAC source 'nowhere' is configured (known: earth, wrongkey)" in unknown.text
    extra = world.client.post(
        "/harvests", json={"source": "earth", "url": "http://169.254.169.254/"}, headers=root
    )
    assert extra.status_code in (400, 422)
    assert world.api.requests == []


def test_progress_counts_and_refused_pages(world: World) -> None:
    root = world.as_("root")
    started = world.client.post(
        "/harvests", json={"source": "earth", "batch_size": 4}, headers=root
    ).json()
    assert started["status"] == "running" and started["source"] == "earth"
    run = world.wait(started["id"])
    assert (run["status"], run["seen"], run["added"], run["refused"]) == ("completed", 14, 12, 2)
    assert (run["total"], run["percent"]) == (14, 100.0)
    assert len(item_ids(world.catalog, "earth")) == 12

    first = world.client.get(f"/harvests/{run['id']}/refused?limit=1", headers=root).json()
    assert (first["count"], first["matched"], first["next_offset"]) == (1, 2, 1)
    second = world.client.get(f"/harvests/{run['id']}/refused?offset=1", headers=root).json()
    assert (second["count"], second["next_offset"]) == (1, None)
    refused = {r["item_id"]: r["reason"] for r in first["items"] + second["items"]}
    assert set(refused) == {"NO_RASTER", "OUTSIDE"}
    assert "allowed prefix" in refused["OUTSIDE"]

    listed = world.client.get("/harvests", headers=root).json()
    assert [r["id"] for r in listed] == [run["id"]]
    # the same request again: a new run, every item unchanged
    again = world.client.post("/harvests", json={"source": "earth"}, headers=root).json()
    done = world.wait(again["id"])
    assert (done["added"], done["unchanged"], done["refused"]) == (0, 12, 2)


def test_credentials_reach_the_archive_and_nowhere_else(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    root = world.as_("root")
    caplog.set_level(logging.DEBUG)  # pystac-client logs each request's headers at DEBUG
    ok = world.client.post("/harvests", json={"source": "earth"}, headers=root).json()
    run = world.wait(ok["id"])
    assert run["status"] == "completed"
    assert all(r.headers.get("x-api-key") == SECRET for r in world.api.requests)

    refused = world.client.post("/harvests", json={"source": "wrongkey"}, headers=root).json()
    failed = world.wait(refused["id"])
    assert failed["status"] == "failed"
    assert "answered HTTP 401 (credentials refused)" in failed["message"]

    texts = [
        json.dumps(run),
        json.dumps(failed),
        world.client.get(f"/harvests/{run['id']}/refused", headers=root).text,
        world.client.get("/harvests", headers=root).text,
        caplog.text,
    ]
    with world.catalog.session() as s:
        for row in s.scalars(select(HarvestRunRow)):
            texts.append(json.dumps([row.source, row.params, row.cursor, row.message]))
        for ref in s.scalars(select(HarvestRefusalRow)):
            texts.append(ref.reason)
    assert "X-Api-Key" in caplog.text or "x-api-key" in caplog.text.lower()  # it was logged…
    for text in texts:
        assert SECRET not in text and WRONG not in text  # …masked


def test_bad_requests_are_precise_4xx(world: World) -> None:
    root = world.as_("root")
    bbox = world.client.post(
        "/harvests", json={"source": "earth", "bbox": [10, 50, 11]}, headers=root
    )
    assert bbox.status_code in (400, 422)
    assert "bbox is west,south,east,north (4 numbers)" in bbox.text
    missing = world.client.get("/harvests/0123456789abcdef", headers=root)
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")
    assert "Harvest run '0123456789abcdef' not found." in missing.text
    page = world.client.get("/harvests/0123456789abcdef/refused", headers=root)
    assert page.status_code == 404
    assert world.api.requests == []
