"""Add an uploaded ONNX / TorchScript model: checked, stored as a new version, a tool at once.

One service for the API (``POST /models``) and the CLI (``cogsight model add``). The file and
its card are checked in a child process (``python -m inference.models.uploaded``: a forward
pass on zeros of the card's chip shape), so the server never imports torch and a network that
crashes its runtime takes only that process down.

Storage under ``<data>/models/<name>/``: each version in ``v<N>/`` (the file and its card), and
``card.json`` naming the version that serves. A version is built in a hidden staging folder
(skipped by the model discovery), checked there, renamed into place, and only then is
``card.json`` replaced (written aside, then ``os.replace``): a refused, failed or killed upload
leaves nothing registered, and the previous version serves until the new one is complete.

Ownership follows trained models: the name of a tool or a built-in model is refused, a model
the caller may not see is simply taken (409), one they may see but not change is 403; only
the owner or an admin adds a version. An upload by a user is private unless asked otherwise.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from inference.models import MODELS, ClassInfo, ModelAlreadyRegistered, ModelError
from inference.models.uploaded import (
    PICKLE_REFUSAL,
    WEIGHTS_NAMES,
    UploadCard,
    parse_card,
    sniff_kind,
)
from inference.models.user_models import check_name, is_uploaded_model, is_user_model
from tileserver.auth.access import can_read
from tileserver.auth.schemas import Principal
from tileserver.errors import (
    AlreadyExists,
    Forbidden,
    InvalidInput,
    NotFoundError,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from tileserver.processing.models.catalog import models_dir
from tileserver.settings import Settings

CARD_FILE = "card.json"
CHECK_TIMEOUT_S = 300
"""How long the forward pass on zeros may take before the upload is refused (seconds)."""
STAGING_PREFIX = ".upload-"
REMOVED_PREFIX = ".removed-"
"""Hidden folders: discovery skips them, quotas do not count them, ``sweep_staging`` removes
what a killed upload or removal left."""


class ModelOut(BaseModel):
    """A model as listed: what it does, who may see it, and (uploaded models) its version."""

    name: str
    title: str
    task: str
    source: Literal["built-in", "trained", "uploaded"]
    runnable: bool
    reason: str | None = None
    bands: list[str]
    classes: dict[int, ClassInfo]
    chip_size: int
    resolution_range: tuple[float, float]
    owner: str | None
    visibility: str
    process: str
    description: str = ""
    version: int | None = None
    versions: list[int] | None = None
    kind: str | None = None


def max_model_bytes(settings: Settings) -> int:
    return int(settings.max_model_bytes)


def too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"The model file is larger than the limit of {limit} bytes (COGSIGHT_MAX_MODEL_BYTES)."
    )


def refuse_head(head: bytes, filename: str) -> None:
    """Refuse an upload by its first bytes, before the rest is sent: a pickled PyTorch file
    (legacy format; the zip format is told from its contents once received) or anything that
    starts like neither a zip archive (TorchScript) nor an ONNX model."""
    if head[:1] == b"\x80":
        raise UnsupportedMediaType(f"The model file is refused: {PICKLE_REFUSAL}.")
    if head and not (head.startswith(b"PK") or head[:1] == b"\x08"):
        raise UnsupportedMediaType(
            "The model file is refused: it is neither an ONNX model nor a TorchScript archive "
            "(torch.jit.save)."
        )


def card_from_request(card_json: str | None, fields: dict[str, Any]) -> UploadCard:
    """The card from its JSON text, with any of ``fields`` (name, title, visibility ...)
    given beside it taking precedence; 400 naming the wrong field."""
    data: dict[str, Any] = {}
    if card_json:
        try:
            data = json.loads(card_json)
        except ValueError as exc:
            raise InvalidInput(f"The model card is not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise InvalidInput("The model card must be a JSON object.")
    data.update({k: v for k, v in fields.items() if v is not None})
    for stored in ("weights", "kind", "sha256", "version", "created", "owner"):
        data.pop(stored, None)  # filled in here, never taken from the client
    try:
        return parse_card(data)
    except ModelError as exc:
        raise InvalidInput(str(exc)) from None


def add_model(
    settings: Settings,
    weights: Path,
    card: UploadCard,
    principal: Principal,
    *,
    visibility: str | None = None,
    anonymous_read: bool = True,
) -> ModelOut:
    """Check ``weights`` against ``card``, store it as the next version of ``card.name`` and
    register it as a process. ``weights`` is moved (not copied) into the models folder; the
    caller removes it on failure. Raises InvalidInput (400) for a file the card does not fit,
    UnsupportedMediaType (415) for a file that is no ONNX / TorchScript model (a pickled state
    dict included), PayloadTooLarge (413), AlreadyExists (409) and Forbidden (403)."""
    from tileserver.processing.models import sync_model_processes

    size = weights.stat().st_size
    if size > max_model_bytes(settings):
        raise too_large(max_model_bytes(settings))
    if size == 0:
        raise UnsupportedMediaType("The model file is empty.")
    try:
        kind = sniff_kind(weights)
    except ModelError as exc:
        raise UnsupportedMediaType(f"The model file is refused: {exc}.") from None
    root = models_dir(settings)
    root.mkdir(parents=True, exist_ok=True)
    sweep_staging(settings)
    sync_model_processes(settings)
    _authorize(card.name, principal, anonymous_read)
    staging = root / f"{STAGING_PREFIX}{card.name}-{uuid.uuid4().hex[:12]}"
    staging.mkdir()
    try:
        stored = staging / WEIGHTS_NAMES[kind]
        shutil.move(str(weights), stored)
        version_card = card.model_copy(
            update={
                "kind": kind,
                "weights": stored.name,
                "sha256": _sha256(stored),
                "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            }
        )
        _write_json(staging / CARD_FILE, version_card)
        _check_in_child(stored, staging / CARD_FILE)
        with name_lock(root, card.name):
            sync_model_processes(settings)
            existing = _authorize(card.name, principal, anonymous_read)
            owner = existing.owner if existing and existing.owner else principal.id
            chosen = visibility or (existing.visibility if existing else None)
            chosen = chosen or ("private" if principal.user is not None else "public")
            folder = root / card.name
            folder.mkdir(exist_ok=True)
            number = max(versions_of(folder), default=0) + 1
            version_card = version_card.model_copy(
                update={"version": number, "owner": owner, "visibility": chosen}
            )
            _write_json(staging / CARD_FILE, version_card)
            os.replace(staging, folder / f"v{number}")
            current = version_card.model_copy(update={"weights": f"v{number}/{stored.name}"})
            _write_json(folder / CARD_FILE, current)  # the switch: atomic
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    sync_model_processes(settings)
    return describe_model(card.name, settings, principal, anonymous_read)


def _authorize(name: str, principal: Principal, anonymous_read: bool) -> Any:
    """The uploaded model ``name`` that this upload adds a version to, None for a new name;
    raises when the name is not the caller's to use."""
    from tileserver.processing.base import PROCESSES
    from tileserver.processing.models.process import ModelProcess
    from tileserver.processing.models.train import may_replace, trained_model

    if name in PROCESSES and not isinstance(PROCESSES.get(name), ModelProcess):
        raise AlreadyExists(f"'{name}' is the name of a tool; choose another name.")
    try:
        check_name(name, "segmentation")
    except ModelAlreadyRegistered as exc:
        raise AlreadyExists(f"{exc}.") from None
    existing = trained_model(name)
    if existing is None:
        return None
    if not can_read(principal, existing, anonymous_read):
        raise AlreadyExists(f"A model named '{name}' exists already; choose another name.")
    if not may_replace(existing, principal.id, principal.is_admin):
        raise Forbidden(f"Model '{name}' belongs to someone else; choose another name.")
    if not is_uploaded_model(MODELS.get(name)):
        raise AlreadyExists(
            f"'{name}' is a trained model; upload under another name (versions are kept for "
            "uploaded models)."
        )
    return existing


