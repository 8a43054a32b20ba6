"""DEMs: recognised at upload, drawn in terrain colours, shaded / sloped / contoured in ground
metres, and encoded as Terrain-RGB / terrarium PNGs that decode back to their heights."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import morecantile
import numpy as np
import pytest
import rasterio
from fastapi.testclient import TestClient
from PIL import Image
from rasterio.transform import from_origin
from rio_tiler.models import ImageData

from tests.tiling.helpers import decode
from tileserver.elevation import elevation_info
from tileserver.elevation.algorithms import Aspect, Contours, Hillshade, Slope
from tileserver.elevation.fill import fill_holes
from tileserver.http.app import create_app
from tileserver.settings import Settings

TMS = morecantile.tms.get("WebMercatorQuad")
WEST, NORTH, PIXEL = 498_720.0, 3_385_000.0, 10.0
"""UTM 50N astride its central meridian (117 E, 30.6 N): grid north is true north there."""
SIZE = 256
SLOPE_DEG = 20.0


def geotiff(data: np.ndarray, description: str | None = None, nodata: float | None = None) -> bytes:
    """(rows, cols) or (bands, rows, cols) as GeoTIFF bytes on the 10 m UTM 50N grid."""
    bands = data[None] if data.ndim == 2 else data
    with rasterio.MemoryFile() as memfile:
        with memfile.open(
            driver="GTiff",
            width=bands.shape[2],
            height=bands.shape[1],
            count=bands.shape[0],
            dtype=bands.dtype.name,
            crs="EPSG:32650",
            transform=from_origin(WEST, NORTH, PIXEL, PIXEL),
            nodata=nodata,
        ) as dst:
            dst.write(bands)
            if description:
                dst.set_band_description(1, description)
        return bytes(memfile.read())


def plane(east_per_m: float, north_per_m: float = 0.0, base: float = 300.0) -> np.ndarray:
    """Heights of a plane over the grid (pixel centres), metres."""
    cols, rows = np.meshgrid(np.arange(SIZE) + 0.5, np.arange(SIZE) + 0.5)
    return (base + cols * PIXEL * east_per_m - rows * PIXEL * north_per_m).astype("float32")


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    data = tmp_path_factory.mktemp("dem-data")
    with TestClient(create_app(Settings(data_dir=data, tile_cache_bytes=0))) as c:
        yield c


def upload(client: TestClient, name: str, content: bytes, **form: str) -> dict[str, Any]:
    r = client.post("/datasets", files={"file": (name, content, "image/tiff")}, data=form)
    assert r.status_code == 201, r.text
    return r.json()


def properties(client: TestClient, ident: str) -> dict[str, Any]:
    return client.app.state.catalog.get_dataset(ident).properties  # type: ignore[attr-defined]


def middle_tile(client: TestClient, ident: str, zoom: int) -> morecantile.Tile:
    west, south, east, north = client.get(f"/datasets/{ident}").json()["bounds"]
    return TMS.tile((west + east) / 2, (south + north) / 2, zoom)


def tile(client: TestClient, ident: str, t: morecantile.Tile, fmt: str, query: str = "") -> bytes:
    url = f"/raster/{ident}/tiles/WebMercatorQuad/{t.z}/{t.x}/{t.y}.{fmt}"
    r = client.get(f"{url}?{query.lstrip('&')}")
    assert r.status_code == 200, r.text
    return r.content


def heights_of(client: TestClient, ident: str, t: morecantile.Tile) -> np.ndarray:
    """The tile's heights, resampled as DEM renderings are (bilinear)."""
    smooth = "&resampling=bilinear&reproject=bilinear"
    return decode(tile(client, ident, t, "tif", smooth))[0].astype("float64")


# ingest ----------------------------------------------------------------------------------------
def test_float_dem_upload_is_recognised_and_drawn_in_terrain_colours(client):
    heights = plane(0.2) + 50 * np.sin(np.arange(SIZE) / 20.0)[:, None].astype("float32")
    record = upload(client, "valley_dem.tif", geotiff(heights))
    info = elevation_info(properties(client, record["id"]))
    assert info is not None and info["units"] == "m" and info["vertical_datum"] == "unknown"
    assert info["min"] == pytest.approx(float(heights.min()), abs=1.0)
    assert info["max"] == pytest.approx(float(heights.max()), abs=1.0)
    renders = client.get(f"/datasets/{record['id']}").json()["renders"]
    assert {"terrain", "hillshade", "slope", "aspect", "contours"} <= set(renders)
    rgba = decode(tile(client, record["id"], middle_tile(client, record["id"], 15), "png"))
    opaque = rgba[3] > 0
    assert opaque.mean() > 0.9
    grey = (rgba[0] == rgba[1]) & (rgba[1] == rgba[2])
    assert grey[opaque].mean() < 0.1, "a DEM's bare tile is in terrain colours, not grey"


