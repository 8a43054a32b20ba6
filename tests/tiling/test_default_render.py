"""Tiles with no render parameters (what QGIS, GDAL, OpenLayers and Leaflet send) draw each
raster's default rendering: 3/4-channel images in every format, over the whole dataset, true
colour where it can, grey for one or two bands, classes in their colours."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import morecantile
import numpy as np
import pytest
import rasterio
from affine import Affine
from fastapi.testclient import TestClient
from PIL import Image
from rasterio.features import geometry_mask
from rasterio.warp import transform, transform_geom

from tests.conftest import realdata
from tileserver.catalog import Catalog
from tileserver.http.app import create_app
from tileserver.ingest import register_raster
from tileserver.rendering import dataset_render
from tileserver.settings import Settings

TMS = morecantile.tms.get("WebMercatorQuad")
SIZE = 512
FORMATS = ("png", "jpg", "jpeg", "webp", "")
CLASS_COLOURS = {"1": "#1f6fd1", "2": "#2ca02c"}


# synthetic rasters ----------------------------------------------------------------------------
def _halves(high: float, low: float, dtype: str) -> tuple[np.ndarray, np.ndarray]:
    """A band high on the west half and low on the east half, and its mirror (with noise)."""
    rng = np.random.default_rng(7)
    west = np.zeros((SIZE, SIZE), dtype="float64")
    west[:, : SIZE // 2], west[:, SIZE // 2 :] = high, low
    noise = rng.normal(0, (high - low) * 0.03, west.shape)
    east = high + low - west
    lowest = 1 if np.dtype(dtype).kind == "u" else -1e9  # integers stay valid, never wrap
    return (
        np.clip(west + noise, lowest, None).astype(dtype),
        np.clip(east + noise[::-1], lowest, None).astype(dtype),
    )


def _write(path: Path, data: np.ndarray, nodata: float | None = None) -> Path:
    profile = {
        "driver": "GTiff",
        "width": SIZE,
        "height": SIZE,
        "count": data.shape[0],
        "dtype": str(data.dtype),
        "crs": "EPSG:32650",
        "transform": Affine(10.0, 0, 239_000.0, 0, -10.0, 3_383_000.0),
        "nodata": nodata,
        "photometric": "MINISBLACK",  # as NAIP and Sentinel-2 stacks: no band is alpha
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
    return path


def rgbn_uint8(folder: Path) -> Path:
    """NAIP-like: 4 unnamed uint8 bands R, G, B, NIR; red high in the west, blue in the east."""
    red, blue = _halves(200, 30, "uint8")
    green = np.full_like(red, 90)
    nir = np.full_like(red, 250)
    return _write(folder / "rgbn.tif", np.stack([red, green, blue, nir]), nodata=0)


def s2_like(folder: Path) -> Path:
    """Sentinel-2-like: 8 uint16 bands in B02, B03, B04, B08, B05, B06, B11, B12 order."""
    red, blue = _halves(2800, 300, "uint16")
    green = np.full_like(red, 900) + (np.arange(SIZE, dtype="uint16") % 7)[None, :]
    others = [np.full_like(red, 2000 + 100 * i) + red // 10 for i in range(5)]
    data = np.stack([blue, green, red, others[0], others[1], others[2], others[3], others[4]])
    return _write(folder / "s2.tif", data)


def sar_2band(folder: Path) -> Path:
    """VV/VH sigma0 in dB (float32); VH differs from VV everywhere."""
    vv, _ = _halves(-6.0, -18.0, "float32")
    vh = (vv - 7.0)[:, ::-1].copy()
    return _write(folder / "sar.tif", np.stack([vv, vh]), nodata=-9999.0)


def two_band_uint16(folder: Path) -> Path:
    """A generic 2-band raster (a value and a quality band, say) without names."""
    value, other = _halves(3000, 100, "uint16")
    return _write(folder / "two.tif", np.stack([value, other]))


def class_raster(folder: Path) -> Path:
    """A model output: band 'class' (1 west, 2 east) and band 'score'."""
    cls = np.ones((SIZE, SIZE), "uint8")
    cls[:, SIZE // 2 :] = 2
    score = np.full_like(cls, 230)
    return _write(folder / "classes.tif", np.stack([cls, score]))


def elevation(folder: Path) -> Path:
    west_high, _ = _halves(900.0, 20.0, "float32")
    return _write(folder / "dem.tif", west_high[None])


def rgb_uint8(folder: Path) -> Path:
    red, blue = _halves(180, 20, "uint8")
    return _write(folder / "rgb.tif", np.stack([red, np.full_like(red, 60), blue]))


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """An app of its own with the synthetic rasters, registered as uploads and models are."""
    folder = tmp_path_factory.mktemp("default-render")
    settings = Settings(data_dir=folder / "data")
    settings.data_dir.mkdir()
    catalog = Catalog(settings.resolved_database_url)
    ids = {
        "rgbn": register_raster(catalog, settings, rgbn_uint8(folder)).id,
        "s2": register_raster(
            catalog,
            settings,
            s2_like(folder),
            sensor="sentinel-2-l2a",
            band_names=["B02", "B03", "B04", "B08", "B05", "B06", "B11", "B12"],
        ).id,
        "sar": register_raster(
            catalog, settings, sar_2band(folder), sensor="sentinel-1-grd", band_names=["VV", "VH"]
        ).id,
        "two": register_raster(catalog, settings, two_band_uint16(folder)).id,
        "classes": register_raster(
            catalog,
            settings,
            class_raster(folder),
            band_names=["class", "score"],
            properties={
                "classes": {k: {"name": f"c{k}", "color": c} for k, c in CLASS_COLOURS.items()},
                "colormap": {
                    k: [int(c[i : i + 2], 16) for i in (1, 3, 5)] + [255]
                    for k, c in CLASS_COLOURS.items()
                },
            },
            resampling="mode",
        ).id,
        "dem": register_raster(catalog, settings, elevation(folder), band_names=["elevation"]).id,
        "rgb": register_raster(catalog, settings, rgb_uint8(folder)).id,
    }
    with TestClient(create_app(settings)) as client:
        yield client, ids


# helpers --------------------------------------------------------------------------------------
def _image(content: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(content))
    image.load()
    return image


def _rgba(content: bytes) -> np.ndarray:
    """(rows, cols, 4) with alpha 255 where the format has none."""
    return np.asarray(_image(content).convert("RGBA")).astype("int16")


def _centre_tile(record: dict, below_max: int = 2) -> morecantile.Tile:
    w, s, e, n = record["bounds"]
    return TMS.tile((w + e) / 2, (s + n) / 2, max(record["minzoom"], record["maxzoom"] - below_max))


def _footprint_share(record: dict, tile: morecantile.Tile) -> np.ndarray:
    """Which pixels of a 256 px tile lie inside the dataset's valid footprint."""
    left, bottom, right, top = TMS.xy_bounds(tile)
    grid = Affine((right - left) / 256, 0, left, 0, (bottom - top) / 256, top)
    shape = transform_geom("EPSG:4326", "EPSG:3857", record["footprint"])
    return ~geometry_mask([shape], out_shape=(256, 256), transform=grid)