def _check_in_child(weights: Path, card: Path) -> None:
    """The forward pass on zeros, in a child process; InvalidInput with its reason."""
    env = dict(os.environ)
    package_root = str(Path(__file__).resolve().parents[3])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    env.setdefault("OMP_NUM_THREADS", "2")
    command = [sys.executable, "-m", "inference.models.uploaded", str(weights), str(card)]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=CHECK_TIMEOUT_S, env=env
        )
    except subprocess.TimeoutExpired:
        raise InvalidInput(
            f"The model did not answer a forward pass on zeros within {CHECK_TIMEOUT_S} s."
        ) from None
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    answer = json.loads(lines[-1]) if lines else {}
    if done.returncode == 0 and "error" not in answer:
        return
    reason = answer.get("error") or f"the check process ended with status {done.returncode}"
    raise InvalidInput(f"The model does not fit its card: {_scrub(reason, weights).rstrip('.')}.")


def _scrub(text: str, weights: Path) -> str:
    """A message without the staging folder's path."""
    for form in sorted({str(weights.parent.resolve()), str(weights.parent)}, key=len, reverse=True):
        text = text.replace(form + os.sep, "").replace(form, "")
    return text


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_json(path: Path, card: UploadCard) -> None:
    """Write ``card`` to ``path`` atomically (aside, flushed, then renamed over it)."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    with tmp.open("w", encoding="utf-8") as f:
        f.write(card.model_dump_json(indent=2, exclude_none=True) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


@contextlib.contextmanager
def name_lock(root: Path, name: str) -> Iterator[None]:
    """One upload at a time per model name, across processes (an advisory file lock)."""
    with (root / f".{name}.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def versions_of(folder: Path) -> list[int]:
    """The version numbers stored in a model folder, ascending."""
    found = []
    for child in folder.glob("v*"):
        if child.is_dir() and child.name[1:].isdigit() and (child / CARD_FILE).is_file():
            found.append(int(child.name[1:]))
    return sorted(found)


# listing ------------------------------------------------------------------------------------
def list_models(settings: Settings, principal: Principal, anonymous_read: bool) -> list[ModelOut]:
    """Every model the caller may see, by name."""
    from tileserver.processing.models import sync_model_processes

    sync_model_processes(settings)
    out = []
    for entry in MODELS:
        model = _model_out(entry, settings)
        if _sees(principal, model, anonymous_read):
            out.append(model)
    return out


def describe_model(
    name: str, settings: Settings, principal: Principal, anonymous_read: bool
) -> ModelOut:
    """One model; 404 when unknown or not the caller's to see (the same answer)."""
    from tileserver.processing.models import sync_model_processes

    sync_model_processes(settings)
    if name not in MODELS:
        raise NotFoundError(f"Model '{name}' not found.")
    model = _model_out(MODELS.get(name), settings)
    if not _sees(principal, model, anonymous_read):
        raise NotFoundError(f"Model '{name}' not found.")
    return model


