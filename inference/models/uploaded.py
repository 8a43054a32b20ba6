"""Models brought as a file: an ONNX or TorchScript network plus a card that says how to run it.

The card (``UploadCard``) is what a user writes by hand: bands in input order, classes with
names and colours, how stored values become the network's input (``scale`` then ``offset``),
the chip size and the resolution the network was made for. ``check_upload`` decides what the
file is from its bytes, refuses what it will not load (a pickled PyTorch file is never
unpickled: only TorchScript archives, read by ``torch.jit.load``, and ONNX, read by
onnxruntime), and runs one forward pass on zeros of the card's chip shape, so a network whose
output does not match its card is refused before anything is registered.

Kept in a folder per version: ``<version>/{model.onnx|model.pt, card.json}``; the model's own
``card.json`` one level up names the version that serves (see user_models.py). Building one
(``build_uploaded``) loads the file and, for a network that returns logits, adds the softmax
the engine's blending expects. torch is imported only when a file is checked or built.
"""

from __future__ import annotations

import json
import math
import sys
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from inference.models.base import ClassInfo, ModelSpec, WeightsSpec
from inference.models.errors import ModelCardError, WeightsError, without_paths

if TYPE_CHECKING:
    import torch

UPLOAD_CARD_FORMAT: Literal["cogsight-model-upload/1"] = "cogsight-model-upload/1"
UPLOADED_MODEL_FACTORY = "inference.models.uploaded:build_uploaded"
WEIGHTS_NAMES = {"onnx": "model.onnx", "torchscript": "model.pt"}
MAX_CHECK_CHIP = 2048
"""Largest chip a card may ask for (pixels): the check runs a full chip through the network."""

UploadedKind = Literal["onnx", "torchscript"]

PICKLE_REFUSAL = (
    "this is a pickled PyTorch file (a state dict or a model saved with torch.save), which is "
    "never loaded here because unpickling can run code; save the network as TorchScript "
    "(torch.jit.save(torch.jit.script(net), 'model.pt')) or export it to ONNX "
    "(torch.onnx.export)"
)


