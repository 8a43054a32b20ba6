"""Models as processes on the demo scenes: class COG + polygons + PMTiles + accuracy.

Runs the processes in-process (no cluster: the engine runs locally) and once through the
HTTP API on the embedded Dask cluster. Truth masks come from the seeded demo generator.
"""

from __future__ import annotations

from pathlib import Path

import morecantile
import numpy as np
import pyogrio
import pytest
import rasterio
import shapely

from tests.polling import wait_for_job
from tests.processes import run_process
from tileserver.ingest import register_raster

pytest.importorskip("torch")

TMS = morecantile.tms.get("WebMercatorQuad")
WATER = 1
SCENE = "scene-2024-05-12"


def _truth_path(catalog, settings, dataset_id: str) -> Path:
    return Path(settings.data_dir) / catalog.get_dataset(dataset_id).properties["truth"]


@pytest.fixture(scope="module")
def water_reference(catalog, settings, demo, tmp_path_factory) -> str:
    """Binary water mask (1 water, 0 land, 255 outside the scene) registered as a dataset."""
    truth = _truth_path(catalog, settings, demo[SCENE])
    out = tmp_path_factory.mktemp("ref") / "water-truth.tif"
    with rasterio.open(truth) as src:
        classes = src.read(1, masked=True)
        profile = src.profile | {"nodata": 255, "dtype": "uint8"}
    mask = np.where(np.ma.getmaskarray(classes), 255, (classes.filled(0) == WATER)).astype("uint8")
    with rasterio.open(out, "w", **profile) as dst:
        dst.write(mask, 1)
    record = register_raster(catalog, settings, out, title="water truth", thumbnail=False)
    return record.id


@pytest.fixture(scope="module")
def water_run(catalog, settings, demo, water_reference):
    steps: list[float] = []
    result = run_process(
        "water-optical",
        {"dataset": demo[SCENE], "reference": water_reference, "min_area_m2": 500},
        catalog,
        settings,
        job_id="test-water",
        on_progress=lambda p, _m: steps.append(p),
    )
    return result, steps


def test_water_optical_reaches_iou_and_publishes_both_datasets(water_run, catalog):
    result, steps = water_run
    values = result.values
    assert values["metrics"]["classes"]["1"]["iou"] >= 0.9
    assert values["metrics"]["classes"]["1"]["f1"] >= 0.9
    assert set(values["metrics"]["classes"]["1"]) >= {"precision", "recall"}
    assert result.datasets == [values["raster"], values["vector"]]
    raster = catalog.get_dataset(values["raster"])
    assert raster.band_names == ["class", "score"]
    assert raster.properties["classes"]["1"] == {"name": "water", "color": "#1f6fd1"}
    assert raster.properties["lineage"]["process"] == "water-optical"
    vector = catalog.get_dataset(values["vector"])
    assert vector.kind == "vector" and vector.properties["classes"]["1"]["name"] == "water"
    assert steps == sorted(steps) and steps[-1] >= 96


def test_polygons_are_a_valid_coverage_matching_the_class_raster(water_run, catalog, settings):
    values = water_run[0].values
    raster = catalog.get_dataset(values["raster"])
    vector = catalog.get_dataset(values["vector"])
    frame = pyogrio.read_dataframe(Path(settings.data_dir) / vector.uri)
    assert set(frame["class"]) == {WATER} and set(frame["class_name"]) == {"water"}
    assert (frame["score"] > 0.5).all() and (frame["score"] <= 1.0).all()
    geoms = frame.to_crs(raster.crs).geometry.to_numpy()
    assert shapely.is_valid(geoms).all()
    union = shapely.union_all(geoms)
    overlap = sum(g.area for g in geoms) - union.area
    assert overlap < 1e-6 * union.area, "neighbouring polygons must not overlap"
    with rasterio.open(Path(settings.data_dir) / raster.uri) as src:
        classes = src.read(1)
        pixel = abs(src.transform.a * src.transform.e)
    water_m2 = float((classes == WATER).sum()) * pixel
    # min-area merging and one-pixel simplification move little area
    assert abs(frame["area_m2"].sum() - water_m2) < 0.03 * water_m2


def test_class_tile_and_mvt_tile_show_water_at_the_lake(water_run, catalog, client, tmp_path):
    values = water_run[0].values
    vector = catalog.get_dataset(values["vector"])
    frame = pyogrio.read_dataframe(
        Path(client.app.state.settings.data_dir) / vector.uri  # type: ignore[attr-defined]
    )
    lake = frame.loc[frame["area_m2"].idxmax()].geometry
    point = lake.representative_point()
    tile = TMS.tile(point.x, point.y, vector.maxzoom)
    response = client.get(f"/vectors/{vector.id}/tiles/{tile.z}/{tile.x}/{tile.y}.mvt")
    assert response.status_code == 200
    path = tmp_path / "t.pbf"
    path.write_bytes(response.content)
    layer = vector.properties["layer"]
    decoded = pyogrio.read_dataframe(path, layer=layer, X=tile.x, Y=tile.y, Z=tile.z)
    assert set(decoded["class"]) == {WATER}
    assert decoded.to_crs(4326).intersects(point).any()

    # the class raster's own value at the lake through the tiler
    point_value = client.get(f"/raster/{values['raster']}/point/{point.x},{point.y}").json()
    assert point_value["values"][0] == WATER


