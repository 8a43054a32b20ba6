"""The pretrained `cloud-mask` (ukis-csmask ONNX weights) on a real Landsat 8 C2L2 scene.

USGS's own QA_PIXEL cloud flags (bits 1 dilated cloud, 3 cloud) are the reference. The scene is
a 512 px reduction (~450 m pixels) of a 81 % cloudy scene over southern Colombia.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import rasterio

from bench.ai_quality_inputs import LANDSAT_BANDS, LANDSAT_STEM, landsat_stack
from tests.conftest import realdata
from tests.processes import run_process
from tileserver.ingest import register_raster

pytest.importorskip("torch")
pytest.importorskip("ukis_csmask")

NAMES = ["blue", "green", "red", "nir", "swir16", "swir22"]
BANDS = [LANDSAT_BANDS[name] for name in NAMES]  # SR_B2 ... SR_B7


def _qa_reference(folder: Path, out: Path) -> Path:
    with rasterio.open(folder / f"{LANDSAT_STEM}_QA_PIXEL.TIF") as src:
        qa = src.read(1)
        profile = src.profile | {"dtype": "uint8", "nodata": 255, "driver": "GTiff"}
    cloud = (((qa >> 3) & 1) | ((qa >> 1) & 1)).astype("uint8")
    cloud[(qa & 1) > 0] = 255
    with rasterio.open(out, "w", **profile) as dst:
        dst.write(cloud, 1)
    return out


def test_cloud_mask_agrees_with_usgs_qa(catalog, settings, tmp_path):
    folder = realdata("landsat8-c2l2-colombia")
    scene = register_raster(
        catalog,
        settings,
        landsat_stack(NAMES, tmp_path / "landsat.tif"),
        title="Landsat 8 C2L2 Colombia 2019-12-01",
        sensor="landsat-c2l2",
        band_names=BANDS,
        reflectance_scale=2.75e-5,
        reflectance_offset=-0.2,
        thumbnail=False,
    )
    reference = register_raster(
        catalog, settings, _qa_reference(folder, tmp_path / "qa.tif"), title="QA", thumbnail=False
    )
    inputs = {"dataset": scene.id, "reference": reference.id, "vectorize": False}
    result = run_process("cloud-mask", inputs, catalog, settings, job_id="test-cloud")
    cloud = result.values["metrics"]["classes"]["1"]
    assert cloud["iou"] >= 0.85, cloud
    assert cloud["precision"] >= 0.85 and cloud["recall"] >= 0.85
