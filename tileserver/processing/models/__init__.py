"""Models as processes: every model of ``inference.models`` runs through the job system.

Importing this package registers a process per built-in model (specs only: no torch).
Trained models under ``<data>/models`` are added by ``sync_model_processes(settings)``.
"""

from tileserver.processing.models import train as _train  # noqa: F401  (the train process)
from tileserver.processing.models.process import (
    ModelProcess,
    register_model_processes,
    sync_model_processes,
)

register_model_processes()

__all__ = ["ModelProcess", "register_model_processes", "sync_model_processes"]