def test_int16_srtm_file_is_elevation_with_its_datum(client):
    heights = (plane(0.1) + 200).astype("int16")
    record = upload(client, "srtm_n30e114.tif", geotiff(heights, nodata=-32768))
    info = elevation_info(properties(client, record["id"]))
    assert info is not None and info["vertical_datum"] == "EGM96"
    assert info["min"] == pytest.approx(float(heights.min()), abs=1.0)
    tile_named = upload(client, "N30E117.tif", geotiff(heights, nodata=-32768))
    assert elevation_info(properties(client, tile_named["id"])) is not None
    # an integer band with no hint is a count or a digital number, not heights
    plain = upload(client, "counts.tif", geotiff(heights, nodata=-32768))
    assert elevation_info(properties(client, plain["id"])) is None


def test_three_band_image_is_not_elevation_and_has_no_hillshade(client):
    rgb = np.random.default_rng(1).integers(0, 255, (3, 64, 64), dtype="uint8")
    record = upload(client, "dem_photo.tif", geotiff(rgb))
    assert elevation_info(properties(client, record["id"])) is None
    t = middle_tile(client, record["id"], 15)
    url = f"/raster/{record['id']}/tiles/WebMercatorQuad/{t.z}/{t.x}/{t.y}.png"
    r = client.get(f"{url}?render=hillshade")
    assert r.status_code == 400
    assert "elevation" in r.json()["detail"] and "hillshade" in r.json()["detail"]
    r = client.get(f"{url}?algorithm=hillshade")
    assert r.status_code == 400 and "3 bands" in r.json()["detail"]
    r = client.get(f"{url}?encoding=terrarium")
    assert r.status_code == 400


def test_the_elevation_field_forces_and_refuses(client):
    score = np.linspace(0, 1, SIZE * SIZE, dtype="float32").reshape(SIZE, SIZE)
    detected = upload(client, "score.tif", geotiff(score))
    assert elevation_info(properties(client, detected["id"])) is None
    forced = upload(client, "score.tif", geotiff(score), elevation="true")
    info = elevation_info(properties(client, forced["id"]))
    assert info is not None and info["units"] == "m"
    assert (info["min"], info["max"]) == pytest.approx((0.0, 1.0), abs=1e-3)
    named = geotiff(plane(0.2), description="elevation")
    refused = upload(client, "dem.tif", named, kind="image")
    props = properties(client, refused["id"])
    assert elevation_info(props) is None and props["elevation"] is False
    assert props["render"]["colormap_name"] == "gray", "refused: drawn as any band, in grey"
    assert "hillshade" not in client.get(f"/datasets/{refused['id']}").json()["renders"]
    kept = upload(client, "dem.tif", named)
    assert properties(client, kept["id"])["render"]["colormap_name"] == "terrain"
    r = client.post(
        "/datasets",
        files={"file": ("dem.tif", named, "image/tiff")},
        data={"elevation": "perhaps"},
    )
    assert r.status_code == 400 and "elevation must be true or false" in r.json()["detail"]
    rgb = np.zeros((3, 32, 32), dtype="uint8")
    files = {"file": ("x.tif", geotiff(rgb), "image/tiff")}
    r = client.post("/datasets", files=files, data={"kind": "elevation"})
    assert r.status_code == 400 and "single-band" in r.json()["detail"]


# renderings through tiles ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def east_facing(client: TestClient) -> str:
    """A plane falling eastwards at SLOPE_DEG: it faces east (aspect 90°)."""
    drop = -np.tan(np.radians(SLOPE_DEG))
    return str(upload(client, "east_dem.tif", geotiff(plane(drop, base=2000.0)))["id"])


