"""Harvested scenes are datasets like any other: found by ``/stac/search`` and drawn, their
pixels those of the per-band files on the archive."""

from __future__ import annotations

import io
from typing import Any

import morecantile
import numpy as np
import rasterio
from fastapi.testclient import TestClient
from PIL import Image
from rasterio.warp import transform as warp_points

from tests.harvest.conftest import WUHAN
from tests.harvest.helpers import registered
from tileserver.catalog import Catalog
from tileserver.harvest.options import HarvestOptions
from tileserver.harvest.service import harvest
from tileserver.http.app import create_app
from tileserver.settings import Settings


def test_harvested_scenes_are_searchable_and_draw(
    stac_api: Any,
    archive_items: dict[str, dict[str, Any]],
    harvest_archive: Any,
    catalog: Catalog,
    settings: Settings,
) -> None:
    api = stac_api(list(archive_items.values()))
    run = harvest(catalog, settings, api.url, HarvestOptions(bbox=WUHAN))
    assert (run.added, run.refused) == (3, 0)
    rows = registered(catalog)
    with TestClient(create_app(settings)) as client:
        found = client.get(
            "/stac/search",
            params={"bbox": ",".join(map(str, WUHAN)), "collections": "sentinel-2-l2a"},
        ).json()
        ids = {f["id"] for f in found["features"]}
        assert ids == {
            rows["sentinel-2-l2a/S2A_WUHAN_0105"].id,
            rows["sentinel-2-l2a/S2A_WUHAN_0320"].id,
        }

        scene = rows["sentinel-2-l2a/S2A_WUHAN_0105"]
        item = archive_items["S2A_WUHAN_0105"]
        west, south, east, north = item["bbox"]
        lon, lat = (west + east) / 2, (south + north) / 2
        tile = morecantile.tms.get("WebMercatorQuad").tile(lon, lat, 13)
        png = client.get(f"/raster/{scene.id}/tiles/WebMercatorQuad/13/{tile.x}/{tile.y}.png")
        assert png.status_code == 200 and png.headers["content-type"] == "image/png"
        pixels = np.asarray(Image.open(io.BytesIO(png.content)).convert("RGBA"))
        assert (pixels[..., 3] > 0).mean() > 0.2 and pixels[..., :3].std() > 0  # drawn

        point = client.get(f"/raster/{scene.id}/point/{lon},{lat}").json()
        expected = []
        for name in ("blue", "green", "red", "nir"):
            path = harvest_archive.root / "S2A_WUHAN_0105" / f"{name}.tif"
            with rasterio.open(path) as src:
                xs, ys = warp_points("EPSG:4326", src.crs, [lon], [lat])
                expected.append(float(next(src.sample([(xs[0], ys[0])]))[0]))
        names = scene.band_names  # the point's values come in the dataset's band order
        got = [point["values"][names.index(n)] for n in ("blue", "green", "red", "nir")]
        assert np.allclose(got, expected)