def _tile_pixel(lon: float, lat: float, z: int) -> tuple[morecantile.Tile, int, int]:
    tile = TMS.tile(lon, lat, z)
    left, _, right, top = TMS.xy_bounds(tile)
    x, y = TMS.xy(lon, lat)
    res = (right - left) / 256
    return tile, int((top - y) / res), int((x - left) / res)


def _lonlat(record: dict, fx: float, fy: float) -> tuple[float, float]:
    """Longitude/latitude at a fraction (fx west->east, fy north->south) of a synthetic raster."""
    x = 239_000.0 + fx * SIZE * 10.0
    y = 3_383_000.0 - fy * SIZE * 10.0
    (lon,), (lat,) = transform("EPSG:32650", "EPSG:4326", [x], [y])
    return lon, lat


def _pixel(client: TestClient, root: str, record: dict, fx: float, fy: float, ext: str = "png"):
    lon, lat = _lonlat(record, fx, fy)
    tile, row, col = _tile_pixel(lon, lat, record["maxzoom"])
    r = client.get(f"{root}/tiles/WebMercatorQuad/{tile.z}/{tile.x}/{tile.y}.{ext}")
    assert r.status_code == 200, r.text
    return _rgba(r.content)[row, col]


def _check_formats(client: TestClient, root: str, record: dict) -> None:
    """Every format answers 200 with an RGB(A) image that covers the dataset's footprint."""
    tile = _centre_tile(record)
    expected = _footprint_share(record, tile)
    for ext in FORMATS:
        url = f"{root}/tiles/WebMercatorQuad/{tile.z}/{tile.x}/{tile.y}"
        url += f".{ext}" if ext else ""
        r = client.get(url)
        assert r.status_code == 200, (url, r.text)
        image = _image(r.content)
        assert image.mode in ("RGB", "RGBA"), (ext, image.mode)
        if ext in ("jpg", "jpeg"):
            assert image.format == "JPEG" and image.mode == "RGB", "never a 4-band CMYK JPEG"
        if image.mode == "RGBA":
            filled = np.asarray(image)[..., 3] > 0
            assert filled.any()
            # the drawn pixels are the footprint's (edges within a couple of pixels)
            agreement = (filled == expected).mean()
            assert agreement > 0.97, (ext, agreement, filled.mean(), expected.mean())


