"""Real WMS clients against a real server (uvicorn on loopback) over the demo scenes: OWSLib in
1.1.1 and 1.3.0, and GDAL's WMS driver (capabilities subdatasets and a service description)."""

from __future__ import annotations

import io
import json
import math
import warnings
from pathlib import Path

import httpx
import numpy as np
import pytest
import rasterio
from affine import Affine
from owslib.wms import WebMapService
from PIL import Image
from rasterio.features import geometry_mask
from rasterio.warp import transform, transform_bounds, transform_geom

from tests.wms.helpers import getmap, rgba
from tileserver.sources import gdal_path

SIDE = 256


def _record(live_server: str, ident: str) -> dict:
    return httpx.get(f"{live_server}/datasets/{ident}").json()


def _footprint(record: dict, bounds: tuple[float, float, float, float], crs: str) -> np.ndarray:
    """Which pixels of a SIDE x SIDE map over ``bounds`` (x/y, in ``crs``) the data covers."""
    left, bottom, right, top = bounds
    grid = Affine((right - left) / SIDE, 0, left, 0, (bottom - top) / SIDE, top)
    shape = transform_geom("EPSG:4326", crs, record["footprint"])
    return ~geometry_mask([shape], out_shape=(SIDE, SIDE), transform=grid)


def _image(response) -> np.ndarray:  # type: ignore[no-untyped-def]
    return np.asarray(Image.open(io.BytesIO(response.read())).convert("RGBA"))


@pytest.mark.parametrize("version", ["1.1.1", "1.3.0"])
def test_owslib_capabilities_and_maps(live_server, demo, version):
    ident, mosaic = demo["scene-2024-05-12"], demo["mosaic"]
    wms = WebMapService(f"{live_server}/wms", version=version)
    assert wms.identification.type in ("WMS", "OGC:WMS")
    assert {"GetMap", "GetFeatureInfo", "GetLegendGraphic"} <= {o.name for o in wms.operations}
    assert ident in wms.contents and f"{ident}:ndvi" in wms.contents
    assert f"mosaic:{mosaic}" in wms.contents
    layer = wms[ident]
    record = _record(live_server, ident)
    assert layer.boundingBoxWGS84 == pytest.approx(record["bounds"], abs=1e-6)
    assert {"EPSG:4326", "EPSG:3857", "EPSG:32650"} <= set(layer.crsOptions)
    assert list(layer.styles)[:2] == ["default", "true-color"] and layer.queryable

    # OWSLib takes lon/lat and sends EPSG:4326 boxes latitude first in 1.3.0 itself
    w, s, e, n = record["bounds"]
    img = _image(wms.getmap(layers=[ident], styles=[""], srs="EPSG:4326", bbox=(w, s, e, n),
                            size=(SIDE, SIDE), format="image/png", transparent=True))  # fmt: skip
    covered = _footprint(record, (w, s, e, n), "EPSG:4326")
    filled = img[..., 3] > 0
    assert filled.mean() > 0.8 and (filled == covered).mean() > 0.98
    assert img[filled][:, :3].std() > 5  # a picture, not a flat fill

    mosaic_box = _record_mosaic(live_server, mosaic)
    mimg = _image(wms.getmap(layers=[f"mosaic:{mosaic}"], styles=[""], srs="EPSG:3857",
                             bbox=transform_bounds("EPSG:4326", "EPSG:3857", *mosaic_box),
                             size=(SIDE, SIDE), format="image/png", transparent=True))  # fmt: skip
    assert (mimg[..., 3] > 0).mean() > 0.8


def _record_mosaic(live_server: str, ident: str) -> tuple[float, float, float, float]:
    return tuple(httpx.get(f"{live_server}/mosaics/{ident}").json()["bounds"])  # type: ignore[return-value]


def test_epsg4326_axis_order_in_130_gives_the_crs84_picture(live_server, demo):
    ident = demo["scene-2024-05-12"]
    w, s, e, n = _record(live_server, ident)["bounds"]
    crs84 = httpx.get(f"{live_server}/wms?{getmap(ident, (w, s, e, n), 'CRS:84')}")
    lat_lon = httpx.get(f"{live_server}/wms?{getmap(ident, (s, w, n, e), 'EPSG:4326')}")
    v111 = httpx.get(f"{live_server}/wms?{getmap(ident, (w, s, e, n), 'EPSG:4326', '1.1.1')}")
    assert crs84.status_code == lat_lon.status_code == v111.status_code == 200
    picture = rgba(crs84.content)
    assert (picture[..., :3].sum(-1) < 765).mean() > 0.8  # mostly data, not the white background
    np.testing.assert_array_equal(rgba(lat_lon.content), picture)
    np.testing.assert_array_equal(rgba(v111.content), picture)
    # the trap: lon/lat order in a 1.3.0 EPSG:4326 request is somewhere else entirely
    wrong = httpx.get(f"{live_server}/wms?{getmap(ident, (w, s, e, n), 'EPSG:4326')}")
    assert wrong.status_code == 200 and (rgba(wrong.content)[..., :3] == 255).all()


