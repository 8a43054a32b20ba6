"""GetMap, GetFeatureInfo and GetLegendGraphic draw what the data holds: bands in the right
channels, class colours and names, the default rendering and presets as the tiles draw them,
background and transparency as WMS defines them."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET

import morecantile
import numpy as np
import pytest
import rasterio
from PIL import Image
from rasterio.warp import transform_bounds

from tests.wms.helpers import (
    BLUE,
    CLASSES,
    GREEN,
    NATIVE_BOUNDS,
    RED_EAST,
    RED_WEST,
    SIZE,
    getmap,
    report,
    rgba,
)

TMS = morecantile.tms.get("WebMercatorQuad")


def _hex(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


def test_native_grid_gives_the_source_pixels(client, world):
    """The raster's own CRS, bounds and size: the picture is its bands, pixel for pixel."""
    r = client.get(f"/wms?{getmap(world.ids['rgb'], NATIVE_BOUNDS)}")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    with rasterio.open(world.sources["rgb"]) as src:
        bands = src.read().astype("int16")
    image = rgba(r.content)
    np.testing.assert_array_equal(np.moveaxis(image[..., :3], -1, 0), bands)
    assert (image[..., 3] == 255).all()
    assert tuple(image[5, 5, :3]) == (RED_WEST, GREEN, BLUE)  # red band in the red channel
    assert tuple(image[5, -5, :3]) == (RED_EAST, GREEN, BLUE)


@pytest.mark.parametrize("version", ["1.1.1", "1.3.0"])
def test_web_mercator_map_is_the_tile(client, world, version):
    """GetMap over a tile's bounds in EPSG:3857 draws the tile endpoint's pixels."""
    ident = world.ids["rgb"]
    meta = client.get(f"/datasets/{ident}").json()
    w, s, e, n = meta["bounds"]
    tile = TMS.tile((w + e) / 2, (s + n) / 2, meta["maxzoom"])
    bounds = tuple(TMS.xy_bounds(tile))
    via_wms = client.get(
        f"/wms?{getmap(ident, bounds, 'EPSG:3857', version, TRANSPARENT='TRUE')}"  # type: ignore[arg-type]
    )
    via_tile = client.get(f"/raster/{ident}/tiles/WebMercatorQuad/{tile.z}/{tile.x}/{tile.y}.png")
    assert via_wms.status_code == via_tile.status_code == 200
    wms, tiled = rgba(via_wms.content), rgba(via_tile.content)
    np.testing.assert_array_equal(wms[..., 3], tiled[..., 3])
    seen = wms[..., 3] > 0  # colours under alpha 0 are nobody's business
    assert seen.mean() > 0.2 and np.array_equal(wms[seen], tiled[seen])


def test_background_and_transparency(client, world):
    ident = world.ids["rgb"]
    left, bottom, right, top = NATIVE_BOUNDS
    wider = (left - 2560, bottom, right, top)  # the west half of the map has no data
    opaque = rgba(client.get(f"/wms?{getmap(ident, wider)}").content)
    assert tuple(opaque[100, 10]) == (255, 255, 255, 255)  # WMS default: white, opaque
    assert tuple(opaque[100, 150]) == (RED_WEST, GREEN, BLUE, 255)
    navy = rgba(client.get(f"/wms?{getmap(ident, wider, BGCOLOR='0x000080')}").content)
    assert tuple(navy[100, 10]) == (0, 0, 128, 255)
    clear = rgba(client.get(f"/wms?{getmap(ident, wider, TRANSPARENT='TRUE')}").content)
    assert clear[100, 10, 3] == 0 and tuple(clear[100, 150]) == (RED_WEST, GREEN, BLUE, 255)
    far = (left + 1e6, bottom, right + 1e6, top)  # no data at all: a blank map, not an error
    blank = client.get(f"/wms?{getmap(ident, far, TRANSPARENT='TRUE')}")
    assert blank.status_code == 200 and (rgba(blank.content)[..., 3] == 0).all()