def test_slope_in_degrees_is_the_planes_within_one_degree(client, east_facing):
    t = middle_tile(client, east_facing, 15)
    slope = decode(tile(client, east_facing, t, "tif", "&algorithm=slope"))[0]
    assert slope.shape == (256, 256), "the 1-pixel buffer is cut off again"
    inner = slope[4:-4, 4:-4]
    assert np.abs(inner - SLOPE_DEG).max() < 1.0, (inner.min(), inner.max())
    # the same at another zoom: measured in ground metres, not in Web Mercator units
    parent = TMS.parent(t)[0]
    coarse = decode(tile(client, east_facing, parent, "tif", "&algorithm=slope"))[0]
    assert abs(float(np.median(coarse[coarse > 0])) - SLOPE_DEG) < 1.0


def test_aspect_of_an_east_facing_plane_is_90_degrees(client, east_facing):
    t = middle_tile(client, east_facing, 15)
    aspect = decode(tile(client, east_facing, t, "tif", "&algorithm=aspect"))[0][4:-4, 4:-4]
    assert np.abs(aspect - 90.0).max() < 1.0


@pytest.fixture(scope="module")
def ridge(client: TestClient) -> str:
    """A ridge running north-south down the middle, flanks sloping 0.5 m per m."""
    cols = np.arange(SIZE) + 0.5
    crest = 1000.0 - 0.5 * np.abs(cols - SIZE / 2) * PIXEL
    heights = np.repeat(crest[None, :], SIZE, axis=0).astype("float32")
    return str(upload(client, "ridge_dem.tif", geotiff(heights))["id"])


def test_hillshade_is_brighter_facing_the_sun(client, ridge):
    """The ridge's west flank faces the north-west sun, its east flank faces away; the
    default sun is at azimuth 315°, 45° high."""
    ident = ridge
    t = middle_tile(client, ident, 15)
    grey = decode(tile(client, ident, t, "png", "&render=hillshade"))[0].astype("float64")
    crest = int(np.median(np.argmax(heights_of(client, ident, t), axis=1)))
    assert 40 < crest < 216, "the tile shows both flanks"
    west, east = grey[:, 4 : crest - 4], grey[:, crest + 4 : -4]
    assert Hillshade().azimuth == 315
    lit, shaded = (
        np.cos(np.radians(45)) * np.cos(np.arctan(0.5))
        + np.sin(np.radians(45)) * np.sin(np.arctan(0.5)) * np.cos(np.radians(315 - facing))
        for facing in (270, 90)
    )
    assert west.mean() > east.mean() + 100
    assert abs(float(np.median(west)) - 255 * lit) < 3
    assert abs(float(np.median(east)) - 255 * max(shaded, 0)) < 3


def test_wms_draws_the_hillshade_preset_as_a_layer(client, ridge):
    half = SIZE * PIXEL / 2
    bbox = (WEST + half - 600, NORTH - half - 300, WEST + half + 600, NORTH - half + 300)
    query = {
        "SERVICE": "WMS",
        "REQUEST": "GetMap",
        "VERSION": "1.3.0",
        "LAYERS": f"{ridge}:hillshade",
        "STYLES": "",
        "CRS": "EPSG:32650",
        "BBOX": ",".join(str(v) for v in bbox),
        "WIDTH": "240",
        "HEIGHT": "120",
        "FORMAT": "image/png",
    }
    r = client.get("/wms", params=query)
    assert r.status_code == 200 and r.headers["content-type"] == "image/png", r.text[:300]
    grey = np.asarray(Image.open(io.BytesIO(r.content)).convert("L")).astype("float64")
    west, east = grey[5:-5, 5:110], grey[5:-5, 130:-5]  # the crest is at column 120
    assert west.mean() > east.mean() + 100
    caps = client.get("/wms", params={"SERVICE": "WMS", "REQUEST": "GetCapabilities"})
    assert caps.status_code == 200 and f"<Name>{ridge}:hillshade</Name>" in caps.text
    legend = {"SERVICE": "WMS", "REQUEST": "GetLegendGraphic", "FORMAT": "image/png"}
    for preset in ("hillshade", "slope", "aspect", "contours"):
        r = client.get("/wms", params={**legend, "LAYER": f"{ridge}:{preset}"})
        assert r.status_code == 200 and r.headers["content-type"] == "image/png", preset


