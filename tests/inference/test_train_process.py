"""``POST /processes/train/execution``: a U-Net learnt from a demo scene and its water mask on
the job cluster, registered at once, then run as a process of its own."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio

from tests.polling import wait_for_job
from tileserver.ingest import register_raster

pytest.importorskip("torch")

SCENE = "scene-2024-05-12"


@pytest.fixture(scope="module")
def water_mask(catalog, settings, demo, tmp_path_factory) -> str:
    truth = Path(settings.data_dir) / catalog.get_dataset(demo[SCENE]).properties["truth"]
    out = tmp_path_factory.mktemp("train") / "water.tif"
    with rasterio.open(truth) as src:
        classes = src.read(1, masked=True)
        profile = src.profile | {"nodata": 255, "dtype": "uint8"}
    mask = np.where(np.ma.getmaskarray(classes), 255, classes.filled(0) == 1).astype("uint8")
    with rasterio.open(out, "w", **profile) as dst:
        dst.write(mask, 1)
    return register_raster(catalog, settings, out, title="water mask", thumbnail=False).id


def test_train_then_run_the_new_model(client, demo, water_mask):
    response = client.post(
        "/processes/train/execution",
        json={
            "inputs": {
                "name": "water-unet-demo",
                "dataset": demo[SCENE],
                "labels": water_mask,
                "bands": ["green", "nir", "swir16"],
                "classes": {"0": "land", "1": "water"},
                # a fixed number of epochs, not a time budget: on a busy machine 45 s made
                # half the epochs and half the accuracy
                "max_epochs": 12,
                "time_budget_s": 900,
                "overwrite": True,
            }
        },
    )
    assert response.status_code == 201, response.text
    status = wait_for_job(client, response.headers["Location"], timeout=400, interval=1.0)
    assert status["status"] == "successful", status["message"]
    values = client.get(f"{response.headers['Location']}/results").json()["values"]
    assert values["metrics"]["classes"]["1"]["iou"] >= 0.8, values["metrics"]
    assert values["card"]["bands"] == ["green", "nir", "swir16"]

    listed = {p["id"] for p in client.get("/processes").json()["processes"]}
    assert "water-unet-demo" in listed
    run = client.post(
        "/processes/water-unet-demo/execution",
        json={"inputs": {"dataset": demo[SCENE], "reference": water_mask}},
    )
    assert run.status_code == 201, run.text
    ran = wait_for_job(client, run.headers["Location"], timeout=400, interval=1.0)
    assert ran["status"] == "successful", ran["message"]
    results = client.get(f"{run.headers['Location']}/results").json()
    assert results["values"]["metrics"]["classes"]["1"]["iou"] >= 0.8
    assert len(results["datasets"]) == 2


def test_train_refuses_bad_requests(client, demo, water_mask):
    tool = client.post(
        "/processes/train/execution",
        json={"inputs": {"name": "index", "dataset": demo[SCENE], "labels": water_mask}},
    )
    assert tool.status_code == 400 and "tool" in tool.json()["detail"]
    band = client.post(
        "/processes/train/execution",
        json={
            "inputs": {
                "name": "x-model",
                "dataset": demo["sar-2024-05-14"],
                "labels": water_mask,
                "bands": ["red"],
            }
        },
    )
    assert band.status_code == 400 and "red" in band.json()["detail"]
    missing = client.post(
        "/processes/train/execution",
        json={"inputs": {"name": "x-model", "task": "change", "labels": water_mask}},
    )
    assert missing.status_code == 400
