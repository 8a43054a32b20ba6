"""Train and save a pixel classifier (``method="pixel-classifier"`` of ``train_segmentation``).

The image is read block by block; only labelled pixels' features are kept. Labelled pixels
of a seeded share of the blocks are held out and scored; the estimator learns from the rest.
The model is saved like a U-Net (``card.json`` + ``model.pt``, atomically, checksummed), the
weights being a torch state dict that ``PixelClassifierNet`` loads.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import rasterio
import shapely
import torch
from rasterio.windows import Window

from inference.metrics import AccuracyReport, ConfusionMatrix
from inference.models.base import ClassInfo
from inference.models.errors import TrainingError
from inference.training.card import CARD_FILE, WEIGHTS_FILE, ModelCard, TrainingDataset
from inference.training.export import _publish, model_folder, sha256_of
from inference.training.labels import IGNORE, ImageGrid, LabelSource
from inference.training.options import TrainingOptions
from inference.training.pixel_classifier import (
    PixelClassifier,
    PixelClassifierNet,
    as_bytes,
    cap_per_class,
    in_threads,
    labelled_features,
    make_estimator,
    state_dict_of,
)
from inference.training.pixel_features import FeatureSet

NET_CLASS = "inference.training.pixel_classifier:PixelClassifierNet"


@dataclass
class PixelFit:
    """A fitted classifier, its held-out scores and what it learnt from."""

    model: PixelClassifier
    infos: dict[int, ClassInfo]
    metrics: AccuracyReport
    train_pixels: int
    holdout_pixels: int
    seconds: float


def resolve_method(opts: TrainingOptions, task: str) -> Literal["unet", "pixel-classifier"]:
    """The method ``opts.method`` means for ``task`` ('auto': pixel classifier for
    segmentation, U-Net for change, the pixel classifier reading one date only)."""
    if opts.method == "auto":
        return "pixel-classifier" if task == "segmentation" else "unet"
    if opts.method == "pixel-classifier" and task != "segmentation":
        raise TrainingError("the pixel classifier learns segmentation; train change with 'unet'")
    return opts.method


def pixel_options(opts: TrainingOptions) -> TrainingOptions:
    """Options as the saved spec uses them: chips overlapping by the features' halo."""
    halo = FeatureSet(sigmas=opts.sigmas).halo
    overlap = min(max(opts.inference_overlap, 2 * halo), opts.inference_chip // 2 - 1)
    return opts.model_copy(update={"inference_overlap": overlap})


def check_inside(labels: LabelSource, grid: ImageGrid) -> None:
    """TrainingError when vector samples lie (wholly) outside the image."""
    geoms = getattr(labels, "geoms", None)
    if geoms is None or not len(geoms):
        return
    left, top = grid.transform * (0, 0)
    right, bottom = grid.transform * (grid.width, grid.height)
    box = shapely.box(min(left, right), min(top, bottom), max(left, right), max(top, bottom))
    outside = int((~shapely.intersects(geoms, box)).sum())
    if outside:
        raise TrainingError(
            f"{outside} of {len(geoms)} samples lie outside the image; draw samples on it"
        )


def pixel_dataset(
    shown: list[str], bands: list[list[int]], label_source: str, fit: PixelFit, pixel_m: float
) -> TrainingDataset:
    """The card's training data of a pixel classifier (names, never paths)."""
    *images, labels = shown
    return TrainingDataset(
        description=f"{' and '.join(images)} ({fit.train_pixels:,} labelled training pixels, "
        f"{label_source}; {pixel_m:g} m pixels)",
        images=images,
        band_indexes=bands,
        labels=labels,
        label_source=label_source,
        split={"kind": "blocks", "holdout_pixels": fit.holdout_pixels},
        train_pixels=fit.train_pixels,
        holdout_pixels=fit.holdout_pixels,
        pixel_size_m=round(pixel_m, 6),
    )


def image_reader(
    stack: ExitStack, path: str, bands: list[int], scale: float | None
) -> Callable[[int, int, int, int], np.ndarray]:
    """A window reader of ``bands`` (float32, x scale, nodata as 0), closed with ``stack``."""
    ds = stack.enter_context(rasterio.open(path))

    def read(row: int, col: int, rows: int, cols: int) -> np.ndarray:
        values = ds.read(bands, window=Window(col, row, cols, rows), masked=True)
        data = values.filled(0).astype(np.float32)
        return data * scale if scale is not None else data

    return read


def fit_pixel_classifier(
    read: Callable[[int, int, int, int], np.ndarray],
    labels: LabelSource,
    rows: int,
    cols: int,
    resolve: Callable[[list[int]], dict[int, ClassInfo]],
    opts: TrainingOptions,
    block: int = 256,
) -> PixelFit:
    """Read labelled pixels, name their classes (``resolve``: found ids -> classes; ids it
    leaves out are unlabelled), hold out a seeded share of the blocks, fit, score."""
    started = time.monotonic()
    features = FeatureSet(sigmas=opts.sigmas)

    def read_labels(r: int, c: int, h: int, w: int) -> np.ndarray:
        return labels.read(Window(c, r, w, h))

    x, y, blocks = labelled_features(
        read, read_labels, rows, cols, features, log_input=True, ignore=IGNORE, block=block
    )
    infos = resolve(sorted(int(v) for v in np.unique(y)))
    class_ids = sorted(infos)
    named = np.isin(y, class_ids)
    x, y, blocks = x[named], y[named], blocks[named]
    found = sorted(int(v) for v in np.unique(y))
    if len(found) < 2:
        raise TrainingError(_one_class_message(found, infos))
    held = _holdout_blocks(blocks, y, opts.holdout, opts.seed)
    train = ~held
    keep = np.flatnonzero(train)[cap_per_class(y[train], opts.max_samples, opts.seed)]
    estimator = make_estimator(opts.estimator, opts.trees, opts.seed, opts.threads)
    with in_threads():
        estimator.fit(x[keep], y[keep])
    if list(estimator.classes_) != class_ids:
        raise TrainingError(
            f"classes {sorted(set(class_ids) - set(found))} have no labelled pixel in the samples"
        )
    model = PixelClassifier(estimator, features, class_ids, log_input=True)
    matrix = ConfusionMatrix(class_ids)
    if held.any():
        with in_threads():
            predicted = np.asarray(estimator.predict(x[held]))
        matrix.add(predicted, y[held])
    metrics = matrix.report({c: infos[c].name for c in class_ids})
    return PixelFit(model, infos, metrics, len(keep), int(held.sum()), time.monotonic() - started)


def _one_class_message(found: list[int], infos: Mapping[int, ClassInfo]) -> str:
    held = ", ".join(infos[c].name if c in infos else str(c) for c in found) or "none"
    return (
        f"the samples hold pixels of {len(found)} class ({held}); training needs samples of "
        "at least two classes (e.g. background beside the class to find)"
    )


def _holdout_blocks(blocks: np.ndarray, labels: np.ndarray, share: float, seed: int) -> np.ndarray:
    """True for pixels of the held-out blocks: a seeded ``share`` of the labelled blocks,
    none when that would leave the training part without some class."""
    unique = np.unique(blocks)
    rng = np.random.default_rng(seed)
    count = round(share * len(unique))
    if count == 0 or count == len(unique):
        return np.zeros(len(blocks), dtype=bool)
    held = np.isin(blocks, rng.choice(unique, count, replace=False))
    if set(np.unique(labels[~held])) != set(np.unique(labels)):
        return np.zeros(len(blocks), dtype=bool)
    return held


def save_pixel_classifier(
    model: PixelClassifier,
    card: ModelCard,
    models_dir: str | Path,
    *,
    overwrite: bool,
    workdir: str | Path | None = None,
) -> tuple[Path, ModelCard]:
    """Write ``model.pt`` (state dict) + ``card.json`` into a temporary folder, load it back
    once through the same class the registry uses, then rename it into place."""
    root = Path(models_dir)
    root.mkdir(parents=True, exist_ok=True)
    folder = model_folder(root, card.name, overwrite=overwrite)
    state = state_dict_of(model)
    size = int(state["payload"].numel())
    features = model.features.model_dump(mode="json")
    architecture = {
        "class": NET_CLASS,
        "payload_size": size,
        "class_ids": model.class_ids,
        "features": features,
        "log_input": model.log_input,
    }
    tmp = Path(tempfile.mkdtemp(prefix=f".{card.name}.", suffix=".tmp", dir=workdir or root))
    try:
        tmp.chmod(0o755)
        weights = tmp / WEIGHTS_FILE
        weights.write_bytes(as_bytes(state))
        check = PixelClassifierNet(size, model.class_ids, features, model.log_input)
        check.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
        check.classifier()  # fails here, not at first use
        card = card.model_copy(
            update={
                "weights": WEIGHTS_FILE,
                "sha256": sha256_of(weights),
                "architecture": architecture,
                "method": "pixel-classifier",
            }
        )
        (tmp / CARD_FILE).write_text(card.model_dump_json(indent=2) + "\n", encoding="utf-8")
        _publish(tmp, folder)
    except Exception:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder, card
