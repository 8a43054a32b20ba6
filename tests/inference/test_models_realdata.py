"""Model processes on real Sentinel-2 L2A (the Inn river at the Austria/Germany border).

The reference is the river traced by NDWI > 0 on the same pixels (the sample's documented
~13 % water); `water-optical-ndwi` picks its own threshold by Otsu, so agreement says the
fitted threshold lands on the river, and the polygons follow it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyogrio
import pytest
import rasterio

from tests.conftest import realdata
from tests.processes import run_process
from tileserver.ingest import register_raster

pytest.importorskip("torch")

BANDS = ["red", "green", "blue", "nir", "red_t2", "green_t2", "blue_t2", "nir_t2"]


def test_water_on_sentinel2_follows_the_river(catalog, settings, tmp_path):
    source = realdata("s2-l2a-austria-2date", "inference-img.tif")
    scene = register_raster(
        catalog,
        settings,
        source,
        title="Sentinel-2 L2A Inn river 2021-06-17",
        band_names=BANDS,
        reflectance_scale=1e-4,
        reflectance_offset=0.0,
        thumbnail=False,
    )
    with rasterio.open(source) as src:
        green, nir = (src.read(b).astype("float64") for b in (2, 4))
        profile = src.profile | {"count": 1, "dtype": "uint8", "nodata": 255}
    truth = ((green - nir) / (green + nir) > 0).astype("uint8")
    with rasterio.open(tmp_path / "ndwi.tif", "w", **profile) as dst:
        dst.write(truth, 1)
    reference = register_raster(catalog, settings, tmp_path / "ndwi.tif", thumbnail=False)

    inputs = {"dataset": scene.id, "reference": reference.id, "min_area_m2": 300}
    result = run_process("water-optical-ndwi", inputs, catalog, settings, job_id="test-s2-water")
    water = result.values["metrics"]["classes"]["1"]
    assert water["iou"] >= 0.8, water
    frame = pyogrio.read_dataframe(
        Path(settings.data_dir) / catalog.get_dataset(result.values["vector"]).uri
    )
    river = frame.loc[frame["area_m2"].idxmax()]
    share = river["area_m2"] / (scene.width * scene.height * 100.0)
    assert 0.05 < share < 0.25, "the largest water polygon is the river"
    assert np.isclose(frame["area_m2"].sum() / 100.0, truth.sum(), rtol=0.25)
