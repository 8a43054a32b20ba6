"""Removing a trained or uploaded model with all its versions: the service behind
``DELETE /models/{name}`` and ``cogsight model rm``.

The owner or an admin may remove a model; a model the caller may not see is 404, as when
describing it. The folder is renamed to a hidden name first (one atomic step: from then on no
replica discovers it, and the owner's quota no longer counts it), then deleted; a removal
killed in between leaves a hidden folder that ``sweep_staging`` deletes. Every replica drops
the model's process at its next sync; a job queued for it fails with the reason.
"""

from __future__ import annotations

import os
import shutil
import uuid

from tileserver.auth.access import require_writer
from tileserver.auth.schemas import Principal
from tileserver.errors import Forbidden, NotFoundError
from tileserver.processing.models.catalog import models_dir
from tileserver.processing.models.upload import (
    REMOVED_PREFIX,
    describe_model,
    name_lock,
    sweep_staging,
)
from tileserver.settings import Settings


def remove_model(
    name: str, settings: Settings, principal: Principal, anonymous_read: bool = True
) -> None:
    """Remove model ``name``: 404 when unknown or not visible, 403 for a built-in model or
    one the caller does not own (admins may remove any trained or uploaded model)."""
    from tileserver.processing.models import sync_model_processes
    from tileserver.processing.models.train import may_replace, trained_model

    require_writer(principal)
    model = describe_model(name, settings, principal, anonymous_read)  # 404 unless visible
    if model.source == "built-in":
        raise Forbidden(f"'{model.name}' is a built-in model; it cannot be removed.")
    process = trained_model(model.name)
    if process is None or not may_replace(process, principal.id, principal.is_admin):
        raise Forbidden(f"Model '{model.name}' belongs to someone else.")
    root = models_dir(settings)
    with name_lock(root, model.name):
        folder = root / model.name
        if not folder.is_dir():
            raise NotFoundError(f"Model '{name}' not found.")  # removed by a concurrent call
        trash = root / f"{REMOVED_PREFIX}{model.name}-{uuid.uuid4().hex[:12]}"
        os.replace(folder, trash)
    shutil.rmtree(trash, ignore_errors=True)
    sweep_staging(settings)
    sync_model_processes(settings)
