"""Building a registered model inside a Dask worker (picklable by name, not by object).

Imported by workers only when a model process runs: this is where torch gets imported, never
in the API process.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from inference.cores import available_cores


def build_named_model(
    name: str, models_dir: str | None, threads: int | None, bands: list[str] | None = None
) -> Any:
    """The model ``name`` from the registry, trained models in ``models_dir`` included, built
    for the band set ``bands`` the engine feeds it.

    ``threads`` caps torch's intra-op threads so the workers of one machine do not
    oversubscribe its cores.
    """
    import torch

    from tileserver.processing.models.catalog import ensure_user_models

    if threads:
        torch.set_num_threads(threads)
    registry = ensure_user_models(models_dir)
    return registry.build(name, bands)


def model_factory(
    name: str, models_dir: str | None, workers: int, bands: list[str] | None = None
) -> partial[Any]:
    threads = max(1, available_cores() // max(1, workers))
    return partial(build_named_model, name, models_dir, threads, bands)
