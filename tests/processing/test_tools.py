"""Each tool's output checked numerically (run synchronously through the HTTP API)."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from pyproj import Transformer
from shapely.geometry import box, mapping
from shapely.ops import transform as shp_transform

SYNC = {"Prefer": "respond-sync"}


def run(client, process: str, inputs: dict) -> dict:
    response = client.post(f"/processes/{process}/execution", json={"inputs": inputs}, headers=SYNC)
    assert response.status_code == 200, response.text
    return response.json()


def cog(settings, client, dataset_id: str):
    record = client.get(f"/datasets/{dataset_id}").json()
    return rasterio.open(settings.data_dir / record["uri"]), record


@pytest.fixture(scope="module")
def scene(demo):
    return demo["scene-2024-05-12"]


def test_index_tool_values_and_lineage(client, settings, scene):
    out = run(client, "index", {"dataset": scene, "index": "NDVI"})
    (new_id,) = out["datasets"]
    result, record = cog(settings, client, new_id)
    source, _ = cog(settings, client, scene)
    with result, source:
        assert result.dtypes[0] == "float32" and result.shape == source.shape
        ndvi = result.read(1)
        red, nir = source.read(3).astype("float64"), source.read(4).astype("float64")
        valid = (red > 0) & (nir > 0)
        expected = (nir - red) / (nir + red)
        np.testing.assert_allclose(ndvi[valid], expected[valid], atol=1e-6)
        assert np.isnan(ndvi[~valid]).all(), "nodata collar stays nodata"
    lineage = record["properties"]["lineage"]
    assert lineage["process"] == "index" and lineage["inputs"]["dataset"] == scene


def test_reproject_bounds(client, settings, scene):
    (new_id,) = run(client, "reproject", {"dataset": scene, "crs": "EPSG:4326"})["datasets"]
    result, record = cog(settings, client, new_id)
    source = client.get(f"/datasets/{scene}").json()
    with result:
        assert result.crs.to_epsg() == 4326
        res = result.res[0]
        assert np.allclose(result.bounds, source["bounds"], atol=2 * res)
    assert record["band_names"] == source["band_names"]


def test_resample_shape_and_values(client, settings, scene):
    (new_id,) = run(
        client, "resample", {"dataset": scene, "resolution": 20, "resampling": "average"}
    )["datasets"]
    result, _ = cog(settings, client, new_id)
    source, _ = cog(settings, client, scene)
    with result, source:
        assert result.shape == (source.height // 2, source.width // 2)
        assert result.res == (20.0, 20.0)
        block = source.read(4, window=((300, 302), (300, 302))).astype(float)
        assert abs(result.read(4)[150, 150] - block.mean()) <= 1.0
    (mode_id,) = run(
        client, "resample", {"dataset": scene, "resolution": 40, "resampling": "mode"}
    )["datasets"]
    mode, _ = cog(settings, client, mode_id)
    with mode:
        assert mode.shape == (source.height // 4, source.width // 4)


def test_clip_area_equals_polygon_within_a_pixel(client, settings, scene):
    record = client.get(f"/datasets/{scene}").json()
    w, s, e, n = record["bounds"]
    poly = box(w + 0.2 * (e - w), s + 0.3 * (n - s), w + 0.7 * (e - w), s + 0.8 * (n - s))
    poly = poly.difference(
        box(w + 0.4 * (e - w), s + 0.4 * (n - s), w + 0.5 * (e - w), s + 0.5 * (n - s))
    )  # with a hole
    (new_id,) = run(client, "clip", {"dataset": scene, "geometry": mapping(poly)})["datasets"]
    result, _ = cog(settings, client, new_id)
    with result:
        valid = result.dataset_mask() > 0
        pixel_area = abs(result.res[0] * result.res[1])
        to_utm = Transformer.from_crs("EPSG:4326", result.crs, always_xy=True).transform
        utm_poly = shp_transform(to_utm, poly)
    area = valid.sum() * pixel_area
    assert abs(area - utm_poly.area) <= utm_poly.length * result.res[0]
    assert abs(area - utm_poly.area) / utm_poly.area < 0.01


def test_composite_and_mosaic(client, settings, scene, demo):
    red = run(client, "index", {"dataset": scene, "expression": "red"})["datasets"][0]
    nir = run(client, "index", {"dataset": scene, "expression": "nir"})["datasets"][0]
    (stack_id,) = run(client, "composite", {"datasets": [red, nir], "band_names": ["red", "nir"]})[
        "datasets"
    ]
    stack, record = cog(settings, client, stack_id)
    source, _ = cog(settings, client, scene)
    with stack, source:
        assert stack.count == 2 and record["band_names"] == ["red", "nir"]
        np.testing.assert_allclose(stack.read(2)[400, 400], source.read(4)[400, 400])
    scenes = [demo["mosaic-49n-00"], demo["mosaic-50n-01"]]
    (mosaic_id,) = run(client, "mosaic", {"datasets": scenes})["datasets"]
    mosaic, record = cog(settings, client, mosaic_id)
    with mosaic:
        assert mosaic.crs.to_epsg() == 32649
        west = client.get(f"/datasets/{scenes[0]}").json()["bounds"]
        east = client.get(f"/datasets/{scenes[1]}").json()["bounds"]
        # the union box in UTM 49N is a little larger than the scenes (grids are rotated)
        assert west[0] - 0.005 < record["bounds"][0] <= west[0] + 1e-4
        assert east[2] - 1e-4 <= record["bounds"][2] < east[2] + 0.005
        assert (mosaic.dataset_mask() > 0).mean() > 0.4


def test_animation_gif_and_mp4(client, demo):
    out = run(
        client,
        "animation",
        {
            "datasets": [demo["scene-2024-05-12"], demo["scene-2024-09-20"]],
            "index": "NDVI",
            "size": 256,
        },
    )
    assert out["values"]["frames"] == 2
    gif = client.get(out["values"]["gif"].replace("http://testserver", ""))
    assert gif.status_code == 200 and gif.content[:6] == b"GIF89a"
    mp4 = client.get(out["values"]["mp4"].replace("http://testserver", ""))
    assert mp4.status_code == 200 and b"ftyp" in mp4.content[:32]
    import imageio.v3 as iio

    frames = iio.imread(gif.content, index=None)
    assert len(frames) == 2 and not np.array_equal(frames[0], frames[1])


@pytest.mark.parametrize(
    ("process", "inputs", "status"),
    [
        ("nope", {}, 404),
        ("index", {"dataset": "missing", "index": "NDVI"}, 404),
        ("index", {"index": "NDVI"}, 400),
        ("index", {"dataset": "x", "index": "NDVI", "expression": "b1"}, 400),
        ("reproject", {"dataset": "x", "crs": "EPSG:999999"}, 400),
        ("resample", {"dataset": "x", "resolution": 10, "resampling": "lanczos9"}, 400),
    ],
)
def test_bad_inputs_are_4xx_before_any_job(client, process, inputs, status):
    before = len(client.get("/jobs").json()["jobs"])
    response = client.post(f"/processes/{process}/execution", json={"inputs": inputs})
    assert response.status_code == status, response.text
    assert len(client.get("/jobs").json()["jobs"]) == before


def test_an_impossible_index_is_refused_before_a_job_is_queued(client, scene):
    before = client.get("/jobs").json()["jobs"]
    response = client.post(
        "/processes/index/execution",
        headers=SYNC,
        json={"inputs": {"dataset": scene, "index": "NBR"}},
    )
    assert response.status_code == 400 and "swir22" in response.json()["detail"]
    assert client.get("/jobs").json()["jobs"] == before


def test_processes_describe_inputs_as_json_schema(client):
    listed = {p["id"] for p in client.get("/processes").json()["processes"]}
    assert {"index", "reproject", "resample", "clip", "mosaic", "composite", "animation"} <= listed
    clip = client.get("/processes/clip").json()
    assert clip["inputs"]["dataset"]["schema"]["type"] == "string"
    assert "properties" in clip["inputsSchema"]


def test_clip_by_an_uploaded_vector(client, settings, scene, tmp_path):
    """Upload a GeoJSON polygon, then clip by its dataset id."""
    import json

    record = client.get(f"/datasets/{scene}").json()
    w, s, e, n = record["bounds"]
    poly = box(w + 0.25 * (e - w), s + 0.25 * (n - s), w + 0.6 * (e - w), s + 0.6 * (n - s))
    doc = {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "properties": {"name": "aoi"}, "geometry": mapping(poly)}],
    }
    uploaded = client.post(
        "/datasets",
        files={"file": ("aoi.geojson", json.dumps(doc).encode(), "application/geo+json")},
    )
    assert uploaded.status_code == 201, uploaded.text
    vector_id = uploaded.json()["id"]
    (new_id,) = run(client, "clip", {"dataset": scene, "vector": vector_id})["datasets"]
    result, _ = cog(settings, client, new_id)
    with result:
        to_utm = Transformer.from_crs("EPSG:4326", result.crs, always_xy=True).transform
        utm_poly = shp_transform(to_utm, poly)
        area = (result.dataset_mask() > 0).sum() * abs(result.res[0] * result.res[1])
    assert abs(area - utm_poly.area) <= utm_poly.length * result.res[0]