def test_owslib_map_in_utm(live_server, demo):
    ident = demo["scene-2024-05-12"]
    record = _record(live_server, ident)
    wms = WebMapService(f"{live_server}/raster/{ident}/wms", version="1.3.0")
    assert next(iter(wms.contents)) == ident
    bounds = transform_bounds("EPSG:4326", "EPSG:32650", *record["bounds"])
    img = _image(wms.getmap(layers=[ident], styles=[""], srs="EPSG:32650", bbox=bounds,
                            size=(SIDE, SIDE), format="image/png", transparent=True))  # fmt: skip
    covered = _footprint(record, bounds, "EPSG:32650")
    filled = img[..., 3] > 0
    assert (filled == covered).mean() > 0.98 and filled.mean() > 0.8


def test_owslib_feature_info_is_the_pixel_value(live_server, demo, settings):
    ident = demo["scene-2024-05-12"]
    record = _record(live_server, ident)
    wms = WebMapService(f"{live_server}/wms", version="1.3.0")
    w, s, e, n = record["bounds"]
    i, j = 97, 143
    answer = wms.getfeatureinfo(layers=[ident], srs="CRS:84", bbox=(w, s, e, n),
                                size=(SIDE, SIDE), format="image/png", query_layers=[ident],
                                info_format="application/json", xy=(i, j))  # fmt: skip
    properties = json.loads(answer.read())["features"][0]["properties"]
    lon = w + (i + 0.5) * (e - w) / SIDE
    lat = n - (j + 0.5) * (n - s) / SIDE
    with rasterio.open(gdal_path(record["uri"], settings)) as src:
        (x,), (y,) = transform("EPSG:4326", src.crs, [lon], [lat])
        expected = next(src.sample([(x, y)]))
    assert [properties[b] for b in record["band_names"]] == [int(v) for v in expected]


def test_owslib_legend_is_a_png(live_server, demo):
    ident = demo["scene-2024-05-12"]
    wms = WebMapService(f"{live_server}/wms", version="1.1.1")
    style = wms[ident].styles["ndvi"]
    body = httpx.get(style["legend"]).content
    assert body[:8] == b"\x89PNG\r\n\x1a\n"
    legend = np.asarray(Image.open(io.BytesIO(body)).convert("RGB"))
    assert legend.shape[1] >= 200 and len(np.unique(legend.reshape(-1, 3), axis=0)) > 50  # a ramp


def _gdal_read(connection: str, **options: str) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with rasterio.Env(GDAL_HTTP_TIMEOUT="30", **options), rasterio.open(connection) as src:
            return src.read()


def test_gdal_lists_and_reads_layers_from_capabilities(live_server, demo):
    ident = demo["scene-2024-05-12"]
    caps = f"WMS:{live_server}/raster/{ident}/wms?SERVICE=WMS&VERSION=1.1.1&REQUEST=GetCapabilities"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with rasterio.open(caps) as src:
            subdatasets = src.subdatasets
    first = subdatasets[0]
    assert f"LAYERS={ident}&" in first and "%3Andvi" in " ".join(subdatasets)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with rasterio.open(first) as src:
            assert src.crs.to_epsg() == 4326
            picture = src.read(out_shape=(src.count, 128, 128))
    assert picture.shape[0] >= 3 and (picture[:3].sum(0) < 765).mean() > 0.5


@pytest.mark.parametrize("version", ["1.1.1", "1.3.0"])
def test_gdal_service_description_reads_the_map_pixels(live_server, demo, tmp_path: Path, version):
    """GDAL's WMS driver reads what GetMap draws. A service description leaves the 1.3.0 axis
    order to its author: ``yxYX`` sends EPSG:4326 boxes latitude first, as the standard says.
    GDAL writes coordinates with 8 decimals, so the box is rounded (outwards) to 6 first."""
    ident = demo["scene-2024-05-12"]
    west, south, east, north = _record(live_server, ident)["bounds"]
    w, s = math.floor(west * 1e6) / 1e6, math.floor(south * 1e6) / 1e6
    e, n = math.ceil(east * 1e6) / 1e6, math.ceil(north * 1e6) / 1e6
    crs_tag = "CRS" if version == "1.3.0" else "SRS"
    order = "<BBoxOrder>yxYX</BBoxOrder>" if version == "1.3.0" else ""
    description = tmp_path / f"scene-{version}.xml"
    description.write_text(
        f"""<GDAL_WMS>
  <Service name="WMS">
    <Version>{version}</Version>
    <ServerUrl>{live_server}/wms?</ServerUrl>
    <{crs_tag}>EPSG:4326</{crs_tag}>
    <ImageFormat>image/png</ImageFormat>
    <Transparent>TRUE</Transparent>
    <Layers>{ident}</Layers>
    {order}
  </Service>
  <DataWindow>
    <UpperLeftX>{w!r}</UpperLeftX><UpperLeftY>{n!r}</UpperLeftY>
    <LowerRightX>{e!r}</LowerRightX><LowerRightY>{s!r}</LowerRightY>
    <SizeX>{SIDE}</SizeX><SizeY>{SIDE}</SizeY>
  </DataWindow>
  <BandsCount>4</BandsCount>
  <BlockSizeX>{SIDE}</BlockSizeX><BlockSizeY>{SIDE}</BlockSizeY>
</GDAL_WMS>"""
    )
    via_gdal = _gdal_read(str(description))
    direct = rgba(
        httpx.get(
            f"{live_server}/wms?{getmap(ident, (w, s, e, n), 'CRS:84', TRANSPARENT='TRUE')}"
        ).content
    )
    assert via_gdal.shape == (4, SIDE, SIDE)
    np.testing.assert_array_equal(np.moveaxis(via_gdal, 0, -1), direct)
    assert (direct[..., 3] > 0).mean() > 0.8
