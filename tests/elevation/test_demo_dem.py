"""The demo registers a synthetic elevation model of East Lake: flat water, wooded hills."""

from __future__ import annotations

import numpy as np
import rasterio

from tests.tiling.helpers import decode
from tileserver.demo.elevation import DEM_TITLE, LAKE_LEVEL_M
from tileserver.demo.landscape import WATER, evaluate
from tileserver.elevation import elevation_info
from tileserver.sources import gdal_path


def test_the_demo_has_a_labelled_synthetic_dem(client, demo, catalog, settings):
    record = catalog.get_dataset(demo["dem-east-lake"])
    assert record.title == DEM_TITLE and "synthetic" in record.title.lower()
    assert "SYNTHETIC" in record.properties["description"] and record.properties["synthetic"]
    info = elevation_info(record)
    assert info is not None and info["min"] == LAKE_LEVEL_M and info["max"] > 60
    scene = catalog.get_dataset(demo["scene-2024-05-12"])
    assert np.allclose(record.bounds, scene.bounds, atol=1e-3), "the same place as the scene"
    renders = client.get(f"/datasets/{record.id}").json()["renders"]
    assert {"hillshade", "slope", "contours"} <= set(renders)
    r = client.get(f"/raster/{record.id}/preview.png?max_size=64")
    assert r.status_code == 200
    rgba = decode(r.content)
    assert not (rgba[0] == rgba[1]).all(), "terrain colours"


def test_the_demo_lake_is_flat_and_the_woods_are_hills(catalog, demo, settings):
    record = catalog.get_dataset(demo["dem-east-lake"])
    with rasterio.open(gdal_path(record.uri, settings)) as src:
        heights = src.read(1)
        layers = evaluate(heights.shape, src.transform, src.crs.to_wkt(), 42)
    water = layers.classes == WATER
    assert water.mean() > 0.05 and (heights[water] == LAKE_LEVEL_M).all()
    woods = ~water & (layers.forest > 0.8)
    open_land = ~water & (layers.forest < 0.3)
    assert np.median(heights[woods]) > np.median(heights[open_land]) + 10
