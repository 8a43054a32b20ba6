"""Items from a file: newline-delimited JSON (one item per line) or a GeoJSON
FeatureCollection (an ItemCollection), local or over HTTP.

For a local ndjson file the cursor is the byte offset after the last line of a committed batch,
so a resumed run seeks there; the lines are never all held in memory. Other files are read
whole and the cursor is the index of the next item.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
from pystac.stac_io import DefaultStacIO

from tileserver.errors import SourceUnavailable
from tileserver.harvest.batches import Batch, Rejected
from tileserver.harvest.options import HarvestOptions
from tileserver.harvest.sources import Source


def _parse(text: bytes | str) -> Any:
    """orjson (a fifth of a harvest's time was json.loads); json where orjson refuses what
    json reads (NaN, as some archives write for a band's nodata)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def _loads(text: bytes | str, where: str) -> dict[str, Any] | Rejected:
    try:
        value = _parse(text)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return Rejected(item_id=where, reason="not valid JSON")
    if not isinstance(value, dict):
        return Rejected(item_id=where, reason="not a JSON object (a STAC item is one)")
    return value


def _is_ndjson(path: Path) -> bool:
    with path.open("rb") as f:
        head = f.read(65536)
    first = head.split(b"\n", 1)[0].strip()
    if not first:
        return False
    try:
        value = json.loads(first)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return not head.lstrip().startswith((b"{", b"["))  # a broken first line of ndjson
    return isinstance(value, dict) and value.get("type") != "FeatureCollection"


def _wanted(item: dict[str, Any], collections: set[str]) -> bool:
    return not collections or item.get("collection") in collections


def read_file(
    source: Source, options: HarvestOptions, cursor: dict[str, Any] | None
) -> Iterator[Batch]:
    collections = set(options.collections or source.collections)
    if "://" not in source.location:
        path = Path(source.location)
        try:
            if _is_ndjson(path):
                yield from _ndjson(path, options.batch_size, cursor, collections)
                return
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise SourceUnavailable(f"{source.label} could not be read ({exc.strerror}).") from None
    else:
        try:
            text = DefaultStacIO(headers=dict(source.headers)).read_text(source.location)
        except Exception as exc:
            raise SourceUnavailable(
                f"The items file {source.label} could not be read ({type(exc).__name__})."
            ) from None
    yield from _collection(text, source.label, options.batch_size, cursor, collections)


def _ndjson(
    path: Path, size: int, cursor: dict[str, Any] | None, collections: set[str]
) -> Iterator[Batch]:
    total = _count_lines(path)
    file_size = path.stat().st_size
    line_no = int((cursor or {}).get("line", 0))
    with path.open("rb") as f:
        f.seek(int((cursor or {}).get("offset", 0)))
        items: list[dict[str, Any]] = []
        rejected: list[Rejected] = []
        taken = 0
        while True:
            raw = f.readline()
            if raw:
                line_no += 1
                taken += 1
                if raw.strip():
                    entry = _loads(raw, f"line {line_no}")
                    if isinstance(entry, Rejected):
                        rejected.append(entry)
                    elif _wanted(entry, collections):
                        items.append(entry)
            if taken >= size or not raw:
                done = not raw or f.tell() >= file_size
                after = None if done else {"offset": f.tell(), "line": line_no}
                yield Batch(items=items, rejected=rejected, cursor=after, total=total)
                items, rejected, taken = [], [], 0
                if done:
                    return


def _count_lines(path: Path) -> int:
    count = 0
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            count += block.count(b"\n")
    return count


def _collection(
    text: str, label: str, size: int, cursor: dict[str, Any] | None, collections: set[str]
) -> Iterator[Batch]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        raise SourceUnavailable(f"{label} is neither ndjson nor a JSON ItemCollection.") from None
    features = doc.get("features") if isinstance(doc, dict) else doc
    if not isinstance(features, list):
        raise SourceUnavailable(f"{label} is not an ItemCollection (no 'features' list).")
    start = int((cursor or {}).get("index", 0))
    if start >= len(features):
        yield Batch(items=[], cursor=None, total=len(features))
        return
    for at in range(start, len(features), size):
        chunk = features[at : at + size]
        items = [f for f in chunk if isinstance(f, dict) and _wanted(f, collections)]
        rejected = [
            Rejected(
                item_id=f"feature {at + i + 1}", reason="not a JSON object (a STAC item is one)"
            )
            for i, f in enumerate(chunk)
            if not isinstance(f, dict)
        ]
        end = at + len(chunk)
        yield Batch(
            items=items,
            rejected=rejected,
            cursor={"index": end} if end < len(features) else None,
            total=len(features),
        )
