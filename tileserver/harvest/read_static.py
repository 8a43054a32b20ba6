"""Items from a static STAC catalog (``catalog.json`` → children → item links), over HTTP or
from files, read with pystac's I/O.

The walk order is the catalog's link order, so the cursor is the number of item links already
handled: a resumed run skips them without fetching them again. Item documents are fetched a
batch at a time by a few threads. The source's headers go only to its own host.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urljoin, urlsplit

from pystac.stac_io import DefaultStacIO

from tileserver.errors import SourceUnavailable
from tileserver.harvest.batches import Batch, Rejected
from tileserver.harvest.options import HarvestOptions
from tileserver.harvest.sources import Source

FETCH_THREADS = 8
MAX_DEPTH = 8


def _join(base: str, href: str) -> str:
    if "://" in href or href.startswith("/"):
        return href
    return urljoin(base, href)


def _origin(href: str) -> tuple[str, str]:
    parts = urlsplit(href)
    return parts.scheme, parts.netloc


class _Reader:
    def __init__(self, source: Source) -> None:
        self.io = DefaultStacIO(headers=dict(source.headers))
        self.bare = DefaultStacIO()  # for links to other hosts: the credentials stay home
        self.home = _origin(source.location)
        self.label = source.label

    def json(self, href: str) -> dict[str, Any]:
        io = self.io if _origin(href) == self.home else self.bare
        try:
            value = json.loads(io.read_text(href))
        except json.JSONDecodeError:
            raise SourceUnavailable(f"{self.label}: a catalog document is not JSON.") from None
        except Exception as exc:  # urllib / file errors carry the URL; say what, not where
            raise SourceUnavailable(
                f"The static catalog {self.label} could not be read ({type(exc).__name__})."
            ) from None
        if not isinstance(value, dict):
            raise SourceUnavailable(f"{self.label}: a catalog document is not a JSON object.")
        return value

    def item_links(self, href: str, collections: set[str], depth: int = 0) -> Iterator[str]:
        """Item hrefs under the catalog at ``href``, depth first, in link order."""
        doc = self.json(href)
        if depth > MAX_DEPTH:
            return
        is_collection = doc.get("type") == "Collection"
        wanted = not collections or not is_collection or doc.get("id") in collections
        for link in doc.get("links") or []:
            rel, target = link.get("rel"), link.get("href")
            if not isinstance(target, str):
                continue
            if rel == "item" and wanted:
                yield _join(href, target)
            elif rel == "child":
                yield from self.item_links(_join(href, target), collections, depth + 1)


def read_static(
    source: Source, options: HarvestOptions, cursor: dict[str, Any] | None
) -> Iterator[Batch]:
    reader = _Reader(source)
    collections = set(options.collections or source.collections)
    links = list(reader.item_links(source.location, collections))
    done = int((cursor or {}).get("offset", 0))
    size = options.batch_size
    with ThreadPoolExecutor(FETCH_THREADS) as pool:
        for start in range(done, len(links), size):
            hrefs = links[start : start + size]
            fetched = list(pool.map(_fetch, [reader] * len(hrefs), hrefs))
            items = [f for f in fetched if isinstance(f, dict)]
            rejected = [f for f in fetched if isinstance(f, Rejected)]
            end = start + len(hrefs)
            yield Batch(
                items=items,
                rejected=rejected,
                cursor={"offset": end} if end < len(links) else None,
                total=len(links),
            )
    if done >= len(links):
        yield Batch(items=[], cursor=None, total=len(links))


def _fetch(reader: _Reader, href: str) -> dict[str, Any] | Rejected:
    name = href.rstrip("/").rsplit("/", 1)[-1].removesuffix(".json")
    try:
        return reader.json(href)
    except SourceUnavailable as exc:
        return Rejected(item_id=name, reason=str(exc))
