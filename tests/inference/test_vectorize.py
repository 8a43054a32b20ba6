"""vectorize_raster on a seeded demo class map: seams, exact areas, valid coverages, scores."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
import rasterio.features
import shapely
from affine import Affine
from rasterio.transform import from_origin

from inference.polygons import edge_match_pixels, overlapping_pairs
from inference.vectorize import vectorize_blocks, vectorize_raster
from tileserver.demo import make_optical_scene

SHAPE = (1500, 1300)
PIXEL = 10.0
TRANSFORM = from_origin(500_000, 3_400_000, PIXEL, PIXEL)
CRS = "EPSG:32650"
BLOCK = 512


def write_classes(path: Path, classes: np.ndarray, transform: Affine, crs: str) -> str:
    """A tiled uint8 GeoTIFF, nodata 0, like a model's class output."""
    profile = dict(
        driver="GTiff",
        width=classes.shape[1],
        height=classes.shape[0],
        count=1,
        dtype="uint8",
        crs=crs,
        transform=transform,
        nodata=0,
        tiled=True,
        blockxsize=256,
        blockysize=256,
    )
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(classes, 1)
    return str(path)


@pytest.fixture(scope="module")
def classes() -> np.ndarray:
    """The demo landscape's truth classes with a nodata collar on the west edge."""
    _, cls = make_optical_scene(SHAPE, TRANSFORM, CRS, 7, collar=True)
    return cls


@pytest.fixture(scope="module")
def class_path(tmp_path_factory: pytest.TempPathFactory, classes: np.ndarray) -> str:
    return write_classes(tmp_path_factory.mktemp("vec") / "classes.tif", classes, TRANSFORM, CRS)


def canonical(geoms: np.ndarray) -> list[str]:
    """Sorted WKB-hex of normalized geometries: equal lists mean identical polygon sets."""
    return sorted(shapely.to_wkb(shapely.normalize(geoms), hex=True).tolist())


def assert_clean_coverage(geoms: np.ndarray, what: str) -> None:
    assert shapely.is_valid(geoms).all(), f"{what}: invalid polygons"
    assert shapely.coverage_is_valid(geoms), f"{what}: not a valid coverage"
    pairs = overlapping_pairs(geoms)
    assert len(pairs) == 0, f"{what}: {len(pairs)} overlapping neighbour pairs"


def test_blockwise_equals_whole_raster(class_path: str, classes: np.ndarray) -> None:
    blocked = vectorize_raster(class_path, block_size=BLOCK, simplify_tolerance=0)
    whole = vectorize_raster(class_path, block_size=4096, simplify_tolerance=0)

    # fields really cross the seams: polygons spanning an inner block edge
    b = shapely.bounds(blocked.geometry.values) - np.array([500_000, 3_385_000] * 2)
    cols, rows = b[:, [0, 2]] / PIXEL, (15_000 - b[:, [3, 1]]) / PIXEL
    seams = np.arange(BLOCK, 1500, BLOCK)
    crossing = sum(int(((lo < s) & (hi > s)).sum()) for s in seams for lo, hi in (cols.T, rows.T))
    print(f"polygons {len(blocked)}, seam crossings {crossing}")
    assert crossing > 20

    assert len(blocked) == len(whole)
    np.testing.assert_array_equal(np.sort(blocked.area_m2), np.sort(whole.area_m2))
    assert canonical(blocked.geometry.values) == canonical(whole.geometry.values)

    # and both equal GDAL's polygonize of the whole array at once (the independent reference)
    reference = [
        (shapely.geometry.shape(g), int(v))
        for g, v in rasterio.features.shapes(classes, mask=classes > 0, transform=TRANSFORM)
    ]
    ref_geoms = np.array([g for g, _ in reference])
    ref_values = np.array([v for _, v in reference])
    assert len(ref_geoms) == len(blocked)
    ref_idx, out_idx = shapely.STRtree(blocked.geometry.values).query(
        shapely.point_on_surface(ref_geoms), predicate="within"
    )
    assert np.array_equal(np.sort(ref_idx), np.arange(len(ref_geoms)))  # one match each
    assert len(np.unique(out_idx)) == len(blocked)
    assert (blocked["class"].to_numpy()[out_idx] == ref_values[ref_idx]).all()
    assert shapely.equals(blocked.geometry.values[out_idx], ref_geoms[ref_idx]).all()


