"""The SpaceNet-4 training curve of ``bench.ai_quality --spacenet``: building IoU on the unseen
southern half of the Atlanta tile against the number of footprints of the northern half learnt
from (plus background strokes drawn away from buildings there), for the pixel classifier and
the U-Net, with training seconds; seeds are fixed.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.ai_quality_inputs import REALDATA, iou

SPACENET = REALDATA / "spacenet4-atlanta-buildings"
COUNTS = (5, 10, 15, 25)


@dataclass
class CurvePoint:
    method: str
    footprints: int
    iou: float
    iou_post: float
    train_s: float
    predict_s: float


def spacenet_scene() -> tuple[Path, np.ndarray, list, int]:
    """The pan image, the footprint mask on its grid, the footprints wholly in the northern
    half (the only ones training may use) and the first row of the southern half."""
    import geopandas as gpd
    import rasterio
    import rasterio.features

    image = SPACENET / "sample_geotiff.tif"
    with rasterio.open(image) as ds:
        frame = gpd.read_file(SPACENET / "geotiff_labels.geojson").to_crs(ds.crs)
        truth = rasterio.features.rasterize(
            [(g, 1) for g in frame.geometry], out_shape=ds.shape, transform=ds.transform
        ).astype(bool)
        half = ds.height // 2
        limit_y = (ds.transform * (0, half))[1]
    north = [g for g in frame.geometry if g.bounds[1] > limit_y]  # miny above the middle row
    return image, truth, north, half


def background_strokes(truth: np.ndarray, half: int, count: int, seed: int, transform) -> list:
    """``count`` straight strokes (10-40 px, 1 px wide) in the northern half, 4 px or more
    from any footprint: what a user draws on ground that is not building."""
    import shapely
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    distance = ndimage.distance_transform_edt(~truth)
    strokes: list[shapely.Polygon] = []
    while len(strokes) < count:
        r, c = rng.integers(0, half - 2), rng.integers(0, truth.shape[1] - 2)
        angle, length = rng.uniform(0, np.pi), rng.integers(10, 40)
        rr = np.clip(r + np.arange(length) * np.sin(angle), 0, half - 1).astype(int)
        cc = np.clip(c + np.arange(length) * np.cos(angle), 0, truth.shape[1] - 1).astype(int)
        if distance[rr, cc].min() < 4:
            continue
        ends = [transform * (cc[i] + 0.5, rr[i] + 0.5) for i in (0, -1)]
        strokes.append(shapely.LineString(ends).buffer(abs(transform.a) * 0.75))
    return strokes


def postprocess(mask: np.ndarray, opening: int = 2, min_area: int = 60) -> np.ndarray:
    """Morphological opening, holes filled, components under ``min_area`` px dropped."""
    from scipy import ndimage

    opened = ndimage.binary_fill_holes(ndimage.binary_opening(mask, iterations=opening))
    labels, count = ndimage.label(opened)
    if not count:
        return opened
    sizes = ndimage.sum(opened, labels, range(1, count + 1))
    return np.isin(labels, np.flatnonzero(sizes >= min_area) + 1)


def spacenet_point(
    method: str, footprints: int, *, seed: int = 0, trees: int = 100, epochs: int = 8
) -> CurvePoint:
    """Train on ``footprints`` northern footprints (+ background strokes), run the saved model
    over the whole tile with the engine, score the southern half."""
    import geopandas as gpd
    import rasterio

    from inference.engine import run_inference
    from inference.models import ModelRegistry
    from inference.models.user_models import register_user_models
    from inference.training import TrainingOptions, train_segmentation

    image, truth, north, half = spacenet_scene()
    with rasterio.open(image) as ds:
        transform, crs = ds.transform, ds.crs
    order = np.random.default_rng(seed).permutation(len(north))
    chosen = [north[i] for i in order[:footprints]]
    strokes = background_strokes(truth, half, 60 + 10 * footprints, seed, transform)
    frame = gpd.GeoDataFrame(
        {"class": [1] * len(chosen) + [0] * len(strokes)}, geometry=chosen + strokes, crs=crs
    )
    options = TrainingOptions.model_validate(
        dict(
            method=method, trees=trees, seed=seed, threads=2, max_epochs=epochs,
            time_budget_s=3600, chip=64, holdout=0.2, inference_chip=512, inference_overlap=64,
        )
    )  # fmt: skip
    registry = ModelRegistry()
    with tempfile.TemporaryDirectory() as tmp:
        labels = Path(tmp) / "samples.geojson"
        frame.to_file(labels)
        started = time.perf_counter()
        train_segmentation(
            image, labels, bands=[1], name="spacenet", models_dir=Path(tmp) / "models",
            scale=None if method == "pixel-classifier" else 1e-4, class_field="class",
            classes={1: "building"}, background=None, options=options, registry=registry,
        )  # fmt: skip
        trained = time.perf_counter() - started
        register_user_models(Path(tmp) / "models", registry)
        started = time.perf_counter()
        out = Path(tmp) / "prediction.tif"
        spec = registry.get("spacenet").spec
        run_inference(
            registry.build("spacenet"), [image], out, bands=[[1]], scale=spec.input_scale,
            chip=spec.chip_size, overlap=spec.overlap, class_values=spec.class_ids,
        )  # fmt: skip
        predicted_s = time.perf_counter() - started
        with rasterio.open(out) as ds:
            building = ds.read(1) == 1
    south = np.s_[half:, :]
    return CurvePoint(
        method,
        footprints,
        iou(building[south], truth[south]),
        iou(postprocess(building)[south], truth[south]),
        trained,
        predicted_s,
    )


def spacenet_curve(
    methods: Sequence[str] = ("pixel-classifier", "unet"), counts: Sequence[int] = COUNTS
) -> list[CurvePoint]:
    return [spacenet_point(m, n) for m in methods for n in counts]


def plot(points: Sequence[CurvePoint], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for method in sorted({p.method for p in points}):
        mine = [p for p in points if p.method == method]
        ax.plot([p.footprints for p in mine], [p.iou_post for p in mine], "o-", label=method)
    ax.set_xlabel("footprints learnt from (north half)")
    ax.set_ylabel("building IoU, unseen south half")
    ax.legend()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, bbox_inches="tight")
