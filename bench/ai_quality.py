"""Quality of the AI tools: one markdown table, one row per tool and data set, with the
zero-sample baseline beside the trained result.

    python -m bench.ai_quality                   # every tool, a few minutes
    python -m bench.ai_quality --only naip       # the row functions whose name has "naip"
    python -m bench.ai_quality --spacenet --plot bench/out/spacenet_curve.png --json rows.json

Each tool is measured on real reference data where there is a truth for it (Landsat 8 QA_PIXEL
water and cloud flags, SpaceNet-4 footprints, NDWI/NDVI on the NAIP and Sentinel-2 pairs), else
on the seeded synthetic scenes the unit tests build (tileserver.demo, tests/inference/
zero_sample_scenes.py and synthetic_fields.py); the note says what the truth is, the sizes and
the seconds. A tool that refuses its input shows "refused: <reason>"; a missing data set
(``COGSIGHT_REALDATA_DIR``, default ``../shared/data``) shows "skipped".

Rows come from ``ROWS``, a list of functions each returning ``Row``s: a tool adds its own
function with ``@row`` (``bench.ai_quality.row``). ``--spacenet`` adds the SpaceNet-4 curve
(slow, it trains): building IoU on the unseen southern half of the Atlanta tile against the
number of footprints of the northern half learnt from (plus background strokes drawn away from
buildings there), for the pixel classifier and the U-Net, with training seconds; seeds are
fixed. Its best pixel-classifier result fills the trained column of the ``building`` row.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

import numpy as np

from bench.ai_quality_inputs import (
    NAIP_BANDS,
    Absent,
    Refused,
    band_set,
    chosen_bands,
    class_map,
    classes,
    engine_classes,
    forward,
    hazed,
    iou,
    landsat,
    landsat_stack,
    naip,
    normalized_difference,
    precision_recall,
    seconds,
    sentinel1_db,
    sentinel2,
    spacenet,
    tennessee,
    write_array,
)
from bench.spacenet_curve import SPACENET, CurvePoint, plot, spacenet_curve


@dataclass
class Row:
    """One line of the table; ``baseline``/``trained``: the metric's value, None = not run."""

    tool: str
    data: str
    metric: str
    baseline: float | None
    trained: float | None
    note: str = ""


ROWS: list[Callable[[], list[Row]]] = []


def row(fn: Callable[[], list[Row]]) -> Callable[[], list[Row]]:
    """Register a function giving rows of the table."""
    ROWS.append(fn)
    return fn


def measured(
    tool: str,
    data: str,
    metric: str,
    measure: Callable[[], tuple[float, str]],
    trained: float | None = None,
) -> Row:
    """A row from ``measure()`` (the zero-sample value and a note), timed; a refusal or a
    missing data set becomes the note instead of an error."""
    started = time.perf_counter()
    try:
        value, note = measure()
    except Absent as exc:
        return Row(tool, data, metric, None, trained, f"skipped: {exc}")
    except Refused as exc:
        return Row(tool, data, metric, None, trained, f"refused: {exc}; {seconds(started)}")
    return Row(tool, data, metric, round(float(value), 3), trained, f"{note}; {seconds(started)}")


_CURVE: list[CurvePoint] = []


def spacenet_rows() -> list[Row]:
    if not SPACENET.is_dir():
        return []
    _CURVE[:] = spacenet_curve()
    out = []
    for point in _CURVE:
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

    best = [p.iou_post for p in _CURVE if p.method == "pixel-classifier" and p.footprints == 25]
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


# -- the demo scenes of tileserver.demo (seed 42) ----------------------------------------------

DEMO_SEED = 42


@row
def demo_sar_rows() -> list[Row]:
    from rasterio.transform import from_origin

    from tileserver.demo.scenes import make_sar_scene

    def measure(tool: str, bands: list[int]) -> tuple[float, str]:
        window = from_origin(248030.0, 3385170.0, 10.0, 10.0)  # East Lake, 512 px
        data, truth = make_sar_scene((512, 512), window, "EPSG:32650", seed=DEMO_SEED)
        water = classes(tool, data[bands]) == 1
        return iou(water, truth == 1), f"truth demo water class; {truth.shape[0]} px square, 10 m"

    data = "demo SAR scene (tileserver.demo, East Lake, synthetic)"
    return [
        measured("water-sar", data + ", VV+VH", "water IoU", lambda: measure("water-sar", [0, 1])),
        measured("water-sar-vv", data + ", VV", "water IoU", lambda: measure("water-sar-vv", [0])),
    ]