def test_blockwise_equals_whole_raster_after_simplify(class_path: str) -> None:
    blocked = vectorize_raster(class_path, block_size=BLOCK)
    whole = vectorize_raster(class_path, block_size=4096)
    assert canonical(blocked.geometry.values) == canonical(whole.geometry.values)


def test_areas_are_pixel_counts(class_path: str, classes: np.ndarray) -> None:
    gdf = vectorize_raster(class_path, block_size=BLOCK, simplify_tolerance=0)
    pixel_area = PIXEL * PIXEL
    for value in range(1, 6):
        got = gdf.loc[gdf["class"] == value, "area_m2"].sum()
        assert got == int((classes == value).sum()) * pixel_area, value
    # per polygon: burn each polygon's index and count its pixels
    ids = rasterio.features.rasterize(
        zip(gdf.geometry.values, range(1, len(gdf) + 1), strict=True),
        out_shape=SHAPE,
        transform=TRANSFORM,
        dtype="int32",
    )
    counts = np.bincount(ids.ravel(), minlength=len(gdf) + 1)[1:]
    np.testing.assert_array_equal(gdf.area_m2.to_numpy(), counts * pixel_area)
    assert (classes[ids > 0] == gdf["class"].to_numpy()[ids[ids > 0] - 1]).all()
    assert (ids[classes == 0] == 0).all()
    print(f"{len(gdf)} polygons, {counts.sum()} pixels: area_m2 == pixels x {pixel_area} m²")


def test_coverage_valid_after_snapping(class_path: str) -> None:
    with rasterio.open(class_path) as src:
        raw, _ = vectorize_blocks(src, BLOCK, lambda _p, _m: None)
    # GDAL only puts vertices where a boundary turns: T-junctions, not edge-matched
    print("GDAL polygons as-is, coverage valid:", shapely.coverage_is_valid(raw))
    assert_clean_coverage(edge_match_pixels(raw), "snapped")


STAGES = {
    "exact": dict(simplify_tolerance=0),
    "simplified": {},
    "min-area": dict(min_area=5_000),
    "smoothed": dict(min_area=5_000, smooth_iterations=2),
}


@pytest.mark.parametrize("stage", list(STAGES))
def test_coverage_valid_after_each_step(class_path: str, stage: str) -> None:
    gdf = vectorize_raster(class_path, block_size=BLOCK, **STAGES[stage])
    assert_clean_coverage(gdf.geometry.values, stage)
    vertices = int(shapely.get_num_coordinates(gdf.geometry.values).sum())
    print(f"{stage}: {len(gdf)} polygons, {vertices} vertices, valid coverage, no overlaps")
    if stage == "simplified":
        exact = vectorize_raster(class_path, block_size=BLOCK, simplify_tolerance=0)
        assert vertices < 0.8 * shapely.get_num_coordinates(exact.geometry.values).sum()


def test_min_area_absorbs_into_neighbours(class_path: str) -> None:
    exact = vectorize_raster(class_path, block_size=BLOCK, simplify_tolerance=0)
    min_area = 5_000.0  # 50 pixels
    filtered = vectorize_raster(
        class_path, block_size=BLOCK, simplify_tolerance=0, min_area=min_area
    )
    print(
        f"{len(exact)} -> {len(filtered)} polygons; total {exact.area_m2.sum()} -> "
        f"{filtered.area_m2.sum()} m²"
    )
    assert len(filtered) < len(exact) - 50
    assert filtered.area_m2.sum() == exact.area_m2.sum()  # still exact pixel sums
    assert filtered.area_m2.min() >= min_area
    # the union is unchanged: no holes where small polygons were
    before = shapely.coverage_union_all(exact.geometry.values)
    after = shapely.coverage_union_all(filtered.geometry.values)
    assert shapely.equals(before, after)


def test_smoothing_keeps_area_and_coverage(class_path: str) -> None:
    plain = vectorize_raster(class_path, block_size=BLOCK)
    smooth = vectorize_raster(class_path, block_size=BLOCK, smooth_iterations=3)
    assert len(smooth) == len(plain)
    ratio = smooth.area_m2.sum() / plain.area_m2.sum()
    print(f"smoothed total area ratio {ratio:.6f}")
    assert abs(ratio - 1) < 2e-3  # only edges next to nodata (the collar) can move the total
    assert shapely.get_num_coordinates(smooth.geometry).sum() > (
        2 * shapely.get_num_coordinates(plain.geometry).sum()
    )


