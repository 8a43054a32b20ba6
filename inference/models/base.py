"""What a model is, declaratively: `ModelSpec` (pydantic, torch-free) and its parts.

A spec is data: it can be listed, validated and serialised (e.g. by a web app that never
imports torch) without building the network. The network comes from the factory registered
with it (see registry.py) or from its weights (see loaders.py).

The call contract every runnable model follows (the engine relies on it):

* Input: a float32 tensor (B, C, H, W) with C = spec.in_channels = spec.dates * len(bands);
  channels are the spec's `bands` in the spec's order, date 1 first then date 2 for change
  models. Optical values are reflectance 0..1 -- stored values times `input_scale` (or the
  sensor's own scale/offset when the engine knows it); SAR values are sigma0 in dB,
  unchanged (`input_scale` None). Nodata pixels should be filled with a finite value
  (0 is fine); the model's output there is meaningless and the engine masks it.
* Output of "segmentation" and "change" models: (B, K, H, W) float32 class probabilities,
  K = len(classes), non-negative and summing to 1 over K at every pixel, so overlapping
  chips can be blended by weighted averaging before the argmax. Channel i is the class
  `spec.class_ids[i]` (the class ids sorted ascending).
* Output of "enhancement" models: (B, len(bands), H, W) float32 *values* in the input's
  units (e.g. dehazed reflectance 0..1), not classes. Blend overlaps the same way, then
  write them back in the dataset's scale (divide by input_scale for reflectance x 10000).
* `needs_fit`: the module has `fit(sample, valid)` taking the whole image at reduced
  resolution (numpy (C, H, W) float32, same bands and scaling as the chips, plus a (H, W)
  bool valid mask); call it once before the first chip. It stores global parameters as
  buffers (so `state_dict()` carries them to other workers) and raises ModelFitError when
  the image does not allow a fit -- the job should fail with that message.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, computed_field, model_validator

Task = Literal["segmentation", "change", "enhancement"]
WeightsKind = Literal["torchscript", "state_dict", "onnx", "builtin"]

NO_WEIGHTS_REASON = (
    "no trained or registered weights yet: train one with `cogsight train` or register weights"
)


class ClassInfo(BaseModel):
    """One output class: a display name and a colour for legends and styled tiles."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    color: str = Field(pattern=r"^#[0-9a-fA-F]{6}$", description="'#rrggbb'")


