"""The zero-sample tools `pv-plant`, `greenhouse` and `dam` through the sliding-window engine on
seeded synthetic scenes (IoU against the painted truth), on RGB / RGBN / RGBN+SWIR inputs of
8 and 16 bits, and their refusals. Thresholds are the measured IoU minus a margin.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio

from tests.inference import zero_sample_scenes as scenes

pytest.importorskip("torch")

from inference.engine import run_inference
from inference.models import MODELS


def run_tool(name: str, image: Path, out: Path, bands: int, **engine: int) -> np.ndarray:
    """The tool's class map of ``image`` (its first ``bands`` bands), as the model process
    runs it: the spec's chip and overlap, reflectance x 1e-4."""
    spec = MODELS.get(name).spec
    chip = engine.get("chip", spec.chip_size)
    overlap = engine.get("overlap", spec.overlap)
    run_inference(
        MODELS.build(name),
        [image],
        out,
        bands=[list(range(1, bands + 1))],
        scale=spec.input_scale,
        chip=chip,
        overlap=overlap,
        class_values=spec.class_ids,
    )
    with rasterio.open(out) as src:
        return src.read(1)


CASES = [
    # tool, scene, bands, dtype, measured IoU (2026-12: 0.92 / 0.98 / 0.98, 0.88 x 3,
    # 0.99 x 2) minus a margin
    ("pv-plant", scenes.pv_scene, 3, "uint8", 0.85),
    ("pv-plant", scenes.pv_scene, 4, "uint16", 0.9),
    ("pv-plant", scenes.pv_scene, 5, "uint16", 0.9),
    ("greenhouse", scenes.greenhouse_scene, 3, "uint8", 0.8),
    ("greenhouse", scenes.greenhouse_scene, 4, "uint16", 0.8),
    ("greenhouse", scenes.greenhouse_scene, 5, "uint16", 0.8),
    ("dam", scenes.dam_scene, 4, "uint8", 0.9),
    ("dam", scenes.dam_scene, 5, "uint16", 0.9),
]


@pytest.mark.parametrize(("tool", "scene", "bands", "dtype", "floor"), CASES)
def test_tool_finds_the_synthetic_truth(tmp_path, tool, scene, bands, dtype, floor):
    truth_scene = scene()
    image = scenes.write_scene(truth_scene, tmp_path / "in.tif", bands=bands, dtype=dtype)
    classes = run_tool(tool, image, tmp_path / "out.tif", bands)
    assert set(np.unique(classes)) <= {0, 1}
    assert scenes.iou(classes == 1, truth_scene.truth) >= floor


def test_chips_blend_without_seams(tmp_path):
    """Small chips (with the tool's halo) give the same map as one chip over the scene."""
    scene = scenes.pv_scene()
    image = scenes.write_scene(scene, tmp_path / "in.tif", bands=4)
    whole = run_tool("pv-plant", image, tmp_path / "whole.tif", 4, chip=512, overlap=0)
    tiled = run_tool("pv-plant", image, tmp_path / "tiled.tif", 4, chip=192, overlap=64)
    assert (whole == tiled).mean() >= 0.995


def test_specs_are_runnable_with_rgb_and_rgbn_band_sets():
    for name in ("building", "pv-plant", "greenhouse", "dam"):
        spec = MODELS.get(name).spec
        assert spec.runnable and spec.needs_fit
        assert spec.band_sets[0] == ["red", "green", "blue", "nir", "swir16"]
        assert "Measured" in spec.description and "{" not in spec.description
    assert ["red", "green", "blue"] in MODELS.get("building").spec.band_sets
    assert ["red", "green", "blue"] not in MODELS.get("dam").spec.band_sets


def test_a_missing_band_is_a_clear_error():
    import torch

    model = MODELS.build("greenhouse")
    with pytest.raises(ValueError, match="needs the bands red, green, blue"):
        model.fit(np.ones((2, 64, 64), dtype=np.float32))
    model.fit(np.ones((3, 64, 64), dtype=np.float32) * np.arange(64, dtype=np.float32))
    with pytest.raises(ValueError, match="got 6 band"):
        model(torch.zeros((1, 6, 32, 32)))


def test_a_blank_image_fails_the_fit_with_a_reason():
    from inference.models import ModelFitError

    with pytest.raises(ModelFitError, match="blank"):
        MODELS.build("pv-plant").fit(np.zeros((4, 64, 64), dtype=np.float32))


# --- through the HTTP process API, on the job cluster ---------------------------------------
def test_pv_plant_runs_as_a_process_over_http(client, catalog, settings, tmp_path):
    from tests.polling import wait_for_job
    from tileserver.ingest import register_raster

    scene = scenes.pv_scene()
    image = scenes.write_scene(scene, tmp_path / "pv.tif", bands=4, dtype="uint8")
    record = register_raster(
        catalog, settings, image, title="pv scene", thumbnail=False,
        band_names=["red", "green", "blue", "nir"],
    )  # fmt: skip
    described = client.get("/processes/pv-plant").json()
    assert described["model"]["runnable"] and "Measured" in described["model"]["description"]
    response = client.post("/processes/pv-plant/execution", json={"inputs": {"dataset": record.id}})
    assert response.status_code == 201, response.text
    status = wait_for_job(client, response.headers["Location"], timeout=240)
    assert status["status"] == "successful", status["message"]
    values = client.get(f"{response.headers['Location']}/results").json()["values"]
    assert values["polygons"] >= 1 and values["vector"]
    raster = catalog.get_dataset(values["raster"])
    with rasterio.open(Path(settings.data_dir) / raster.uri) as src:
        classes = src.read(1)
    assert scenes.iou(classes == 1, scene.truth) >= 0.85


def test_dam_on_rgb_only_imagery_says_what_it_needs(client, catalog, settings, tmp_path):
    from tileserver.ingest import register_raster

    image = scenes.write_scene(scenes.dam_scene(), tmp_path / "rgb.tif", bands=3, dtype="uint8")
    record = register_raster(
        catalog, settings, image, title="rgb", thumbnail=False, band_names=["red", "green", "blue"]
    )
    response = client.post("/processes/dam/execution", json={"inputs": {"dataset": record.id}})
    assert response.status_code == 422  # no credible RGB method: label dams and train instead
    assert response.json()["code"] == "needs_samples" and "nir" in response.json()["detail"]