# demo scenes ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["scene-2024-05-12", "sar-2024-05-14", "mosaic-49n-00"])
def test_demo_scenes_draw_in_every_format_without_parameters(client, demo, name):
    record = client.get(f"/datasets/{demo[name]}").json()
    _check_formats(client, f"/raster/{record['id']}", record)


def test_demo_five_band_scene_is_true_colour_stretched_per_band(client, demo, catalog):
    record = catalog.get_dataset(demo["scene-2024-05-12"])
    render = dataset_render(record)
    assert render.bidx == [3, 2, 1] and render.colormap_name is None
    stats = record.properties["band_stats"]
    assert render.rescale == [(stats[b - 1]["p2"], stats[b - 1]["p98"]) for b in (3, 2, 1)]
    tile = _centre_tile(record.model_dump(mode="json"), below_max=0)
    url = f"/raster/{record.id}/tiles/WebMercatorQuad/{tile.z}/{tile.x}/{tile.y}.png"
    explicit = client.get(f"{url}?{render.query_string()}")
    assert client.get(url).content == explicit.content


def test_demo_mosaic_draws_its_first_scenes_rendering(client, demo, catalog):
    mosaic = catalog.get_mosaic(demo["mosaic"])
    scene = catalog.get_dataset(mosaic.dataset_ids[0])
    record = client.get(f"/mosaics/{mosaic.id}").json()
    tile = _centre_tile(record)
    url = f"/mosaics/{mosaic.id}/tiles/WebMercatorQuad/{tile.z}/{tile.x}/{tile.y}"
    for ext in FORMATS:
        r = client.get(url + (f".{ext}" if ext else ""))
        assert r.status_code == 200, (ext, r.text)
        assert _image(r.content).mode in ("RGB", "RGBA")
    bare = client.get(f"{url}.png")
    explicit = client.get(f"{url}.png?{dataset_render(scene).query_string()}")
    assert bare.content == explicit.content
    inner = _centre_tile(record, below_max=0)
    inside = f"/mosaics/{mosaic.id}/tiles/WebMercatorQuad/{inner.z}/{inner.x}/{inner.y}.png"
    assert (_rgba(client.get(inside).content)[..., 3] == 255).mean() > 0.99


def test_sar_demo_is_grey_at_a_fixed_db_range(client, demo, catalog):
    record = catalog.get_dataset(demo["sar-2024-05-14"])
    render = dataset_render(record)
    assert render.bidx == [1] and render.rescale == [(-25.0, 0.0)]
    tile = _centre_tile(record.model_dump(mode="json"), below_max=0)
    rgba = _rgba(
        client.get(
            f"/raster/{record.id}/tiles/WebMercatorQuad/{tile.z}/{tile.x}/{tile.y}.png"
        ).content
    )
    valid = rgba[..., 3] == 255
    assert valid.mean() > 0.5
    assert (rgba[valid, 0] == rgba[valid, 1]).all() and (rgba[valid, 1] == rgba[valid, 2]).all()
    assert rgba[valid, 0].std() > 10


# synthetic rasters ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["rgbn", "s2", "sar", "two", "classes", "dem", "rgb"])
def test_every_raster_kind_draws_in_every_format(own, name):
    client, ids = own
    record = client.get(f"/datasets/{ids[name]}").json()
    _check_formats(client, f"/raster/{record['id']}", record)
    preview = client.get(f"/raster/{record['id']}/preview.png")
    assert preview.status_code == 200 and _image(preview.content).mode == "RGBA"
    w, s, e, n = record["bounds"]
    bbox = client.get(f"/raster/{record['id']}/bbox/{w},{s},{e},{n}.jpg")
    assert bbox.status_code == 200 and _image(bbox.content).mode == "RGB"


