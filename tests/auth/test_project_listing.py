"""Listing projects follows the one visibility rule, ``COGSIGHT_ANONYMOUS_READ`` included, and
answers pages of summaries: a public project is read by anyone who may read public data, and a
listing never carries every project's layers and history."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tileserver.auth.store import UserStore
from tileserver.http.app import create_app
from tileserver.settings import Settings


def _client(data: Path, anonymous_read: bool) -> TestClient:
    return TestClient(create_app(Settings(data_dir=data, anonymous_read=anonymous_read)))


@pytest.fixture(scope="module")
def alice_projects(tmp_path_factory) -> Iterator[tuple[Path, dict[str, str], dict[str, str]]]:
    """A data dir where alice has a public and a private project: (dir, headers, ids)."""
    data = tmp_path_factory.mktemp("projects")
    with _client(data, anonymous_read=True) as client:
        app = client.app
        store = UserStore(app.state.catalog, app.state.settings)  # type: ignore[attr-defined]
        store.add("alice")
        alice = {"Authorization": f"Bearer {store.create_token('alice')}"}
        ids = {}
        for visibility in ("public", "private"):
            body = {"title": visibility, "visibility": visibility, "layers": [{"id": "a"}]}
            created = client.post("/projects", json=body, headers=alice)
            assert created.status_code == 201, created.text
            ids[visibility] = created.json()["id"]
    yield data, alice, ids


def _listed(client: TestClient, **kw) -> list[str]:  # type: ignore[no-untyped-def]
    return [p["id"] for p in client.get("/projects", **kw).json()["items"]]


def test_anonymous_listing_follows_anonymous_read(alice_projects):
    data, alice, ids = alice_projects
    with _client(data, anonymous_read=True) as open_:
        assert _listed(open_) == [ids["public"]]
    with _client(data, anonymous_read=False) as closed:
        assert _listed(closed) == []
        assert closed.get(f"/projects/{ids['public']}").status_code == 404
        assert set(_listed(closed, headers=alice)) == set(ids.values())


def test_listing_is_paged_summaries(alice_projects):
    data, alice, ids = alice_projects
    with _client(data, anonymous_read=True) as client:
        anonymous = client.get("/projects").json()
        assert anonymous["matched"] == 1 and anonymous["count"] == 1
        assert "layers" not in anonymous["items"][0] and "history" not in anonymous["items"][0]
        first = client.get("/projects", params={"limit": 1}, headers=alice).json()
        assert first["count"] == 1 and first["matched"] == 2
        second = _listed(client, params={"limit": 1, "offset": 1}, headers=alice)
        assert {first["items"][0]["id"], *second} == set(ids.values())
        assert client.get("/projects", params={"limit": 1001}).status_code == 422
