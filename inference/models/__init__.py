"""cogsight models: declarative specs, one registry, loaders and the built-in models.

    from inference.models import MODELS, build
    MODELS.list()                      # names (slots included; spec.runnable tells)
    spec = MODELS.get("water-optical").spec
    model = build("water-optical")     # torch.nn.Module in eval mode
    model.fit(sample, valid)           # when spec.needs_fit: whole image, reduced resolution
    probs = model(chips)               # (B, C, H, W) -> (B, K, H, W)

Importing this package does not import torch; building a model does.
See base.py for the exact call contract (band order, scaling, outputs).
"""

from __future__ import annotations

from inference.models.base import (
    NO_WEIGHTS_REASON,
    ClassInfo,
    Fittable,
    ModelSpec,
    Task,
    WeightsSpec,
)
from inference.models.builtin import register_builtins
from inference.models.errors import (
    ModelAlreadyRegistered,
    ModelCardError,
    ModelError,
    ModelFitError,
    ModelNotFound,
    ModelNotRunnable,
    ModelPluginError,
    TrainingError,
    WeightsError,
)
from inference.models.registry import (
    ENTRY_POINT_GROUP,
    MODELS,
    Factory,
    ModelEntry,
    ModelRegistry,
    build,
    load_entry_points,
)

register_builtins()

__all__ = [
    "ENTRY_POINT_GROUP",
    "MODELS",
    "NO_WEIGHTS_REASON",
    "ClassInfo",
    "Factory",
    "Fittable",
    "ModelAlreadyRegistered",
    "ModelCardError",
    "ModelEntry",
    "ModelError",
    "ModelFitError",
    "ModelNotFound",
    "ModelNotRunnable",
    "ModelPluginError",
    "ModelRegistry",
    "ModelSpec",
    "Task",
    "TrainingError",
    "WeightsError",
    "WeightsSpec",
    "build",
    "load_entry_points",
]
