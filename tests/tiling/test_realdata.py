"""The tiler on real open imagery (skipped when the samples are absent)."""

from __future__ import annotations

import morecantile
import numpy as np
import pytest
import rasterio
from rasterio.warp import transform as warp_transform

from tests.conftest import realdata
from tests.tiling.helpers import decode
from tileserver.ingest import register_raster

pytestmark = pytest.mark.realdata
TMS = morecantile.tms.get("WebMercatorQuad")


def _tile_pixel(src, lon: float, lat: float, z: int):
    tile = TMS.tile(lon, lat, z)
    left, _, right, top = TMS.xy_bounds(tile)
    res = (right - left) / 256
    mx, my = TMS.xy(lon, lat)
    tc, tr = int((mx - left) / res), int((top - my) / res)
    cx, cy = left + (tc + 0.5) * res, top - (tr + 0.5) * res
    (sx,), (sy,) = warp_transform("EPSG:3857", src.crs, [cx], [cy])
    row, col = src.index(sx, sy)
    return tile, (tr, tc), (row, col)


def test_sentinel2_ndvi_and_ndwi_on_real_reflectance(client, catalog, settings):
    names = ["B04", "B03", "B02", "B08", "B04_t2", "B03_t2", "B02_t2", "B08_t2"]
    record = register_raster(
        catalog,
        settings,
        realdata("s2-l2a-austria-2date", "inference-img.tif"),
        sensor="sentinel-2-l2a",
        band_names=names,
        datetime_="2021-06-17",
    )
    client.app.state.records.forget(record.id)
    with rasterio.open(settings.data_dir / record.uri) as src:
        data = src.read([1, 2, 4]).astype("float64")  # red, green, nir
        ndvi_all = (data[2] - data[0]) / (data[2] + data[0])
        row, col = np.unravel_index(np.nanargmax(ndvi_all[5:-5, 5:-5]), ndvi_all[5:-5, 5:-5].shape)
        x, y = src.xy(row + 5, col + 5)
        (lon,), (lat,) = warp_transform(src.crs, "EPSG:4326", [x], [y])
        tile, (tr, tc), (r, c) = _tile_pixel(src, lon, lat, record.maxzoom)
        red, nir = src.read(1)[r, c].astype(float), src.read(4)[r, c].astype(float)
        ndwi = (data[1] - data[2]) / (data[1] + data[2])
    url = f"/raster/{record.id}/tiles/WebMercatorQuad/{tile.z}/{tile.x}/{tile.y}.tif?index=NDVI"
    value = decode(client.get(url).content)[0, tr, tc]
    assert value == pytest.approx((nir - red) / (nir + red), abs=1e-6)
    assert value > 0.6, "the brightest NDVI pixel is vegetation"
    water_share = float((ndwi > 0).mean())
    assert 0.05 < water_share < 0.25, f"the river is ~13 % of the scene ({water_share:.1%})"


def test_noaa_jpeg_ycbcr_cog_tiles_match_source(client, catalog, settings):
    record = register_raster(
        catalog, settings, realdata("noaa-eri-tennessee-2020", "20200307aC0853900w361030n.tif")
    )
    w, s, e, n = record.bounds
    with rasterio.open(settings.data_dir / record.uri) as src:
        tile, (tr, tc), (r, c) = _tile_pixel(src, (w + e) / 2, (s + n) / 2, record.maxzoom)
        expected = src.read(window=((r, r + 1), (c, c + 1)))[:, 0, 0]
    url = f"/raster/{record.id}/tiles/WebMercatorQuad/{tile.z}/{tile.x}/{tile.y}.png?bidx=1"
    url += "&bidx=2&bidx=3"
    rgba = decode(client.get(url).content)
    assert (rgba[3] == 255).all()
    np.testing.assert_array_equal(rgba[:3, tr, tc], expected)


def test_sentinel1_gcp_scene_tiles(client, catalog, settings):
    record = register_raster(
        catalog, settings, realdata("s1-grd-india-gcps", "cog_gcps.tif"), sensor="sentinel-1-grd"
    )
    w, s, e, n = record.bounds
    tile = TMS.tile((w + e) / 2, (s + n) / 2, record.maxzoom - 1)
    url = (
        f"/raster/{record.id}/tiles/WebMercatorQuad/{tile.z}/{tile.x}/{tile.y}.png"
        "?bidx=1&rescale=0,400"
    )
    gray = decode(client.get(url).content)
    assert gray[-1].mean() > 200, "mostly valid pixels"
    assert gray[0][gray[-1] == 255].std() > 5, "real speckled amplitude, not a flat fill"
