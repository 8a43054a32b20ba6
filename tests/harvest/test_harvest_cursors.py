"""Each reader's cursor continues exactly after the batch it was saved with: nothing read
twice, nothing skipped (ndjson by byte offset, ItemCollection by index, static catalog by link
offset, STAC API by next link)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.harvest.conftest import write_ndjson
from tileserver.harvest.options import HarvestOptions
from tileserver.harvest.service import batches
from tileserver.harvest.sources import Source


def _ids(source: Source, cursor: dict[str, Any] | None, size: int) -> list[list[str]]:
    options = HarvestOptions(batch_size=size)
    out = []
    for batch in batches(source, options, cursor, timeout=5):
        out.append([i["id"] for i in batch.items] + [r.item_id for r in batch.rejected])
    return out


def _cursor_after(source: Source, n: int, size: int) -> dict[str, Any] | None:
    for k, batch in enumerate(batches(source, HarvestOptions(batch_size=size), None, 5), 1):
        if k == n:
            return batch.cursor
    raise AssertionError("fewer batches than expected")


@pytest.mark.parametrize("kind", ["ndjson", "itemcollection", "static", "api"])
def test_cursor_continues_after_its_batch(
    kind: str, tmp_path: Path, many_items: Any, stac_api: Any
) -> None:
    items = many_items(23)
    ids = [i["id"] for i in items]
    if kind == "ndjson":
        source = Source("file", str(write_ndjson(tmp_path / "i.ndjson", items, ["", "oops"])))
        ids += ["line 25"]  # the blank line 24 is skipped; line 25 is refused
    elif kind == "itemcollection":
        path = tmp_path / "i.json"
        path.write_text(json.dumps({"type": "FeatureCollection", "features": items}))
        source = Source("file", str(path))
    else:
        api = stac_api(items)
        source = Source(kind, api.static_url if kind == "static" else api.url)  # type: ignore[arg-type]

    whole = [i for batch in _ids(source, None, 5) for i in batch]
    assert whole == ids
    cursor = _cursor_after(source, 2, 5)
    assert cursor is not None
    rest = [i for batch in _ids(source, cursor, 5) for i in batch]
    assert rest == ids[10:]