def test_score_is_mean_probability_of_the_class(tmp_path: Path, class_path: str) -> None:
    with rasterio.open(class_path) as src:
        cls = src.read(1)
        profile = src.profile
    # one band per class value (0..5), uint8: the polygon's own class reads 200/255 everywhere
    probs = np.where(cls[None] == np.arange(6)[:, None, None], 200, 11).astype("uint8")
    multi = tmp_path / "probs.tif"
    with rasterio.open(multi, "w", **{**profile, "count": 6, "nodata": None}) as dst:
        dst.write(probs)
    exact = vectorize_raster(
        class_path, score_path=str(multi), block_size=BLOCK, simplify_tolerance=0
    )
    np.testing.assert_allclose(exact.score.to_numpy(dtype=float), 200 / 255)
    # simplified outlines also cover some pixel centres of the neighbours (11/255 there)
    gdf = vectorize_raster(class_path, score_path=str(multi), block_size=BLOCK)
    scores = gdf.score.to_numpy(dtype=float, na_value=np.nan)
    print(
        "simplified: score range",
        np.nanmin(scores),
        np.nanmax(scores),
        "median",
        np.nanmedian(scores),
        "null",
        int(np.isnan(scores).sum()),
    )
    assert np.nanmedian(scores) > 0.77 and np.nanmax(scores) <= 200 / 255 + 1e-12
    assert not np.isnan(scores).any()  # slivers covering no pixel centre read one pixel

    # one float band: the mean equals rasterize-and-average over the whole array
    rng = np.random.default_rng(3)
    conf = rng.random(cls.shape, dtype=np.float32)
    single = tmp_path / "conf.tif"
    with rasterio.open(
        single, "w", **{**profile, "dtype": "float32", "nodata": None, "count": 1}
    ) as dst:
        dst.write(conf, 1)
    exact = vectorize_raster(
        class_path, score_path=str(single), block_size=BLOCK, simplify_tolerance=0
    )
    ids = rasterio.features.rasterize(
        zip(exact.geometry.values, range(1, len(exact) + 1), strict=True),
        out_shape=SHAPE,
        transform=TRANSFORM,
        dtype="int32",
    )
    sums = np.bincount(ids.ravel(), weights=conf.ravel(), minlength=len(exact) + 1)[1:]
    counts = np.bincount(ids.ravel(), minlength=len(exact) + 1)[1:]
    np.testing.assert_allclose(exact.score.to_numpy(dtype=float), sums / counts, rtol=1e-9)
    assert vectorize_raster(class_path, block_size=BLOCK).score.isna().all()


def test_attributes_in_metres_for_a_geographic_crs(tmp_path: Path, classes: np.ndarray) -> None:
    """Same pixels on a 0.0001° grid near Wuhan: area_m2 is the UTM area, not degrees²."""
    small = classes[:400, 300:700]
    transform = from_origin(114.2, 30.6, 1e-4, 1e-4)
    path = write_classes(tmp_path / "geo.tif", small, transform, "EPSG:4326")
    gdf = vectorize_raster(
        path, simplify_tolerance=0, class_names={1: "water", 2: "vegetation", 3: "cropland"}
    )
    projected = gdf.to_crs(gdf.estimate_utm_crs())
    np.testing.assert_allclose(gdf.area_m2, projected.area, rtol=1e-9)
    np.testing.assert_allclose(gdf.perimeter_m, projected.length, rtol=1e-9)
    pixel_m2 = gdf.area_m2.sum() / int((small > 0).sum())
    print(f"pixel area {pixel_m2:.2f} m²")
    assert 90 < pixel_m2 < 110  # 0.0001° is about 11.1 m by 9.6 m at 30.6° N
    assert gdf["class_name"].dropna().isin(["water", "vegetation", "cropland"]).all()
    assert list(gdf.columns) == [
        "class",
        "class_name",
        "score",
        "area_m2",
        "perimeter_m",
        "geometry",
    ]


def test_classes_filter_and_progress(class_path: str) -> None:
    calls: list[float] = []
    gdf = vectorize_raster(
        class_path, block_size=BLOCK, classes=[1, 4], progress=lambda p, _m: calls.append(p)
    )
    assert set(gdf["class"]) == {1, 4}
    assert calls == sorted(calls) and calls[-1] == 100.0
    everything = vectorize_raster(class_path, block_size=BLOCK)
    chosen = everything[everything["class"].isin([1, 4])]
    assert canonical(gdf.geometry.values) == canonical(chosen.geometry.values)
