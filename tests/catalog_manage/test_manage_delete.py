"""DELETE /datasets/{id}: files, thumbnail, cached tiles, STAC and quota usage all follow; a
dataset a queued or running job or a mosaic needs is refused with 409 naming them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.catalog_manage.world import World, world
from tileserver.http.app_caches import tile_caches
from tileserver.ingest.thumbnail import thumbnail_path
from tileserver.jobs.store import JobStore
from tileserver.storage import dataset_folder


@pytest.fixture(scope="module")
def w(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with world(tmp_path_factory.mktemp("manage-delete")) as made:
        yield made


def _stac_ids(w: World, who: str) -> list[str]:
    response = w.get(who, "/stac/search", params={"limit": 1000})
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["features"]]


def _cached_keys(w: World, prefix: str) -> list[str]:
    (cache,) = tile_caches(w.app)
    return [key for key in cache.cache if key.startswith(prefix)]


def test_a_deleted_raster_leaves_nothing_behind(w: World) -> None:
    keep = w.upload_raster("alice", title="kept", seed=5)
    record = w.upload_raster("alice", title="to delete", seed=6)
    ident, cog, thumb = record["id"], w.file_of(record), thumbnail_path(w.settings, record["id"])
    size = record["properties"]["size_bytes"]
    assert cog.is_file() and cog.stat().st_size == size and thumb.is_file()
    tile = w.tile_url(record)
    assert w.get("alice", tile).status_code == 200
    assert w.get("alice", tile).status_code == 200
    assert _cached_keys(w, f"/raster/{ident}/")  # the tile is in the cache
    assert ident in _stac_ids(w, "alice")
    assert w.get("alice", f"/stac/collections/generic/items/{ident}").status_code == 200
    before = w.storage("alice")

    response = w.delete("alice", f"/datasets/{ident}")
    assert response.status_code == 204 and response.content == b""

    assert w.get("alice", tile).status_code == 404
    assert not _cached_keys(w, f"/raster/{ident}/")
    assert w.get("alice", f"/datasets/{ident}").status_code == 404
    assert w.get("root", f"/datasets/{ident}").status_code == 404
    assert not cog.exists() and not thumb.exists()
    assert not list(cog.parent.glob(f"{ident}*"))
    assert w.trash_entries() == []
    assert ident not in _stac_ids(w, "alice") and keep["id"] in _stac_ids(w, "alice")
    assert w.get("alice", f"/stac/collections/generic/items/{ident}").status_code == 404
    assert w.storage("alice") == before - size
    assert w.delete("alice", f"/datasets/{ident}").status_code == 404
    assert w.get("alice", w.tile_url(keep)).status_code == 200  # the other one is untouched


def test_a_deleted_vector_takes_its_folder(w: World) -> None:
    record = w.upload_vector("alice", title="zones")
    folder = dataset_folder(w.settings, "vectors", record["id"])
    assert (folder / "features.fgb").is_file() and (folder / "tiles.pmtiles").is_file()
    edit = w.client.patch(
        f"/vectors/{record['id']}/features/0",
        json={"properties": {"class": 2}},
        headers=w.headers("alice"),
    )  # an edit: its history and lock files join the folder
    assert edit.status_code == 200, edit.text
    assert (folder / "history.jsonl").is_file()
    tile = w.tile_url(record)
    assert w.get("alice", tile).status_code in (200, 204)
    before = w.storage("alice")
    size = sum(f.stat().st_size for f in folder.iterdir() if f.is_file())

    assert w.delete("alice", f"/datasets/{record['id']}").status_code == 204
    assert not folder.exists()
    assert w.get("alice", tile).status_code == 404
    assert w.get("alice", f"/vectors/{record['id']}/features").status_code == 404
    assert w.trash_entries() == []
    assert w.storage("alice") == before - size


def test_an_admin_deletes_anyones_dataset(w: World) -> None:
    record = w.upload_raster("bob", visibility="private", title="bob's", seed=7)
    assert w.delete("root", f"/datasets/{record['id']}").status_code == 204
    assert not w.file_of(record).exists()
    assert w.get("bob", f"/datasets/{record['id']}").status_code == 404


def test_a_running_job_keeps_its_input(w: World) -> None:
    record = w.upload_raster("alice", title="job input", seed=8)
    jobs = JobStore(w.catalog)
    job = jobs.create(
        "index", {"dataset": record["id"], "index": "NDVI"}, owner=w.user_ids["alice"]
    )
    assert jobs.start(job.id)

    refused = w.delete("alice", f"/datasets/{record['id']}")
    assert refused.status_code == 409
    assert refused.json() == {
        "code": "in_use",
        "detail": f"Dataset {record['id']} is used by job {job.id} (running); cancel it first.",
    }
    assert w.file_of(record).is_file() and w.trash_entries() == []
    assert w.get("alice", f"/datasets/{record['id']}").status_code == 200

    jobs.fail(job.id, "stopped")  # finished jobs need it no more
    assert w.delete("alice", f"/datasets/{record['id']}").status_code == 204


def test_a_queued_job_of_another_user_is_counted_not_named(w: World) -> None:
    record = w.upload_raster("alice", title="public input", seed=9)
    jobs = JobStore(w.catalog)
    nested = {"datasets": [{"id": "x"}, {"id": record["id"]}], "index": "NDVI"}
    queued = jobs.create("composite", nested, owner=w.user_ids["bob"])
    refused = w.delete("alice", f"/datasets/{record['id']}")
    assert refused.status_code == 409
    assert refused.json()["detail"] == (
        f"Dataset {record['id']} is used by 1 job of other users; try again when it has finished."
    )
    by_admin = w.delete("root", f"/datasets/{record['id']}")
    assert by_admin.status_code == 409
    assert f"job {queued.id} (accepted)" in by_admin.json()["detail"]
    jobs.dismiss(queued.id)
    assert w.delete("alice", f"/datasets/{record['id']}").status_code == 204


def test_a_mosaic_keeps_its_scenes(w: World) -> None:
    record = w.upload_raster("alice", title="mosaic scene", seed=10)
    made = []
    for n in range(5):
        response = w.post("alice", "/mosaics", json={"ids": [record["id"]], "title": f"m{n}"})
        assert response.status_code == 201, response.text
        made.append(response.json()["id"])

    refused = w.delete("alice", f"/datasets/{record['id']}")
    assert refused.status_code == 409
    assert refused.json() == {
        "code": "in_use",
        "detail": f"Dataset {record['id']} is used by mosaics {', '.join(made[:3])} … and 2 "
        "more; delete them first.",
    }
    assert w.file_of(record).is_file() and w.trash_entries() == []
    for ident in made[1:]:
        assert w.delete("alice", f"/mosaics/{ident}").status_code == 204
    one = w.delete("alice", f"/datasets/{record['id']}").json()["detail"]
    assert one == f"Dataset {record['id']} is used by mosaic {made[0]}; delete it first."
    assert w.delete("alice", f"/mosaics/{made[0]}").status_code == 204
    assert w.delete("alice", f"/datasets/{record['id']}").status_code == 204


def test_a_private_mosaic_of_another_user_is_counted_not_named(w: World) -> None:
    record = w.upload_raster("alice", title="used by bob", seed=11)
    mosaic = w.post("bob", "/mosaics", json={"ids": [record["id"]]}).json()
    w.patch("bob", f"/mosaics/{mosaic['id']}", json={"visibility": "private"})
    refused = w.delete("alice", f"/datasets/{record['id']}").json()["detail"]
    assert mosaic["id"] not in refused
    assert refused == (
        f"Dataset {record['id']} is used by 1 mosaic of other users; it must be deleted first."
    )
    w.patch("bob", f"/mosaics/{mosaic['id']}", json={"visibility": "public"})
    named = w.delete("alice", f"/datasets/{record['id']}").json()["detail"]
    assert named == (
        f"Dataset {record['id']} is used by mosaic {mosaic['id']}; it must be deleted first."
    )
    assert w.delete("bob", f"/mosaics/{mosaic['id']}").status_code == 204
    assert w.delete("alice", f"/datasets/{record['id']}").status_code == 204
