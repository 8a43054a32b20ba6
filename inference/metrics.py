"""Accuracy of a class map against a reference: a confusion matrix filled block by block.

Class maps of any size are compared a block at a time, so only the matrix (classes x classes
counts) stays in memory. Scores follow the usual definitions per class c, with TP/FP/FN
counted over the pixels valid in both maps: IoU = TP / (TP + FP + FN), precision =
TP / (TP + FP), recall = TP / (TP + FN), F1 = 2PR / (P + R). A class absent from both maps
has undefined scores (None), not zero.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from pydantic import BaseModel


class ClassScores(BaseModel):
    """Scores of one class; None where the class never occurs in prediction or reference."""

    name: str | None = None
    iou: float | None
    f1: float | None
    precision: float | None
    recall: float | None
    predicted_pixels: int
    reference_pixels: int


class AccuracyReport(BaseModel):
    """Per-class scores keyed by class id (as a string, JSON-friendly), overall accuracy,
    the mean IoU over classes present, and the pixel count compared."""

    classes: dict[str, ClassScores]
    overall_accuracy: float | None
    mean_iou: float | None
    pixels: int


class ConfusionMatrix:
    """Counts of (reference class, predicted class) pairs over ``class_ids``.

    Pixels whose reference or prediction is not one of ``class_ids`` (nodata, an unknown
    value) are not counted.
    """

    def __init__(self, class_ids: Sequence[int]) -> None:
        self.class_ids = [int(c) for c in class_ids]
        if not self.class_ids or min(self.class_ids) < 0:
            raise ValueError("class ids must be non-negative integers")
        self._index = np.full(max(self.class_ids) + 1, -1, dtype=np.int64)
        self._index[self.class_ids] = np.arange(len(self.class_ids))
        self.counts = np.zeros((len(self.class_ids),) * 2, dtype=np.int64)

    def add(
        self, predicted: np.ndarray, reference: np.ndarray, valid: np.ndarray | None = None
    ) -> None:
        """Count one block (same shape for all three arrays; ``valid`` False = skip)."""
        p = self._lookup(predicted)
        r = self._lookup(reference)
        keep = (p >= 0) & (r >= 0)
        if valid is not None:
            keep &= valid
        k = len(self.class_ids)
        self.counts += np.bincount(r[keep] * k + p[keep], minlength=k * k).reshape(k, k)

    def _lookup(self, values: np.ndarray) -> np.ndarray:
        v = np.asarray(values).astype(np.int64, copy=False)
        inside = (v >= 0) & (v < len(self._index))
        out = np.full(v.shape, -1, dtype=np.int64)
        out[inside] = self._index[v[inside]]
        return out

    def report(self, names: Mapping[int, str] | None = None) -> AccuracyReport:
        c = self.counts.astype(np.float64)
        tp = np.diag(c)
        predicted = c.sum(axis=0)
        reference = c.sum(axis=1)
        total = float(c.sum())
        classes: dict[str, ClassScores] = {}
        ious = []
        for i, class_id in enumerate(self.class_ids):
            fp, fn = predicted[i] - tp[i], reference[i] - tp[i]
            union = tp[i] + fp + fn
            iou = _ratio(tp[i], union)
            precision = _ratio(tp[i], tp[i] + fp)
            recall = _ratio(tp[i], tp[i] + fn)
            f1 = _ratio(2 * tp[i], 2 * tp[i] + fp + fn)
            if iou is not None:
                ious.append(iou)
            classes[str(class_id)] = ClassScores(
                name=(names or {}).get(class_id),
                iou=iou,
                f1=f1,
                precision=precision,
                recall=recall,
                predicted_pixels=int(predicted[i]),
                reference_pixels=int(reference[i]),
            )
        return AccuracyReport(
            classes=classes,
            overall_accuracy=_ratio(float(tp.sum()), total),
            mean_iou=float(np.mean(ious)) if ious else None,
            pixels=int(total),
        )


def _ratio(numerator: float, denominator: float) -> float | None:
    return None if denominator <= 0 else round(float(numerator / denominator), 6)
