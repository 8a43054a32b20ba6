"""layer.json, the /terrain list, the access rule and the precise 4xx answers."""

from __future__ import annotations

import math

import pytest

from tests.terrain.conftest import World
from tests.terrain.dems import tile_at


def covers(ranges: list[dict[str, int]], x0: int, y0: int, x1: int, y1: int) -> bool:
    return all(
        any(r["startX"] <= x <= r["endX"] and r["startY"] <= y <= r["endY"] for r in ranges)
        for x in range(x0, x1 + 1)
        for y in range(y0, y1 + 1)
    )


@pytest.mark.parametrize("name", ["utm", "geo", "mosaic"])
def test_layer_json_describes_the_tileset(world: World, name: str) -> None:
    ident = world.ids[name]
    response = world.client.get(f"/terrain/{ident}/layer.json")
    assert response.status_code == 200, response.text
    layer = response.json()
    assert layer["tilejson"] == "2.1.0"
    assert layer["format"] == "quantized-mesh-1.0"
    assert layer["scheme"] == "tms" and layer["projection"] == "EPSG:4326"
    assert layer["extensions"] == ["octvertexnormals", "watermask"]
    assert layer["tiles"] == ["{z}/{x}/{y}.terrain?v={version}"]
    assert layer["minzoom"] == 0 and 13 <= layer["maxzoom"] <= 15  # 30 m pixels
    available = layer["available"]
    assert len(available) == layer["maxzoom"] + 1
    assert available[0] == [{"startX": 0, "startY": 0, "endX": 1, "endY": 0}]
    scenes = ["west49", "east50"] if name == "mosaic" else [name]
    boxes = [world.client.get(f"/datasets/{world.ids[s]}").json()["bounds"] for s in scenes]
    for z in range(1, layer["maxzoom"] + 1):
        d = 180 / 2**z  # each zoom's ranges hold every tile under the data (each scene's)
        wanted = 0
        for west, south, east, north in boxes:
            x0, y0 = math.floor((west + 180) / d), math.floor((south + 90) / d)
            x1, y1 = math.ceil((east + 180) / d) - 1, math.ceil((north + 90) / d) - 1
            assert covers(available[z], x0, y0, x1, y1), z
            wanted += (x1 - x0 + 1) * (y1 - y0 + 1)
        listed = sum(
            (r["endX"] - r["startX"] + 1) * (r["endY"] - r["startY"] + 1) for r in available[z]
        )
        assert listed <= wanted  # and nothing far from the data
    assert response.headers["cache-control"] == "public, no-cache"


def test_layer_json_with_a_token_repeats_it_and_is_not_stored(world: World) -> None:
    token = world.alice["Authorization"].removeprefix("Bearer ")
    ident = world.ids["private"]
    response = world.client.get(f"/terrain/{ident}/layer.json?access_token={token}")
    assert response.status_code == 200
    expected = f"{{z}}/{{x}}/{{y}}.terrain?v={{version}}&access_token={token}"
    assert response.json()["tiles"] == [expected]
    assert response.headers["cache-control"] == "private, no-store"
    x, y = tile_at(10, 114.01, 30.79)
    tile = world.client.get(f"/terrain/{ident}/10/{x}/{y}.terrain?access_token={token}")
    assert tile.status_code == 200 and tile.headers["cache-control"].startswith("private")


def test_another_users_private_dem_is_not_found(world: World) -> None:
    ident = world.ids["private"]
    x, y = tile_at(10, 114.01, 30.79)
    for headers in (world.bob, {}):
        for url in (f"/terrain/{ident}/layer.json", f"/terrain/{ident}/10/{x}/{y}.terrain"):
            response = world.client.get(url, headers=headers)
            assert response.status_code == 404, url
            assert response.json()["code"] == "terrain_not_found"
    assert world.client.get(f"/terrain/{ident}/layer.json", headers=world.alice).status_code == 200
    listed = {t["id"] for t in world.client.get("/terrain", headers=world.bob).json()}
    assert ident not in listed
    assert ident in {t["id"] for t in world.client.get("/terrain", headers=world.alice).json()}


def test_terrain_list_shows_dems_and_dem_mosaics(world: World) -> None:
    entries = {t["id"]: t for t in world.client.get("/terrain", headers=world.alice).json()}
    for name in ("utm", "geo", "mosaic"):
        assert world.ids[name] in entries
    assert world.ids["rgb"] not in entries and world.ids["empty"] not in entries
    utm = entries[world.ids["utm"]]
    assert utm["kind"] == "dataset" and utm["url"] == f"/terrain/{world.ids['utm']}/layer.json"
    assert 190 < utm["min"] < 260 and 900 < utm["max"] < 1100
    assert entries[world.ids["mosaic"]]["kind"] == "mosaic"


def test_a_three_band_image_is_refused_as_terrain(world: World) -> None:
    response = world.client.get(f"/terrain/{world.ids['rgb']}/layer.json")
    assert response.status_code == 400
    assert response.json()["code"] == "not_elevation"
    assert "3 bands" in response.json()["detail"]
    assert world.client.get(f"/terrain/{world.ids['rgb']}/0/0/0.terrain").status_code == 400


def test_a_dem_full_of_nodata_is_refused(world: World) -> None:
    response = world.client.get(f"/terrain/{world.ids['empty']}/0/0/0.terrain")
    assert response.status_code == 400
    assert "no valid elevation samples" in response.json()["detail"]


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("0/2/0.terrain", 404, "tile_outside_grid"),
        ("0/0/1.terrain", 404, "tile_outside_grid"),
        ("3/16/0.terrain", 404, "tile_outside_grid"),
        ("23/0/0.terrain", 404, "tile_outside_grid"),
        ("19/0/0.terrain", 404, "beyond_maxzoom"),
    ],
)
def test_tiles_outside_the_grid_or_past_maxzoom(
    world: World, path: str, status: int, code: str
) -> None:
    response = world.client.get(f"/terrain/{world.ids['utm']}/{path}")
    assert response.status_code == status
    assert response.json()["code"] == code
    assert "terrain" in response.json()["detail"] or "maxzoom" in response.json()["detail"]


def test_unknown_terrain_and_malformed_tiles(world: World) -> None:
    assert world.client.get("/terrain/nope/layer.json").status_code == 404
    assert world.client.get(f"/terrain/{world.ids['utm']}/0/-1/0.terrain").status_code == 422
