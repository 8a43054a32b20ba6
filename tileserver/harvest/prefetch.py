"""Read the next batch while the current one is registered.

A remote archive's page takes as long as its network round trip (often longer than
registering it), so the reader runs one batch ahead on a thread of its own. Batches still
arrive in order with their cursors, and a cursor is recorded only after its batch commits, so
resuming is unchanged. An error in the reader is raised in the caller at that batch.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")
_END = object()


def prefetch(source: Iterator[T], depth: int = 1) -> Iterator[T]:
    """``source``'s values, read up to ``depth`` ahead on a thread; stopping early (a
    ``break``, an error while a batch registers) stops the reader at its next value."""
    slots: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(value: object) -> bool:
        while not stop.is_set():
            try:
                slots.put(value, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            for value in source:
                if not put(value):
                    return
            put(_END)
        except BaseException as exc:  # handed to the consumer, raised there
            put(exc)
        finally:
            close = getattr(source, "close", None)
            if stop.is_set() and close is not None:
                close()

    thread = threading.Thread(target=read, name="harvest-reader", daemon=True)
    thread.start()
    try:
        while True:
            value = slots.get()
            if value is _END:
                return
            if isinstance(value, BaseException):
                raise value
            yield value  # type: ignore[misc]
    finally:
        stop.set()
        thread.join(timeout=60)
