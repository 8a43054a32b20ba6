"""Save a trained network as ``<models_dir>/<name>/{model.pt, card.json}``, atomically.

Both files are written into a temporary folder in ``models_dir`` (same file system), the
TorchScript file is loaded back once as a check, then the folder is renamed into place: a
reader sees the old model folder or the complete new one, never half a model. When replacing,
the old folder is first renamed aside and deleted after the new one is in place.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import uuid
from pathlib import Path

import torch

from inference.models.errors import TrainingError
from inference.training.card import CARD_FILE, WEIGHTS_FILE, ModelCard


def model_folder(models_dir: str | Path, name: str, *, overwrite: bool) -> Path:
    """Where ``name`` is saved; TrainingError when it exists and ``overwrite`` is False (checked
    before training, so no time is spent on a model that cannot be saved)."""
    folder = Path(models_dir) / name
    if folder.exists() and not overwrite:
        raise TrainingError(f"a model named '{name}' exists already (pass overwrite=True)")
    return folder


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_model(
    net: torch.nn.Module,
    card: ModelCard,
    models_dir: str | Path,
    *,
    overwrite: bool,
    workdir: str | Path | None = None,
) -> tuple[Path, ModelCard]:
    """Script ``net`` and write it with ``card`` (its sha256 filled in); returns the folder and
    the card as written. It is built in ``workdir`` (scratch on the same filesystem: never
    counted as a model, removed by the sweep if the process dies), else beside the folder."""
    root = Path(models_dir)
    root.mkdir(parents=True, exist_ok=True)
    folder = model_folder(root, card.name, overwrite=overwrite)
    scripted = torch.jit.script(net.cpu().eval())
    tmp = Path(tempfile.mkdtemp(prefix=f".{card.name}.", suffix=".tmp", dir=workdir or root))
    try:
        tmp.chmod(0o755)  # mkdtemp makes it private; the model folder is readable like others
        weights = tmp / WEIGHTS_FILE
        torch.jit.save(scripted, str(weights))
        torch.jit.load(str(weights), map_location="cpu")  # fails here, not at first use
        card = card.model_copy(update={"weights": WEIGHTS_FILE, "sha256": sha256_of(weights)})
        (tmp / CARD_FILE).write_text(card.model_dump_json(indent=2) + "\n", encoding="utf-8")
        _publish(tmp, folder)
    except Exception:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder, card


def _publish(tmp: Path, folder: Path) -> None:
    """Rename ``tmp`` to ``folder``; an existing folder is moved aside first, then deleted."""
    old = None
    if folder.exists():
        old = folder.with_name(f".{folder.name}.{uuid.uuid4().hex[:8]}.old")
        os.replace(folder, old)
    try:
        os.replace(tmp, folder)
    except OSError:
        if old is not None:
            os.replace(old, folder)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
