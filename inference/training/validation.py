"""Scores on the held-out blocks: per-class IoU, F1, precision and recall (inference.metrics).

Each held-out block goes through the network whole, with the context margin it was read with;
the prediction is cropped back to the block and compared with its labels (unlabelled and
nodata pixels are not counted).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from inference.metrics import AccuracyReport, ConfusionMatrix
from inference.training.sampling import Block


def predict_ids(
    net: torch.nn.Module, image: np.ndarray, class_ids: Sequence[int], device: torch.device
) -> np.ndarray:
    """Class ids (argmax) for one (C, H, W) image, as (H, W) int64."""
    with torch.inference_mode():
        probs = net(torch.from_numpy(np.ascontiguousarray(image))[None].to(device))
    index = probs[0].argmax(dim=0).cpu().numpy()
    return np.asarray(class_ids, dtype=np.int64)[index]


def evaluate(
    net: torch.nn.Module,
    blocks: Sequence[Block],
    class_ids: Sequence[int],
    names: Mapping[int, str],
    device: torch.device,
) -> AccuracyReport:
    """The accuracy report of ``net`` (eval mode) over ``blocks``."""
    net.eval()
    matrix = ConfusionMatrix(class_ids)
    for block in blocks:
        predicted = predict_ids(net, block.image, class_ids, device)[block.inner]
        matrix.add(predicted, block.labels)
    return matrix.report(names)
