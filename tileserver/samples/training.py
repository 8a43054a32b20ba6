"""Training from a sample set: the inputs of the ``train`` process, checked first.

The set's latest version is the labels (its ``class`` field; pixels outside the samples are
left unlabelled, since the set's classes do not include 0); each training makes a new model
version ``<name>-v<N>`` (the previous ones keep serving) whose card names the set and its
version. The caller submits the answer to ``POST /processes/train/execution`` and follows the
job like any other (progress, cancel).
"""

from __future__ import annotations

import re
from typing import Any

from tileserver.auth.schemas import Principal
from tileserver.catalog import Catalog
from tileserver.errors import InvalidInput
from tileserver.expressions import resolve_band
from tileserver.processing.base import PROCESSES
from tileserver.processing.models.catalog import models_dir
from tileserver.samples.schemas import TrainFromSamples
from tileserver.samples.sets import readable_images, sample_set
from tileserver.settings import Settings

TRAIN_PROCESS = "train"


def _base_name(title: str, set_id: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:40].strip("-")
    return slug if slug and slug[0].isalnum() else f"samples-{set_id[:8].lower()}"


def next_model_name(settings: Settings, base: str) -> str:
    """``<base>-v<N>`` with N one past the highest version trained so far (or a name taken)."""
    folder = models_dir(settings)
    taken = {p.name for p in folder.iterdir()} if folder.is_dir() else set()
    taken |= set(PROCESSES.list())
    pattern = re.compile(rf"^{re.escape(base)}-v(\d+)$")
    versions = [int(m.group(1)) for name in taken if (m := pattern.match(name))]
    return f"{base}-v{max(versions, default=0) + 1}"


def train_inputs(
    catalog: Catalog,
    settings: Settings,
    principal: Principal,
    set_id: str,
    body: TrainFromSamples,
) -> dict[str, Any]:
    """The ``train`` process inputs for the set's latest version, or ``InvalidInput`` saying
    what the set lacks (samples of two classes at least, bands the image has)."""
    info = sample_set(catalog, settings, principal, set_id)
    names = {c.value: c.name for c in info.classes}
    used = sorted(int(v) for v, n in info.counts.items() if n > 0)
    if len(used) < 2:
        held = ", ".join(names.get(v, str(v)) for v in used) or "none"
        raise InvalidInput(
            f"Sample set '{set_id}' has samples of {len(used)} class ({held}); draw samples "
            "of at least two classes before training."
        )
    images = readable_images(catalog, settings, principal, info.samples_for)
    bands = body.bands or list(images[0].band_names)
    for image in images:
        for band in bands:
            resolve_band(band, image.band_names, image.sensor)
    name = next_model_name(settings, body.name or _base_name(info.title, set_id))
    inputs: dict[str, Any] = {
        "name": name,
        "task": info.task,
        "labels": set_id,
        "class_field": "class",
        "classes": {str(v): names[v] for v in used},
        "bands": bands,
        "time_budget_s": body.time_budget_s,
        "max_epochs": body.max_epochs,
        "title": f"{info.title} (v{name.rsplit('-v', 1)[1]})",
        "description": f"Trained on sample set '{set_id}' version {info.version} "
        f"({info.samples} samples) over {', '.join(info.samples_for)}.",
    }
    if info.task == "change":
        inputs["datasets"] = info.samples_for
    else:
        inputs["dataset"] = info.samples_for[0]
    if body.method is not None:
        if "method" not in _train_fields():
            raise InvalidInput(f"Training method '{body.method}' is not available here.")
        inputs["method"] = body.method
    return {"process": TRAIN_PROCESS, "inputs": inputs}


def _train_fields() -> set[str]:
    from tileserver.processing.models.train import TrainInputs

    return set(TrainInputs.model_fields)
