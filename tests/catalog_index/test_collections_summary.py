"""Collections come from the trigger-kept summaries: counts and extents right after inserts,
deletes and visibility changes, and each caller sees only what they may (public + their own)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.auth.people import People, people
from tests.catalog_index.rows import scene
from tileserver.stac import search as stac_search


@pytest.fixture
def world(tmp_path: Path, database_url: str) -> Any:
    with people(tmp_path / "data", database_url=database_url) as folks:
        yield folks


def collections(folks: People, who: str | None) -> dict[str, dict[str, Any]]:
    response = folks.get(who, "/stac/collections")
    assert response.status_code == 200
    return {c["id"]: c for c in response.json()["collections"]}


def extent(collection: dict[str, Any]) -> tuple[list[float], list[str | None]]:
    return collection["extent"]["spatial"]["bbox"][0], collection["extent"]["temporal"]["interval"][
        0
    ]


def test_collections_follow_inserts_deletes_and_visibility(world: People) -> None:
    alice = world.ids["alice"]
    public = [
        scene((10, 40, 11, 41), day=0),
        scene((12, 42, 13, 43), day=10),
        scene((-5, 35, -4, 36), day=20),
    ]
    mine = scene((100, -10, 101, -9), day=40, owner=alice, visibility="private")
    survey = scene((20, 20, 21, 21), day=5, owner=alice, visibility="private", collection="survey")
    landsat = scene((30, 30, 31, 31), day=1, collection=None, sensor="landsat8-c2l2")
    vector = scene((0, 0, 1, 1), day=None, collection=None, kind="vector", sensor="generic")
    world.catalog.add_datasets([*public, mine, survey, landsat, vector])

    for who in (None, "bob"):
        seen = collections(world, who)
        assert set(seen) == {"sentinel-2-l2a", "landsat8-c2l2", "vectors"}
        s2 = seen["sentinel-2-l2a"]
        assert s2["cogsight:item_count"] == 3
        assert extent(s2) == ([-5, 35, 13, 43], ["2024-01-01T00:00:00Z", "2024-01-21T00:00:00Z"])
        assert extent(seen["vectors"])[1] == [None, None]  # unknown times widen nothing
        assert world.get(who, "/stac/collections/survey").status_code == 404
        assert world.get(who, "/stac/collections/survey/queryables").status_code == 404

    seen = collections(world, "alice")
    assert set(seen) == {"sentinel-2-l2a", "landsat8-c2l2", "vectors", "survey"}
    assert seen["sentinel-2-l2a"]["cogsight:item_count"] == 4
    assert extent(seen["sentinel-2-l2a"]) == (
        [-5, -10, 101, 43],
        ["2024-01-01T00:00:00Z", "2024-02-10T00:00:00Z"],
    )
    assert world.get("alice", "/stac/collections/survey/queryables").status_code == 200
    assert set(collections(world, "root")) == set(seen)

    # Published: everyone sees the survey.
    world.catalog.update_dataset(survey.id, visibility="public")
    assert collections(world, "bob")["survey"]["cogsight:item_count"] == 1

    # The scene on the western and southern edge goes: the extent shrinks to what is left.
    world.catalog.delete_dataset(public[2].id)
    s2 = collections(world, None)["sentinel-2-l2a"]
    assert s2["cogsight:item_count"] == 2
    assert extent(s2) == ([10, 40, 13, 43], ["2024-01-01T00:00:00Z", "2024-01-11T00:00:00Z"])
    # The last one of a collection goes: so does the collection.
    world.catalog.delete_dataset(landsat.id)
    assert "landsat8-c2l2" not in collections(world, "root")
    assert world.get("root", "/stac/collections/landsat8-c2l2").status_code == 404
    # Items name the collection their summary counts them in.
    item = world.get(None, f"/stac/collections/survey/items/{survey.id}").json()
    assert item["collection"] == "survey"


def test_private_scenes_never_reach_others(world: People) -> None:
    alice = world.ids["alice"]
    hidden = scene((50, 50, 51, 51), owner=alice, visibility="private")
    shown = scene((50.2, 50.2, 51, 51))
    world.catalog.add_datasets([hidden, shown])
    query = {"bbox": "50,50,51,51", "collections": "sentinel-2-l2a"}
    for who in (None, "bob"):
        page = world.get(who, "/stac/search", params=query).json()
        assert [f["id"] for f in page["features"]] == [shown.id]
        assert page["numberMatched"] == 1
        cql = {"filter": "S_INTERSECTS(geometry, POINT(50.5 50.5))", "filter-lang": "cql2-text"}
        page = world.get(who, "/stac/search", params=cql).json()
        assert [f["id"] for f in page["features"]] == [shown.id]
    page = world.get("alice", "/stac/search", params=query).json()
    assert {f["id"] for f in page["features"]} == {hidden.id, shown.id}


def test_number_matched_is_left_out_past_the_limit(
    world: People, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past ``EXACT_COUNT_LIMIT`` matches the search stops counting: no numberMatched, and
    paging still walks every match once, in order."""
    records = [scene((10 + i / 100, 40, 11, 41), day=i) for i in range(7)]
    world.catalog.add_datasets(records)
    newest_first = [r.id for r in reversed(records)]
    for params in ({"bbox": "10,40,11,41"}, {"datetime": "2024-01-01T00:00:00Z/.."}):
        page = world.get(None, "/stac/search", params={**params, "limit": 3}).json()
        assert page["numberMatched"] == 7
        monkeypatch.setattr(stac_search, "EXACT_COUNT_LIMIT", 4)
        seen: list[str] = []
        url: str | None = "/stac/search"
        query: dict[str, Any] | None = {**params, "limit": 3}
        while url:
            page = world.get(None, url, params=query).json()
            assert "numberMatched" not in page
            assert page["numberReturned"] == len(page["features"])
            seen += [f["id"] for f in page["features"]]
            nxt = [link["href"] for link in page["links"] if link["rel"] == "next"]
            url, query = (nxt[0], None) if nxt else (None, None)
        assert seen == newest_first
        monkeypatch.setattr(stac_search, "EXACT_COUNT_LIMIT", 10_000)