def _sees(principal: Principal, model: ModelOut, anonymous_read: bool) -> bool:
    if model.owner is None and model.visibility == "public":
        return True
    return can_read(principal, _Owned(model.name, model.owner, model.visibility), anonymous_read)


@dataclass(frozen=True)
class _Owned:
    id: str
    owner: str | None
    visibility: str


def _model_out(entry: Any, settings: Settings) -> ModelOut:
    spec = entry.spec
    source: Literal["built-in", "trained", "uploaded"] = "built-in"
    version = versions = kind = None
    if is_uploaded_model(entry):
        source = "uploaded"
        folder = models_dir(settings) / spec.name
        kind = spec.weights.kind if spec.weights else None
        versions = versions_of(folder)
        try:
            version = json.loads((folder / CARD_FILE).read_text(encoding="utf-8")).get("version")
        except (OSError, ValueError):
            version = None
    elif is_user_model(entry):
        source = "trained"
    return ModelOut(
        name=spec.name,
        title=spec.title,
        task=spec.task,
        source=source,
        runnable=spec.runnable,
        reason=spec.reason,
        bands=spec.bands,
        classes=spec.classes,
        chip_size=spec.chip_size,
        resolution_range=spec.resolution_range,
        owner=spec.owner,
        visibility=spec.visibility,
        process=f"/processes/{spec.name}",
        description=spec.description,
        version=version,
        versions=versions,
        kind=kind,
    )


def sweep_staging(settings: Settings, older_than_s: float = 24 * 3600) -> int:
    """Remove staging folders left by uploads killed half-way (older than a day) and what a
    killed removal left (at once: nothing owns it); returns how many. Neither is registered:
    the discovery skips hidden folders."""
    import time

    removed = 0
    root = models_dir(settings)
    for child in [*root.glob(f"{STAGING_PREFIX}*"), *root.glob(f"{REMOVED_PREFIX}*")]:
        with contextlib.suppress(OSError):
            age = time.time() - child.stat().st_mtime
            if child.name.startswith(REMOVED_PREFIX) or age > older_than_s:
                shutil.rmtree(child)
                removed += 1
    return removed