@row
def demo_change_rows() -> list[Row]:
    def measure() -> tuple[float, str]:
        from tileserver.demo import make_optical_scene
        from tileserver.demo.landscape import change_mask
        from tileserver.demo.scenes import scene_grid

        grid = scene_grid()
        d0, c0 = make_optical_scene(grid.shape, grid.transform, grid.crs, DEMO_SEED, 0)
        d1, c1 = make_optical_scene(grid.shape, grid.transform, grid.crs, DEMO_SEED, 1)
        truth = change_mask(c0, c1)
        pick = band_set("change-cva", ["blue", "green", "red", "nir", "swir16"])
        image = np.concatenate([d0[pick], d1[pick]]).astype(np.float32) * 1e-4
        pred = classes("change-cva", image)
        valid = truth != 255
        p, r = precision_recall((pred > 0) & valid, (truth > 0) & valid)
        changed = (truth > 0) & valid
        agree = float((pred[changed] == truth[changed]).mean())
        return 2 * p * r / max(p + r, 1e-9), (
            f"truth demo change mask; precision {p:.3f} recall {r:.3f}, change type right on "
            f"{agree:.3f} of changed px; {truth.shape[0]} px square"
        )

    data = "demo optical pair (tileserver.demo, synthetic)"
    return [measured("change-cva", data, "change F1", measure)]


# -- dehaze on a real clear image with a known haze ------------------------------------------


AIRLIGHT = (0.92, 0.90, 0.88)  # blue, green, red on the 0..1 scale of the 8-bit image


@row
def dehaze_rows() -> list[Row]:
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    scores: dict[str, tuple[float, float]] = {}

    def measure(metric: str) -> tuple[float, str]:
        if not scores:
            clear = tennessee(640)
            hazy = hazed(clear, AIRLIGHT)
            out = np.clip(forward("dehaze", hazy), 0, 1)
            for name, image in (("hazy", hazy), ("dehazed", out)):
                scores[name] = (
                    peak_signal_noise_ratio(clear, image, data_range=1.0),
                    structural_similarity(clear, image, data_range=1.0, channel_axis=0),
                )
        k = 0 if metric == "PSNR" else 1
        return scores["dehazed"][k], (
            f"hazy input {scores['hazy'][k]:.3f}; I = J t + A (1 - t), t 0.25 (west) to 0.9 "
            f"(east), A 0.92/0.90/0.88 (B, G, R), J the 8-bit image / 255; 640 px window"
            + ("" if metric == "PSNR" else "; one run with the PSNR row")
        )

    data = "NOAA ERI Tennessee 2020 RGB ~1.3 m, synthetic haze"
    return [
        measured("dehaze", data, "PSNR dB vs the clear image", lambda: measure("PSNR")),
        measured("dehaze", data, "SSIM vs the clear image", lambda: measure("SSIM")),
    ]


# -- zero-sample RGB(N) tools on the seeded scenes of the unit tests --------------------------


def _scene_iou(tool: str, scene_fn: str, bands: int, dtype: str) -> tuple[float, str]:
    """As tests/inference/test_zero_sample_tools.py: the scene written as a file, the engine
    with the spec's chip and overlap, IoU against the painted truth."""
    from tests.inference import zero_sample_scenes as scenes

    scene = getattr(scenes, scene_fn)()
    with tempfile.TemporaryDirectory() as tmp:
        image = scenes.write_scene(scene, Path(tmp) / "in.tif", bands=bands, dtype=dtype)
        found = engine_classes(tool, [image], [list(range(1, bands + 1))]) == 1
    return iou(found, scene.truth), f"truth painted mask of {scene_fn}(); {scene.size} px square"


SCENES = "synthetic scene (tests/inference/zero_sample_scenes.py)"