def test_contour_lines_lie_at_their_heights(client):
    heights = plane(0.1, 0.05, base=100.0)  # 100-356 m over the grid
    ident = str(upload(client, "contour_dem.tif", geotiff(heights))["id"])
    renders = client.get(f"/datasets/{ident}").json()["renders"]
    assert "every 25 m" in renders["contours"]["title"]
    t = middle_tile(client, ident, 15)
    params = "&algorithm=contours&algorithm_params=%7B%22interval%22%3A10%7D"
    lines = decode(tile(client, ident, t, "png", params))
    dem = heights_of(client, ident, t)
    on = lines[3] > 0
    assert 0 < on.mean() < 0.3
    # a line pixel is at or above its level, by less than one step to a neighbour below it
    rise = max(np.abs(np.diff(dem, axis=0)).max(), np.abs(np.diff(dem, axis=1)).max())
    above = dem[on] - np.floor(dem[on] / 10.0) * 10.0
    assert (above <= rise + 0.05).mean() > 0.99
    # and every 10 m level crossed inside the tile has its line
    for level in np.arange(np.ceil(dem.min() / 10) * 10 + 10, dem.max() - 10, 10.0):
        assert (on & (np.abs(dem - level) <= rise)).any(), level


# height encodings ------------------------------------------------------------------------------
@pytest.mark.parametrize("encoding", ["terrarium", "terrainrgb"])
def test_height_encodings_decode_within_their_precision(client, encoding):
    heights = plane(0.3, 0.1, base=400.0) + 0.37
    ident = str(upload(client, f"{encoding}_dem.tif", geotiff(heights))["id"])
    t = middle_tile(client, ident, 15)
    png = tile(client, ident, t, "png", f"&encoding={encoding}")
    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGBA")).astype("float64")
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    if encoding == "terrarium":
        decoded, precision = r * 256 + g + b / 256 - 32768, 1 / 256
    else:
        decoded, precision = -10000 + (r * 65536 + g * 256 + b) * 0.1, 0.1
    truth = heights_of(client, ident, t)
    assert np.abs(decoded - truth).max() <= precision + 1e-3
    url = f"/raster/{ident}/tiles/WebMercatorQuad/{t.z}/{t.x}/{t.y}.jpg?encoding={encoding}"
    r400 = client.get(url)
    assert r400.status_code == 400 and ".png" in r400.json()["detail"]


# algorithms on their own -----------------------------------------------------------------------
def _image(heights: np.ndarray) -> ImageData:
    rows, cols = heights.shape
    bounds = (WEST, NORTH - rows * PIXEL, WEST + cols * PIXEL, NORTH)
    return ImageData(
        np.ma.MaskedArray(heights[None].astype("float32")),
        bounds=bounds,
        crs=rasterio.crs.CRS.from_epsg(32650),
    )


def test_algorithms_measure_ground_metres():
    north_facing = plane(0.0, -0.25)[:32, :32]  # falls northwards by 0.25 m per m
    slope = Slope()(_image(north_facing)).array[0]
    assert np.abs(slope - np.degrees(np.arctan(0.25))).max() < 0.1
    aspect = Aspect()(_image(north_facing)).array[0]
    assert np.abs(((aspect + 180) % 360) - 180).max() < 0.5, "faces north (0°)"
    flat = Aspect()(_image(np.full((8, 8), 5.0, dtype="float32")))
    assert flat.array.mask.all(), "a flat surface faces nowhere"
    buffered = Slope(buffer=1)(_image(north_facing))
    assert buffered.array.shape == (1, 30, 30)


def test_contours_mark_the_upper_side_of_each_crossing():
    heights = np.tile(np.arange(40, dtype="float32"), (4, 1))  # 1 m per pixel eastwards
    out = Contours(interval=10)(_image(heights))
    line_cols = sorted({int(c) for c in np.nonzero(~np.ma.getmaskarray(out.array)[0])[1]})
    assert line_cols == [10, 20, 30]


def test_fill_holes_interpolates_inside_and_keeps_valid_heights():
    heights = plane(0.1)[:40, :40]
    valid = np.ones(heights.shape, dtype=bool)
    valid[10:14, 10:14] = False
    holed = np.where(valid, heights, -9999.0)
    filled = fill_holes(holed, valid)
    assert np.array_equal(filled[valid], heights[valid])
    assert np.abs(filled[~valid] - heights[~valid]).max() < 2.0
    assert np.array_equal(fill_holes(holed, np.zeros_like(valid)), np.zeros_like(heights))


def test_demo_source_dem_is_deterministic(tmp_path: Path):
    from tileserver.demo.elevation import LAKE_LEVEL_M, make_dem

    first, _, _ = make_dem()
    second, _, _ = make_dem()
    assert np.array_equal(first, second)
    assert (first == LAKE_LEVEL_M).mean() > 0.05 and first.max() > 60


