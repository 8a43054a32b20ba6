"""PATCH and DELETE on /datasets/{id} and /mosaics/{id}: who may, what is checked, what changes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.catalog_manage.world import World, world


@pytest.fixture(scope="module")
def w(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with world(tmp_path_factory.mktemp("manage-http")) as made:
        yield made


def test_owner_renames_describes_and_hides_a_dataset(w: World) -> None:
    record = w.upload_raster("alice", title="before")
    response = w.patch(
        "alice",
        f"/datasets/{record['id']}",
        json={
            "title": "  Wuhan, June  ",
            "description": "Clear sky.\nBands: BGRN.",
            "visibility": "private",
        },
    )
    assert response.status_code == 200, response.text
    out = response.json()
    assert (out["title"], out["visibility"]) == ("Wuhan, June", "private")
    assert out["properties"]["description"] == "Clear sky.\nBands: BGRN."
    assert out["id"] == record["id"] and out["links"]["self"].endswith(f"/datasets/{record['id']}")
    again = w.get("alice", f"/datasets/{record['id']}").json()
    assert (again["title"], again["visibility"]) == ("Wuhan, June", "private")
    # one field at a time leaves the others; an empty description removes it
    out = w.patch("alice", f"/datasets/{record['id']}", json={"description": ""}).json()
    assert "description" not in out["properties"] and out["title"] == "Wuhan, June"
    assert out["properties"]["size_bytes"] == record["properties"]["size_bytes"]
    out = w.patch("alice", f"/datasets/{record['id']}", json={}).json()
    assert (out["title"], out["visibility"]) == ("Wuhan, June", "private")


def test_an_admin_changes_anyones_dataset_and_the_owner_stays(w: World) -> None:
    record = w.upload_raster("alice", visibility="private", title="hers")
    out = w.patch("root", f"/datasets/{record['id']}", json={"title": "renamed by root"})
    assert out.status_code == 200
    assert out.json()["title"] == "renamed by root"
    assert out.json()["owner"] == w.user_ids["alice"]


@pytest.mark.parametrize("method", ["patch", "delete"])
def test_others_cannot_change_or_delete(w: World, method: str) -> None:
    private = w.upload_raster("alice", visibility="private", title="private")
    public = w.upload_raster("alice", visibility="public", title="public")

    def call(who: str | None, ident: str) -> tuple[int, str]:
        url = f"/datasets/{ident}"
        r = w.patch(who, url, json={"title": "x"}) if method == "patch" else w.delete(who, url)
        return r.status_code, r.json()["code"]

    assert call("bob", private["id"]) == (404, "not_found")  # as if it did not exist
    assert call("bob", public["id"]) == (403, "forbidden")
    assert call(None, public["id"]) == (401, "unauthorized")
    assert call(None, private["id"]) == (404, "not_found")
    assert call("bob", "000000000000") == (404, "dataset_not_found")
    for record in (private, public):
        assert w.get("alice", f"/datasets/{record['id']}").json()["title"] == record["title"]


@pytest.fixture(scope="module")
def kept(w: World) -> dict:
    return w.upload_raster("alice", title="kept")


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"title": ""}, "body.title"),
        ({"title": "   "}, "body.title"),
        ({"title": "x" * 201}, "body.title"),
        ({"title": "two\nlines"}, "body.title"),
        ({"title": None}, "body.title"),
        ({"description": "d" * 10_001}, "body.description"),
        ({"description": "bell\x07"}, "body.description"),
        ({"visibility": "shared"}, "body.visibility"),
        ({"owner": "bob"}, "body.owner"),
        ({"title": "ok", "uri": "/etc/passwd"}, "body.uri"),
    ],
)
def test_invalid_changes_are_refused_with_the_field(
    w: World, kept: dict, body: dict, where: str
) -> None:
    record = kept
    response = w.patch("alice", f"/datasets/{record['id']}", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "validation_error"
    assert where in response.json()["detail"]
    after = w.get("alice", f"/datasets/{record['id']}").json()
    assert (after["title"], after["visibility"]) == ("kept", "public")


def test_limits_are_inclusive(w: World) -> None:
    record = w.upload_raster("alice", title="limits")
    out = w.patch(
        "alice", f"/datasets/{record['id']}", json={"title": "t" * 200, "description": "d" * 10_000}
    )
    assert out.status_code == 200
    assert (
        len(out.json()["title"]) == 200 and len(out.json()["properties"]["description"]) == 10_000
    )
    assert w.patch("alice", f"/datasets/{record['id']}", content=b"{not json").status_code == 422


def test_making_a_dataset_private_hides_it_from_others_at_once(w: World) -> None:
    record = w.upload_raster("alice", title="shared then hidden")
    tile = w.tile_url(record)
    first = w.get("bob", tile)
    assert first.status_code == 200 and first.content[:4] == b"\x89PNG"
    assert w.get("bob", tile).status_code == 200  # cached record and tile
    assert (
        w.patch("alice", f"/datasets/{record['id']}", json={"visibility": "private"}).status_code
        == 200
    )
    # no waiting for the 10 s record cache: this process forgot the record
    assert w.get("bob", tile).status_code == 404
    assert w.get("bob", f"/datasets/{record['id']}").status_code == 404
    listed = [d["id"] for d in w.get("bob", "/datasets").json()["items"]]
    assert record["id"] not in listed
    assert w.get("alice", tile).status_code == 200  # the owner still sees it
    assert (
        w.patch("alice", f"/datasets/{record['id']}", json={"visibility": "public"}).status_code
        == 200
    )
    assert w.get("bob", tile).status_code == 200


def test_a_rename_shows_at_once_in_stac(w: World) -> None:
    record = w.upload_raster("alice", title="old name")
    assert w.get("alice", f"/datasets/{record['id']}").json()["title"] == "old name"
    w.patch("alice", f"/datasets/{record['id']}", json={"title": "new name"})
    items = w.get("alice", "/stac/search", params={"ids": record["id"]}).json()["features"]
    assert [i["properties"]["title"] for i in items] == ["new name"]


def _mosaic(w: World, who: str, ids: list[str], title: str = "m") -> dict:
    response = w.post(who, "/mosaics", json={"ids": ids, "title": title})
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_mosaics_are_renamed_described_hidden_and_deleted(w: World) -> None:
    scene = w.upload_raster("alice", title="mosaic scene", seed=3)
    mosaic = _mosaic(w, "alice", [scene["id"]], title="first")
    assert (mosaic["owner"], mosaic["visibility"], mosaic["description"]) == (
        w.user_ids["alice"],
        "public",
        None,
    )
    url = f"/mosaics/{mosaic['id']}"
    out = w.patch(
        "alice",
        url,
        json={"title": "Summer", "description": "June scenes.", "visibility": "private"},
    )
    assert out.status_code == 200, out.text
    assert (out.json()["title"], out.json()["description"], out.json()["visibility"]) == (
        "Summer",
        "June scenes.",
        "private",
    )
    assert w.get("alice", url).json()["description"] == "June scenes."
    assert w.get("bob", url).status_code == 404
    assert w.patch("bob", url, json={"title": "x"}).status_code == 404
    assert w.delete("bob", url).status_code == 404
    w.patch("alice", url, json={"visibility": "public"})
    assert w.patch("bob", url, json={"title": "x"}).status_code == 403
    assert w.delete("bob", url).status_code == 403
    assert w.delete(None, url).status_code == 401
    assert w.patch("alice", url, json={"title": ""}).status_code == 422
    assert w.patch("alice", url, json={"dataset_ids": []}).status_code == 422

    tile = w.tile_url({**scene, "kind": "raster"}).replace(f"/raster/{scene['id']}/", f"{url}/")
    assert w.get("bob", tile).status_code == 200
    deleted = w.delete("alice", url)
    assert deleted.status_code == 204 and deleted.content == b""
    assert w.get("alice", url).status_code == 404
    assert w.get("bob", tile).status_code == 404
    assert mosaic["id"] not in [m["id"] for m in w.get("alice", "/mosaics").json()["items"]]
    assert w.get("alice", f"/datasets/{scene['id']}").status_code == 200  # its scenes stay
    assert w.delete("alice", url).status_code == 404


def test_an_admin_deletes_anyones_mosaic(w: World) -> None:
    scene = w.upload_raster("bob", title="bob scene", seed=4)
    mosaic = _mosaic(w, "bob", [scene["id"]])
    w.patch("bob", f"/mosaics/{mosaic['id']}", json={"visibility": "private"})
    assert w.delete("root", f"/mosaics/{mosaic['id']}").status_code == 204
    assert w.get("bob", f"/mosaics/{mosaic['id']}").status_code == 404