@row
def zero_sample_scene_rows() -> list[Row]:
    cases = [
        ("pv-plant", "pv_scene", 3, "uint8"),
        ("pv-plant", "pv_scene", 4, "uint16"),
        ("greenhouse", "greenhouse_scene", 4, "uint16"),
        ("dam", "dam_scene", 4, "uint8"),
        ("building", "building_scene", 3, "uint8"),
    ]
    layout = {3: "RGB", 4: "RGBN", 5: "RGBN+SWIR"}
    return [
        measured(
            tool,
            f"{SCENES}, {layout[bands]} {dtype}",
            "IoU vs painted truth",
            partial(_scene_iou, tool, fn, bands, dtype),
        )
        for tool, fn, bands, dtype in cases
    ]


FARMLAND = "synthetic farmland (tests/inference/synthetic_fields.py)"


@row
def farmland_rows() -> list[Row]:
    from tests.inference.synthetic_fields import ROOF, farmland, later_date, parcel_scores

    def parcels(layout: str) -> tuple[float, str]:
        image, truth = farmland(seed=0)
        if layout == "RGBN 16-bit":
            data = (np.round(image * 1e4) * 1e-4).astype(np.float32)
        else:  # 8-bit DN as the engine scales it
            data = (np.round(np.clip(image[:3] / 0.4 * 255, 0, 255)) * 1e-4).astype(np.float32)
        field_iou, found = parcel_scores(classes("field-parcel", data) == 1, truth)
        return field_iou, f"truth Voronoi parcels, seed 0, 512 px; parcels found {found:.3f}"

    def new_roofs() -> tuple[float, str]:
        image, _ = farmland(seed=3)
        later, new = image.copy(), np.zeros(image.shape[1:], dtype=bool)
        for r0, c0 in [(60, 60), (60, 90), (90, 60), (200, 200), (300, 120)]:
            new[r0 : r0 + 14, c0 : c0 + 18] = True
        later[:, new] = np.array(ROOF, dtype=np.float32)[:, None]
        found = classes("building-change", np.concatenate([image[:3], later[:3]]))
        return iou(found == 1, new), (
            f"truth five new bright roofs (14x18 px), RGB; "
            f"gone flagged on {(found == 2).mean():.4f}"
        )

    def lost_fields(bands: int) -> tuple[float, str]:
        image, truth = farmland(seed=2)
        later, gone = later_date(image, truth, 2, floods=bands == 4)
        found = classes("cropland-change", np.concatenate([image[:bands], later[:bands]]))
        return iou(found == 2, gone), (
            f"truth four fields built over{' or flooded' if bands == 4 else ''}, date 2 shifted "
            f"1 px; new cropland flagged on {(found == 1).mean():.4f}"
        )

    return [
        measured(
            "field-parcel", FARMLAND + ", RGBN 16-bit", "field IoU", lambda: parcels("RGBN 16-bit")
        ),
        measured(
            "field-parcel", FARMLAND + ", RGB 8-bit", "field IoU", lambda: parcels("RGB 8-bit")
        ),
        measured("building-change", FARMLAND + " + new roofs", "new-building IoU", new_roofs),
        measured(
            "cropland-change", FARMLAND + ", RGBN", "cropland-gone IoU", lambda: lost_fields(4)
        ),
        measured(
            "cropland-change", FARMLAND + ", RGB", "cropland-gone IoU", lambda: lost_fields(3)
        ),
    ]


def markdown(rows: Sequence[Row]) -> str:
    def shown(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"

    lines = [
        "| tool | data | metric | zero-sample baseline | trained | note |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.tool} | {r.data} | {r.metric} | {shown(r.baseline)} | {shown(r.trained)} "
            f"| {r.note} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--spacenet", action="store_true", help="train the SpaceNet-4 curve (slow)")
    parser.add_argument("--plot", type=Path, help="save the SpaceNet-4 curve as a PNG")
    parser.add_argument("--json", type=Path, help="save the rows as JSON")
    parser.add_argument("--only", help="run the row functions whose name contains this")
    args = parser.parse_args(argv)
    rows = spacenet_rows() if args.spacenet else []
    for fn in ROWS:
        if not args.only or args.only in fn.__name__:
            rows += fn()
    print(markdown(rows))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps([asdict(r) for r in rows], indent=1) + "\n")
    if args.plot and _CURVE:
        plot(_CURVE, args.plot)


if __name__ == "__main__":
    main()
