"""Trained and uploaded models found on disk: every ``<models_dir>/<name>/card.json`` becomes a
registry entry. A trained model's card is a ModelCard beside its ``model.pt``; an uploaded
model's card is an UploadCard (format ``cogsight-model-upload/1``) naming the version folder
that serves (see uploaded.py).

Torch-free: reading cards and registering specs imports no torch; the TorchScript file is
loaded (and its SHA-256 checked) only when the model is built.

Names: a trained model may not take the name of a runnable built-in or plug-in model
(ModelAlreadyRegistered), but it may fill a *slot* of the same task (e.g. "building"): the slot
entry is replaced and the name becomes runnable. Registering the same folder again replaces
the models registered from it before, drops those whose folder is gone and puts back the
slots they had filled.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from pydantic import ValidationError

from inference.models.base import ModelSpec
from inference.models.errors import ModelAlreadyRegistered, ModelCardError, without_paths
from inference.models.registry import MODELS, Factory, ModelEntry, ModelRegistry
from inference.models.uploaded import UPLOAD_CARD_FORMAT, UPLOADED_MODEL_FACTORY, UploadCard
from inference.training.card import CARD_FILE, ModelCard

USER_MODEL_FACTORY = "inference.models.loaders:load_weights"
"""Builds a trained model: TorchScript from spec.weights (path and sha256) via the loaders."""

# (registry id, name) -> the slot entry a trained model replaced, to restore when it goes
_FILLED: dict[tuple[int, str], ModelEntry] = {}
# (registry id, models dir) -> names registered from that folder by the last call
_FROM_DIR: dict[tuple[int, str], set[str]] = {}


def read_card(folder: str | Path) -> ModelCard | UploadCard:
    """The card of the model in ``folder`` (a trained model's or an uploaded one's);
    ModelCardError when missing or invalid, or when its weights file is absent."""
    path = Path(folder) / CARD_FILE
    where = f"model folder '{Path(folder).name}'"  # messages name the model, not the disk
    card: ModelCard | UploadCard
    try:
        text = path.read_bytes()
        if UPLOAD_CARD_FORMAT.encode() in text:
            card = UploadCard.model_validate_json(text)
        else:
            card = ModelCard.model_validate_json(text)
    except OSError as exc:
        raise ModelCardError(
            f"cannot read the card of {where}: {without_paths(str(exc), path)}"
        ) from exc
    except ValidationError as exc:
        raise ModelCardError(f"the card of {where} is not a valid model card: {exc}") from exc
    if not card.weights or not (Path(folder) / card.weights).is_file():
        raise ModelCardError(f"{where}: weights file {card.weights} is missing")
    return card


def discover(models_dir: str | Path, *, strict: bool = False) -> list[tuple[ModelSpec, Factory]]:
    """(spec, factory) of every trained model under ``models_dir`` (one folder per model,
    folders starting with '.' are work in progress and skipped), sorted by folder name.

    A broken card or a name used twice raises ModelCardError when ``strict``, else it is
    skipped with a warning. A missing ``models_dir`` holds no models.
    """
    root = Path(models_dir)
    if not root.is_dir():
        return []
    out: list[tuple[ModelSpec, Factory]] = []
    seen: dict[str, Path] = {}
    for card_path in sorted(root.glob(f"*/{CARD_FILE}")):
        folder = card_path.parent
        if folder.name.startswith("."):
            continue
        try:
            card = read_card(folder)
            spec = card.to_spec(folder)
            if spec.name in seen:
                raise ModelCardError(
                    f"model folder '{folder.name}': model name '{spec.name}' is also used by "
                    f"model folder '{seen[spec.name].name}'"
                )
        except (ModelCardError, ValidationError) as exc:
            if strict:
                raise ModelCardError(str(exc)) from exc
            warnings.warn(f"skipping trained model in {folder}: {exc}", stacklevel=2)
            continue
        seen[spec.name] = folder
        factory = UPLOADED_MODEL_FACTORY if isinstance(card, UploadCard) else USER_MODEL_FACTORY
        out.append((spec, factory))
    return out


def is_user_model(entry: ModelEntry) -> bool:
    """True for entries registered from a models folder (trained or uploaded)."""
    return entry.factory in (USER_MODEL_FACTORY, UPLOADED_MODEL_FACTORY)


def is_uploaded_model(entry: ModelEntry) -> bool:
    """True for entries registered from an uploaded model's card."""
    return entry.factory == UPLOADED_MODEL_FACTORY


def check_name(name: str, task: str, registry: ModelRegistry = MODELS) -> None:
    """Raise ModelAlreadyRegistered when a trained model called ``name`` (of ``task``) could
    not be registered: the name belongs to a runnable built-in or plug-in model, or to a slot
    of another task. Trained models and free names pass."""
    if name not in registry:
        return
    key = (id(registry), name.lower())
    entry = _FILLED.get(key) or registry.get(name)
    if entry.spec.slot:
        if entry.spec.task != task:
            raise ModelAlreadyRegistered(
                f"'{name}' is a slot for a {entry.spec.task} model; a {task} model cannot fill "
                "it (choose another name)"
            )
        return
    if not is_user_model(entry):
        raise ModelAlreadyRegistered(
            f"'{name}' is a built-in model; choose another name for the trained model"
        )


def register_user_models(
    models_dir: str | Path,
    registry: ModelRegistry = MODELS,
    *,
    overwrite: bool = True,
    strict: bool = False,
) -> list[str]:
    """Register every trained model under ``models_dir``; returns their names (sorted).

    Slots of the same name and task are filled (replaced). A name taken by a runnable built-in
    or plug-in model raises ModelAlreadyRegistered before anything is registered; so does a
    trained model registered from elsewhere when ``overwrite`` is False. Models registered
    by an earlier call for this folder whose folder has gone are removed again (a slot they
    filled comes back). ``strict``: see ``discover``.
    """
    root = str(Path(models_dir).resolve())
    pairs = discover(models_dir, strict=strict)
    dir_key = (id(registry), root)
    previous = _FROM_DIR.get(dir_key, set())
    for spec, _factory in pairs:
        check_name(spec.name, spec.task, registry)
        key = spec.name.lower()
        if not overwrite and key in registry and key not in previous:
            current = registry.get(key)
            if is_user_model(current):
                raise ModelAlreadyRegistered(
                    f"a trained model '{spec.name}' is already registered (overwrite=False)"
                )
    names = {spec.name.lower() for spec, _ in pairs}
    for gone in sorted(previous - names):
        _remove(registry, gone)
    for spec, factory in pairs:
        key = spec.name.lower()
        if key in registry:
            current = registry.get(key)
            if current.spec.slot:
                _FILLED[(id(registry), key)] = current
        registry.register(spec, factory, overwrite=True)
    _FROM_DIR[dir_key] = names
    return sorted(names)


def _remove(registry: ModelRegistry, name: str) -> None:
    """Take a trained model out of the registry, putting back the slot it filled."""
    if name not in registry or not is_user_model(registry.get(name)):
        return
    slot = _FILLED.pop((id(registry), name), None)
    if slot is None:
        registry.unregister(name)
    else:
        registry.register(slot.spec, slot.factory, overwrite=True)