def test_change_cva_f1_and_direction_classes(catalog, settings, demo):
    before, after = demo["scene-2024-05-12"], demo["scene-2024-09-20"]
    inputs = {"datasets": [before, after], "vectorize": False}
    result = run_process("change-cva", inputs, catalog, settings, job_id="test-change")
    truth_path = Path(settings.data_dir) / "demo-source" / "change-2024-05-12_2024-09-20.truth.tif"
    raster = catalog.get_dataset(result.values["raster"])
    with rasterio.open(Path(settings.data_dir) / raster.uri) as src:
        predicted = src.read(1)
    with rasterio.open(truth_path) as src:
        truth = src.read(1)
    valid = (truth != 255) & (predicted != 255)
    p, t = (predicted > 0) & valid, (truth > 0) & valid
    f1 = 2 * (p & t).sum() / (p.sum() + t.sum())
    assert f1 >= 0.85
    assert result.values["vector"] is None and result.datasets == [raster.id]


def test_landcover_writes_class_ids_not_channel_indexes(catalog, settings, demo):
    scene = catalog.get_dataset(demo[SCENE])
    w, s, e, n = scene.bounds
    cx, cy, dx, dy = (w + e) / 2, (s + n) / 2, (e - w) / 8, (n - s) / 8
    aoi = shapely.geometry.mapping(shapely.box(cx - dx, cy - dy, cx + dx, cy + dy))
    inputs = {"dataset": scene.id, "aoi": aoi}
    result = run_process("landcover-spectral", inputs, catalog, settings, job_id="test-landcover")
    raster = catalog.get_dataset(result.values["raster"])
    with rasterio.open(Path(settings.data_dir) / raster.uri) as src:
        classes = np.unique(src.read(1))
        assert src.width < scene.width / 3, "only the AOI's window is processed"
    assert set(classes.tolist()) <= {1, 2, 3, 4, 5, 6, 255} and len(classes) >= 3
    frame = pyogrio.read_dataframe(
        Path(settings.data_dir) / catalog.get_dataset(result.values["vector"]).uri
    )
    aoi_shape = shapely.geometry.shape(aoi)
    assert frame.geometry.within(aoi_shape.buffer(1e-6)).all(), "polygons are cut to the AOI"
    assert len(set(frame["class"])) >= 3
    geoms = frame.to_crs(raster.crs).geometry.to_numpy()
    assert shapely.is_valid(geoms).all()
    union = shapely.union_all(geoms)
    overlap = sum(g.area for g in geoms) - union.area
    assert overlap < 1e-6 * union.area, "classes form a coverage: neighbours never overlap"


# --- through HTTP, on the job cluster --------------------------------------------------------
def test_model_process_over_http(client, demo, water_reference):
    listed = {p["id"] for p in client.get("/processes").json()["processes"]}
    assert {"water-optical", "change-cva", "building", "dehaze"} <= listed
    described = client.get("/processes/water-optical").json()
    assert described["model"]["classes"]["1"]["name"] == "water"
    assert "reference" in described["inputs"]

    response = client.post(
        "/processes/water-optical/execution",
        json={"inputs": {"dataset": demo[SCENE], "reference": water_reference}},
        headers={"Prefer": "respond-sync"},  # models always run as jobs
    )
    assert response.status_code == 201
    status = wait_for_job(client, response.headers["Location"], timeout=240)
    assert status["status"] == "successful", status["message"]
    results = client.get(f"{response.headers['Location']}/results").json()
    assert results["values"]["metrics"]["classes"]["1"]["iou"] >= 0.9
    assert len(results["datasets"]) == 2


def test_model_processes_refuse_what_cannot_work(client, demo):
    sar = client.post(
        "/processes/water-optical/execution", json={"inputs": {"dataset": demo["sar-2024-05-14"]}}
    )
    assert sar.status_code == 400 and "green" in sar.json()["detail"]
    far = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]}
    outside = client.post(
        "/processes/water-optical/execution",
        json={"inputs": {"dataset": demo[SCENE], "aoi": far}},
    )
    assert outside.status_code in (201, 400)
    if outside.status_code == 201:  # the window is found on the worker: a failed job, reason
        status = wait_for_job(client, outside.headers["Location"], timeout=240)
        assert status["status"] == "failed" and "AOI" in status["message"]
    mosaic_scene = demo["mosaic-49n-00"]
    apart = client.post(
        "/processes/change-cva/execution",
        json={"inputs": {"datasets": [demo[SCENE], mosaic_scene]}},
    )
    assert apart.status_code == 400 and "overlap" in apart.json()["detail"]
    missing = client.post(
        "/processes/water-optical/execution",
        json={"inputs": {"dataset": demo[SCENE], "reference": "nope"}},
    )
    assert missing.status_code == 404


def test_the_api_process_never_imports_torch(tmp_path):
    """Listing and describing models happens in the API process: specs only, no torch."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from fastapi.testclient import TestClient\n"
        "from tileserver.http.app import create_app\n"
        "from tileserver.settings import Settings\n"
        f"app = create_app(Settings(data_dir={str(tmp_path)!r}))\n"
        "c = TestClient(app)\n"
        "assert c.get('/processes').status_code == 200\n"
        "assert c.get('/processes/water-optical').json()['model']['bands']\n"
        "assert c.get('/processes/train').status_code == 200\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
