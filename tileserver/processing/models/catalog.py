"""The models a deployment offers: the built-ins plus those trained into ``<data>/models``.

Each model becomes a process (``POST /processes/{model}/execution``). Only model *specs* are
read here (``inference.models`` imports no torch), so the API process lists models without
loading a network.
"""

from __future__ import annotations

import logging
from pathlib import Path

from inference.models import MODELS, ModelError, ModelRegistry
from tileserver.settings import Settings

logger = logging.getLogger("cogsight.models")


def models_dir(settings: Settings) -> Path:
    """Where trained models (TorchScript + model card) are kept."""
    return Path(settings.data_dir) / "models"


def ensure_user_models(folder: str | Path | None) -> ModelRegistry:
    """MODELS with every trained model under ``folder`` registered (re-read each call, so a
    model trained by another process shows up)."""
    if folder is None:
        return MODELS
    try:
        from inference.models.user_models import register_user_models
    except ImportError:  # trained models not supported by this installation
        return MODELS
    try:
        register_user_models(Path(folder), MODELS)
    except (ModelError, OSError, ValueError) as exc:
        logger.warning("trained models in %s could not all be registered: %s", folder, exc)
    return MODELS
