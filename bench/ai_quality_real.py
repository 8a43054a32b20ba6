"""Quality rows on real reference data: Landsat 8 QA_PIXEL water and cloud, the Sentinel-2
Inn river, the NAIP North Dakota pair, SpaceNet-4 footprints (and its training curve) and a
Sentinel-1 scene without labels."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bench.ai_quality_inputs import (
    NAIP_BANDS,
    band_set,
    chosen_bands,
    class_map,
    classes,
    engine_classes,
    forward,
    iou,
    landsat,
    landsat_stack,
    naip,
    normalized_difference,
    precision_recall,
    sentinel1_db,
    sentinel2,
    spacenet,
    write_array,
)
from bench.ai_quality_table import Row, measured, row
from bench.spacenet_curve import SPACENET, CurvePoint, spacenet_curve

CURVE: list[CurvePoint] = []


def spacenet_rows() -> list[Row]:
    if not SPACENET.is_dir():
        return []
    CURVE[:] = spacenet_curve()
    out = []
    for point in CURVE:
        out.append(
            Row(
                f"train ({point.method})",
                f"SpaceNet-4 Atlanta 0.5 m pan, {point.footprints} north footprints",
                "building IoU, unseen south (post-processed)",
                None,
                round(point.iou_post, 3),
                f"raw {point.iou:.3f}; train {point.train_s:.0f} s, predict "
                f"{point.predict_s:.0f} s (0.81 MP)",
            )
        )
    return out


# -- the tools, one function per data set --------------------------------------------------

LANDSAT = "Landsat 8 C2L2 Colombia 2019-12-01, 512 px at ~450 m"


def _landsat_water(tool: str, names: Sequence[str], water_id: int) -> tuple[float, str]:
    """Water of ``tool`` against the QA_PIXEL water bit, on clear pixels (no fill, cloud,
    dilated cloud, cirrus or shadow: the water bit is only set where the view is clear). The
    tool is fitted on the clear pixels, as a registered C2L2 scene's QA mask has it in the
    product (fitted on the clouds too, MNDWI's Otsu split takes 57 % of this 84 %-cloud scene
    for water)."""
    bands, qa = landsat()
    valid = (qa & 1) == 0
    clear = valid & ((qa & 0b11110) == 0)
    found = classes(tool, np.stack([bands[n] for n in names]), clear) == water_id
    truth = (qa >> 7 & 1).astype(bool) & clear
    p, r = precision_recall(found[clear], truth[clear])
    return iou(found[clear], truth[clear]), (
        f"truth QA water bit on {clear.sum()} clear px ({truth.sum()} water); "
        f"precision {p:.3f} recall {r:.3f}; water {found[valid].mean():.3f} of the valid scene"
    )


@row
def landsat_water_rows() -> list[Row]:
    metric = "water IoU vs QA_PIXEL water (clear px)"
    return [
        measured(
            "water-optical",
            LANDSAT + ", MNDWI (B3, B6)",
            metric,
            lambda: _landsat_water("water-optical", ["green", "swir16"], 1),
        ),
        measured(
            "water-optical-ndwi",
            LANDSAT + ", NDWI (B3, B5)",
            metric,
            lambda: _landsat_water("water-optical-ndwi", ["green", "nir"], 1),
        ),
        measured(
            "landcover-spectral",
            LANDSAT + ", B2-B6",
            "water class " + metric.split(" ", 1)[1],
            lambda: _landsat_water(
                "landcover-spectral", ["blue", "green", "red", "nir", "swir16"], 1
            ),
        ),
    ]


def _landsat_cloud(tool: str, names: Sequence[str]) -> tuple[float, str]:
    """Cloud (class 1) through the engine against QA_PIXEL cloud | dilated cloud, on non-fill
    pixels, as tests/inference/test_cloud_mask_realdata.py does through the process."""
    _, qa = landsat()
    valid = (qa & 1) == 0
    truth = ((qa >> 3 & 1) | (qa >> 1 & 1)).astype(bool)
    with tempfile.TemporaryDirectory() as tmp:
        stack = landsat_stack(names, Path(tmp) / "landsat.tif")
        bands = [list(range(1, len(names) + 1))]
        found = engine_classes(tool, [stack], bands, scale=2.75e-5, offset=-0.2) == 1
    p, r = precision_recall(found[valid], truth[valid])
    return iou(found[valid], truth[valid]), (
        f"truth QA bit 3 or 1 on {valid.sum()} valid px ({truth[valid].mean():.2f} cloud); "
        f"precision {p:.3f} recall {r:.3f}"
    )


@row
def landsat_cloud_rows() -> list[Row]:
    metric = "cloud IoU vs QA_PIXEL cloud or dilated cloud"
    six = ["blue", "green", "red", "nir", "swir16", "swir22"]
    return [
        measured(
            "cloud-mask", LANDSAT + ", B2-B7", metric, lambda: _landsat_cloud("cloud-mask", six)
        ),
        measured(
            "cloud-mask-4b",
            LANDSAT + ", B2-B5",
            metric,
            lambda: _landsat_cloud("cloud-mask-4b", six[:4]),
        ),
    ]


@row
def sentinel2_water_rows() -> list[Row]:
    def measure() -> tuple[float, str]:
        june, september = sentinel2()
        found = classes("water-optical-ndwi", june[[1, 3]]) == 1
        truth = normalized_difference(june[1], june[3]) > 0
        later = classes("water-optical-ndwi", september[[1, 3]]) == 1
        return iou(found, truth), (
            f"truth NDWI > 0 (the test's reference; the Otsu threshold vs 0); water "
            f"{found.mean():.3f} (README: ~13 %), September {later.mean():.3f}, "
            f"IoU June/September {iou(found, later):.3f}; 578x379 px"
        )

    data = "Sentinel-2 L2A Austria 2021-06-17 (Inn river), 10 m"
    return [measured("water-optical-ndwi", data, "water IoU vs NDWI > 0", measure)]


# -- NAIP North Dakota 2009 -> 2020: lakes that grew ----------------------------------------

NAIP = "NAIP North Dakota 2009/2020, 934x724 px at 5 m"


def _ndwi_water(d: np.ndarray) -> np.ndarray:
    return normalized_difference(d[1], d[3]) > 0


def _naip_water_gain() -> tuple[float, str]:
    old, new = naip()
    pick = band_set("change-cva", NAIP_BANDS)
    names = chosen_bands("change-cva", NAIP_BANDS)
    gain = classes("change-cva", np.concatenate([old[pick], new[pick]]), bands=names) == 3
    truth = _ndwi_water(new) & ~_ndwi_water(old)
    p, r = precision_recall(gain, truth)
    return iou(gain, truth), (
        f"truth NDWI > 0 in 2020 and not 2009 ({truth.mean():.3f} of the tile); "
        f"precision {p:.3f} recall {r:.3f}"
    )


def _naip_landcover_water() -> tuple[float, str]:
    dates = naip()
    found = [class_map("landcover-spectral", forward("landcover-spectral", d)) == 1 for d in dates]
    truth = [_ndwi_water(d) for d in dates]
    each = ", ".join(
        f"{y} {iou(f, t):.3f}" for y, f, t in zip((2009, 2020), found, truth, strict=True)
    )
    return iou(np.stack(found), np.stack(truth)), f"truth NDWI > 0; pooled over both dates ({each})"


def _naip_landcover_vegetation() -> tuple[float, str]:
    dates = naip()
    found = [np.isin(classes("landcover-spectral", d[:3]), (2, 7)) for d in dates]
    truth = [normalized_difference(d[3], d[0]) > 0.3 for d in dates]
    each = ", ".join(
        f"{y} {iou(f, t):.3f}" for y, f, t in zip((2009, 2020), found, truth, strict=True)
    )
    return iou(np.stack(found), np.stack(truth)), (
        f"RGB only (NIR dropped), vegetation + grassland classes (the ExG > 0.12 rule every "
        f"RGB tool shares); truth NDVI > 0.3; pooled ({each})"
    )


def _naip_cropland_gone() -> tuple[float, str]:
    old, new = naip()
    gone = classes("cropland-change", np.concatenate([old, new])) == 2
    flooded = ~_ndwi_water(old) & _ndwi_water(new)
    p, r = precision_recall(gone, flooded)
    return r, (
        f"truth land (NDWI <= 0) in 2009, water in 2020; {p:.3f} of what it flags is on it; "
        f"IoU {iou(gone, flooded):.3f}; spec claims 84 % of flooded cropland found"
    )


@row
def naip_rows() -> list[Row]:
    return [
        measured("change-cva", NAIP + ", RGBN", "water-gain IoU vs NDWI change", _naip_water_gain),
        measured(
            "landcover-spectral",
            NAIP + ", RGBN",
            "water class IoU vs NDWI > 0",
            _naip_landcover_water,
        ),
        measured(
            "landcover-spectral",
            NAIP + ", RGB",
            "vegetation IoU vs NDVI > 0.3",
            _naip_landcover_vegetation,
        ),
        measured(
            "cropland-change",
            NAIP + ", RGBN",
            "recall of flooded land as cropland gone",
            _naip_cropland_gone,
        ),
    ]


# -- SpaceNet-4 building (zero-sample) and Sentinel-1 water (no truth) -----------------------


@row
def spacenet_building_rows() -> list[Row]:
    def measure() -> tuple[float, str]:
        pan, truth = spacenet()
        import rasterio

        with rasterio.open(pan) as src:
            data, profile = src.read(1), src.profile
        with tempfile.TemporaryDirectory() as tmp:
            grid = {"crs": profile["crs"], "transform": profile["transform"]}
            grey = write_array(np.stack([data] * 3), Path(tmp) / "grey.tif", **grid)
            found = engine_classes("building", [grey], [[1, 2, 3]], chip=900, overlap=0) == 1
        south = np.s_[truth.shape[0] // 2 :, :]
        hits = float((found & truth).sum())
        return iou(found, truth), (
            f"pan as R=G=B; truth footprint mask, whole 900x900 tile; F1 "
            f"{2 * hits / (found.sum() + truth.sum()):.3f}; south half "
            f"{iou(found[south], truth[south]):.3f} "
            f"(the trained column's area: best pixel classifier, 25 footprints, post-processed)"
        )

    best = [p.iou_post for p in CURVE if p.method == "pixel-classifier" and p.footprints == 25]
    trained = round(max(best), 3) if best else None
    data = "SpaceNet-4 Atlanta 0.5 m pan"
    return [measured("building", data, "building IoU vs footprints", measure, trained)]


S1_CALIBRATION = 474.0  # assumed sigma0 calibration constant of the GRD DN (no LUT in the file)


@row
def sentinel1_water_rows() -> list[Row]:
    def measure() -> tuple[float, str]:
        db = sentinel1_db(S1_CALIBRATION)
        valid = db[0] > -100
        water = classes("water-sar-vv", db, valid) == 1
        return float(water[valid].mean()), (
            f"no reference: water share only; DN -> dB as 20 log10(DN / {S1_CALIBRATION:g}) (the "
            f"split is shift-invariant, the constant only meets the -15 dB water ceiling); "
            f"polarisation not recorded; 1280x837 px, GCP geometry"
        )

    data = "Sentinel-1A IW GRD India 2018-07-16, ~200 m"
    return [measured("water-sar-vv", data, "water share (no truth)", measure)]
