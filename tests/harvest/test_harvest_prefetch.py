"""The next page is read while the current batch is registered; errors still surface at their
batch, and stopping early stops the reader."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tileserver.catalog import Catalog
from tileserver.harvest.options import HarvestOptions
from tileserver.harvest.prefetch import prefetch
from tileserver.harvest.runs import HarvestRun
from tileserver.harvest.service import harvest
from tileserver.settings import Settings


def test_next_page_is_asked_while_a_batch_is_handled(
    stac_api: Any, many_items: Any, catalog: Catalog, settings: Settings
) -> None:
    api = stac_api(many_items(30))
    asked_during_first: list[bool] = []

    def progress(run: HarvestRun) -> None:
        if run.seen == 10 and not asked_during_first:
            deadline = time.time() + 5
            while len(api.searches()) < 2 and time.time() < deadline:
                time.sleep(0.01)
            asked_during_first.append(len(api.searches()) >= 2)

    run = harvest(catalog, settings, api.url, HarvestOptions(batch_size=10), progress=progress)
    assert asked_during_first == [True]
    assert (run.status, run.added) == ("completed", 30)
    assert len(api.searches()) == 3


def test_prefetch_raises_at_the_failing_batch_and_stops_early() -> None:
    closed: list[bool] = []

    def failing() -> Iterator[int]:
        yield 1
        yield 2
        raise RuntimeError("page 3 failed")

    got = []
    with pytest.raises(RuntimeError, match="page 3 failed"):
        for value in prefetch(failing()):
            got.append(value)
    assert got == [1, 2]

    def endless() -> Iterator[int]:
        try:
            n = 0
            while True:
                n += 1
                yield n
        finally:
            closed.append(True)

    for value in prefetch(endless()):
        if value == 3:
            break
    assert closed == [True]
