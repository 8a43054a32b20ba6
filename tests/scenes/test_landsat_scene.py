"""A Landsat 8 C2L2 scene as Earth Search publishes it (one COG per band + QA_PIXEL), registered
from its STAC item with the assets on a plain HTTP range server and on S3, then read through
every raster capability: values compared with the per-band source files."""

from __future__ import annotations

import html
import io
import re
from pathlib import Path
from typing import Any

import morecantile
import numpy as np
import pytest
import rasterio
from PIL import Image
from rio_tiler.io import Reader

from tests.archive.assets import landsat_source
from tests.archive.fixtures import *  # noqa: F403  (fixtures)
from tests.archive.fixtures import s3_href
from tests.archive.items import landsat_item
from tests.auth.people import People, people
from tests.polling import wait_for_job
from tileserver.scenes.masks import LANDSAT_MASKED_BITS

TMS = morecantile.tms.get("WebMercatorQuad")
SCALE, OFFSET = 2.75e-5, -0.2


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory,
    http_archive: Any,
    s3_archive: Any,
    landsat_files: dict[str, Path],
) -> Any:
    data = tmp_path_factory.mktemp("scenes-data")
    with people(
        data,
        allowed_prefixes=[f"{http_archive.url}/", "s3://archive/"],
        s3_endpoint=s3_archive.endpoint,
        s3_https=False,
        s3_access_key_id="test",
        s3_secret_access_key="test",
    ) as w:
        yield w


@pytest.fixture(scope="module")
def landsat(world: People, http_archive: Any, landsat_files: dict[str, Path]) -> dict:
    item = landsat_item(landsat_files, http_archive.href)
    response = world.post("alice", "/datasets/items", json=item)
    assert response.status_code == 201, response.text
    return response.json()


def _npy(response: Any) -> Any:  # a numpy masked array
    """A ``.npy`` tile: the bands and, last, the mask (the data type's lowest value = masked:
    0 for integers, the most negative float for float data)."""
    assert response.status_code == 200, response.text[:300]
    array = np.load(io.BytesIO(response.content))
    data, mask = array[:-1], array[-1]
    return np.ma.masked_array(data, mask=np.broadcast_to(mask <= 0, data.shape))


def _source_tile(key: str, tile: morecantile.Tile) -> np.ndarray:
    with Reader(str(landsat_source(key))) as src:
        return src.tile(tile.x, tile.y, tile.z, indexes=1).array[0]


def _centre_tile(record: dict, z: int) -> morecantile.Tile:
    w, s, e, n = record["bounds"]
    return TMS.tile((w + e) / 2, (s + n) / 2, z)


def test_registered_as_one_dataset_with_common_band_names(landsat: dict, world: People) -> None:
    assert landsat["band_names"] == ["blue", "green", "red", "nir", "swir16", "swir22", "qa_pixel"]
    assert landsat["sensor"] == "landsat-c2l2"
    assert landsat["datetime"].startswith("2019-12-01T15:13:51")
    assert landsat["cloud_cover"] == pytest.approx(81.02)
    assert landsat["owner"] == world.ids["alice"]
    vrt = (world.settings.data_dir / landsat["uri"]).read_text()
    assert vrt.count("<VRTRasterBand") == 7 and "/vsicurl/http://127.0.0.1" in vrt
    # the default rendering was decided from the item alone: true colour
    assert landsat["renders"]["default"]["title"].startswith("True colour")


