"""Editing vector features over HTTP: PATCH / POST / DELETE / undo / history.

Each test registers its own small polygon layer shaped like a model's output (``class``,
``class_name``, ``score``, ``area_m2``, ``perimeter_m``) near East Lake, edits it through the
API and checks the three places an edit must show: the feature endpoints, the FlatGeobuf, and
the vector tiles (decoded with GDAL's MVT driver), including through the tile cache.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import morecantile
import pyogrio
import pytest
import shapely
import shapely.geometry
from pyproj import Geod

from tileserver.catalog import DatasetRecord
from tileserver.vectors import register_vector
from tileserver.vectors.history import edit_lock

TMS = morecantile.tms.get("WebMercatorQuad")
CLASSES = {"1": {"name": "water", "color": "#1f6fd1"}}
D = 0.002  # about 200 m


def squares() -> gpd.GeoDataFrame:
    origins = [(114.400, 30.550), (114.404, 30.550), (114.408, 30.550)]
    geoms = [shapely.box(x, y, x + D, y + D) for x, y in origins]
    area, perimeter = zip(
        *(Geod(ellps="WGS84").geometry_area_perimeter(g) for g in geoms), strict=True
    )
    return gpd.GeoDataFrame(
        {
            "class": [1, 1, 1],
            "class_name": ["water"] * 3,
            "score": [0.9, 0.8, 0.7],
            "area_m2": [abs(a) for a in area],
            "perimeter_m": list(perimeter),
        },
        geometry=geoms,
        crs="EPSG:4326",
    )


@pytest.fixture
def layer(catalog, settings, tmp_path) -> DatasetRecord:
    path = tmp_path / "lakes.geojson"
    pyogrio.write_dataframe(squares(), path, driver="GeoJSON")
    return register_vector(
        catalog, settings, path, title="Edit me", properties={"classes": CLASSES}
    )


def polygon(ring: list[tuple[float, float]]) -> dict:
    return {"type": "Polygon", "coordinates": [[*map(list, ring), list(ring[0])]]}


def features(client, record: DatasetRecord) -> dict[int, dict]:
    body = client.get(f"/vectors/{record.id}/features?limit=1000").json()
    return {f["id"]: f for f in body["features"]}


def moved(geometry: dict, index: int, dx: float, dy: float) -> dict:
    ring = [list(p) for p in geometry["coordinates"][0]]
    ring[index] = [ring[index][0] + dx, ring[index][1] + dy]
    if index == 0:
        ring[-1] = ring[0]
    return {"type": "Polygon", "coordinates": [ring]}


def tile_features(client, record: DatasetRecord, lon: float, lat: float, tmp: Path, query=""):
    """The decoded features of the max-zoom tile over (lon, lat), in EPSG:3857."""
    tile = TMS.tile(lon, lat, record.maxzoom)
    response = client.get(f"/vectors/{record.id}/tiles/{tile.z}/{tile.x}/{tile.y}.mvt{query}")
    assert response.status_code == 200
    path = tmp / f"{time.monotonic_ns()}.pbf"
    path.write_bytes(response.content)
    frame = pyogrio.read_dataframe(
        path, layer=record.properties["layer"], X=tile.x, Y=tile.y, Z=tile.z
    )
    return frame, response


def near_vertex(frame: gpd.GeoDataFrame, lon: float, lat: float, tolerance_m: float) -> bool:
    point = gpd.GeoSeries([shapely.Point(lon, lat)], crs=4326).to_crs(3857).iloc[0]
    vertices = shapely.get_coordinates(frame.geometry.to_numpy())
    return bool(((vertices - [point.x, point.y]) ** 2).sum(axis=1).min() ** 0.5 < tolerance_m)


def test_move_a_vertex_then_undo(client, layer, tmp_path):
    original = features(client, layer)
    fid = next(iter(original))
    feature = original[fid]
    x0, y0 = feature["geometry"]["coordinates"][0][2]
    geometry = moved(feature["geometry"], 2, 0.0008, 0.0005)
    new_x, new_y = geometry["coordinates"][0][2]
    before_tiles, _ = tile_features(client, layer, new_x, new_y, tmp_path)
    assert not near_vertex(before_tiles, new_x, new_y, 3.0)

    response = client.patch(
        f"/vectors/{layer.id}/features/{fid}",
        json={"type": "Feature", "geometry": geometry},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["version"] == 1 and body["edit"]["op"] == "update"
    assert body["feature"]["geometry"] == geometry

    after = features(client, layer)
    assert after.keys() == original.keys(), "ids are stable across the rewrite"
    assert after[fid]["geometry"] == geometry
    assert client.get(f"/vectors/{layer.id}/features/{fid}").json()["geometry"] == geometry
    area = abs(Geod(ellps="WGS84").geometry_area_perimeter(shapely.geometry.shape(geometry))[0])
    assert after[fid]["properties"]["area_m2"] == pytest.approx(area, abs=0.01)
    assert after[fid]["properties"]["area_m2"] != original[fid]["properties"]["area_m2"]
    for other in set(original) - {fid}:
        assert after[other]["geometry"] == original[other]["geometry"]

    tiles, _ = tile_features(client, layer, new_x, new_y, tmp_path)
    assert near_vertex(tiles, new_x, new_y, 3.0), "the tile has the moved vertex"
    assert not near_vertex(tiles[tiles["fid"] == fid], x0, y0, 3.0), "and not the old one"

    undone = client.post(f"/vectors/{layer.id}/undo")
    assert undone.status_code == 200, undone.text
    assert undone.json()["feature"]["geometry"] == original[fid]["geometry"]
    assert undone.json()["feature"]["properties"] == {**original[fid]["properties"], "fid": fid}
    restored = features(client, layer)
    for key, value in original.items():
        assert restored[key]["geometry"] == value["geometry"], "undo restores exactly"
        assert {**value["properties"], "fid": key} == restored[key]["properties"]
    tiles, _ = tile_features(client, layer, new_x, new_y, tmp_path)
    assert not near_vertex(tiles, new_x, new_y, 3.0)
    assert near_vertex(tiles, x0, y0, 3.0)


def field_types(settings, record: DatasetRecord) -> dict[str, str]:
    info = pyogrio.read_info(settings.data_dir / record.uri)
    return dict(zip(info["fields"], info["dtypes"], strict=True))


def test_delete_add_and_their_undo(client, layer, settings):
    types = field_types(settings, layer)
    original = features(client, layer)
    victim = sorted(original)[1]
    gone = client.delete(f"/vectors/{layer.id}/features/{victim}")
    assert gone.status_code == 200 and gone.json()["feature"] is None
    assert client.get(f"/vectors/{layer.id}/features/{victim}").status_code == 404
    assert set(features(client, layer)) == set(original) - {victim}

    back = client.post(f"/vectors/{layer.id}/undo").json()
    assert back["feature"]["id"] == victim
    assert back["feature"]["geometry"] == original[victim]["geometry"]
    assert features(client, layer)[victim]["geometry"] == original[victim]["geometry"]

    square = shapely.box(114.402, 30.555, 114.403, 30.556)
    created = client.post(
        f"/vectors/{layer.id}/features",
        json={
            "type": "Feature",
            "geometry": json.loads(shapely.to_geojson(square)),
            "properties": {"class": 1, "class_name": "water"},
        },
    )
    assert created.status_code == 201, created.text
    new = created.json()["feature"]
    assert new["id"] not in original, "a new id, never one a deleted feature had"
    assert new["properties"]["class_name"] == "water" and new["properties"]["score"] is None
    assert new["properties"]["area_m2"] == pytest.approx(
        abs(Geod(ellps="WGS84").geometry_area_perimeter(square)[0]), abs=0.01
    )
    assert new["id"] in features(client, layer)
    assert client.delete(f"/vectors/{layer.id}/features/{new['id']}").status_code == 200
    assert client.post(f"/vectors/{layer.id}/undo").json()["feature"] == new, "back as it was"
    assert client.post(f"/vectors/{layer.id}/undo").json()["feature"] is None
    assert set(features(client, layer)) == set(original)
    assert field_types(settings, layer) == types | {"fid": "int64"}, "no field changed type"
    for feature in features(client, layer).values():
        assert isinstance(feature["properties"]["area_m2"], float)


def test_history_lists_edits_newest_first(client, layer):
    fid, first = sorted(features(client, layer).items())[0]
    client.patch(f"/vectors/{layer.id}/features/{fid}", json={"properties": {"score": 0.5}})
    client.patch(f"/vectors/{layer.id}/features/{fid}", json={"properties": {"score": 0.25}})
    client.post(f"/vectors/{layer.id}/undo")
    history = client.get(f"/vectors/{layer.id}/history").json()
    assert history["version"] == 3 and history["feature_count"] == 3
    assert [e["op"] for e in history["edits"]] == ["undo", "update", "update"]
    assert history["edits"][0]["undoes"] == 2
    assert history["undoable"] == 1
    assert history["edits"][1]["after"]["properties"]["score"] == 0.25
    assert features(client, layer)[fid]["properties"]["score"] == 0.5
    client.post(f"/vectors/{layer.id}/undo")
    assert features(client, layer)[fid]["properties"]["score"] == first["properties"]["score"]
    nothing = client.post(f"/vectors/{layer.id}/undo")
    assert nothing.status_code == 400 and "no edit to undo" in nothing.json()["detail"]


@pytest.mark.parametrize(
    ("geometry", "message"),
    [
        (
            polygon([(114.40, 30.55), (114.41, 30.56), (114.41, 30.55), (114.40, 30.56)]),
            "not valid: Self-intersection",
        ),
        ({"type": "Point", "coordinates": [114.4, 30.55]}, "holds polygons"),
        (
            {"type": "Polygon", "coordinates": [[[400, 30], [401, 30], [401, 31], [400, 30]]]},
            "outside WGS84",
        ),
        ({"type": "Polygon", "coordinates": [[[114.4, 30.5], [114.5, 30.5]]]}, "GeoJSON"),
        ({"type": "Nonsense", "coordinates": []}, "GeoJSON"),
        (
            {"type": "Polygon", "coordinates": [[[1, 1], [2, 2], [3, 3], [1, 1]]]},
            "not valid",
        ),
    ],
)
def test_bad_geometry_is_400(client, layer, geometry, message):
    fid = sorted(features(client, layer))[0]
    response = client.patch(f"/vectors/{layer.id}/features/{fid}", json={"geometry": geometry})
    assert response.status_code == 400, response.text
    assert message in response.json()["detail"]
    response = client.post(f"/vectors/{layer.id}/features", json={"geometry": geometry})
    assert response.status_code == 400
    assert client.get(f"/vectors/{layer.id}/history").json()["version"] == 0


def test_unknown_fid_field_and_dataset(client, layer, demo):
    assert client.get(f"/vectors/{layer.id}/features/999").status_code == 404
    square = polygon([(114.4, 30.5), (114.41, 30.5), (114.41, 30.51)])
    response = client.patch(f"/vectors/{layer.id}/features/999", json={"geometry": square})
    assert response.status_code == 404 and "Feature 999" in response.json()["detail"]
    assert client.delete(f"/vectors/{layer.id}/features/999").status_code == 404
    fid = sorted(features(client, layer))[0]
    unknown = client.patch(f"/vectors/{layer.id}/features/{fid}", json={"properties": {"depth": 3}})
    assert unknown.status_code == 400 and "Unknown field 'depth'" in unknown.json()["detail"]
    wrong = client.patch(
        f"/vectors/{layer.id}/features/{fid}", json={"properties": {"class": "lake"}}
    )
    assert wrong.status_code == 400 and "whole number" in wrong.json()["detail"]
    missing = client.post(f"/vectors/{layer.id}/features", json={"geometry": square})
    assert missing.status_code == 400 and "'class' is required" in missing.json()["detail"]
    assert client.patch(f"/vectors/nope/features/{fid}", json={"geometry": square}).status_code == (
        404
    )
    raster = demo["scene-2024-05-12"]
    assert client.post(f"/vectors/{raster}/undo").status_code == 400


def test_cached_tiles_follow_edits(client, layer, tmp_path):
    fid = sorted(features(client, layer))[0]
    feature = client.get(f"/vectors/{layer.id}/features/{fid}").json()
    geometry = moved(feature["geometry"], 1, -0.0006, -0.0006)
    x, y = geometry["coordinates"][0][1]
    first, response = tile_features(client, layer, x, y, tmp_path)
    assert response.headers["cache-control"] == "public, no-cache", "unversioned: revalidate"
    _, again = tile_features(client, layer, x, y, tmp_path)
    assert again.headers["etag"] == response.headers["etag"]
    versioned = tile_features(client, layer, x, y, tmp_path, "?v=0")[1]
    assert versioned.headers["cache-control"].startswith("public, max-age=")

    client.patch(f"/vectors/{layer.id}/features/{fid}", json={"geometry": geometry})
    fresh, changed = tile_features(client, layer, x, y, tmp_path)
    assert changed.headers["etag"] != response.headers["etag"], "the cache did not answer"
    assert near_vertex(fresh, x, y, 3.0) and not near_vertex(first, x, y, 3.0)
    assert client.get(
        f"/vectors/{layer.id}/tiles/0/0/0.mvt", headers={"If-None-Match": changed.headers["etag"]}
    ).status_code in (304, 404)


def test_edit_lock_is_held_across_processes(layer, settings):
    folder = settings.data_dir / "vectors" / layer.id
    code = (
        "import sys, time; from pathlib import Path;"
        "from tileserver.vectors.history import edit_lock\n"
        "with edit_lock(Path(sys.argv[1])):\n"
        "    print('locked', flush=True); time.sleep(1.0)\n"
    )
    root = Path(__file__).resolve().parents[2]
    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(folder)], stdout=subprocess.PIPE, text=True, cwd=root
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        start = time.monotonic()
        with edit_lock(folder):
            waited = time.monotonic() - start
        assert waited > 0.5, "the other process's lock was respected"
    finally:
        holder.wait(timeout=10)
