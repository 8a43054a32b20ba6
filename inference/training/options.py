"""Training options (torch-free, so a web app can validate a request without importing torch)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class TrainingOptions(BaseModel):
    """How to train (every field has a default). Units: seconds, pixels, chips."""

    model_config = ConfigDict(extra="forbid")

    method: Literal["auto", "unet", "pixel-classifier"] = Field(
        default="unet",
        description="'unet'; 'pixel-classifier' (a forest on multi-scale filter features, "
        "seconds on a CPU, learns from sparse strokes); 'auto': the pixel classifier for "
        "segmentation (better on unseen ground from few samples, by measurement), U-Net for change",
    )
    estimator: Literal["random-forest", "gradient-boosting"] = Field(
        default="random-forest", description="pixel classifier's estimator"
    )
    trees: int = Field(default=100, ge=1, le=2000, description="pixel classifier trees")
    sigmas: tuple[float, ...] = Field(
        default=(0.7, 1.0, 1.6, 3.5, 5.0, 10.0),
        min_length=1,
        description="pixel classifier feature scales (px)",
    )
    max_samples: int = Field(
        default=50_000, ge=100, description="pixel classifier: most labelled pixels per class"
    )
    time_budget_s: float = Field(default=300.0, gt=0, description="wall-clock training seconds")
    max_epochs: int = Field(default=100, ge=1, description="epoch cap")
    chip: int = Field(default=64, ge=16, description="training chip side (px, multiple of 8)")
    batch: int = Field(default=16, ge=1, description="chips per step")
    lr: float = Field(default=3e-3, gt=0, description="peak Adam learning rate")
    weight_decay: float = Field(default=1e-4, ge=0)
    dice_weight: float = Field(default=0.5, ge=0, description="soft Dice weight; 0: CE only")
    balance: float = Field(
        default=0.5, ge=0, le=1, description="share of chips centred on a random class"
    )
    augment: bool = Field(default=True, description="random flips and quarter turns")
    width: int = Field(default=16, ge=4, description="network channels at full resolution")
    depth: int = Field(default=3, ge=1, le=5, description="network poolings")
    norm: Literal["batch", "group"] = Field(default="batch", description="normalisation")
    block: int | None = Field(
        default=None, ge=16, description="split block side (px); default max(2 x chip, 128)"
    )
    holdout: float = Field(default=0.25, gt=0, lt=1, description="held-out share of blocks")
    budget_pixels: int = Field(
        default=8_000_000, ge=4096, description="most pixels read for training and validation"
    )
    seed: int = Field(default=0, description="split, chip draws and weight initialisation")
    threads: int | None = Field(default=None, ge=1, description="torch CPU threads while training")
    device: str | None = Field(default=None, description="'cpu', 'cuda'...; default: CUDA if any")
    # what the saved model spec says about inference
    inference_chip: int = Field(default=512, ge=16, description="chip_size of the spec (px)")
    inference_overlap: int = Field(default=64, ge=0, description="overlap of the spec (px)")
    resolution_range: tuple[float, float] | None = Field(
        default=None, description="metres per pixel; default: half to twice the image's"
    )