class UploadCard(BaseModel):
    """How to run an uploaded network. Units: pixels (chip_size, overlap), metres per pixel
    (resolution_range). The network takes (B, len(bands), chip, chip) float32 values
    ``stored * scale + offset`` and returns (B, len(classes), chip, chip): class probabilities,
    or logits when ``output`` is "logits" (a softmax is added). Channel i is the i-th class id
    in ascending order."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["cogsight-model-upload/1"] = UPLOAD_CARD_FORMAT
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$", description="registry key, kebab-case")
    title: str = ""
    task: Literal["segmentation"] = "segmentation"
    description: str = Field(default="", max_length=2000)
    bands: list[str] = Field(min_length=1, max_length=64)
    classes: dict[int, ClassInfo] = Field(min_length=2, max_length=255)
    scale: float = Field(default=1.0, description="stored value x scale + offset -> input")
    offset: float = 0.0
    chip_size: int = Field(default=256, ge=16, le=MAX_CHECK_CHIP)
    overlap: int | None = Field(default=None, ge=0, description="default chip_size / 8")
    resolution_range: tuple[float, float] = Field(
        default=(0.1, 30.0), description="(min, max) metres per pixel the network is meant for"
    )
    output: Literal["probabilities", "logits"] = "probabilities"
    # filled in when stored
    weights: str | None = Field(default=None, description="weights file, relative to the card")
    kind: UploadedKind | None = None
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    version: int | None = Field(default=None, ge=1)
    created: str | None = None
    owner: str | None = None
    visibility: Literal["public", "private"] = "public"

    @model_validator(mode="after")
    def _consistent(self) -> UploadCard:
        if not math.isfinite(self.scale) or self.scale == 0 or not math.isfinite(self.offset):
            raise ValueError("scale must be a finite non-zero number and offset finite")
        if any(not 0 <= k <= 254 for k in self.classes):
            raise ValueError("class ids must be 0..254 (255 marks nodata)")
        if len({b.lower() for b in self.bands}) != len(self.bands):
            raise ValueError("a band is named twice")
        if 2 * self.chip_overlap >= self.chip_size:
            raise ValueError("overlap must be less than half the chip size")
        lo, hi = self.resolution_range
        if not 0 < lo <= hi:
            raise ValueError("resolution_range must be 0 < min <= max metres")
        return self

    @property
    def chip_overlap(self) -> int:
        return self.chip_size // 8 if self.overlap is None else self.overlap

    def to_spec(self, folder: str | Path) -> ModelSpec:
        """The ModelSpec of this card kept in ``folder`` (the model's folder: ``weights`` is
        relative to it)."""
        if self.weights is None or self.kind is None:
            raise ModelCardError(f"the card of model '{self.name}' names no stored weights")
        path = Path(folder).resolve() / self.weights
        version = f" Version {self.version}." if self.version else ""
        return ModelSpec(
            name=self.name,
            title=self.title or self.name,
            task=self.task,
            bands=self.bands,
            classes=self.classes,
            chip_size=self.chip_size,
            overlap=self.chip_overlap,
            resolution_range=self.resolution_range,
            input_scale=self.scale,
            input_offset=self.offset,
            fixed_scaling=True,
            weights=WeightsSpec(kind=self.kind, path=str(path), sha256=self.sha256),
            description=f"{self.description.strip()} Uploaded {self.kind} model.{version}".strip(),
            owner=self.owner,
            visibility=self.visibility,
        )


def parse_card(data: str | bytes | dict[str, Any]) -> UploadCard:
    """A card from JSON text or a dict; ModelCardError saying which field is wrong."""
    try:
        if isinstance(data, dict):
            return UploadCard.model_validate(data)
        return UploadCard.model_validate_json(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'card'}: {e['msg']}" for e in exc.errors()
        )
        raise ModelCardError(f"the model card is not valid: {problems}") from None


def sniff_kind(path: str | Path) -> UploadedKind:
    """What the file is, from its bytes: a TorchScript archive or an ONNX model. Refuses a
    pickled PyTorch file (zip without TorchScript code, or the legacy pickle format) and
    anything else, with a message that says what to send instead."""
    local = Path(path)
    with local.open("rb") as f:
        head = f.read(8)
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(local) as archive:
                names = archive.namelist()
        except (zipfile.BadZipFile, OSError) as exc:
            raise WeightsError(f"the file is a damaged zip archive: {exc}") from None
        if any("/code/" in n or n.endswith("constants.pkl") for n in names):
            return "torchscript"
        if any(n.endswith("data.pkl") for n in names):
            raise WeightsError(PICKLE_REFUSAL)
        raise WeightsError("the file is a zip archive but not a TorchScript model")
    if head[:1] == b"\x80" and len(head) > 1 and 2 <= head[1] <= 5:
        raise WeightsError(PICKLE_REFUSAL)
    if head[:1] == b"\x08":  # an ONNX ModelProto starts with ir_version (field 1, varint)
        return "onnx"
    raise WeightsError(
        "the file is neither an ONNX model nor a TorchScript archive (torch.jit.save)"
    )


def load_uploaded(path: str | Path, kind: UploadedKind, sha256: str | None = None) -> Any:
    """The network in a file whose kind ``sniff_kind`` found (TorchScript or ONNX only)."""
    from inference.models.loaders import load_onnx, load_torchscript

    if kind == "torchscript":
        return load_torchscript(path, sha256)
    return load_onnx(path, sha256)


def check_upload(path: str | Path, card: UploadCard) -> dict[str, Any]:
    """Refuse (WeightsError) a file that cannot serve ``card``: not ONNX or TorchScript, not
    loadable, failing on a (1, bands, chip, chip) tensor of zeros, or answering with another
    shape than (1, classes, chip, chip) or with non-finite values. Returns what was found:
    the kind and the output shape."""
    import torch

    kind = sniff_kind(path)
    module = load_uploaded(path, kind)
    bands, chip, classes = len(card.bands), card.chip_size, len(card.classes)
    if kind == "onnx":
        _check_onnx_input(module, card)
    zeros = torch.zeros(1, bands, chip, chip)
    try:
        with torch.no_grad():
            out = module(zeros)
    except Exception as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        reason = without_paths(lines[-1][:400], path) if lines else ""  # the cause, not the trace
        raise WeightsError(
            f"the network fails on a (1, {bands}, {chip}, {chip}) input of zeros "
            f"({bands} bands: {', '.join(card.bands)}; chip {chip} px): "
            f"{reason or type(exc).__name__}"
        ) from None
    if isinstance(out, (tuple, list)) and out:
        out = out[0]
    if isinstance(out, dict) and out:
        out = next(iter(out.values()))
    if not isinstance(out, torch.Tensor):
        raise WeightsError(f"the network returns {type(out).__name__}, not a tensor")
    shape = tuple(out.shape)
    if len(shape) != 4 or shape[0] != 1:
        raise WeightsError(
            f"the network returns shape {shape}; a segmentation network must return "
            f"(1, {classes}, {chip}, {chip}) for one chip"
        )
    if shape[1] != classes:
        raise WeightsError(
            f"the network returns {shape[1]} channels but the card has {classes} classes "
            f"({', '.join(str(k) for k in sorted(card.classes))}); output shape {shape}, "
            f"expected (1, {classes}, {chip}, {chip})"
        )
    if shape[2:] != (chip, chip):
        raise WeightsError(
            f"the network returns {shape[2]}x{shape[3]} pixels for a {chip}x{chip} chip; "
            "its output must have the chip's size"
        )
    if not bool(torch.isfinite(out).all()):
        raise WeightsError("the network returns NaN or infinite values on zeros")
    return {"kind": kind, "output_shape": list(shape)}


def _check_onnx_input(module: Any, card: UploadCard) -> None:
    """A fixed channel or chip size in the ONNX graph that the card contradicts, said plainly."""
    inputs = module.session.get_inputs()
    if len(inputs) != 1:
        raise WeightsError(f"the ONNX model takes {len(inputs)} inputs; one image tensor is needed")
    dims = inputs[0].shape
    if len(dims) != 4:
        raise WeightsError(
            f"the ONNX model's input has {len(dims)} dimensions; (B, C, H, W) needed"
        )
    channels = dims[1]
    if isinstance(channels, int) and channels != len(card.bands):
        raise WeightsError(
            f"the network takes {channels} input bands but the card names {len(card.bands)} "
            f"({', '.join(card.bands)})"
        )
    for dim in dims[2:]:
        if isinstance(dim, int) and dim != card.chip_size:
            raise WeightsError(
                f"the network takes {dim}-pixel chips but the card's chip_size is {card.chip_size}"
            )


def build_uploaded(spec: ModelSpec) -> torch.nn.Module:
    """The network of an uploaded model (its registry factory): the file, plus a softmax over
    the classes when its version card says the network returns logits."""
    import torch

    from inference.models.loaders import resolve_path

    weights = spec.weights
    if weights is None or weights.kind not in WEIGHTS_NAMES:
        raise WeightsError(f"model '{spec.name}' has no uploaded weights")
    local = resolve_path(weights.path or "")
    module = load_uploaded(local, weights.kind, weights.sha256)  # type: ignore[arg-type]
    card_path = local.parent / "card.json"
    output = json.loads(card_path.read_text(encoding="utf-8")).get("output", "probabilities")
    if output == "logits":
        return torch.nn.Sequential(module, torch.nn.Softmax(dim=1)).eval()
    return module  # type: ignore[no-any-return]


def main(argv: list[str]) -> int:
    """``python -m inference.models.uploaded FILE CARD.json``: check a file against its card
    in a process of its own (a server checks uploads without importing torch, and a network
    that crashes its runtime takes only this process down). Prints one JSON line: the result,
    or {"error": message} with exit status 2."""
    try:
        card = parse_card(Path(argv[1]).read_bytes())
        result = check_upload(argv[0], card)
    except (WeightsError, ModelCardError) as exc:
        print(json.dumps({"error": without_paths(str(exc), argv[0])}))
        return 2
    print(json.dumps(result))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
