"""What the manage services call after a change, so caches forget the changed thing at once.

A service takes a plain ``Forget`` callable; the API passes one over its own caches
(``tileserver.http.app_caches.AppCaches``), the command line passes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

Family = Literal["dataset", "mosaic"]
Forget = Callable[[Family, str], None]
"""Called after a commit with what changed: ``("dataset", id)`` or ``("mosaic", id)``."""
