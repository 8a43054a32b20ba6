"""Cloud and cloud-shadow masks with the ONNX U-Nets of ukis-csmask (DLR, Apache-2.0).

ukis-csmask >= 1.0 ships `model_{6b,4b}_{l1c,l2a}.onnx`, each with a JSON beside it giving
the band order and the per-band mean/std of its training data. The networks take
(B, bands, 256, 256) standardised reflectance -- band order blue, green, red, nir, swir16,
swir22 (6b) or blue, green, red, nir (4b) -- and return logits of 0 clear, 1 cloud,
2 cloud shadow; they were trained at about 30 m. This wrapper standardises, runs the
network through the ONNX loader and applies a softmax, so it follows the usual call
contract: (B, bands, H, W) reflectance 0..1 in, (B, 3, H, W) probabilities out.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import Tensor

from inference.models.base import ModelSpec
from inference.models.builtin.layers import check_input
from inference.models.errors import WeightsError, without_paths
from inference.models.loaders import load_onnx, resolve_path


class CloudMask(torch.nn.Module):
    mean: Tensor
    std: Tensor

    def __init__(self, network: torch.nn.Module, mean: list[float], std: list[float]) -> None:
        super().__init__()
        self.network = network
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        check_input(x, self.mean.shape[1], "cloud-mask")
        logits = self.network((x - self.mean) / self.std)
        return torch.softmax(logits, dim=1)


def read_statistics(onnx_path: Path) -> tuple[list[str], list[float], list[float]]:
    """Band names, means and stds from the JSON next to a ukis-csmask ONNX file."""
    meta_path = onnx_path.with_suffix(".json")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        stats = meta["data"]["dataset_statistics"]
        mean, std = stats["img"]
        return list(stats["band_names"]), list(mean), list(std)
    except (OSError, KeyError, ValueError, TypeError) as exc:
        reason = without_paths(str(exc), meta_path)
        raise WeightsError(f"cannot read band statistics from {meta_path.name}: {reason}") from exc


def build_cloud_mask(spec: ModelSpec) -> CloudMask:
    if spec.weights is None or spec.weights.path is None:
        raise WeightsError("cloud-mask needs the path of a ukis-csmask ONNX file")
    path = resolve_path(spec.weights.path)
    bands, mean, std = read_statistics(path)
    if [b.lower() for b in bands] != [b.lower() for b in spec.bands]:
        raise WeightsError(f"{path.name} expects bands {bands}, the spec lists {spec.bands}")
    return CloudMask(load_onnx(path, spec.weights.sha256), mean, std)
