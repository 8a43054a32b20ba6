"""Small networks saved as a user would bring them (ONNX, TorchScript, a pickled state dict),
their cards, and a 3-band scene whose right answer is known.

The network is a 2-layer conv net with set weights: the first layer passes the red band
through (centre tap of a 3x3 kernel), the second turns it into two logits, ``red - 0.5`` for
the "red" class and ``0.5 - red`` for the other. With the card's scale 1/255 a pixel is red
when its stored red value is over 127.5, so the expected class map is exact.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.transform import from_origin

SIZE = 96
RED, DULL = 200, 40


def red_net(classes: int = 2, bands: int = 3) -> Any:
    import torch

    first = torch.nn.Conv2d(bands, 4, 3, padding=1)
    second = torch.nn.Conv2d(4, classes, 1)
    with torch.no_grad():
        first.weight.zero_()
        first.bias.zero_()
        first.weight[0, 0, 1, 1] = 1.0  # hidden 0 = the red band
        second.weight.zero_()
        second.bias.zero_()
        second.weight[0, 0] = -1.0
        second.bias[0] = 0.5
        second.weight[classes - 1, 0] = 1.0
        second.bias[classes - 1] = -0.5
    return torch.nn.Sequential(first, torch.nn.ReLU(), second).eval()


def save_onnx(net: Any, path: Path, bands: int = 3) -> Path:
    import torch

    torch.onnx.export(
        net,
        (torch.zeros(1, bands, 64, 64),),
        str(path),
        dynamo=False,
        input_names=["image"],
        output_names=["logits"],
        dynamic_axes={"image": {0: "batch", 2: "h", 3: "w"}, "logits": {0: "batch"}},
    )
    return path


def save_torchscript(net: Any, path: Path) -> Path:
    import torch

    torch.jit.save(torch.jit.script(net), str(path))
    return path


def save_state_dict(net: Any, path: Path) -> Path:
    import torch

    torch.save(net.state_dict(), str(path))
    return path


def card(name: str, classes: dict[int, str] | None = None, **extra: Any) -> dict[str, Any]:
    colours = ["#000000", "#d62728", "#1f77b4", "#2ca02c"]
    classes = classes or {0: "other", 1: "red roof"}
    return {
        "name": name,
        "title": f"{name} (uploaded)",
        "bands": ["red", "green", "blue"],
        "classes": {
            str(k): {"name": v, "color": colours[i % 4]} for i, (k, v) in enumerate(classes.items())
        },
        "scale": 1 / 255,
        "offset": 0.0,
        "chip_size": 64,
        "resolution_range": [1, 20],
        "output": "logits",
    } | extra


def write_card(data: dict[str, Any], path: Path) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def red_scene(path: Path) -> Path:
    """A 3-band uint8 GeoTIFF (red, green, blue; UTM 50N, 10 m): red on the left half."""
    data = np.full((3, SIZE, SIZE), 90, dtype="uint8")
    data[0, :, : SIZE // 2] = RED
    data[0, :, SIZE // 2 :] = DULL
    profile = {
        "driver": "GTiff",
        "width": SIZE,
        "height": SIZE,
        "count": 3,
        "dtype": "uint8",
        "crs": "EPSG:32650",
        "transform": from_origin(250000, 3385000, 10, 10),
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
        dst.descriptions = ("red", "green", "blue")
    return path


def expected_classes(red_class: int, other_class: int = 0) -> np.ndarray:
    out = np.full((SIZE, SIZE), other_class, dtype="uint8")
    out[:, : SIZE // 2] = red_class
    return out
