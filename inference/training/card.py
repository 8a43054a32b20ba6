"""The model card: ``card.json`` beside a trained model's ``model.pt`` (torch-free).

It holds everything needed to list and run the model without opening the weights (the fields
of its ModelSpec) and what a user needs to judge it: scores on the held-out blocks, the training
data, the time and epochs spent, when and with which torch it was made.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from inference.metrics import AccuracyReport
from inference.models.base import ClassInfo, ModelSpec, WeightsSpec

CARD_FILE = "card.json"
WEIGHTS_FILE = "model.pt"
CARD_FORMAT = "cogsight-model-card/1"


class TrainingDataset(BaseModel):
    """What the model learnt from. Pixel counts are labelled pixels actually read."""

    description: str = Field(description="one line for people")
    images: list[str] = Field(
        description="image names (dataset ids or file names, never paths), date 1 first"
    )
    band_indexes: list[list[int]] = Field(description="1-based bands read from each image")
    labels: str = Field(description="labels' name (a dataset id or a file name)")
    label_source: str = Field(description="how the labels were read")
    split: dict[str, Any] = Field(description="spatial train / held-out split (see sampling.py)")
    train_pixels: int
    holdout_pixels: int
    pixel_size_m: float = Field(description="image pixel size, metres")


class ModelCard(BaseModel):
    """A trained model, described. Units: pixels (chip_size, overlap), metres per pixel
    (resolution_range), seconds (training_seconds); ``created`` is ISO 8601 UTC."""

    format: str = CARD_FORMAT
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str
    task: Literal["segmentation", "change"]
    description: str = ""
    bands: list[str]
    dates: int = Field(ge=1, le=2)
    classes: dict[int, ClassInfo]
    chip_size: int
    overlap: int
    resolution_range: tuple[float, float]
    input_scale: float | None
    weights: str = Field(default=WEIGHTS_FILE, description="TorchScript file, relative")
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    architecture: dict[str, Any] = Field(description="network class and its arguments")
    metrics: AccuracyReport = Field(description="scores on the held-out blocks")
    dataset: TrainingDataset
    training_seconds: float
    epochs: float
    steps: int
    stopped_by: Literal["time", "epochs"]
    options: dict[str, Any] = Field(default_factory=dict, description="TrainingOptions used")
    created: str
    torch_version: str
    method: Literal["unet", "pixel-classifier"] = Field(
        default="unet", description="U-Net (TorchScript) or pixel classifier (state dict)"
    )
    owner: str | None = Field(default=None, description="who trained it (a user id)")
    visibility: Literal["public", "private"] = Field(
        default="public", description="private: listed and run only for its owner"
    )

    def summary(self) -> str:
        """One sentence on the held-out scores, for the spec's description. It names no
        training data: whoever may run the model need not be allowed to see what it learnt
        from (the card keeps that, for the model's owner)."""
        parts = []
        for class_id, scores in self.metrics.classes.items():
            info = self.classes.get(int(class_id))
            if scores.iou is not None and info is not None:
                parts.append(f"{info.name} IoU {scores.iou:.3f} F1 {scores.f1 or 0:.3f}")
        pixels = self.dataset.train_pixels
        return (
            f"Trained in {self.training_seconds:.0f} s ({self._effort()}) on "
            f"{pixels:,} labelled pixels of {self.dataset.pixel_size_m:g} m; "
            f"held-out {', '.join(parts)}."
        )

    def _effort(self) -> str:
        if self.method == "pixel-classifier":
            return f"pixel classifier, {self.steps} trees"
        return f"{self.epochs:g} epochs"

    def to_spec(self, folder: str | Path) -> ModelSpec:
        """The ModelSpec of the model saved in ``folder`` (checksummed weights: TorchScript for
        a U-Net, a state dict for a pixel classifier)."""
        weights = Path(folder).resolve() / self.weights
        if self.method == "pixel-classifier":
            arguments = {k: v for k, v in self.architecture.items() if k != "class"}
            loaded = WeightsSpec(
                kind="state_dict",
                path=str(weights),
                class_path=self.architecture["class"],
                class_kwargs=arguments,
                sha256=self.sha256,
            )
        else:
            loaded = WeightsSpec(kind="torchscript", path=str(weights), sha256=self.sha256)
        text = " ".join(t for t in (self.description.strip(), self.summary()) if t)
        return ModelSpec(
            name=self.name,
            title=self.title,
            task=self.task,
            bands=self.bands,
            dates=self.dates,
            classes=self.classes,
            chip_size=self.chip_size,
            overlap=self.overlap,
            resolution_range=self.resolution_range,
            input_scale=self.input_scale,
            weights=loaded,
            description=text,
            owner=self.owner,
            visibility=self.visibility,
        )
