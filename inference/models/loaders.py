"""Load trained weights: TorchScript, state_dict + class, or ONNX (via onnxruntime).

Every loader returns a torch.nn.Module-like callable that takes and returns float32 torch
tensors (B, C, H, W), so the engine treats all models alike. onnxruntime is optional: the
ONNX loader raises WeightsError with the install hint when it is missing.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import numpy as np
import torch

from inference.models.base import ModelSpec, WeightsSpec
from inference.models.errors import WeightsError, file_name, without_paths
from inference.models.registry import import_object

ONNX_HINT = "onnxruntime is not installed: pip install 'cogsight[inference]' (or onnxruntime)"


def resolve_path(path: str | Path) -> Path:
    """A local path or file:// URI -> an existing local Path (WeightsError otherwise)."""
    text = str(path)
    parsed = urlparse(text)
    if parsed.scheme == "file":
        local = Path(unquote(parsed.path))
    elif parsed.scheme and len(parsed.scheme) > 1:  # one letter: a Windows drive
        raise WeightsError(
            f"weights at {text!r}: only local paths and file:// URIs are loaded; "
            "download the file and register its local path"
        )
    else:
        local = Path(text).expanduser()
    if not local.is_file():
        raise WeightsError(f"weights file not found: {file_name(local)}")
    return local


def verify_sha256(path: Path, expected: str | None) -> None:
    """Raise WeightsError when `expected` is given and the file's SHA-256 differs."""
    if expected is None:
        return
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest().lower() != expected.lower():
        raise WeightsError(
            f"{file_name(path)}: SHA-256 {digest.hexdigest()} does not match {expected}"
        )


def load_torchscript(path: str | Path, sha256: str | None = None) -> torch.nn.Module:
    """A `torch.jit.save`d module, mapped to CPU (move it with .to(device) afterwards)."""
    local = resolve_path(path)
    verify_sha256(local, sha256)
    try:
        module = torch.jit.load(str(local), map_location="cpu")
    except Exception as exc:  # torch raises RuntimeError subclasses with long traces
        raise WeightsError(
            f"{file_name(local)} is not a TorchScript file: {without_paths(str(exc), local)}"
        ) from exc
    return module.eval()


def load_state_dict(
    path: str | Path,
    class_path: str,
    class_kwargs: dict[str, Any] | None = None,
    sha256: str | None = None,
) -> torch.nn.Module:
    """Instantiate `class_path` ("pkg.module:Class") with `class_kwargs`, then load the
    state dict saved at `path` (strictly: every key must match). Loading uses
    weights_only=True, so a state-dict file cannot run code."""
    local = resolve_path(path)
    verify_sha256(local, sha256)
    try:
        cls = import_object(class_path)
    except (ImportError, AttributeError, ValueError) as exc:
        raise WeightsError(f"cannot import model class {class_path!r}: {exc}") from exc
    module = cls(**(class_kwargs or {}))
    if not isinstance(module, torch.nn.Module):
        raise WeightsError(f"{class_path} did not build a torch.nn.Module")
    try:
        state = torch.load(local, map_location="cpu", weights_only=True)
        if isinstance(state, dict) and "state_dict" in state:
            state = state["state_dict"]
        module.load_state_dict(state)
    except Exception as exc:
        raise WeightsError(
            f"{file_name(local)} does not fit {class_path}: {without_paths(str(exc), local)}"
        ) from exc
    return module.eval()


class OnnxModule(torch.nn.Module):
    """An onnxruntime session behind the torch call contract: tensor in, tensor out.

    The first graph input takes the batch; the first output is returned. Runs on the CPU
    provider unless `providers` says otherwise; outputs come back on the input's device.
    Picklable (the session is rebuilt from the file), so it can travel to Dask workers.
    """

    def __init__(self, path: str | Path, providers: list[str] | None = None) -> None:
        super().__init__()
        self.path = str(resolve_path(path))
        self.providers = providers or ["CPUExecutionProvider"]
        self._open()

    def _open(self) -> None:
        try:
            import onnxruntime
        except ImportError as exc:
            raise WeightsError(ONNX_HINT) from exc
        try:
            self.session = onnxruntime.InferenceSession(self.path, providers=self.providers)
        except Exception as exc:
            reason = without_paths(str(exc), self.path)
            raise WeightsError(
                f"{file_name(self.path)} is not a loadable ONNX model: {reason}"
            ) from exc
        self.input_name = self.session.get_inputs()[0].name
        self.output_name = self.session.get_outputs()[0].name

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        array = np.ascontiguousarray(x.detach().to("cpu", torch.float32).numpy())
        (out,) = self.session.run([self.output_name], {self.input_name: array})
        return torch.from_numpy(np.asarray(out)).to(x.device)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("session", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._open()


def load_onnx(
    path: str | Path, sha256: str | None = None, providers: list[str] | None = None
) -> OnnxModule:
    local = resolve_path(path)
    verify_sha256(local, sha256)
    return OnnxModule(local, providers)


def load_weights(spec: ModelSpec | WeightsSpec) -> torch.nn.Module:
    """Build a module from a spec's weights (the default when no factory is registered)."""
    weights = spec.weights if isinstance(spec, ModelSpec) else spec
    if weights is None:
        raise WeightsError("no weights to load")
    if weights.kind == "torchscript":
        return load_torchscript(weights.path or "", weights.sha256)
    if weights.kind == "state_dict":
        return load_state_dict(
            weights.path or "", weights.class_path or "", weights.class_kwargs, weights.sha256
        )
    if weights.kind == "onnx":
        return load_onnx(weights.path or "", weights.sha256)
    raise WeightsError("builtin weights are built by the model's factory, not loaded from a file")