class WeightsSpec(BaseModel):
    """Where a model's parameters come from.

    kind "torchscript": `path` to a `torch.jit.save` file. "state_dict": `path` to a
    `torch.save`d state dict plus `class_path` ("pkg.module:Class", built with
    `class_kwargs`). "onnx": `path` to an .onnx file run by onnxruntime. "builtin": the
    parameters live in code (or are fitted per image); no path.
    `path` is a local path or a file:// URI; `sha256`, when given, is checked before loading.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: WeightsKind
    path: str | None = None
    class_path: str | None = Field(default=None, pattern=r"^[\w.]+:[\w.]+$")
    class_kwargs: dict[str, Any] = Field(default_factory=dict)
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{64}$")

    @model_validator(mode="after")
    def _complete(self) -> WeightsSpec:
        if self.kind != "builtin" and not self.path:
            raise ValueError(f"{self.kind} weights need a path")
        if self.kind == "state_dict" and not self.class_path:
            raise ValueError("state_dict weights need class_path ('pkg.module:Class')")
        return self


class ModelSpec(BaseModel):
    """A model described by data, like a torchgeo dataset is described by class attributes.

    Units: chip_size and overlap in pixels; resolution_range in metres per pixel (the range
    the model was designed or trained for; the engine may warn or resample outside it).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", description="registry key, kebab-case")
    title: str
    task: Task
    bands: list[str] = Field(
        min_length=1,
        description="common band names (blue, green, red, nir, swir16, vv, vh ...) in the "
        "order the model wants them; resolved through dataset band names / sensor presets",
    )
    band_options: list[list[str]] = Field(
        default_factory=list,
        description="other band lists, in order of preference, used when the dataset lacks "
        "`bands` (e.g. RGBN or RGB where `bands` needs SWIR); the engine builds the model "
        "for the set it feeds (ModelEntry.build(bands=...)), so sets of one length are "
        "told apart by the module's factory, not by the channel count",
    )
    dates: int = Field(default=1, ge=1, le=2, description="2 for change models: bands x 2")
    classes: dict[int, ClassInfo] = Field(default_factory=dict)
    chip_size: int = Field(default=512, ge=16, description="pixels")
    overlap: int = Field(default=32, ge=0, description="pixels shared by neighbouring chips")
    resolution_range: tuple[float, float] = Field(
        default=(10.0, 30.0), description="suggested (min, max) metres per pixel"
    )
    input_scale: float | None = Field(
        default=1e-4,
        description="stored value x input_scale = what the model expects (reflectance 0-1 "
        "for optical); None = values go in unchanged (SAR dB)",
    )
    input_offset: float = Field(
        default=0.0, description="added after input_scale; used only with fixed_scaling"
    )
    fixed_scaling: bool = Field(
        default=False,
        description="input_scale and input_offset apply as given, whatever scale the dataset "
        "declares (an uploaded model's card says what its network was trained on)",
    )
    weights: WeightsSpec | None = None
    needs_fit: bool = Field(
        default=False, description="call fit(sample, valid) on the whole image first"
    )
    description: str = ""
    slot: bool = Field(default=False, description="listed but not runnable: no weights yet")
    slot_reason: str | None = None
    owner: str | None = Field(
        default=None, description="who trained it (a user id); None for built-ins and plug-ins"
    )
    visibility: Literal["public", "private"] = Field(
        default="public", description="a private model is listed and run only for its owner"
    )

    @model_validator(mode="after")
    def _consistent(self) -> ModelSpec:
        if self.task == "change" and self.dates != 2:
            raise ValueError("change models take two dates (dates=2)")
        if self.task != "change" and self.dates != 1:
            raise ValueError(f"{self.task} models take one date")
        if self.task == "enhancement":
            if self.classes:
                raise ValueError("enhancement models return values, not classes")
        elif len(self.classes) < 2:
            raise ValueError(f"{self.task} models need at least two classes")
        if 2 * self.overlap >= self.chip_size:
            raise ValueError("overlap must be less than half the chip size")
        lo, hi = self.resolution_range
        if not 0 < lo <= hi:
            raise ValueError("resolution_range must be 0 < min <= max metres")
        sets = [tuple(b) for b in [self.bands, *self.band_options]]
        if len(set(sets)) != len(sets) or min(len(b) for b in sets) < 1:
            raise ValueError("bands and each of band_options need to be different, non-empty")
        if not self.slot and self.weights is None:
            raise ValueError("a runnable model needs weights (kind 'builtin' for code)")
        return self

    @computed_field  # type: ignore[prop-decorator]
    @property
    def runnable(self) -> bool:
        """False for slots: listed so users see what is coming, but nothing to run yet."""
        return not self.slot

    @computed_field  # type: ignore[prop-decorator]
    @property
    def reason(self) -> str | None:
        """Why the model cannot run (None when it can)."""
        return None if self.runnable else (self.slot_reason or NO_WEIGHTS_REASON)

    @property
    def class_ids(self) -> list[int]:
        """Class id of each output channel: channel i is class_ids[i]."""
        return sorted(self.classes)

    @property
    def band_sets(self) -> list[list[str]]:
        """`bands` then `band_options`: what the engine may feed, preferred first."""
        return [self.bands, *self.band_options]

    @property
    def band_sets_text(self) -> str:
        """The band sets as messages name them: "(green, swir16) or (red, green, blue, nir)"."""
        return " or ".join("(" + ", ".join(names) + ")" for names in self.band_sets)

    @property
    def in_channels(self) -> int:
        return self.dates * len(self.bands)

    @property
    def out_channels(self) -> int:
        return len(self.bands) if self.task == "enhancement" else len(self.classes)


@runtime_checkable
class Fittable(Protocol):
    """A model with global parameters (needs_fit=True)."""

    def fit(self, sample: np.ndarray, valid: np.ndarray | None = None) -> Any: ...
