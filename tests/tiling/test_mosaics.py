"""Mosaics across UTM zones: no seam gap, every zoom answers, incompatible scenes refused."""

from __future__ import annotations

import time

import httpx
import morecantile
import numpy as np
import pytest
from shapely.geometry import box, shape
from shapely.ops import unary_union

from tests.tiling.helpers import decode

TMS = morecantile.tms.get("WebMercatorQuad")
SCENES = ["mosaic-49n-00", "mosaic-50n-01", "mosaic-49n-10", "mosaic-50n-11"]


@pytest.fixture(scope="module")
def mosaic(client, demo):
    return client.get(f"/mosaics/{demo['mosaic']}").json()


def test_demo_mosaic_spans_two_utm_zones(client, demo, mosaic):
    crss = {client.get(f"/datasets/{demo[s]}").json()["crs"] for s in SCENES}
    assert crss == {"EPSG:32649", "EPSG:32650"}
    assert mosaic["bounds"][0] < 114.0 < mosaic["bounds"][2]


def test_tile_across_the_zone_seam_has_no_gap(client, demo, mosaic):
    union = unary_union(
        [shape(client.get(f"/datasets/{demo[s]}").json()["footprint"]) for s in SCENES]
    )
    lat = (mosaic["bounds"][1] + mosaic["bounds"][3]) / 2
    tile = TMS.tile(114.0, lat, 14)
    assert union.contains(box(*TMS.bounds(tile))), "test tile lies inside the scenes"
    url = (
        f"/mosaics/{mosaic['id']}/tiles/WebMercatorQuad/14/{tile.x}/{tile.y}.png"
        "?bidx=3&bidx=2&bidx=1&rescale=0,2000"
    )
    rgba = decode(client.get(url).content)
    assert (rgba[3] == 255).all(), "every pixel across the seam is filled"
    assert (rgba[:3].max(axis=0) > 0).all()
    seam_col = int(
        (TMS.xy(114.0, lat)[0] - TMS.xy_bounds(tile).left)
        / ((TMS.xy_bounds(tile).right - TMS.xy_bounds(tile).left) / 256)
    )
    assert 0 < seam_col < 255, "114E runs through this tile"


def test_mosaic_ndvi_equals_single_scene_ndvi(client, demo, mosaic):
    scene = client.get(f"/datasets/{demo['mosaic-49n-00']}").json()
    w, s, e, n = scene["bounds"]
    lon, lat = w + 0.1 * (e - w), n - 0.1 * (n - s)  # a corner only this scene covers
    single = client.get(f"/raster/{scene['id']}/point/{lon},{lat}?index=NDVI").json()
    mosaic_point = client.get(f"/mosaics/{mosaic['id']}/point/{lon},{lat}?index=NDVI").json()
    values = [v for a in mosaic_point["assets"] for v in a["values"]]
    assert values[0] == pytest.approx(single["values"][0], abs=1e-6)


def test_every_zoom_answers_quickly_on_a_real_server(live_server, demo):
    """A globe asks for z0-z2 first; those once enumerated millions of quadkeys."""
    lat = 30.55
    with httpx.Client(base_url=live_server, timeout=20) as http:
        for z in range(0, 17):
            t = TMS.tile(114.0, lat, z)
            started = time.perf_counter()
            r = http.get(
                f"/mosaics/{demo['mosaic']}/tiles/WebMercatorQuad/{z}/{t.x}/{t.y}.png"
                "?bidx=3&bidx=2&bidx=1&rescale=0,2000"
            )
            assert r.status_code == 200, (z, r.text)
            print(f"z{z}: {1000 * (time.perf_counter() - started):.0f} ms")
            alpha = decode(r.content)[3]
            if z >= 6:  # below that the 10 km scenes are smaller than a pixel
                assert alpha.any(), f"z{z} shows the data"


def test_build_by_query_and_refuse_mixed_band_counts(client, demo):
    body = {
        "bbox": [113.9, 30.4, 114.1, 30.7],
        "datetime": "2024-06-01T00:00:00Z/2024-06-02T00:00:00Z",
        "sensor": "generic",
        "title": "by query",
    }
    created = client.post("/mosaics", json=body)
    assert created.status_code == 201, created.text
    assert sorted(created.json()["dataset_ids"]) == sorted(demo[s] for s in SCENES)

    mixed = client.post(
        "/mosaics", json={"ids": [demo["scene-2024-05-12"], demo["sar-2024-05-14"]]}
    )
    assert mixed.status_code == 400
    assert mixed.json()["code"] == "incompatible_scenes" and "band counts" in mixed.json()["detail"]

    assert client.post("/mosaics", json={"ids": ["nope"]}).status_code == 400
    empty = client.post("/mosaics", json={"bbox": [0, 0, 1, 1]})
    assert empty.status_code == 400 and "No raster" in empty.json()["detail"]


def test_mosaic_tilejson_and_wmts(client, mosaic):
    tj = client.get(f"/mosaics/{mosaic['id']}/WebMercatorQuad/tilejson.json?index=NDVI").json()
    assert "index=NDVI" in tj["tiles"][0] and tj["bounds"][0] < 114 < tj["bounds"][2]
    xml = client.get(f"/mosaics/{mosaic['id']}/WMTSCapabilities.xml?index=NDVI")
    assert xml.status_code == 200 and f"cogsight_mosaic_{mosaic['id']}" in xml.text
    assert np.isfinite(tj["center"][0])