@pytest.mark.parametrize(("fmt", "tolerance"), [("image/jpeg", 12), ("image/webp", 12)])
def test_jpeg_and_webp(client, world, fmt, tolerance):
    r = client.get(f"/wms?{getmap(world.ids['rgb'], NATIVE_BOUNDS, FORMAT=fmt)}")
    assert r.status_code == 200 and r.headers["content-type"] == fmt
    image = rgba(r.content)
    assert np.abs(image[60, 40, :3] - (RED_WEST, GREEN, BLUE)).max() <= tolerance
    assert np.abs(image[60, 220, :3] - (RED_EAST, GREEN, BLUE)).max() <= tolerance


def test_class_raster_in_class_colours(client, world):
    r = client.get(f"/wms?{getmap(world.ids['classes'], NATIVE_BOUNDS)}")
    image = rgba(r.content)
    assert tuple(image[50, 20, :3]) == _hex(CLASSES["1"]["color"])
    assert tuple(image[50, 230, :3]) == _hex(CLASSES["2"]["color"])


def test_preset_layer_equals_preset_style(client, world):
    ident = world.ids["rgb"]
    caps = client.get(f"/raster/{ident}/wms?SERVICE=WMS&REQUEST=GetCapabilities").text
    assert f"<Name>{ident}:true-color</Name>" in caps
    as_layer = client.get(f"/wms?{getmap(f'{ident}:true-color', NATIVE_BOUNDS)}")
    as_style = client.get(f"/wms?{getmap(ident, NATIVE_BOUNDS, STYLES='true-color')}")
    assert as_layer.status_code == as_style.status_code == 200
    assert as_layer.content == as_style.content


def test_layers_stack_first_at_the_bottom(client, world):
    rgb, classes = world.ids["rgb"], world.ids["classes"]
    both = rgba(client.get(f"/wms?{getmap(f'{rgb},{classes}', NATIVE_BOUNDS)}").content)
    assert tuple(both[50, 20, :3]) == _hex(CLASSES["1"]["color"])
    under = rgba(client.get(f"/wms?{getmap(f'{classes},{rgb}', NATIVE_BOUNDS)}").content)
    assert tuple(under[50, 20, :3]) == (RED_WEST, GREEN, BLUE)


def _feature_info(client, ident: str, i: int, j: int, fmt: str, version: str = "1.3.0"):  # type: ignore[no-untyped-def]
    query = getmap(ident, NATIVE_BOUNDS, version=version, crs="EPSG:32650").replace(
        "REQUEST=GetMap", "REQUEST=GetFeatureInfo"
    )
    pixel = f"I={i}&J={j}" if version == "1.3.0" else f"X={i}&Y={j}"
    return client.get(f"/wms?{query}&QUERY_LAYERS={ident}&INFO_FORMAT={fmt}&{pixel}")


@pytest.mark.parametrize("version", ["1.1.1", "1.3.0"])
def test_feature_info_values_and_class_names(client, world, version):
    with rasterio.open(world.sources["dem"]) as src:
        expected = float(src.read(1)[17, 201])
    r = _feature_info(client, world.ids["dem"], 201, 17, "application/json", version)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    feature = r.json()["features"][0]
    assert feature["properties"]["elevation"] == pytest.approx(expected)
    assert feature["properties"]["layer"] == world.ids["dem"]

    east = _feature_info(client, world.ids["classes"], 230, 10, "application/json").json()
    assert east["features"][0]["properties"]["class"] == "forest"
    assert east["features"][0]["properties"]["band_class"] == 2
    text = _feature_info(client, world.ids["classes"], 5, 10, "text/plain").text
    assert "class = water" in text and "band_class = 1" in text
    page = _feature_info(client, world.ids["classes"], 5, 10, "text/html").text
    assert "<td>water</td>" in page
    gml = ET.fromstring(
        _feature_info(client, world.ids["classes"], 5, 10, "application/vnd.ogc.gml").content
    )
    assert gml.find(".//{urn:cogsight:wms}class").text == "water"  # type: ignore[union-attr]


def test_feature_info_outside_the_data_is_empty(client, world):
    ident = world.ids["rgb"]
    left, bottom, right, top = NATIVE_BOUNDS
    query = getmap(ident, (left - 2560, bottom, right - 2560, top)).replace(
        "GetMap", "GetFeatureInfo"
    )
    r = client.get(f"/wms?{query}&QUERY_LAYERS={ident}&INFO_FORMAT=application/json&I=10&J=10")
    assert r.status_code == 200 and r.json()["features"] == []


