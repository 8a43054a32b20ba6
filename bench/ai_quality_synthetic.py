"""Quality rows on seeded synthetic truth: the demo scenes, a known haze over a real clear
image, the zero-sample RGB(N) scenes and farmland of the unit tests."""

from __future__ import annotations

import tempfile
from functools import partial
from pathlib import Path

import numpy as np

from bench.ai_quality_inputs import (
    band_set,
    classes,
    engine_classes,
    forward,
    hazed,
    iou,
    precision_recall,
    tennessee,
)
from bench.ai_quality_table import Row, measured, row

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
