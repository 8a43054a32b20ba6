"""Zero-sample tools on RGB / RGBN imagery: field parcels, cropland and building change, land
cover without SWIR and the water tool that picks its index from the bands it finds.

Real data: the Sentinel-2 L2A Austria pair (R, G, B, NIR x 10000, a turbid river) and the NAIP
North Dakota 2009/2020 pair (8-bit R, G, B, NIR, lakes that grew). Parcel truth comes from the
seeded synthetic farmland of synthetic_fields.py. Thresholds are the measured values less a
margin; the figures are printed (pytest -s shows them).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from rasterio.transform import from_origin
from rasterio.warp import Resampling, reproject
from synthetic_fields import ROOF, farmland, later_date, parcel_scores

from inference.engine import run_inference
from inference.models import MODELS, Fittable, build
from tileserver.catalog.schemas import DatasetRecord
from tileserver.errors import UnknownBand
from tileserver.processing.models.sources import band_indexes

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
S2 = DATA / "s2-l2a-austria-2date" / "inference-img.tif"
NAIP = DATA / "naip-northdakota-2009-2020"


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max(1, (a | b).sum()))


def _run(name: str, image: np.ndarray) -> np.ndarray:
    """Fit on the whole image (if asked), one forward pass; (K, H, W) probabilities."""
    model = build(name)
    if MODELS.get(name).spec.needs_fit:
        assert isinstance(model, Fittable)
        model.fit(image, np.ones(image.shape[1:], dtype=bool))
    with torch.inference_mode():
        return model(torch.from_numpy(np.ascontiguousarray(image))[None])[0].numpy()


@pytest.fixture(scope="module")
def s2() -> tuple[np.ndarray, np.ndarray]:
    if not S2.exists():
        pytest.skip("shared sample data not present")
    with rasterio.open(S2) as src:
        data = src.read().astype(np.float32) * 1e-4
    return data[:4], data[4:]  # red, green, blue, nir of June and of September 2021


@pytest.fixture(scope="module")
def naip() -> tuple[np.ndarray, np.ndarray]:
    """2009 and 2020 (put on the 2009 grid), 8-bit DN scaled as the engine does (x 1e-4)."""
    first, second = sorted(NAIP.glob("m_*.tif")) if NAIP.exists() else ([], [])
    if not first:
        pytest.skip("shared sample data not present")
    with rasterio.open(first) as a, rasterio.open(second) as b:
        d1 = a.read().astype(np.float32)
        d2 = np.zeros_like(d1)
        reproject(
            b.read().astype(np.float32), d2, src_transform=b.transform, src_crs=b.crs,
            dst_transform=a.transform, dst_crs=a.crs, resampling=Resampling.bilinear,
        )  # fmt: skip
    return d1 * 1e-4, d2 * 1e-4


def _record(band_names: list[str], sensor: str = "generic") -> DatasetRecord:
    now = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    return DatasetRecord(
        id="d", title="d", uri="/x.tif", crs="EPSG:32633", bounds=(0, 0, 1, 1),
        footprint={"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]},
        sensor=sensor, band_names=band_names, dtype="uint8", width=8, height=8,
        resolution=1.0, minzoom=0, maxzoom=1, created=now,
    )  # fmt: skip


# --- bands: the tool picks the set the dataset has, refuses clearly otherwise -------------


def test_water_tool_picks_mndwi_or_ndwi_from_the_bands() -> None:
    spec = MODELS.get("water-optical").spec
    s2_bands = ["blue", "green", "red", "nir", "swir16"]
    assert band_indexes(spec, _record(s2_bands)) == [2, 5]  # green, swir16: MNDWI
    assert band_indexes(spec, _record(["red", "green", "blue", "nir"])) == [1, 2, 3, 4]  # NDWI
    with pytest.raises(UnknownBand, match=r"\(green, swir16\) or \(red, green, blue, nir\)"):
        band_indexes(spec, _record(["red", "green", "blue"]))


def test_rgb_and_rgbn_sets_of_the_new_tools() -> None:
    for name in ("field-parcel", "cropland-change", "building-change", "landcover-spectral"):
        spec = MODELS.get(name).spec
        assert band_indexes(spec, _record(["red", "green", "blue"])) == [1, 2, 3]
        assert band_indexes(spec, _record(["blue", "green", "red", "nir"])) == [3, 2, 1, 4]
        with pytest.raises(UnknownBand, match=name):
            band_indexes(spec, _record(["red", "nir"]))


def test_missing_bands_are_clear_errors() -> None:
    with pytest.raises(ValueError, match=r"field-parcel expects 3 or 4 bands"):
        _run("field-parcel", np.zeros((2, 32, 32), dtype=np.float32))
    with pytest.raises(ValueError, match=r"cropland-change expects .*got 5 channels"):
        _run("cropland-change", np.zeros((5, 32, 32), dtype=np.float32))
    with pytest.raises(ValueError, match=r"water \(mndwi"):
        _run("water-optical", np.full((3, 32, 32), 0.1, dtype=np.float32))


# --- water ---------------------------------------------------------------------------------


def test_water_ndwi_on_sentinel2_river(s2: tuple[np.ndarray, np.ndarray]) -> None:
    june, september = (_run("water-optical", d).argmax(axis=0) == 1 for d in s2)
    stable = _iou(june, september)
    print(f"S2 Austria water {june.mean():.3f} / {september.mean():.3f}, IoU {stable:.3f}")
    assert 0.11 < june.mean() < 0.16 and 0.10 < september.mean() < 0.15
    assert stable >= 0.87  # the river does not move in three months (measured 0.911)


def test_water_ndwi_on_naip_lakes_that_grew(naip: tuple[np.ndarray, np.ndarray]) -> None:
    old, new = (_run("water-optical", d).argmax(axis=0) == 1 for d in naip)
    print(f"NAIP water 2009 {old.mean():.3f}, 2020 {new.mean():.3f}")
    assert 0.10 < old.mean() < 0.15 and 0.21 < new.mean() < 0.29  # measured 0.122, 0.248


# --- land cover without SWIR -------------------------------------------------------------


def test_landcover_rgbn_water_agrees_with_ndwi(s2: tuple[np.ndarray, np.ndarray]) -> None:
    ids = np.array(MODELS.get("landcover-spectral").spec.class_ids)
    water = _run("water-optical", s2[0]).argmax(axis=0) == 1
    rgbn = ids[_run("landcover-spectral", s2[0]).argmax(axis=0)]
    rgb = ids[_run("landcover-spectral", s2[0][:3]).argmax(axis=0)]
    agreement = _iou(rgbn == 1, water)
    green = np.isin(rgbn, (2, 7)), np.isin(rgb, (2, 7))
    print(f"S2 land cover RGBN water IoU {agreement:.3f}; green RGBN {green[0].mean():.3f}")
    assert agreement >= 0.93  # measured 0.972
    print(f"green RGB {green[1].mean():.3f}, IoU RGB vs RGBN green {_iou(*green):.3f}")
    # RGB green is ExG > 0.12, the rule every RGB tool shares (measured 0.697; GLI > 0.05,
    # used before, gave 0.786 here but 0.45 / 0.59 on the NAIP pair, see the next test)
    assert 0.6 < green[0].mean() < 0.85 and _iou(*green) >= 0.66
    assert not (rgb == 1).any()  # no visible water index: the turbid river is bright


def test_landcover_rgb_vegetation_agrees_with_ndvi_on_naip(naip) -> None:
    """NIR dropped, the vegetation and grassland classes against NDVI > 0.3 of the NIR band."""
    for image, measured in zip(naip, (0.661, 0.631), strict=True):
        ids = np.array(MODELS.get("landcover-spectral").spec.class_ids)
        green = np.isin(ids[_run("landcover-spectral", image[:3]).argmax(axis=0)], (2, 7))
        red, nir = image[0], image[3]
        truth = (nir - red) / np.maximum(nir + red, 1e-6) > 0.3
        assert _iou(green, truth) >= measured - 0.03


def test_landcover_clouds_and_8bit_scale() -> None:
    cloud = np.full((4, 16, 16), 240e-4, dtype=np.float32)  # 8-bit DN 240, grey
    assert (_run("landcover-spectral", cloud).argmax(axis=0) == 5).all()  # class 6
    grass = np.empty((3, 16, 16), dtype=np.float32)
    grass[:] = np.array([60, 110, 50], dtype=np.float32)[:, None, None] * 1e-4
    grass[:, 0, 0] = 255e-4  # one bright pixel sets the 8-bit scale
    probs = _run("landcover-spectral", grass)
    assert (probs.argmax(axis=0)[4:12, 4:12] == 6).all()  # class 7, grassland: green, smooth


# --- field parcels -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("layout", "min_iou", "min_found"),
    [("rgbn16", 0.74, 0.88), ("rgb8", 0.72, 0.85)],  # measured 0.784/1.0, 0.767/0.944
)
def test_field_parcels_on_synthetic_farmland(layout: str, min_iou: float, min_found: float) -> None:
    image, parcels = farmland(seed=0)
    if layout == "rgbn16":  # reflectance x 10000, as the engine scales it
        data = (np.round(image * 1e4) * 1e-4).astype(np.float32)
    else:  # 8-bit DN, as the engine scales it
        data = (np.round(np.clip(image[:3] / 0.4 * 255, 0, 255)) * 1e-4).astype(np.float32)
    field = _run("field-parcel", data).argmax(axis=0) == 1
    iou, found = parcel_scores(field, parcels)
    print(f"field-parcel {layout}: field IoU {iou:.3f}, parcels found {found:.3f}")
    assert iou >= min_iou and found >= min_found
    assert not field[:, 400:].any() or field[:256, 390:].mean() < 0.05  # not the forest


def test_field_parcels_through_the_engine_in_chips(tmp_path: Path) -> None:
    """Chips of 256 px with a 64 px halo: the result matches the truth as well as one pass."""
    image, parcels = farmland(seed=1)
    path = tmp_path / "farm.tif"
    profile = dict(driver="GTiff", width=512, height=512, count=4, dtype="uint16",
                   crs="EPSG:32633", transform=from_origin(500000, 5300000, 10, 10))  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.round(image * 1e4).astype(np.uint16))
    out = run_inference(
        build("field-parcel"), [path], tmp_path / "fields.tif", bands=[[1, 2, 3, 4]],
        scale=1e-4, chip=256, overlap=64, class_values=[0, 1],
    )  # fmt: skip
    with rasterio.open(out) as src:
        field = src.read(1) == 1
    iou, found = parcel_scores(field, parcels)
    print(f"field-parcel in 256 px chips: field IoU {iou:.3f}, parcels found {found:.3f}")
    assert iou >= 0.70 and found >= 0.80


# --- change ------------------------------------------------------------------------------


@pytest.mark.parametrize("bands", [4, 3])
def test_cropland_change_finds_lost_fields(bands: int) -> None:
    image, parcels = farmland(seed=2)
    later, gone = later_date(image, parcels, 2, floods=bands == 4)  # RGB: no water index
    x = np.concatenate([image[:bands], later[:bands]]).astype(np.float32)
    classes = _run("cropland-change", x).argmax(axis=0)
    iou = _iou(classes == 2, gone)
    false_new = float((classes == 1).mean())
    print(f"cropland-change {bands} bands: lost IoU {iou:.3f}, new {false_new:.4f}")
    assert iou >= 0.7 and false_new < 0.01


def test_cropland_change_quiet_on_a_stable_pair(s2: tuple[np.ndarray, np.ndarray]) -> None:
    """June to September: harvest is not a change; all flagged pixels are false alarms or
    true changes, so their share bounds the false-alarm rate."""
    classes = _run("cropland-change", np.concatenate(s2)).argmax(axis=0)
    flagged = float((classes > 0).mean())
    print(f"cropland-change on the stable S2 pair: {flagged:.3f} flagged")
    assert flagged < 0.07  # measured 0.053


def test_cropland_change_on_naip_lakes_that_grew(naip: tuple[np.ndarray, np.ndarray]) -> None:
    """Truth proxy: land (NDWI <= 0) in 2009 that is water (NDWI > 0) in 2020."""
    old, new = naip
    classes = _run("cropland-change", np.concatenate(naip)).argmax(axis=0)

    def ndwi(d: np.ndarray) -> np.ndarray:
        return (d[1] - d[3]) / (d[1] + d[3] + 1e-9)

    flooded = (ndwi(old) <= 0) & (ndwi(new) > 0)
    gone = classes == 2
    precision = float((gone & flooded).sum() / gone.sum())
    recall = float((gone & flooded).sum() / flooded.sum())
    print(f"cropland-change NAIP: gone {gone.mean():.3f}, on flooded land {precision:.3f}, "
          f"flooded land flagged {recall:.3f}")  # fmt: skip
    assert precision >= 0.48 and recall >= 0.52  # measured 0.546 and 0.585


def test_cropland_change_through_the_engine_on_two_files(tmp_path: Path) -> None:
    """The NAIP files as they are (grids ~1 m apart): the second date is warped onto the
    first as it is read, chips of 512 px with a 64 px halo; same result as one pass."""
    from inference.reading import align_second_date

    files = sorted(NAIP.glob("m_*.tif")) if NAIP.exists() else []
    if len(files) != 2:
        pytest.skip("shared sample data not present")
    first, second = files
    aligned = align_second_date(first, second, workdir=tmp_path)
    out = run_inference(
        build("cropland-change"), [first, aligned], tmp_path / "change.tif",
        bands=[[1, 2, 3, 4], [1, 2, 3, 4]], scale=1e-4, chip=512, overlap=64,
        class_values=[0, 1, 2],
    )  # fmt: skip
    with rasterio.open(out) as src:
        classes = src.read(1)
    gone = float((classes == 2).mean())
    print(f"cropland-change through the engine: gone {gone:.3f}")
    assert 0.19 < gone < 0.27  # one pass: 0.230


def test_building_change_finds_new_roofs() -> None:
    if not MODELS.get("building").spec.runnable:
        pytest.skip("the building tool is not runnable in this build")
    image, parcels = farmland(seed=3)
    later = image.copy()
    new = np.zeros(parcels.shape, dtype=bool)
    for r0, c0 in [(60, 60), (60, 90), (90, 60), (200, 200), (300, 120)]:
        new[r0 : r0 + 14, c0 : c0 + 18] = True
    later[:, new] = np.array(ROOF, dtype=np.float32)[:, None]
    x = np.concatenate([image[:3], later[:3]]).astype(np.float32)
    classes = _run("building-change", x).argmax(axis=0)
    iou = _iou(classes == 1, new)
    print(f"building-change: new-building IoU {iou:.3f}, gone {(classes == 2).mean():.4f}")
    assert iou >= 0.5 and (classes == 2).mean() < 0.01