@pytest.mark.parametrize("name", ["rgbn", "s2", "rgb"])
@pytest.mark.parametrize("ext", ["png", "jpg", "webp"])
def test_true_colour_puts_the_red_band_in_the_red_channel(own, name, ext):
    client, ids = own
    record = client.get(f"/datasets/{ids[name]}").json()
    root = f"/raster/{record['id']}"
    red_west = _pixel(client, root, record, 0.25, 0.5, ext)
    blue_east = _pixel(client, root, record, 0.75, 0.5, ext)
    assert red_west[0] > red_west[2] + 80, red_west
    assert blue_east[2] > blue_east[0] + 80, blue_east


def test_eight_bit_rgb_is_drawn_as_it_is(own):
    client, ids = own
    record = client.get(f"/datasets/{ids['rgbn']}").json()
    assert record["renders"]["default"]["params"] == {"bidx": ["1", "2", "3"]}
    pixel = _pixel(client, f"/raster/{record['id']}", record, 0.25, 0.5)
    np.testing.assert_allclose(pixel[:3], [200, 90, 30], atol=20)


def test_sentinel2_bands_are_found_by_sensor_alias(own):
    client, ids = own
    record = client.get(f"/datasets/{ids['s2']}").json()
    assert record["properties"]["render"]["bidx"] == [3, 2, 1]  # B04, B03, B02
    assert len(record["properties"]["render"]["rescale"]) == 3


@pytest.mark.parametrize("name", ["sar", "two"])
def test_two_band_rasters_are_grey_from_band_one(own, name):
    client, ids = own
    record = client.get(f"/datasets/{ids[name]}").json()
    root = f"/raster/{record['id']}"
    west = _pixel(client, root, record, 0.25, 0.5)
    east = _pixel(client, root, record, 0.75, 0.5)
    for pixel in (west, east):
        assert pixel[0] == pixel[1] == pixel[2] and pixel[3] == 255, pixel
    assert west[0] > east[0] + 100, "band 1 is high in the west; band 2 would be the opposite"


def test_class_raster_draws_its_class_colours(own):
    client, ids = own
    record = client.get(f"/datasets/{ids['classes']}").json()
    root = f"/raster/{record['id']}"
    for ext in ("png", "jpg"):
        west = _pixel(client, root, record, 0.25, 0.5, ext)
        east = _pixel(client, root, record, 0.75, 0.5, ext)
        np.testing.assert_allclose(west[:3], [0x1F, 0x6F, 0xD1], atol=6)
        np.testing.assert_allclose(east[:3], [0x2C, 0xA0, 0x2C], atol=6)


def test_elevation_gets_a_terrain_colormap(own):
    client, ids = own
    record = client.get(f"/datasets/{ids['dem']}").json()
    assert record["properties"]["render"]["colormap_name"] == "terrain"
    west = _pixel(client, f"/raster/{record['id']}", record, 0.25, 0.5)
    assert not west[0] == west[1] == west[2], "coloured, not grey"


