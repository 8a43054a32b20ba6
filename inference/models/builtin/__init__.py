"""Built-in models, registered in MODELS when `inference.models` is imported.

Specs are declared in specs.py (torch-free); each network sits in its own module (water,
landcover, change, dehaze, cloudmask) and is imported only when the model is built.
"""

from __future__ import annotations

from inference.models.builtin.specs import builtin_models
from inference.models.registry import MODELS, ModelRegistry


def register_builtins(registry: ModelRegistry = MODELS, *, overwrite: bool = False) -> list[str]:
    """Register every built-in model; returns their names."""
    names = []
    for spec, factory in builtin_models():
        registry.register(spec, factory, overwrite=overwrite)
        names.append(spec.name)
    return names


__all__ = ["register_builtins"]
