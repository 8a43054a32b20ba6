"""Mosaics over archive queries: order, first valid pixel, composites, no silent truncation,
visibility and freshness, asserted on pixel values."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from tests.mosaics_archive.conftest import World, box_of
from tests.mosaics_archive.synthetic import SIDE, constant, tile_scene

JAN = dt.datetime(2024, 1, 10, tzinfo=dt.UTC)
JUN = dt.datetime(2024, 6, 10, tzinfo=dt.UTC)
SEP = dt.datetime(2024, 9, 10, tzinfo=dt.UTC)


def scene(world: World, spot, values, when, **options):  # type: ignore[no-untyped-def]
    data = constant(values) if not isinstance(values, np.ndarray) else values
    return tile_scene(world.catalog, world.data_dir, spot, data, when, **options)


def test_newest_first_shows_the_newer_scene(world: World, spot) -> None:
    scene(world, spot, [10, 110], JAN)
    scene(world, spot, [20, 120], JUN)
    mosaic = world.create(kind="query", bbox=box_of(spot))
    assert mosaic["kind"] == "query" and mosaic["matched"] == 2
    assert mosaic["query"]["order"] == "newest" and mosaic["query"]["method"] == "first"
    tile = world.tile(mosaic["id"], spot)
    assert (tile[0] == 20).all() and (tile[1] == 120).all()


def test_least_cloudy_picks_the_lower_cloud_cover(world: World, spot) -> None:
    scene(world, spot, [10, 110], JAN, cloud_cover=5.0)
    scene(world, spot, [20, 120], JUN, cloud_cover=40.0)
    scene(world, spot, [30, 130], SEP)  # unknown cloud cover: last
    mosaic = world.create(kind="query", bbox=box_of(spot), order="least-cloudy")
    assert (world.tile(mosaic["id"], spot)[0] == 10).all()
    clear = world.create(kind="query", bbox=box_of(spot), cloud_cover_max=20)
    assert clear["matched"] == 1 and (world.tile(clear["id"], spot)[0] == 10).all()


def test_first_valid_pixel_fills_the_newer_scenes_nodata_from_the_older(world: World, spot) -> None:
    scene(world, spot, [10, 110], JAN, nodata=0.0)
    newer = constant([20, 120])
    newer[:, :, : SIDE // 2] = 0  # the newer scene has no data in its west half
    scene(world, spot, newer, JUN, nodata=0.0)
    mosaic = world.create(kind="query", bbox=box_of(spot))
    tile = world.tile(mosaic["id"], spot)
    assert (tile[0, :, : SIDE // 2] == 10).all(), "older scene under the newer's nodata"
    assert (tile[0, :, SIDE // 2 :] == 20).all(), "newer scene on top"
    assert (tile[-1] > 0).all(), "the tile is filled"


@pytest.mark.parametrize("method", ["mean", "median"])
def test_mean_and_median_equal_numpy(world: World, spot, method: str) -> None:
    rng = np.random.default_rng(7)
    stack = [rng.uniform(1, 1000, (2, SIDE, SIDE)).astype("float32") for _ in range(3)]
    for data, when in zip(stack, (JAN, JUN, SEP), strict=True):
        scene(world, spot, data, when)
    mosaic = world.create(kind="query", bbox=box_of(spot), method=method)
    tile = world.tile(mosaic["id"], spot)
    expected = getattr(np, method)(np.stack(stack), axis=0)
    np.testing.assert_allclose(tile[:2], expected, rtol=1e-5)
    # the stored method is the default; ?pixel_selection= still overrides it per request
    first = world.tile(mosaic["id"], spot, query="pixel_selection=highest")
    np.testing.assert_allclose(first[:2], np.max(np.stack(stack), axis=0), rtol=1e-6)


def test_a_tile_needing_more_scenes_than_the_cap_is_a_clear_400(world: World, spot) -> None:
    for when in (JAN, JUN, SEP):
        scene(world, spot, [1, 2], when)
    mean = world.create(kind="query", bbox=box_of(spot), method="mean", max_scenes_per_tile=2)
    r = world.client.get(
        f"/mosaics/{mean['id']}/tiles/WebMercatorQuad/{spot.z}/{spot.x}/{spot.y}.npy",
        headers=world.auth("alice"),
    )
    assert r.status_code == 400
    assert (
        "more than 2 scenes" in r.json()["detail"] and "max_scenes_per_tile" in r.json()["detail"]
    )
    wms = world.client.get(
        f"/mosaics/{mean['id']}/wms",
        params={
            "SERVICE": "WMS",
            "REQUEST": "GetMap",
            "VERSION": "1.3.0",
            "LAYERS": f"mosaic:{mean['id']}",
            "STYLES": "",
            "CRS": "CRS:84",
            "BBOX": ",".join(map(str, box_of(spot))),
            "WIDTH": "64",
            "HEIGHT": "64",
            "FORMAT": "image/png",
        },
        headers=world.auth("alice"),
    )
    assert wms.status_code == 400 and "max_scenes_per_tile" in wms.text, wms.text[:300]
    # first valid pixel: the newest fills the tile, so one scene is enough under the same cap
    first = world.create(kind="query", bbox=box_of(spot), max_scenes_per_tile=1)
    assert (world.tile(first["id"], spot)[0] == 1).all()


def test_unfilled_tile_past_the_cap_is_a_400_not_a_partial_image(world: World, spot) -> None:
    holey = constant([5, 6])
    holey[:, :, :10] = 0
    scene(world, spot, constant([1, 2]), JAN, nodata=0.0)
    scene(world, spot, holey, JUN, nodata=0.0)
    capped = world.create(kind="query", bbox=box_of(spot), max_scenes_per_tile=1)
    r = world.client.get(
        f"/mosaics/{capped['id']}/tiles/WebMercatorQuad/{spot.z}/{spot.x}/{spot.y}.png",
        headers=world.auth("alice"),
    )
    assert r.status_code == 400 and "not filled by the first 1 scenes" in r.json()["detail"]


def test_1500_matching_scenes_all_used_or_a_400_naming_the_limit(world: World, spot) -> None:
    from tests.mosaics_archive.synthetic import add_records, scene_record, tile_origin, write_scene

    east = type(spot)(spot.x + 1, spot.y, spot.z)
    left, top, pixel = tile_origin(spot)
    write_scene(world.data_dir / "scenes/shared.tif", constant([7, 8]), left, top, pixel)
    start = dt.datetime(2023, 1, 1, tzinfo=dt.UTC)
    add_records(
        world.catalog,
        (
            scene_record("scenes/shared.tif", left, top, pixel, when=start + dt.timedelta(hours=h))
            for h in range(1, 1500)
        ),
    )
    # the oldest of the 1,500 is the only scene on the tile east of it: last in newest-first order
    scene(world, east, [99, 98], start)
    area = box_of(spot)[:2] + box_of(east)[2:]
    listed = world.client.post("/mosaics", json={"bbox": area}, headers=world.auth("alice"))
    assert listed.status_code == 400
    detail = listed.json()["detail"]
    assert "1,500 scenes" in detail and "at most 1,000" in detail and '"kind": "query"' in detail

    mosaic = world.create(kind="query", bbox=area)
    assert mosaic["matched"] == 1500
    assert (world.tile(mosaic["id"], east)[0] == 99).all(), "the 1,500th scene is used"
    assert (world.tile(mosaic["id"], spot)[0] == 7).all()


def test_another_users_private_scene_never_appears(world: World, spot) -> None:
    scene(world, spot, [10, 110], JAN, owner=world.users["alice"])  # public
    scene(world, spot, [66, 166], SEP, owner=world.users["bob"], visibility="private")
    mine = scene(world, spot, [30, 130], JUN, owner=world.users["alice"], visibility="private")
    public = world.client.post(
        "/mosaics",
        json={
            "kind": "query",
            "bbox": box_of(spot),
            "datetime": "2024-01-01T00:00:00Z/2024-02-01T00:00:00Z",
        },
        headers=world.auth("alice"),
    ).json()
    assert public["visibility"] == "public"
    private = world.create(kind="query", bbox=box_of(spot))
    assert private["visibility"] == "private" and private["matched"] == 2
    assert private["dataset_ids"] == []  # found per tile; none is kept from deletion
    # the owner's private mosaic shows her own private scene, never bob's newer one
    assert (world.tile(private["id"], spot)[0] == 30).all()
    # bob cannot read alice's private mosaic at all
    r = world.client.get(
        f"/mosaics/{private['id']}/tiles/WebMercatorQuad/{spot.z}/{spot.x}/{spot.y}.npy",
        headers=world.auth("bob"),
    )
    assert r.status_code == 404
    # made public, it shows only public scenes, checked at tile time: to bob as well
    patched = world.client.patch(
        f"/mosaics/{private['id']}", json={"visibility": "public"}, headers=world.auth("alice")
    )
    assert patched.status_code == 200, patched.text
    world.client.app.state.records.forget(private["id"])  # type: ignore[attr-defined]
    assert (world.tile(private["id"], spot, name="bob")[0] == 10).all()
    assert (world.tile(private["id"], spot)[0] == 10).all()
    # no query mosaic keeps a scene from being deleted (the mosaic finds its scenes per tile)
    gone = world.client.delete(f"/datasets/{mine.id}", headers=world.auth("alice"))
    assert gone.status_code == 204, gone.text


def test_a_scene_registered_later_shows_in_the_next_tile(world: World, spot) -> None:
    scene(world, spot, [10, 110], JAN)
    mosaic = world.create(kind="query", bbox=box_of(spot))
    assert (world.tile(mosaic["id"], spot)[0] == 10).all()
    assert (world.tile(mosaic["id"], spot)[0] == 10).all()  # now served from the tile cache
    scene(world, spot, [40, 140], SEP)
    assert (world.tile(mosaic["id"], spot)[0] == 40).all()


def test_tilejson_wmts_wms_point_and_index_on_a_query_mosaic(world: World, spot) -> None:
    scene(world, spot, [100, 300], JAN, sensor="generic")
    mosaic = world.create(kind="query", bbox=box_of(spot))
    ident, auth = mosaic["id"], world.auth("alice")
    tj = world.client.get(
        f"/mosaics/{ident}/WebMercatorQuad/tilejson.json?index=NDVI", headers=auth
    )
    assert tj.status_code == 200 and "index=NDVI" in tj.json()["tiles"][0]
    w, s, e, n = tj.json()["bounds"]
    assert w < (box_of(spot)[0] + box_of(spot)[2]) / 2 < e
    wmts = world.client.get(f"/mosaics/{ident}/WMTSCapabilities.xml", headers=auth)
    assert wmts.status_code == 200 and f"cogsight_mosaic_{ident}" in wmts.text
    ndvi = world.tile(ident, spot, query="index=NDVI")
    assert np.allclose(ndvi[0], (300 - 100) / (300 + 100))
    lon, lat = (w + e) / 2, (s + n) / 2
    point = world.client.get(f"/mosaics/{ident}/point/{lon},{lat}", headers=auth).json()
    assert point["assets"][0]["values"] == [100, 300]
    wms = world.client.get(
        f"/mosaics/{ident}/wms",
        params={
            "SERVICE": "WMS",
            "REQUEST": "GetMap",
            "VERSION": "1.3.0",
            "LAYERS": f"mosaic:{ident}",
            "STYLES": "",
            "CRS": "CRS:84",
            "BBOX": ",".join(map(str, box_of(spot))),
            "WIDTH": "64",
            "HEIGHT": "64",
            "FORMAT": "image/png",
        },
        headers=auth,
    )
    assert wms.status_code == 200 and wms.headers["content-type"] == "image/png", wms.text
    from tests.tiling.helpers import decode

    drawn = decode(wms.content)
    assert (drawn[-1] > 0).mean() > 0.9, "the map shows the scene"
    caps = world.client.get(
        f"/mosaics/{ident}/wms?SERVICE=WMS&REQUEST=GetCapabilities", headers=auth
    ).text
    assert f"<Name>mosaic:{ident}</Name>" in caps and "Mosaic of a query" in caps


def test_query_fields_need_kind_query_and_bad_queries_are_400(world: World, spot) -> None:
    r = world.client.post("/mosaics", json={"order": "least-cloudy"}, headers=world.auth("alice"))
    assert r.status_code == 400 and '"kind": "query"' in r.json()["detail"]
    bad = world.client.post(
        "/mosaics", json={"kind": "query", "filter": "nope <<"}, headers=world.auth("alice")
    )
    assert bad.status_code == 400
    none = world.client.post(
        "/mosaics",
        json={"kind": "query", "bbox": [0, 0, 0.001, 0.001]},
        headers=world.auth("alice"),
    )
    assert none.status_code == 400 and "No raster" in none.json()["detail"]


def test_a_gap_no_scene_covers_is_not_refused_by_the_cap(world: World, spot) -> None:
    from tests.mosaics_archive.synthetic import add_records, scene_record, tile_origin, write_scene

    left, top, pixel = tile_origin(spot)
    shifted = left + SIDE // 2 * pixel  # both scenes cover only the tile's east half
    for n, when in ((1, JAN), (2, JUN)):
        uri = f"scenes/half-{spot.x}-{n}.tif"
        write_scene(world.data_dir / uri, constant([n, n]), shifted, top, pixel)
        add_records(world.catalog, [scene_record(uri, shifted, top, pixel, when=when)])
    capped = world.create(kind="query", bbox=box_of(spot), max_scenes_per_tile=1)
    tile = world.tile(capped["id"], spot)
    assert (tile[0, :, SIDE // 2 :] == 2).all()
    assert (tile[-1, :, : SIDE // 2] < 0).all(), "the west half is a gap in the archive"