def test_thumbnail_draws_the_default_rendering(own):
    client, ids = own
    image = _image(client.get(f"/datasets/{ids['s2']}/thumbnail.png").content)
    rgba = np.asarray(image.convert("RGBA")).astype("int16")
    rows, cols = rgba.shape[:2]
    west, east = rgba[rows // 2, cols // 4], rgba[rows // 2, 3 * cols // 4]
    assert west[0] > west[2] + 80 and east[2] > east[0] + 80
    classes = np.asarray(_image(client.get(f"/datasets/{ids['classes']}/thumbnail.png").content))
    np.testing.assert_array_equal(classes[rows // 2, cols // 4][:3], [0x1F, 0x6F, 0xD1])


# presets and ?render= -------------------------------------------------------------------------
def test_presets_follow_the_bands(own, client, demo):
    c, ids = own
    s2 = c.get(f"/datasets/{ids['s2']}").json()["renders"]
    assert list(s2)[:4] == ["default", "true-color", "false-color", "swir"]
    assert {"ndvi", "ndwi", "mndwi", "nbr"} <= set(s2)
    assert s2["false-color"]["params"]["bidx"] == ["4", "3", "2"]  # B08, B04, B03
    assert s2["ndvi"]["params"] == {
        "index": ["NDVI"],
        "rescale": ["-1,1"],
        "colormap_name": ["rdylgn"],
    }
    assert set(c.get(f"/datasets/{ids['rgbn']}").json()["renders"]) == {"default"}
    assert "classes" in c.get(f"/datasets/{ids['classes']}").json()["renders"]
    assert "sar_ratio" in c.get(f"/datasets/{ids['sar']}").json()["renders"]
    demo_renders = client.get(f"/datasets/{demo['scene-2024-05-12']}").json()["renders"]
    assert {"true-color", "false-color", "ndvi", "ndwi"} <= set(demo_renders)


def test_render_parameter_on_tiles_and_tilejson(own):
    client, ids = own
    record = client.get(f"/datasets/{ids['s2']}").json()
    ndvi = record["renders"]["ndvi"]
    tilejson = client.get(ndvi["tilejson"]).json()
    assert "render=ndvi" in tilejson["tiles"][0]
    assert set(tilejson["raster_layers"]) >= {"true-color", "ndvi"}
    tile = _centre_tile(record, below_max=0)
    url = f"/raster/{record['id']}/tiles/WebMercatorQuad/{tile.z}/{tile.x}/{tile.y}.png"
    named = client.get(f"{url}?render=NDVI")
    assert named.status_code == 200
    assert named.content == client.get(f"{url}?{ndvi['query']}").content
    assert named.content != client.get(url).content
    unknown = client.get(f"{url}?render=sepia")
    assert unknown.status_code == 400 and "ndvi" in unknown.json()["detail"]
    both = client.get(f"{url}?render=ndvi&bidx=1")
    assert both.status_code == 400
    (ndvi_stats,) = client.get(f"/raster/{record['id']}/statistics?render=ndvi").json().values()
    assert -1 <= ndvi_stats["min"] <= ndvi_stats["max"] <= 1


def test_explicit_parameters_still_win(own):
    client, ids = own
    record = client.get(f"/datasets/{ids['s2']}").json()
    tile = _centre_tile(record, below_max=0)
    url = f"/raster/{record['id']}/tiles/WebMercatorQuad/{tile.z}/{tile.x}/{tile.y}"
    # a raw GeoTIFF keeps every band's values
    raw = client.get(f"{url}.tif")
    with rasterio.MemoryFile(raw.content) as mem, mem.open() as src:
        assert src.count == 9 and src.dtypes[0] == "uint16"  # 8 bands and the mask
    # bands chosen by the request are drawn as asked (one band, grey+alpha PNG)
    one = _image(client.get(f"{url}.png?bidx=1&rescale=0,3000").content)
    assert one.mode == "LA"
    # a colormap alone keeps the default's first band
    viridis = client.get(f"{url}.png?colormap_name=viridis")
    assert viridis.status_code == 200 and _image(viridis.content).mode == "RGBA"
    # a rescale alone keeps the default's bands
    assert client.get(f"{url}.png?rescale=0,5000").status_code == 200


def test_commas_are_accepted_encoded_or_not(own):
    client, ids = own
    record = client.get(f"/datasets/{ids['s2']}").json()
    tile = _centre_tile(record, below_max=0)
    url = f"/raster/{record['id']}/tiles/WebMercatorQuad/{tile.z}/{tile.x}/{tile.y}.png?bidx=3"
    plain, encoded = client.get(f"{url}&rescale=0,2000"), client.get(f"{url}&rescale=0%2C2000")
    assert plain.status_code == 200 and plain.content == encoded.content


# older datasets and links ---------------------------------------------------------------------
def test_dataset_without_a_stored_rendering_gets_one(tmp_path):
    settings = Settings(data_dir=tmp_path / "data")
    settings.data_dir.mkdir()
    catalog = Catalog(settings.resolved_database_url)
    record = register_raster(catalog, settings, s2_like(tmp_path), thumbnail=False)
    catalog.delete_dataset(record.id)
    older = record.model_copy(update={"properties": {"size_bytes": 1}})
    catalog.add_dataset(older)
    with TestClient(create_app(settings)) as client:
        out = client.get(f"/datasets/{record.id}").json()
        assert out["renders"]["default"]["params"]["bidx"] == ["1", "2", "3"]
        _check_formats(client, f"/raster/{record.id}", out)
        assert client.get(f"/datasets/{record.id}/thumbnail.png").status_code == 200


def _urls(value: object) -> Iterator[str]:
    if isinstance(value, str) and value.startswith("http"):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _urls(v)
    elif isinstance(value, list):
        for v in value:
            yield from _urls(v)


def test_links_carry_no_raw_comma(own, client, demo):
    c, ids = own
    for dataset_id in ids.values():
        out = c.get(f"/datasets/{dataset_id}").json()
        urls = list(_urls({"links": out["links"], "renders": out["renders"]}))
        assert urls and not [u for u in urls if "," in u]
        assert not [r["query"] for r in out["renders"].values() if "," in r["query"]]
        for render in out["renders"].values():
            for key, values in parse_qs(render["query"]).items():
                assert values == render["params"][key]
    item = client.get(f"/stac/search?ids={demo['scene-2024-05-12']}").json()["features"][0]
    urls = list(_urls({"links": item["links"], "assets": item["assets"]}))
    assert urls and not [u for u in urls if "," in urlsplit(u).query]
    caps = c.get(f"/raster/{ids['s2']}/WMTSCapabilities.xml").text
    templates = [t for t in caps.split('template="')[1:]]
    assert templates and not [t for t in templates if "," in t.split('"')[0]]
    tilejson = c.get(f"/raster/{ids['s2']}/WebMercatorQuad/tilejson.json?rescale=0,2000").json()
    assert "rescale=0%2C2000" in tilejson["tiles"][0]


def test_real_naip_without_parameters(tmp_path):
    path = realdata("naip-northdakota-2009-2020", "m_4709963_se_14_1_20200831.tif")
    _real(tmp_path, path, {}, expect_bidx=[1, 2, 3])


def test_real_sentinel2_without_parameters(tmp_path):
    path = realdata("s2-l2a-austria-2date", "inference-img.tif")
    names = ["red", "green", "blue", "nir", "red_t2", "green_t2", "blue_t2", "nir_t2"]
    _real(tmp_path, path, {"band_names": names}, expect_bidx=[1, 2, 3])
    _real(tmp_path / "unnamed", path, {}, expect_bidx=[1, 2, 3])


def _real(folder: Path, path: Path, options: dict, expect_bidx: list[int]) -> None:
    settings = Settings(data_dir=folder / "data")
    settings.data_dir.mkdir(parents=True)
    catalog = Catalog(settings.resolved_database_url)
    record = register_raster(catalog, settings, path, **options)
    assert dataset_render(record).bidx == expect_bidx
    with TestClient(create_app(settings)) as client:
        out = client.get(f"/datasets/{record.id}").json()
        _check_formats(client, f"/raster/{record.id}", out)
        tile = _centre_tile(out, below_max=0)
        rgb = _rgba(
            client.get(
                f"/raster/{record.id}/tiles/WebMercatorQuad/{tile.z}/{tile.x}/{tile.y}.png"
            ).content
        )
        valid = rgb[..., 3] == 255
        assert valid.mean() > 0.2 and rgb[valid, :3].std() > 15, "a picture, not a flat colour"
        assert json.loads(json.dumps(out["renders"]))  # serialisable


# the choice itself ----------------------------------------------------------------------------
def test_choices_from_band_names_types_and_properties():
    from tileserver.rendering.choose import Traits, default_render

    stats = [{"min": 0.0, "max": 1.0, "p2": 0.01, "p98": 0.6}]
    ndvi = default_render(Traits(band_names=["NDVI"], dtype="float32", stats=stats))
    assert (ndvi.bidx, ndvi.rescale, ndvi.colormap_name) == ([1], [(-1.0, 1.0)], "rdylgn")
    linear = default_render(
        Traits(band_names=["VV"], dtype="float32", sensor="sentinel-1-grd", stats=stats)
    )
    assert linear.rescale == [(0.01, 0.6)] and linear.colormap_name == "gray", "power, not dB"
    classes = default_render(
        Traits(
            band_names=["score", "class"],
            dtype="uint8",
            properties={"classes": {"3": {"name": "water", "color": "#0000ff"}}},
        )
    )
    assert classes.bidx == [2] and classes.colormap == {"3": (0, 0, 255, 255)}
    bgr = default_render(
        Traits(band_names=["b1", "b2", "b3"], dtype="uint8", colorinterp=["blue", "green", "red"])
    )
    assert bgr.bidx == [3, 2, 1] and bgr.rescale is None
    flat = default_render(
        Traits(
            band_names=["b1"],
            dtype="uint16",
            stats=[{"min": 7.0, "max": 7.0, "p2": 7.0, "p98": 7.0}],
        )
    )
    assert flat.rescale == [(7.0, 8.0)], "a constant band still has a range"
