"""Processing tools: each is a declarative process with pydantic inputs and a block-wise run().

Importing this package registers the built-in tools and a process per model in ``PROCESSES``.
"""

from tileserver.processing import models as _models  # noqa: F401  (a process per model)
from tileserver.processing import tools as _tools  # noqa: F401  (registers the built-ins)
from tileserver.processing.base import PROCESSES, Process, ProcessResult

__all__ = ["PROCESSES", "Process", "ProcessResult"]
