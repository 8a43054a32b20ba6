"""What every reader yields: a batch of item dicts plus where to continue after it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Rejected:
    """An entry refused before registration (not JSON, not an object, a fetch that failed)."""

    item_id: str
    reason: str
    collection: str | None = None


@dataclass
class Batch:
    items: list[dict[str, Any]]
    cursor: dict[str, Any] | None  # where the next batch starts; None: the source is done
    rejected: list[Rejected] = field(default_factory=list)
    total: int | None = None  # entries the source says there are, when it says

    @property
    def size(self) -> int:
        return len(self.items) + len(self.rejected)
