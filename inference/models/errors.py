"""Exceptions of the model layer. All derive from ModelError, so a job runner can turn any of
them into a failed job with the message as its reason (the messages are written for users)."""

from __future__ import annotations

from pathlib import Path


class ModelError(Exception):
    """Base class of every model-layer error."""


class ModelNotFound(ModelError, LookupError):
    """No model of that name is registered."""


class ModelAlreadyRegistered(ModelError):
    """register() was asked to replace an existing name without overwrite=True."""


class ModelNotRunnable(ModelError):
    """The model is a slot (listed, no weights yet) or lacks an optional dependency."""


class ModelFitError(ModelError):
    """fit() could not derive the global parameters from this image (e.g. no water in it)."""


class WeightsError(ModelError):
    """Weights could not be found, verified or loaded (or their runtime is not installed)."""


class ModelPluginError(ModelError):
    """An entry point of the `cogsight.models` group is broken or returns the wrong shape."""


class TrainingError(ModelError):
    """Training cannot start or finish: unreadable or empty labels, too few classes or labelled
    pixels, images that do not match, an existing model folder without overwrite."""


class ModelCardError(ModelError):
    """A trained model's card.json is missing, unreadable or does not describe a valid model."""


def file_name(path: str | Path) -> str:
    """How a message names a file: its last part, never where it is kept on this machine (a
    server's users must not learn its folders; a dataset's file is named after its id)."""
    text = str(path).rstrip("/")
    return Path(text).name or text


def without_paths(text: str, *paths: str | Path) -> str:
    """``text`` (often a library's own message, e.g. GDAL's) with each of ``paths``, as given
    and resolved, replaced by its ``file_name``."""
    forms: dict[str, str] = {}
    for path in paths:
        for form in {str(path), str(Path(str(path)).resolve())}:
            if len(form) > 1:
                forms[form] = file_name(path)
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, forms[form])
    return text
