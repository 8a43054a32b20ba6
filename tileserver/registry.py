"""One registry shape for every plug-in point (indices, sensors, later models and tools).

Like morecantile's TMS registry: get / list / register, and register refuses to overwrite
silently, so two plug-ins claiming one name is an error at import time, not a surprise later.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

from tileserver.errors import AlreadyExists, NotFoundError

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(
        self,
        kind: str,
        not_found: type[NotFoundError] | type[Exception] = NotFoundError,
        *,
        list_known: bool = True,
    ):
        """``list_known``: name the registered items in the not-found message; off where some
        are private (processes: other users' models), so callers list what the caller sees."""
        self.kind = kind
        self._items: dict[str, T] = {}
        self._not_found = not_found
        self._list_known = list_known

    def register(self, name: str, item: T, *, overwrite: bool = False) -> T:
        key = name.lower()
        if key in self._items and not overwrite:
            raise AlreadyExists(f"A {self.kind} named '{name}' is already registered.")
        self._items[key] = item
        return item

    def unregister(self, name: str) -> None:
        """Forget ``name`` (absent: nothing to do), e.g. a model whose files were removed."""
        self._items.pop(name.lower(), None)

    def get(self, name: str) -> T:
        try:
            return self._items[name.lower()]
        except KeyError:
            if not self._list_known:
                raise self._not_found(f"Unknown {self.kind} '{name}'.") from None
            known = ", ".join(sorted(self._items)) or "none"
            raise self._not_found(f"Unknown {self.kind} '{name}'. Known: {known}.") from None

    def list(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._items

    def __iter__(self) -> Iterator[T]:
        return iter(self._items[k] for k in sorted(self._items))
