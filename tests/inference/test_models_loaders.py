"""Weights loaders round-trip: TorchScript, state_dict + class, ONNX (and ukis-csmask files).

The ONNX file is written with a few lines of protobuf encoding below (the `onnx` package is
not a dependency): a graph with one 1x1 Conv, the same weights as a torch Conv2d.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from inference.models import ModelSpec, WeightsError, WeightsSpec
from inference.models.builtin.specs import CLOUD_CLASSES, cloud_mask_models
from inference.models.loaders import (
    OnnxModule,
    load_onnx,
    load_state_dict,
    load_torchscript,
    load_weights,
)
from inference.models.registry import ModelRegistry

# --- a minimal ONNX writer (protobuf wire format) -------------------------------------------


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _int(field: int, value: int) -> bytes:
    return _varint(field << 3) + _varint(value)


def _bytes(field: int, value: bytes | str) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    return _varint(field << 3 | 2) + _varint(len(data)) + data


def _tensor(name: str, array: np.ndarray) -> bytes:
    dims = b"".join(_int(1, d) for d in array.shape)
    return dims + _int(2, 1) + _bytes(8, name) + _bytes(9, array.astype("<f4").tobytes())


def _value_info(name: str, channels: int) -> bytes:
    dims = [_bytes(1, _bytes(2, "N")), _bytes(1, _int(1, channels))]
    dims += [_bytes(1, _bytes(2, "H")), _bytes(1, _bytes(2, "W"))]
    tensor_type = _int(1, 1) + _bytes(2, b"".join(dims))
    return _bytes(1, name) + _bytes(2, _bytes(1, tensor_type))


def write_conv_onnx(
    path: Path, weight: np.ndarray, bias: np.ndarray, input_name: str = "x"
) -> None:
    """ONNX model y = Conv(x, W, B) with 1x1 kernels, dynamic batch and size, opset 13."""
    node = b"".join(_bytes(1, n) for n in (input_name, "W", "B")) + _bytes(2, "y")
    node += _bytes(3, "conv") + _bytes(4, "Conv")
    graph = _bytes(1, node) + _bytes(2, "g")
    graph += _bytes(5, _tensor("W", weight)) + _bytes(5, _tensor("B", bias))
    graph += _bytes(11, _value_info(input_name, weight.shape[1]))
    graph += _bytes(12, _value_info("y", weight.shape[0]))
    model = _int(1, 8) + _bytes(2, "cogsight-tests") + _bytes(7, graph) + _bytes(8, _int(2, 13))
    path.write_bytes(model)


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture
def conv() -> torch.nn.Conv2d:
    torch.manual_seed(0)
    return torch.nn.Conv2d(3, 2, 1).eval()


@pytest.fixture
def x() -> torch.Tensor:
    return torch.rand(2, 3, 16, 20, generator=torch.Generator().manual_seed(1))


def _weights(conv: torch.nn.Conv2d) -> tuple[np.ndarray, np.ndarray]:
    assert conv.bias is not None
    return conv.weight.detach().numpy(), conv.bias.detach().numpy()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_torchscript_round_trip(tmp_path: Path, conv: torch.nn.Conv2d, x: torch.Tensor) -> None:
    path = tmp_path / "conv.pt"
    torch.jit.trace(conv, x).save(str(path))
    loaded = load_torchscript(path, sha256=_sha(path))
    with torch.inference_mode():
        assert torch.allclose(loaded(x), conv(x), atol=1e-6)
    via_spec = load_weights(WeightsSpec(kind="torchscript", path=path.as_uri()))
    with torch.inference_mode():
        assert torch.allclose(via_spec(x), conv(x), atol=1e-6)
    with pytest.raises(WeightsError, match="SHA-256"):
        load_torchscript(path, sha256="0" * 64)
    with pytest.raises(WeightsError, match="not found"):
        load_torchscript(tmp_path / "missing.pt")
    with pytest.raises(WeightsError, match="only local paths"):
        load_torchscript("s3://bucket/conv.pt")


NET_MODULE = """
import torch


class TinyNet(torch.nn.Module):
    def __init__(self, channels=3, classes=2):
        super().__init__()
        self.conv = torch.nn.Conv2d(channels, classes, 1)

    def forward(self, x):
        return torch.softmax(self.conv(x), dim=1)