def test_tile_pixels_equal_the_band_files_and_clouds_are_masked(
    landsat: dict, world: People
) -> None:
    tile = _centre_tile(landsat, 9)
    url = f"/raster/{landsat['id']}/tiles/WebMercatorQuad/{tile.z}/{tile.x}/{tile.y}.npy"
    got = _npy(world.get(None, f"{url}?bidx=3&bidx=4"))
    red, nir, qa = (_source_tile(k, tile) for k in ("red", "nir08", "qa_pixel"))
    flagged = (qa.astype(np.uint32) & LANDSAT_MASKED_BITS) != 0
    clear = ~flagged & (red > 0) & (nir > 0)
    assert clear.sum() > 500 and (flagged & (red > 0)).sum() > 500, "both kinds in the tile"
    np.testing.assert_array_equal(got.data[0][clear], red[clear])
    np.testing.assert_array_equal(got.data[1][clear], nir[clear])
    assert got.mask[0][flagged].all(), "QA-flagged cloud / shadow / fill pixels are masked"
    assert not got.mask[0][clear].any()

    # the QA band itself stays raw: every flag visible, nothing masked but nothing at all
    raw = _npy(world.get(None, f"{url}?bidx=7"))
    np.testing.assert_array_equal(raw.data[0], qa)

    ndvi = _npy(world.get(None, f"{url}?index=NDVI"))
    r, n = red * SCALE + OFFSET, nir * SCALE + OFFSET
    expected = (n - r) / (n + r)
    np.testing.assert_allclose(ndvi.data[0][clear], expected[clear], rtol=1e-5, atol=1e-6)
    assert ndvi.mask[0][flagged].all()