def _legend(client, ident: str, style: str = "") -> Image.Image:  # type: ignore[no-untyped-def]
    r = client.get(
        f"/wms?SERVICE=WMS&REQUEST=GetLegendGraphic&VERSION=1.3.0&FORMAT=image/png"
        f"&LAYER={ident}&STYLE={style}&SLD_VERSION=1.1.0"
    )
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert r.content[:8] == b"\x89PNG\r\n\x1a\n"
    return Image.open(io.BytesIO(r.content)).convert("RGB")


def test_legends(client, world):
    classes = np.asarray(_legend(client, world.ids["classes"]))
    colours = {tuple(c) for c in classes.reshape(-1, 3)}
    assert {_hex(c["color"]) for c in CLASSES.values()} <= colours  # one swatch per class
    ramp = _legend(client, world.ids["dem"])
    assert ramp.width >= 200 and len({tuple(c) for c in np.asarray(ramp).reshape(-1, 3)}) > 50
    rgb = np.asarray(_legend(client, world.ids["rgb"]))
    assert (rgb[..., 0] > 200).any() and (rgb[..., 2] > 200).any()  # R, G, B swatches
    caps = client.get("/wms?SERVICE=WMS&REQUEST=GetCapabilities&VERSION=1.3.0").text
    ns = {"w": "http://www.opengis.net/wms"}
    layer = next(
        el
        for el in ET.fromstring(caps).iterfind(".//w:Layer", ns)
        if el.findtext("w:Name", namespaces=ns) == world.ids["classes"]
    )
    legend = layer.find("w:Style/w:LegendURL", ns)
    assert legend is not None
    width, height = int(legend.get("width", 0)), int(legend.get("height", 0))
    drawn = _legend(client, world.ids["classes"])
    assert (drawn.width, drawn.height) == (width, height)


def test_mosaic_and_per_mosaic_endpoint(client, demo_free_world_mosaic):
    """A mosaic of the RGB and class rasters answers on /wms and /mosaics/{id}/wms."""
    mosaic_id = demo_free_world_mosaic
    layer = f"mosaic:{mosaic_id}"
    for root in ("/wms", f"/mosaics/{mosaic_id}/wms"):
        caps = client.get(f"{root}?SERVICE=WMS&REQUEST=GetCapabilities").text
        assert f"<Name>{layer}</Name>" in caps
        r = client.get(f"{root}?{getmap(layer, NATIVE_BOUNDS)}")
        assert r.status_code == 200
        assert tuple(rgba(r.content)[5, 5, :3]) == (RED_WEST, GREEN, BLUE)
    other = client.get(f"/mosaics/{mosaic_id}/wms?{getmap('nope', NATIVE_BOUNDS)}")
    assert report(other)[0] == "LayerNotDefined"


@pytest.fixture(scope="module")
def demo_free_world_mosaic(client, world) -> str:
    r = client.post(
        "/mosaics",
        json={"title": "RGB mosaic", "ids": [world.ids["rgb"]]},
        headers={"Authorization": f"Bearer {world.tokens['alice']}"},
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_web_mercator_bounds_cover_the_footprint(client, world):
    """A map over the dataset's own WGS84 bounds in EPSG:3857 shows data where it lies."""
    ident = world.ids["rgb"]
    w, s, e, n = client.get(f"/datasets/{ident}").json()["bounds"]
    bounds = transform_bounds("EPSG:4326", "EPSG:3857", w, s, e, n)
    image = rgba(
        client.get(f"/wms?{getmap(ident, bounds, 'EPSG:3857', TRANSPARENT='TRUE')}").content
    )
    assert (image[..., 3] > 0).mean() > 0.9
    assert (
        image[SIZE // 2, SIZE // 4, 0] == RED_WEST
        and image[SIZE // 2, 3 * SIZE // 4, 0] == RED_EAST
    )


def test_dataset_links_to_its_wms(client, world):
    ident = world.ids["rgb"]
    link = client.get(f"/datasets/{ident}").json()["links"]["wms"]
    assert link.endswith(f"/raster/{ident}/wms?SERVICE=WMS&REQUEST=GetCapabilities")
    caps = client.get(link)
    assert caps.status_code == 200 and f"<Name>{ident}</Name>" in caps.text