def test_a_saved_render_with_an_unknown_algorithm_is_refused(client, ridge):
    from tileserver.errors import InvalidInput
    from tileserver.rendering.model import Render
    from tileserver.rendering.saved import check_render

    record = client.app.state.catalog.get_dataset(ridge)  # type: ignore[attr-defined]
    check_render(record, "shade", Render(bidx=[1], algorithm="hillshade"))
    with pytest.raises(InvalidInput, match="Unknown algorithm 'relief'"):
        check_render(record, "shade", Render(bidx=[1], algorithm="relief"))
    too_far = Render(algorithm="hillshade", algorithm_params={"azimuth": 400})
    with pytest.raises(InvalidInput, match="Bad 'algorithm_params'"):
        check_render(record, "shade", too_far)


def test_a_dem_mosaic_serves_terrarium_and_hillshade(client):
    heights = plane(0.3, 0.1, base=400.0)
    heights[100:140, 100:140] = -9999.0  # a nodata hole
    ident = str(upload(client, "hole_dem.tif", geotiff(heights, nodata=-9999.0))["id"])
    made = client.post("/mosaics", json={"ids": [ident]})
    assert made.status_code == 201, made.text
    mosaic = made.json()["id"]
    t = middle_tile(client, ident, 15)
    base = f"/mosaics/{mosaic}/tiles/WebMercatorQuad/{t.z}/{t.x}/{t.y}.png"
    r = client.get(f"{base}?encoding=terrarium")
    assert r.status_code == 200, r.text
    rgba = np.asarray(Image.open(io.BytesIO(r.content)).convert("RGBA")).astype("float64")
    decoded = rgba[..., 0] * 256 + rgba[..., 1] + rgba[..., 2] / 256 - 32768
    truth = heights_of(client, ident, t)
    valid = rgba[..., 3] > 0
    assert 0.5 < valid.mean() < 1.0, "the hole is transparent"
    assert np.abs(decoded[valid] - truth[valid]).max() <= 1 / 256 + 1e-3
    shade = client.get(f"{base}?render=hillshade")
    assert shade.status_code == 200 and decode(shade.content).shape[1:] == (256, 256)


def test_wmts_and_tilejson_offer_the_dem_presets(client, ridge):
    r = client.get(f"/raster/{ridge}/WMTSCapabilities.xml")
    assert r.status_code == 200, r.text[:300]
    for preset in ("hillshade", "slope", "aspect", "contours", "terrain"):
        assert f"cogsight_{ridge}_WebMercatorQuad_{preset}" in r.text
    tilejson = client.get(f"/raster/{ridge}/WebMercatorQuad/tilejson.json?render=contours")
    assert tilejson.status_code == 200
    url = tilejson.json()["tiles"][0]
    assert "render=contours" in url


def test_the_wmts_contours_layer_url_draws_contours(client, ridge):
    import re
    from html import unescape

    caps = client.get(f"/raster/{ridge}/WMTSCapabilities.xml").text
    layer = caps[caps.index(f"<ows:Identifier>cogsight_{ridge}_WebMercatorQuad_contours<") :]
    template = unescape(re.search(r'template="([^"]+)"', layer).group(1))  # type: ignore[union-attr]
    t = middle_tile(client, ridge, 15)
    url = (
        template.replace("{TileMatrix}", str(t.z))
        .replace("{TileCol}", str(t.x))
        .replace("{TileRow}", str(t.y))
    )
    r = client.get(url.split("testserver", 1)[-1])
    assert r.status_code == 200, r.text[:300]
    alpha = decode(r.content)[-1]
    assert 0 < (alpha > 0).mean() < 0.3, "lines on a clear background"


def test_an_erdas_imagine_dem_is_elevation(client, tmp_path):
    path = tmp_path / "valley.img"
    with rasterio.open(
        path,
        "w",
        driver="HFA",
        width=64,
        height=64,
        count=1,
        dtype="float32",
        crs="EPSG:32650",
        transform=from_origin(WEST, NORTH, PIXEL, PIXEL),
    ) as dst:
        dst.write(plane(0.5)[None, :64, :64])
    record = upload(client, "valley.img", path.read_bytes())
    info = elevation_info(properties(client, record["id"]))
    assert info is not None and info["min"] == pytest.approx(300.0, abs=3.0)
