"""Tiles by dataset id: values checked against the source pixels."""

from __future__ import annotations

import morecantile
import numpy as np
import pytest
import rasterio
from rasterio.warp import transform as warp_transform

from tests.tiling.helpers import decode, interior

TMS = morecantile.tms.get("WebMercatorQuad")


@pytest.fixture(scope="module")
def scene(client, demo, settings):
    record = client.get(f"/datasets/{demo['scene-2024-05-12']}").json()
    truth_path = settings.data_dir / record["properties"]["truth"]
    cog_path = settings.data_dir / record["uri"]
    return record, cog_path, truth_path


def _pixel_of_class(truth_path, cls: int, seed: int = 0) -> tuple[int, int]:
    with rasterio.open(truth_path) as src:
        truth = src.read(1)
    rows, cols = np.nonzero(interior(truth == cls, radius=3))
    k = np.random.default_rng(seed).integers(len(rows))
    return int(rows[k]), int(cols[k])


def _tile_and_source_pixel(cog_path, row, col, z):
    """The max-zoom tile over a source pixel, and the tile pixel whose centre falls in it."""
    with rasterio.open(cog_path) as src:
        x, y = src.xy(row, col)
        (lon,), (lat,) = warp_transform(src.crs, "EPSG:4326", [x], [y])
        tile = TMS.tile(lon, lat, z)
        left, _bottom, right, top = TMS.xy_bounds(tile)
        mx, my = TMS.xy(lon, lat)
        res = (right - left) / 256
        tc, tr = int((mx - left) / res), int((top - my) / res)
        cx, cy = left + (tc + 0.5) * res, top - (tr + 0.5) * res
        (sx,), (sy,) = warp_transform("EPSG:3857", src.crs, [cx], [cy])
        srow, scol = src.index(sx, sy)
        values = src.read(window=((srow, srow + 1), (scol, scol + 1)))[:, 0, 0].astype("float64")
    return tile, (tr, tc), values, (lon, lat)


def test_ndvi_tile_pixel_matches_formula_on_source(client, scene):
    record, cog_path, truth_path = scene
    names = record["band_names"]
    row, col = _pixel_of_class(truth_path, cls=2)  # vegetation
    tile, (tr, tc), px, _ = _tile_and_source_pixel(cog_path, row, col, record["maxzoom"])
    nir, red = px[names.index("nir")], px[names.index("red")]
    expected = (nir - red) / (nir + red)
    assert expected > 0.6, "the truth pixel is vegetation"

    url = f"/raster/{record['id']}/tiles/WebMercatorQuad/{tile.z}/{tile.x}/{tile.y}"
    raw = client.get(f"{url}.tif?index=NDVI")
    assert raw.status_code == 200, raw.text
    assert decode(raw.content)[0, tr, tc] == pytest.approx(expected, abs=1e-6)

    png = client.get(f"{url}.png?index=NDVI&rescale=-1,1")
    assert png.headers["content-type"] == "image/png"
    gray = decode(png.content)[0, tr, tc]
    assert abs(int(gray) - (expected + 1) / 2 * 255) <= 1.0

    named = client.get(f"{url}.tif?expression=(nir-red)/(nir%2Bred)")
    assert decode(named.content)[0, tr, tc] == pytest.approx(expected, abs=1e-6)


def test_evi_uses_reflectance_scale(client, scene):
    record, cog_path, truth_path = scene
    names = record["band_names"]
    row, col = _pixel_of_class(truth_path, cls=2, seed=1)
    tile, (tr, tc), px, _ = _tile_and_source_pixel(cog_path, row, col, record["maxzoom"])
    blue, red, nir = (px[names.index(b)] * 1e-4 for b in ("blue", "red", "nir"))
    expected = 2.5 * (nir - red) / (nir + 6 * red - 7.5 * blue + 1)
    url = f"/raster/{record['id']}/tiles/WebMercatorQuad/{tile.z}/{tile.x}/{tile.y}.tif?index=EVI"
    assert decode(client.get(url).content)[0, tr, tc] == pytest.approx(expected, abs=1e-5)


def test_point_endpoint_returns_index_value(client, scene):
    record, cog_path, truth_path = scene
    row, col = _pixel_of_class(truth_path, cls=1)  # water
    with rasterio.open(cog_path) as src:
        x, y = src.xy(row, col)
        (lon,), (lat,) = warp_transform(src.crs, "EPSG:4326", [x], [y])
        px = src.read(window=((row, row + 1), (col, col + 1)))[:, 0, 0].astype("float64")
    green, nir = px[1], px[3]
    body = client.get(f"/raster/{record['id']}/point/{lon},{lat}?index=NDWI").json()
    assert body["values"][0] == pytest.approx((green - nir) / (green + nir), abs=1e-6)
    assert body["values"][0] > 0.3


def test_band_combination_png_and_nodata_is_transparent(client, scene):
    record, _cog_path, _ = scene
    w, s, e, n = record["bounds"]
    z = record["minzoom"]
    tile = TMS.tile((w + e) / 2, (s + n) / 2, z)
    url = (
        f"/raster/{record['id']}/tiles/WebMercatorQuad/{z}/{tile.x}/{tile.y}.png"
        "?bidx=3&bidx=2&bidx=1&rescale=0,2000"
    )
    rgba = decode(client.get(url).content)
    assert rgba.shape == (4, 256, 256)
    valid = rgba[3] == 255
    assert 0.05 < valid.mean() <= 1.0
    assert rgba[:3, valid].mean() > 10


def test_tilejson_and_info(client, scene):
    record, _, _ = scene
    tj = client.get(f"/raster/{record['id']}/WebMercatorQuad/tilejson.json?index=NDVI").json()
    assert tj["tiles"][0].startswith(f"http://testserver/raster/{record['id']}/tiles/")
    assert "index=NDVI" in tj["tiles"][0]
    assert tj["minzoom"] == record["minzoom"] and tj["maxzoom"] == record["maxzoom"]
    info = client.get(f"/raster/{record['id']}/info").json()
    assert info["count"] == 5 and info["dtype"] == "uint16"


def test_statistics_with_index(client, scene):
    record, _, _ = scene
    stats = client.get(f"/raster/{record['id']}/statistics?index=NDVI").json()
    (band,) = stats.values()
    assert -1 <= band["min"] < 0 < band["max"] <= 1


def test_sar_dataset_tiles_in_db(client, demo):
    record = client.get(f"/datasets/{demo['sar-2024-05-14']}").json()
    assert record["band_names"] == ["VV", "VH"] and record["dtype"] == "float32"
    w, s, e, n = record["bounds"]
    tile = TMS.tile((w + e) / 2, (s + n) / 2, record["maxzoom"])
    url = (
        f"/raster/{record['id']}/tiles/WebMercatorQuad/{tile.z}/{tile.x}/{tile.y}.tif?expression=vv"
    )
    data = decode(client.get(url).content)[0]
    assert np.nanmin(data[data != 0]) > -40 and np.nanmax(data) < 15
