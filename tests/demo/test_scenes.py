"""Value-level checks of the SYNTHETIC demo dataset (tileserver.demo)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from pyproj import Transformer
from rasterio.warp import Resampling, reproject, transform_bounds
from rio_cogeo.cogeo import cog_validate
from shapely.geometry import Polygon, box
from shapely.ops import unary_union

from tileserver.demo import (
    CHANGE_CLASSES,
    CLASSES,
    DemoItem,
    generate_demo,
    make_optical_scene,
    write_cog,
)

SEED = 42
BANDS = ("blue", "green", "red", "nir", "swir16")
CHANGE = "change-2024-05-12_2024-09-20.truth.tif"
WATER, VEGETATION, CROPLAND, BUILT, BARE = 1, 2, 3, 4, 5


@pytest.fixture(scope="module")
def demo_set(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[DemoItem]]:
    out = tmp_path_factory.mktemp("demo")
    return out, generate_demo(out, seed=SEED)


def _read(path: Path) -> np.ndarray:
    with rasterio.open(path) as ds:
        return ds.read()


def _item(items: list[DemoItem], name: str) -> DemoItem:
    return next(i for i in items if i.path.name == name)


def _indices(path: Path) -> dict[str, np.ndarray]:
    _blue, green, red, nir, swir = _read(path).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "ndvi": (nir - red) / (nir + red),
            "ndwi": (green - nir) / (green + nir),
            "mndwi": (green - swir) / (green + swir),
            "ndbi": (swir - nir) / (swir + nir),
        }


def test_items_in_stable_order(demo_set: tuple[Path, list[DemoItem]]) -> None:
    out, items = demo_set
    assert [i.path.name for i in items] == [
        "scene-2024-05-12.tif",
        "scene-2024-09-20.tif",
        "sar-2024-05-14.tif",
        "mosaic-49n-00.tif",
        "mosaic-50n-01.tif",
        "mosaic-49n-10.tif",
        "mosaic-50n-11.tif",
    ]
    assert [i.kind for i in items] == ["optical", "optical", "sar"] + ["optical"] * 4
    assert [i.group for i in items] == ["scene"] * 3 + ["mosaic"] * 4
    assert {i.sensor for i in items} == {"generic", "sentinel-1-grd"}
    assert items[0].datetime == "2024-05-12T03:00:00Z"
    assert items[1].datetime.startswith("2024-09-20T")
    for item in items:
        assert item.path.parent == out and item.path.is_file()
        assert item.truth_path is not None and item.truth_path.is_file()
        assert "synthetic" in item.title.lower()
    readme = (out / "README.md").read_text()
    assert "SYNTHETIC" in readme and f"seed {SEED}" in readme
    assert all(name in readme for name in [*CLASSES.values(), *CHANGE_CLASSES.values()])


def test_every_file_is_a_valid_cog(demo_set: tuple[Path, list[DemoItem]]) -> None:
    out, _ = demo_set
    paths = sorted(out.glob("*.tif"))
    assert len(paths) == 15
    for path in paths:
        valid, errors, _warnings = cog_validate(path, quiet=True)
        assert valid and not errors, (path.name, errors)
        with rasterio.open(path) as ds:
            assert ds.overviews(1), path.name
            assert ds.profile["compress"].lower() == "deflate"
            assert ds.block_shapes[0] == (512, 512)
    assert not list(out.glob(".*tmp*"))


def test_optical_metadata(demo_set: tuple[Path, list[DemoItem]]) -> None:
    _, items = demo_set
    for item in items:
        if item.kind != "optical":
            continue
        with rasterio.open(item.path) as ds:
            assert ds.descriptions == BANDS
            assert ds.dtypes == ("uint16",) * 5 and ds.nodata == 0
            assert ds.res == (10.0, 10.0)
            size = 768 if item.group == "scene" else 512
            assert (ds.height, ds.width) == (size, size)
            if item.group == "scene":
                assert ds.crs.to_epsg() == 32650
            data = ds.read()
        assert 0 < np.median(data[:, data[0] > 0]) < 5000  # reflectance x 10000


def test_truth_metadata(demo_set: tuple[Path, list[DemoItem]]) -> None:
    out, items = demo_set
    for item in items:
        with rasterio.open(item.path) as src, rasterio.open(item.truth_path) as truth:
            assert truth.dtypes == ("uint8",) and truth.nodata == 0
            assert (truth.crs, truth.transform, truth.shape) == (src.crs, src.transform, src.shape)
            assert set(np.unique(truth.read(1))) <= set(CLASSES)
    with rasterio.open(out / CHANGE) as ds:
        assert ds.dtypes == ("uint8",) and ds.nodata == 255
        assert set(np.unique(ds.read(1))) <= {*CHANGE_CLASSES, 255}


def test_sar_metadata_and_levels(demo_set: tuple[Path, list[DemoItem]]) -> None:
    _, items = demo_set
    sar = _item(items, "sar-2024-05-14.tif")
    with rasterio.open(sar.path) as ds:
        assert ds.descriptions == ("VV", "VH")
        assert ds.dtypes == ("float32", "float32") and ds.nodata == -9999
        assert ds.crs.to_epsg() == 32650
        vv, vh = ds.read()
    truth = _read(sar.truth_path)[0]
    assert np.array_equal(vv == -9999, truth == 0) and (truth == 0).any()
    assert vv[truth == WATER].mean() < -15
    assert vv[truth == BUILT].mean() > -5
    assert vh[truth == WATER].mean() < vh[truth == VEGETATION].mean() < vh[truth == BUILT].mean()
    # 4-look speckle: per-class VV spread of a few dB, not a constant
    assert 1.5 < vv[truth == VEGETATION].std() < 5


def test_spectral_indices_follow_land_cover(demo_set: tuple[Path, list[DemoItem]]) -> None:
    _, items = demo_set
    for item in items:
        if item.kind != "optical":
            continue
        idx = _indices(item.path)
        truth = _read(item.truth_path)[0]
        assert 0.7 < idx["ndvi"][truth == VEGETATION].mean() < 0.85
        assert idx["ndvi"][truth == WATER].mean() < 0
        assert idx["ndwi"][truth == WATER].mean() > 0.3
        assert idx["mndwi"][truth == WATER].mean() > 0.5
        ndbi_built = idx["ndbi"][truth == BUILT].mean()
        assert ndbi_built > 0 and ndbi_built > idx["ndbi"][truth == VEGETATION].mean()


def test_nodata_collar(demo_set: tuple[Path, list[DemoItem]]) -> None:
    _, items = demo_set
    for name in ("scene-2024-05-12.tif", "scene-2024-09-20.tif"):
        item = _item(items, name)
        data, truth = _read(item.path), _read(item.truth_path)[0]
        collar = truth == 0
        assert 0.01 < collar.mean() < 0.1
        assert (data[:, collar] == 0).all()
        assert (data[:, ~collar] > 0).all()  # valid pixels never collide with nodata
        assert collar[:, 0].all() and not collar[:, -1].any()


def test_change_truth(demo_set: tuple[Path, list[DemoItem]]) -> None:
    out, _ = demo_set
    change = _read(out / CHANGE)[0]
    before = _read(out / "scene-2024-05-12.truth.tif")[0]
    after = _read(out / "scene-2024-09-20.truth.tif")[0]
    for cid in (1, 2, 3, 4):
        assert (change == cid).mean() > 0.005, CHANGE_CLASSES[cid]
    valid = change != 255
    assert np.array_equal(valid, (before != 0) & (after != 0))
    assert np.array_equal((before != after)[valid], (change != 0)[valid])
    assert (after[change == 2] == BUILT).all() and (before[change == 2] != BUILT).all()
    assert (after[change == 3] == WATER).all() and (before[change == 4] == WATER).all()
    assert np.isin(before[change == 1], (VEGETATION, CROPLAND)).all()
    assert (after[change == 1] == BARE).all()
    # phenology differs on cropland that did not change class
    stable_crop = (before == CROPLAND) & (after == CROPLAND)
    ndvi1 = _indices(out / "scene-2024-05-12.tif")["ndvi"][stable_crop]
    ndvi2 = _indices(out / "scene-2024-09-20.tif")["ndvi"][stable_crop]
    assert np.abs(ndvi2 - ndvi1).mean() > 0.1


def _footprint(path: Path) -> Polygon:
    """WGS84 footprint from densified pixel-space edges."""
    with rasterio.open(path) as ds:
        t = np.linspace(0, 1, 33)
        w, h = ds.width, ds.height
        cols = np.concatenate([t * w, np.full(33, w), (1 - t) * w, np.zeros(33)])
        rows = np.concatenate([np.zeros(33), t * h, np.full(33, h), (1 - t) * h])
        xs, ys = ds.transform * (cols, rows)
        lon, lat = Transformer.from_crs(ds.crs, 4326, always_xy=True).transform(xs, ys)
    return Polygon(zip(lon, lat, strict=True))


def test_mosaic_straddles_114e_without_gaps(demo_set: tuple[Path, list[DemoItem]]) -> None:
    _, items = demo_set
    mosaic = [i for i in items if i.group == "mosaic"]
    epsg = {}
    for item in mosaic:
        with rasterio.open(item.path) as ds:
            epsg[item.path.stem] = ds.crs.to_epsg()
            west, _south, east, _north = transform_bounds(ds.crs, "EPSG:4326", *ds.bounds)
        zone = item.path.stem.split("-")[1]
        assert (east > 114.0) if zone == "49n" else (west < 114.0)
        assert (west < 114.0) if zone == "49n" else (east > 114.0)
    assert set(epsg.values()) == {32649, 32650}
    assert all(v == (32649 if "-49n-" in k else 32650) for k, v in epsg.items())

    feet = {i.path.stem: _footprint(i.path) for i in mosaic}
    for west_name, east_name in (
        ("mosaic-49n-00", "mosaic-50n-01"),
        ("mosaic-49n-10", "mosaic-50n-11"),
    ):
        shared = feet[west_name].intersection(feet[east_name])
        assert shared.area / feet[west_name].area > 0.08
        assert shared.bounds[0] < 114.0 < shared.bounds[2]
    union = unary_union(list(feet.values()))
    assert union.geom_type == "Polygon" and not union.interiors
    assert union.contains(box(113.96, 30.52, 114.04, 30.58))


def test_mosaic_overlaps_agree_on_land_cover(demo_set: tuple[Path, list[DemoItem]]) -> None:
    out, _ = demo_set
    with (
        rasterio.open(out / "mosaic-49n-00.truth.tif") as a,
        rasterio.open(out / "mosaic-50n-01.truth.tif") as b,
    ):
        warped = np.zeros(a.shape, dtype=np.uint8)
        reproject(
            b.read(1),
            warped,
            src_transform=b.transform,
            src_crs=b.crs,
            dst_transform=a.transform,
            dst_crs=a.crs,
            resampling=Resampling.nearest,
            src_nodata=0,
            dst_nodata=0,
        )
        mine = a.read(1)
    overlap = warped > 0
    assert overlap.mean() > 0.08
    assert (mine[overlap] == warped[overlap]).mean() > 0.97


def test_generate_is_idempotent(demo_set: tuple[Path, list[DemoItem]]) -> None:
    out, items = demo_set
    stamps = {p.name: p.stat().st_mtime_ns for p in out.glob("*")}
    messages: list[str] = []
    again = generate_demo(out, seed=SEED, progress=messages.append)
    assert again == items
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*")} == stamps
    assert any("reusing" in m for m in messages)
    assert not any(m.startswith("writing") for m in messages)


def test_regenerates_only_missing_files(
    demo_set: tuple[Path, list[DemoItem]], tmp_path: Path
) -> None:
    out, items = demo_set
    for item in items[3:5]:
        (tmp_path / item.path.name).write_bytes(item.path.read_bytes())
        (tmp_path / item.truth_path.name).write_bytes(item.truth_path.read_bytes())
    messages: list[str] = []
    generate_demo(tmp_path, seed=SEED, progress=messages.append)
    written = {m.removeprefix("writing ") for m in messages if m.startswith("writing")}
    assert "mosaic-49n-00.tif" not in written and "scene-2024-05-12.tif" in written
    for path in sorted(out.glob("*.tif")):
        assert np.array_equal(_read(path), _read(tmp_path / path.name)), path.name


def test_same_seed_same_arrays_other_seed_differs() -> None:
    transform = Affine(10.0, 0.0, 232000.0, 0.0, -10.0, 3386000.0)  # UTM 50N, near East Lake
    first = make_optical_scene((64, 96), transform, "EPSG:32650", seed=7)
    second = make_optical_scene((64, 96), transform, "EPSG:32650", seed=7)
    other = make_optical_scene((64, 96), transform, "EPSG:32650", seed=8)
    assert first[0].tobytes() == second[0].tobytes()
    assert first[1].tobytes() == second[1].tobytes()
    assert first[0].tobytes() != other[0].tobytes()


def test_make_optical_scene_any_grid() -> None:
    transform = Affine(20.0, 0.0, 768000.0, 0.0, -20.0, 3386000.0)  # UTM 49N, 20 m pixels
    data, classes = make_optical_scene((50, 70), transform, 32649, seed=3, date_variant=1)
    assert data.shape == (5, 50, 70) and data.dtype == np.uint16
    assert classes.shape == (50, 70) and classes.dtype == np.uint8
    assert (data > 0).all() and set(np.unique(classes)) <= set(CLASSES) - {0}
    _, collared = make_optical_scene((50, 70), transform, 32649, seed=3, collar=True)
    assert (collared[:, 0] == 0).all()


def test_write_cog_is_atomic_and_named(tmp_path: Path) -> None:
    path = tmp_path / "small.tif"
    array = np.arange(2 * 40 * 30, dtype=np.float32).reshape(2, 40, 30)
    transform = Affine(10.0, 0.0, 500000.0, 0.0, -10.0, 3380000.0)
    write_cog(path, array, transform, "EPSG:32650", -9999.0, ["a", "b"])
    assert cog_validate(path, quiet=True)[0]
    with rasterio.open(path) as ds:
        assert ds.descriptions == ("a", "b") and ds.nodata == -9999.0
        assert np.array_equal(ds.read(), array)
    with pytest.raises(ValueError, match="band names"):
        write_cog(path, array, transform, "EPSG:32650", None, ["only-one"])
    assert os.listdir(tmp_path) == ["small.tif"]
