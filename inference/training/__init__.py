"""Training models in the product: a U-Net for segmentation, a Siamese U-Net for change.

    from inference.training import TrainingOptions, train_segmentation
    result = train_segmentation("scene.tif", "truth.tif", bands=[1, 2, 3, 4, 5],
                                name="water-unet", models_dir="models",
                                options=TrainingOptions(time_budget_s=120))
    result.folder, result.spec, result.metrics

Modules: labels (class raster / vector labels on the image grid), sampling (spatial split,
block reads, chips), trainer (the loop), validation (held-out scores), card (card.json,
torch-free), export (atomic save), api (the entry points). Importing this package is cheap:
the torch-using entry points load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from inference.training.card import ModelCard
from inference.training.options import TrainingOptions

if TYPE_CHECKING:
    from inference.training.api import TrainingResult, train_change, train_segmentation

_LAZY = {"TrainingResult", "train_change", "train_segmentation"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from inference.training import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["ModelCard", "TrainingOptions", "TrainingResult", "train_change", "train_segmentation"]
