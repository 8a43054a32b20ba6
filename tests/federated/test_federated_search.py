"""Federated /stac/search: local and remote sources merged, marked, paged; failures reported."""

from __future__ import annotations

import base64
import json
import time
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.archive.stac_api import serve_stac_api
from tests.federated.conftest import ALPHA_ITEMS, BETA_ITEMS, SECRET

ALL = ["local", "alpha", "beta"]


def _when(feature: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(feature["properties"]["datetime"].replace("Z", "+00:00"))


def _walk_post(client: TestClient, body: dict[str, Any]) -> list[dict[str, Any]]:
    """Every page of a POST search, following the next links' bodies."""
    pages = []
    while True:
        response = client.post("/stac/search", json=body)
        assert response.status_code == 200, response.text
        page = response.json()
        pages.append(page)
        nxt = [lk for lk in page["links"] if lk["rel"] == "next"]
        if not nxt:
            return pages
        assert nxt[0]["method"] == "POST" and nxt[0]["body"]["sources"] == body["sources"]
        body = nxt[0]["body"]
        assert len(pages) < 50


def test_sources_list_local_and_federated_without_urls_or_credentials(
    client: TestClient, apis: Any
) -> None:
    response = client.get("/stac/sources")
    assert response.status_code == 200
    assert [(s["id"], s["title"]) for s in response.json()] == [
        ("local", "This catalog"),
        ("alpha", "Alpha archive"),
        ("beta", "Beta archive"),
    ]
    assert SECRET not in response.text
    assert apis[0].url not in response.text and apis[1].url not in response.text


def test_search_without_sources_is_local_only_as_before(client: TestClient, apis: Any) -> None:
    before = len(apis[0].searches()) + len(apis[1].searches())
    page = client.get("/stac/search", params={"limit": 50}).json()
    assert "cogsight:sources" not in page
    assert page["numberMatched"] == 2
    assert len(apis[0].searches()) + len(apis[1].searches()) == before


def test_results_merged_newest_first_and_marked_by_source(
    client: TestClient, apis: Any, local_ids: dict[str, str]
) -> None:
    pages = _walk_post(client, {"sources": ALL, "limit": 100})
    features = [f for p in pages for f in p["features"]]
    by_source = {f["id"]: f["properties"]["cogsight:source"] for f in features}
    expected = {i["id"]: "alpha" for i in ALPHA_ITEMS} | {i["id"]: "beta" for i in BETA_ITEMS}
    expected |= {local_ids["wuhan"]: "local", local_ids["east"]: "local"}
    assert by_source == expected
    times = [_when(f) for f in features]
    assert times == sorted(times, reverse=True)
    first = pages[0]
    assert first["numberMatched"] == 11
    assert {s["id"]: s["status"] for s in first["cogsight:sources"]} == {
        "local": "ok",
        "alpha": "ok",
        "beta": "ok",
    }
    remote = next(f for f in features if f["id"] == "a0")
    assert remote["links"] == [{"rel": "self", "href": "https://remote.example/items/a0"}]
    # the admin's header reached the source (it answers 401 without it), never the client
    assert apis[0].searches()[-1].headers["authorization"] == SECRET
    assert all(SECRET not in json.dumps(p) for p in pages)


def test_paging_across_sources_returns_each_item_once_in_order(
    client: TestClient, local_ids: dict[str, str]
) -> None:
    # alpha serves at most 2 items a page: its pages run out before the others'
    pages = _walk_post(client, {"sources": ALL, "limit": 3})
    ids = [f["id"] for p in pages for f in p["features"]]
    assert all(len(p["features"]) <= 3 for p in pages)
    assert len(ids) == len(set(ids)) == 11
    times = [_when(f) for p in pages for f in p["features"]]
    assert times == sorted(times, reverse=True)

    # GET pages too: the next link repeats sources and carries the positions
    url = "/stac/search?sources=alpha,beta&limit=4&collections=sentinel-2-l2a,landsat-c2-l2"
    seen: list[str] = []
    while url:
        page = client.get(url).json()
        seen += [f["id"] for f in page["features"]]
        nxt = [lk["href"] for lk in page["links"] if lk["rel"] == "next"]
        url = nxt[0].removeprefix("http://testserver") if nxt else ""
        assert len(seen) < 50
    assert sorted(seen) == sorted(i["id"] for i in ALPHA_ITEMS + BETA_ITEMS)


def test_filters_reach_remote_sources(client: TestClient, apis: Any) -> None:
    body = {
        "sources": ["beta"],
        "collections": ["landsat-c2-l2"],
        "datetime": "2024-02-01T00:00:00Z/2024-03-31T00:00:00Z",
        "filter": "eo:cloud_cover < 10",
        "limit": 10,
    }
    page = client.post("/stac/search", json=body).json()
    assert [f["id"] for f in page["features"]] == ["b2", "b1"]
    sent = apis[1].searches()[-1].body
    assert sent["filter-lang"] == "cql2-json" and sent["filter"]["op"] == "<"


def test_a_failing_source_is_reported_and_the_rest_answer(
    fed_settings: Any, local_ids: dict[str, str]
) -> None:
    from tileserver.http.app import create_app

    with serve_stac_api(BETA_ITEMS, hang_seconds=10) as broken:
        settings = fed_settings.model_copy(
            update={
                "stac_sources": [
                    s.model_copy(update={"url": broken.url}) if s.id == "beta" else s
                    for s in fed_settings.stac_sources
                ]
            }
        )
        with TestClient(create_app(settings)) as c:
            for fail, reason in (
                ("500", "the source answered HTTP 500"),
                ("malformed", "the source's answer is not JSON"),
                ("hang", "no answer within 1 s"),
            ):
                broken.fail = fail
                started = time.monotonic()
                response = c.post("/stac/search", json={"sources": ALL, "limit": 100})
                elapsed = time.monotonic() - started
                assert response.status_code == 200, response.text
                page = response.json()
                status = {s["id"]: s for s in page["cogsight:sources"]}
                assert status["beta"] == {
                    "id": "beta",
                    "status": "error",
                    "returned": 0,
                    "error": reason,
                }
                assert status["alpha"]["status"] == "ok"
                assert {f["properties"]["cogsight:source"] for f in page["features"]} == {
                    "local",
                    "alpha",
                }
                assert "numberMatched" not in page  # unknown while a source did not answer
                assert broken.url not in response.text and SECRET not in response.text
                assert elapsed < 9  # the hanging source sleeps 10 s


def test_unknown_source_and_foreign_tokens_are_refused(client: TestClient, apis: Any) -> None:
    response = client.post("/stac/search", json={"sources": ["local", "nowhere"]})
    assert response.status_code == 400 and "Unknown source 'nowhere'" in response.json()["detail"]
    hidden = client.post("/stac/search", json={"sources": ["hidden"]})
    assert hidden.status_code == 400  # not federated: not searchable
    with serve_stac_api(BETA_ITEMS) as elsewhere:
        forged = {"alpha": {"h": f"{elsewhere.url}/search?token=2", "s": 0}}
        token = "fed1." + base64.urlsafe_b64encode(json.dumps(forged).encode()).decode()
        response = client.post("/stac/search", json={"sources": ["alpha"], "token": token})
        assert response.status_code == 400
        assert elsewhere.requests == []  # a client's URL is never fetched


def test_a_token_cannot_change_what_a_source_is_asked(client: TestClient, apis: Any) -> None:
    forged = {"beta": {"b": {"collections": ["secret-collection"], "token": "1"}, "s": 0}}
    token = "fed1." + base64.urlsafe_b64encode(json.dumps(forged).encode()).decode()
    body = {"sources": ["beta"], "collections": ["landsat-c2-l2"], "token": token}
    response = client.post("/stac/search", json=body)
    assert response.status_code == 200, response.text
    sent = apis[1].searches()[-1].body
    assert sent["collections"] == ["landsat-c2-l2"] and sent["token"] == "1"


def _fed_token(positions: Any) -> str:
    return "fed1." + base64.urlsafe_b64encode(json.dumps(positions).encode()).decode()


HOSTILE_SOURCES: dict[str, Any] = {
    "a-number": {"sources": 5},
    "nested-list": {"sources": [["local"]]},
    "empty-list": {"sources": []},
    "a-url": {"sources": ["http://127.0.0.1:9/stac"]},
    "a-path": {"sources": ["../../etc/passwd"]},
    "local-token": {"sources": ["local"], "token": "eyJvZmZzZXQiOjB9"},
    "garbage-token": {"sources": ["local"], "token": "fed1.!!!"},
    "negative-offset": {"sources": ["local"], "token": _fed_token({"local": {"o": -1}})},
    "offset-a-string": {"sources": ["local"], "token": _fed_token({"local": {"o": "0"}})},
    "position-a-list": {"sources": ["alpha"], "token": _fed_token({"alpha": [1]})},
    "other-source-in-token": {"sources": ["local"], "token": _fed_token({"beta": {}})},
    "dataset-area-remote": {"sources": ["alpha"], "intersects_dataset": "abc"},
}


@pytest.mark.parametrize("body", list(HOSTILE_SOURCES.values()), ids=list(HOSTILE_SOURCES))
def test_hostile_sources_and_tokens_are_400s_with_a_reason(client: TestClient, body: Any) -> None:
    response = client.post("/stac/search", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "invalid_input" and response.json()["detail"]
    get = client.get("/stac/search", params={"sources": "local,nowhere"})
    assert get.status_code == 400 and "nowhere" in get.json()["detail"]