def test_point_statistics_and_preview_see_the_mask(landsat: dict, world: People) -> None:
    with rasterio.open(landsat_source("red")) as src:
        red, transform, crs = src.read(1), src.transform, src.crs
    with rasterio.open(landsat_source("qa_pixel")) as src:
        qa = src.read(1)
    flagged = (qa.astype(np.uint32) & LANDSAT_MASKED_BITS) != 0
    clear = ~flagged & (red > 0)

    from pyproj import Transformer

    to_lonlat = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    rows, cols = np.nonzero(clear)
    row, col = rows[len(rows) // 2], cols[len(cols) // 2]
    lon, lat = to_lonlat.transform(*(transform * (col + 0.5, row + 0.5)))
    point = world.get(None, f"/raster/{landsat['id']}/point/{lon},{lat}?bidx=3").json()
    assert point["values"] == [int(red[row, col])]

    stats = world.get(None, f"/raster/{landsat['id']}/statistics?bidx=3").json()
    (band,) = stats.values()
    assert band["count"] == pytest.approx(clear.sum(), rel=0.001)
    assert band["mean"] == pytest.approx(red[clear].mean(), rel=1e-4)

    png = world.get(None, f"/raster/{landsat['id']}/preview.png?max_size=512")
    assert png.status_code == 200
    alpha = np.asarray(Image.open(io.BytesIO(png.content)).convert("RGBA"))[..., 3]
    assert (alpha == 0).mean() == pytest.approx((~clear).mean(), abs=0.02)


def test_wmts_and_tilejson(landsat: dict, world: People) -> None:
    caps = world.get(None, f"/raster/{landsat['id']}/WMTSCapabilities.xml").text
    assert f"cogsight_{landsat['id']}" in caps
    tilejson = world.get(None, f"/raster/{landsat['id']}/WebMercatorQuad/tilejson.json").json()
    assert (tilejson["minzoom"], tilejson["maxzoom"]) == (landsat["minzoom"], landsat["maxzoom"])
    tile = _centre_tile(landsat, 9)
    url = tilejson["tiles"][0].format(z=tile.z, x=tile.x, y=tile.y)
    drawn = world.client.get(url)
    assert drawn.status_code == 200 and drawn.headers["content-type"].startswith("image/")
    rgba = np.asarray(Image.open(io.BytesIO(drawn.content)).convert("RGBA"))
    assert (rgba[..., 3] > 0).sum() > 1000, "the default true-colour rendering draws"
    # the WMTS layer's own tile template (what QGIS / ArcGIS request)
    template = re.search(r'template="([^"]+)"', caps)
    assert template is not None
    wmts_url = html.unescape(template.group(1))
    for key, value in (("TileMatrix", tile.z), ("TileCol", tile.x), ("TileRow", tile.y)):
        wmts_url = wmts_url.replace("{" + key + "}", str(value))
    wmts = world.client.get(wmts_url)
    assert wmts.status_code == 200, wmts.text[:200]
    drawn_wmts = np.asarray(Image.open(io.BytesIO(wmts.content)).convert("RGBA"))
    assert (drawn_wmts[..., 3] > 0).mean() == pytest.approx((rgba[..., 3] > 0).mean(), abs=0.02)


def test_s3_assets_read_the_same_pixels(
    landsat: dict,
    world: People,
    s3_archive: Any,
    archive_root: Path,
    landsat_files: dict[str, Path],
) -> None:
    item = landsat_item(
        landsat_files,
        lambda p: s3_href(s3_archive, archive_root, p),
        item_id="LC08_L2SP_008059_20191201_02_T1_S3",
    )
    response = world.post("alice", "/datasets/items", json=item)
    assert response.status_code == 201, response.text
    on_s3 = response.json()
    assert "/vsis3/archive/" in (world.settings.data_dir / on_s3["uri"]).read_text()
    tile = _centre_tile(landsat, 9)
    path = f"tiles/WebMercatorQuad/{tile.z}/{tile.x}/{tile.y}.npy?bidx=3&bidx=4"
    a = _npy(world.get(None, f"/raster/{landsat['id']}/{path}"))
    b = _npy(world.get(None, f"/raster/{on_s3['id']}/{path}"))
    np.testing.assert_array_equal(a.filled(0), b.filled(0))
    np.testing.assert_array_equal(a.mask, b.mask)


SYNC = {"Prefer": "respond-sync"}


class _As:
    """A client acting as one of the world's people (for ``wait_for_job``)."""

    def __init__(self, world: People, who: str) -> None:
        self.world, self.who = world, who

    def get(self, url: str) -> Any:
        return self.world.get(self.who, url)


def _run(world: People, process: str, inputs: dict) -> dict:
    response = world.post(
        "alice", f"/processes/{process}/execution", json={"inputs": inputs}, headers=SYNC
    )
    assert response.status_code == 200, response.text
    return response.json()


def _qa_flags() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    with rasterio.open(landsat_source("red")) as src:
        red = src.read(1).astype("float64")
    with rasterio.open(landsat_source("nir08")) as src:
        nir = src.read(1).astype("float64")
    with rasterio.open(landsat_source("qa_pixel")) as src:
        flagged = (src.read(1).astype(np.uint32) & LANDSAT_MASKED_BITS) != 0
    return red, nir, flagged


def test_index_tool_job_sees_reflectance_and_the_qa_mask(landsat: dict, world: People) -> None:
    out = _run(world, "index", {"dataset": landsat["id"], "index": "NDVI"})
    (new_id,) = out["datasets"]
    record = world.get("alice", f"/datasets/{new_id}").json()
    with rasterio.open(world.settings.data_dir / record["uri"]) as result:
        ndvi = result.read(1)
    red, nir, flagged = _qa_flags()
    assert ndvi.shape == red.shape
    clear = ~flagged & (red > 0) & (nir > 0)
    r, n = red * SCALE + OFFSET, nir * SCALE + OFFSET
    np.testing.assert_allclose(ndvi[clear], ((n - r) / (n + r))[clear], rtol=1e-5, atol=1e-5)
    assert np.isnan(ndvi[flagged]).all(), "clouds and shadows are nodata in the output"


def test_landcover_model_job_reads_the_scene_by_band_names_and_skips_clouds(
    landsat: dict, world: People
) -> None:
    response = world.post(
        "alice",
        "/processes/landcover-spectral/execution",
        json={"inputs": {"dataset": landsat["id"]}},
        headers=SYNC,  # models always run as jobs
    )
    assert response.status_code == 201, response.text
    job = response.headers["Location"]
    status = wait_for_job(_As(world, "alice"), job, timeout=240)
    assert status["status"] == "successful", status["message"]
    out = world.get("alice", f"{job}/results").json()
    records = [world.get("alice", f"/datasets/{i}").json() for i in out["datasets"]]
    classes = next(r for r in records if r["kind"] == "raster")
    with rasterio.open(world.settings.data_dir / classes["uri"]) as result:
        data = result.read(1, masked=True)
    _, _, flagged = _qa_flags()
    assert data.shape == flagged.shape
    assert np.ma.getmaskarray(data)[flagged].all(), "no class where the QA band says cloud"
    assert (~np.ma.getmaskarray(data)).sum() > 1000, "classes where it is clear"