"""


def test_state_dict_round_trip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, x: torch.Tensor
) -> None:
    (tmp_path / "cogsight_tiny_net.py").write_text(textwrap.dedent(NET_MODULE), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "cogsight_tiny_net", raising=False)
    from cogsight_tiny_net import TinyNet  # type: ignore[import-not-found]

    torch.manual_seed(3)
    net = TinyNet(3, 4).eval()
    path = tmp_path / "tiny.pth"
    torch.save(net.state_dict(), path)
    loaded = load_state_dict(path, "cogsight_tiny_net:TinyNet", {"classes": 4})
    with torch.inference_mode():
        assert torch.allclose(loaded(x), net(x))
    with pytest.raises(WeightsError, match="does not fit"):
        load_state_dict(path, "cogsight_tiny_net:TinyNet", {"classes": 2})
    with pytest.raises(WeightsError, match="cannot import"):
        load_state_dict(path, "cogsight_tiny_net:Missing")

    # registered with weights and no factory: build() loads them
    registry = ModelRegistry()
    spec = ModelSpec(
        name="tiny-net",
        title="Tiny",
        task="segmentation",
        bands=["red", "green", "blue"],
        classes={i: CLOUD_CLASSES[0] for i in range(4)},
        weights=WeightsSpec(
            kind="state_dict",
            path=str(path),
            class_path="cogsight_tiny_net:TinyNet",
            class_kwargs={"classes": 4},
        ),
    )
    registry.register(spec)
    with torch.inference_mode():
        assert torch.allclose(registry.build("tiny-net")(x), net(x))


def test_onnx_round_trip(tmp_path: Path, conv: torch.nn.Conv2d, x: torch.Tensor) -> None:
    path = tmp_path / "conv.onnx"
    write_conv_onnx(path, *_weights(conv))
    model = load_onnx(path, sha256=_sha(path))
    assert isinstance(model, torch.nn.Module)
    with torch.inference_mode():
        out = model(x)
        assert out.dtype == torch.float32 and out.shape == (2, 2, 16, 20)
        assert torch.allclose(out, conv(x), atol=1e-5)
        again = pickle.loads(pickle.dumps(model))  # travels to Dask workers
        assert torch.allclose(again(x), out)
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(WeightsError, match="not a loadable ONNX"):
        OnnxModule(bad)


def test_onnx_without_onnxruntime(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, conv: torch.nn.Conv2d
) -> None:
    path = tmp_path / "conv.onnx"
    write_conv_onnx(path, *_weights(conv))
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed
    with pytest.raises(WeightsError, match="pip install"):
        load_onnx(path)


def _fake_ukis_csmask(root: Path, weight: np.ndarray, bias: np.ndarray) -> tuple[list, list]:
    """A ukis_csmask package laid out like v1.0 with a 6-band model (1x1 conv stand-in)."""
    package = root / "ukis_csmask"
    package.mkdir()
    (package / "__init__.py").write_text('__version__ = "1.0.0"\n', encoding="utf-8")
    write_conv_onnx(package / "model_6b_l2a.onnx", weight, bias, input_name="input")
    mean = [0.27, 0.28, 0.29, 0.36, 0.22, 0.18]
    std = [0.34, 0.31, 0.31, 0.27, 0.17, 0.14]
    bands = ["blue", "green", "red", "nir", "swir16", "swir22"]
    meta = {"data": {"dataset_statistics": {"img": [mean, std], "band_names": bands}}}
    (package / "model_6b_l2a.json").write_text(json.dumps(meta), encoding="utf-8")
    return mean, std


def test_cloud_mask_found_in_installed_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(0)
    weight = rng.normal(size=(3, 6, 1, 1)).astype(np.float32)
    bias = rng.normal(size=3).astype(np.float32)
    mean, std = _fake_ukis_csmask(tmp_path, weight, bias)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "ukis_csmask", raising=False)
    found = {spec.name: (spec, factory) for spec, factory in cloud_mask_models()}
    spec, factory = found["cloud-mask"]
    assert spec.runnable and spec.weights is not None and spec.weights.kind == "onnx"
    assert spec.bands == ["blue", "green", "red", "nir", "swir16", "swir22"]
    assert not found["cloud-mask-4b"][0].runnable  # the fake has no 4-band file
    assert "ukis-csmask>=1.0" in (found["cloud-mask-4b"][0].reason or "")
    registry = ModelRegistry()
    registry.register(spec, factory)
    x = torch.rand(1, 6, 32, 32)
    with torch.inference_mode():
        probs = registry.build("cloud-mask")(x)
    standardised = (x.numpy()[0] - np.array(mean)[:, None, None]) / np.array(std)[:, None, None]
    logits = np.einsum("oc,chw->ohw", weight[:, :, 0, 0], standardised) + bias[:, None, None]
    expected = np.exp(logits) / np.exp(logits).sum(axis=0)
    assert np.allclose(probs[0].numpy(), expected, atol=1e-5)
    assert torch.allclose(probs.sum(dim=1), torch.ones(1, 32, 32))
