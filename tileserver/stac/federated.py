"""Federated item search: the local catalog and admin-configured remote STAC APIs in one result.

Each remote source is searched with its ``POST /search`` (its ``headers`` sent, never shown),
all at once in threads, each bounded by ``stac_source_timeout_s``. Items are merged by the
search's sort order (default: newest first) and marked ``properties["cogsight:source"]``; remote
items keep their own links. A source that fails or times out is reported in
``cogsight:sources`` with a short reason and leaves the rest of the search standing.

Paging: the ``token`` of a federated page encodes every source's position: the local offset,
and for a remote source the page to ask for (what its ``next`` link changed in the body, or
its ``next`` URL, which must lie under the source's configured URL) plus how many items of that
page were already shown. A page takes at most ``limit`` items; it stops early rather than
guess the order when a source's fetched page runs out before its next page is read.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel

from tileserver.auth.access import Viewer
from tileserver.catalog import Catalog
from tileserver.errors import InvalidInput, NotFoundError, SourceUnavailable
from tileserver.settings import Settings, StacSource
from tileserver.stac.items import dataset_to_item
from tileserver.stac.links import StacUrls
from tileserver.stac.paging import encode_token
from tileserver.stac.params import DEFAULT_LIMIT, SearchRequest, SortField, split_list
from tileserver.stac.search import search_datasets

LOCAL = "local"
SOURCE_PROPERTY = "cogsight:source"
TOKEN_PREFIX = "fed1."
MAX_TOKEN_CHARS = 64_000
USER_AGENT = "cogsight federated search"


class SourceNotFound(NotFoundError):
    """No such federated source, collection at it, or item in it."""

    code = "source_item_not_found"


class SourceInfo(BaseModel):
    """A source a viewer can pick (no URL, no credentials)."""

    id: str
    title: str
    kind: str  # "local" | "stac-api"
    collections: list[str]


class SourceStatus(BaseModel):
    """How one source answered this page."""

    id: str
    status: str  # "ok" | "error" | "done" (no more items) | "skipped"
    returned: int = 0
    matched: int | None = None
    error: str | None = None


@dataclass
class FederatedPage:
    features: list[dict[str, Any]]
    matched: int | None
    next_token: str | None
    statuses: list[SourceStatus]


# -- sources ---------------------------------------------------------------------------------


def federated_sources(settings: Settings) -> list[StacSource]:
    return [s for s in settings.stac_sources if s.federated]


def list_sources(settings: Settings) -> list[SourceInfo]:
    """The local catalog first, then each federated source, as the viewer lists them."""
    local = SourceInfo(id=LOCAL, title="This catalog", kind="local", collections=[])
    return [local] + [
        SourceInfo(id=s.id, title=s.title or s.id, kind="stac-api", collections=s.collections)
        for s in federated_sources(settings)
    ]


def parse_sources(value: Any, settings: Settings) -> list[str] | None:
    """``sources`` as given (a list, or comma-separated in a query): known ids in order, or
    None when absent (a local search, exactly as before)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = split_list(value)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidInput('sources must be a list of source ids, e.g. ["local"].')
    known = [s.id for s in list_sources(settings)]
    unknown = [v for v in value if v not in known]
    if unknown:
        raise InvalidInput(
            f"Unknown source '{unknown[0][:64]}'; sources: {', '.join(known)} (GET /stac/sources)."
        )
    chosen = list(dict.fromkeys(value))
    if not chosen:
        raise InvalidInput("sources must name at least one source.")
    return chosen


# -- paging tokens ---------------------------------------------------------------------------


def encode_positions(positions: dict[str, Any]) -> str:
    raw = json.dumps(positions, separators=(",", ":")).encode()
    return TOKEN_PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_positions(token: str, sources: list[str]) -> dict[str, Any]:
    """Each chosen source's position; a source absent from the token is exhausted."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > MAX_TOKEN_CHARS:
        raise InvalidInput("Invalid paging token for this search.")
    body = token.removeprefix(TOKEN_PREFIX)
    try:
        data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidInput("Invalid paging token for this search.") from None
    if not isinstance(data, dict) or not set(data) <= set(sources):
        raise InvalidInput("Invalid paging token for this search (other sources).")
    for sid, pos in data.items():
        valid = (
            isinstance(pos.get("o"), int) and pos["o"] >= 0
            if sid == LOCAL
            else isinstance(pos, dict)
            and isinstance(pos.get("s", 0), int)
            and pos.get("s", 0) >= 0
            and isinstance(pos.get("b", {}), dict)
            and isinstance(pos.get("h", ""), str)
        )
        if not isinstance(pos, dict) or not valid:
            raise InvalidInput("Invalid paging token for this search.")
    return data


# -- one source ------------------------------------------------------------------------------


@dataclass
class Fetched:
    """A page from one source: its items from the position on, and where the next page is."""

    items: list[dict[str, Any]]
    matched: int | None
    next_position: Any  # the position of the page after this one; None: none
    position: dict[str, Any] = field(default_factory=dict)


def remote_body(request: SearchRequest, source: StacSource, limit: int) -> dict[str, Any] | None:
    """The ``POST /search`` body for a source, or None when it offers none of the asked-for
    collections. cql2-text filters are sent as cql2-json (what every STAC API accepts)."""
    body = request.body()
    for key in ("token", "intersects_dataset", "filter-crs"):
        body.pop(key, None)
    body["limit"] = limit
    if source.collections:
        wanted = request.collections or source.collections
        offered = [c for c in wanted if c in source.collections]
        if not offered:
            return None
        body["collections"] = offered
    if isinstance(request.filter, str):
        import cql2

        body["filter"] = cql2.parse_text(request.filter).to_json()
        body["filter-lang"] = "cql2-json"
    return body


def _api_root(source: StacSource) -> str:
    return source.url.rstrip("/")


def _same_source(href: str, source: StacSource) -> bool:
    """A ``next`` URL is followed only under the source's configured URL (tokens come from
    clients: never a way to make this server fetch anything else)."""
    root = urlsplit(_api_root(source) + "/")
    url = urlsplit(href)
    return (
        (url.scheme, url.netloc) == (root.scheme, root.netloc)
        and url.path.startswith(root.path)
        and not url.username
    )


def _client(source: StacSource, timeout: float) -> httpx.Client:
    headers = {"User-Agent": USER_AGENT, "Accept": "application/geo+json, application/json"}
    headers.update(source.headers)
    return httpx.Client(timeout=timeout, headers=headers, follow_redirects=False)


class SourceError(Exception):
    """A short, safe reason (no URL, no header) a source failed."""


def _answer(response: httpx.Response) -> dict[str, Any]:
    if response.status_code >= 400:
        raise SourceError(f"the source answered HTTP {response.status_code}")
    try:
        data = response.json()
    except ValueError:
        raise SourceError("the source's answer is not JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("features"), list):
        raise SourceError("the source's answer is not a STAC ItemCollection")
    return data


def _next_position(
    data: dict[str, Any], sent: dict[str, Any], source: StacSource
) -> dict[str, Any] | None:
    for lk in data.get("links") or []:
        if not isinstance(lk, dict) or lk.get("rel") != "next" or not lk.get("href"):
            continue
        if str(lk.get("method", "GET")).upper() == "POST":
            raw = lk.get("body")
            body: dict[str, Any] = raw if isinstance(raw, dict) else {}
            merged = body if lk.get("merge") is False or not body else {**sent, **body}
            changed = {k: v for k, v in merged.items() if sent.get(k) != v}
            return {"b": changed, "s": 0}
        href = str(lk["href"])
        return {"h": href, "s": 0} if _same_source(href, source) else None
    return None


def fetch_remote(
    source: StacSource, body: dict[str, Any], position: dict[str, Any], timeout: float
) -> Fetched:
    """One page of a remote search from ``position`` (``{}``: the first page)."""
    skip = int(position.get("s", 0))
    try:
        with _client(source, timeout) as client:
            if position.get("h"):
                href = str(position["h"])
                if not _same_source(href, source):
                    raise InvalidInput("Invalid paging token for this search.")
                response = client.get(href)
                sent = body
            else:
                # a token changes only the paging keys, never what or where is searched
                paging = {
                    k: v for k, v in position.get("b", {}).items() if k not in body or k == "limit"
                }
                sent = {**body, **paging}
                response = client.post(f"{_api_root(source)}/search", json=sent)
            data = _answer(response)
    except httpx.TimeoutException:
        raise SourceError(f"no answer within {timeout:g} s") from None
    except httpx.HTTPError:
        raise SourceError("the source could not be reached") from None
    items = [f for f in data["features"] if isinstance(f, dict) and f.get("id")]
    matched = data.get("numberMatched")
    if matched is None and isinstance(data.get("context"), dict):
        matched = data["context"].get("matched")
    return Fetched(
        items=items[skip:],
        matched=matched if isinstance(matched, int) else None,
        next_position=_next_position(data, sent, source),
        position=position,
    )


def fetch_local(
    catalog: Catalog,
    settings: Settings,
    viewer: Viewer,
    request: SearchRequest,
    offset: int,
    urls: StacUrls,
) -> Fetched:
    local = request.model_copy(update={"token": encode_token(offset) if offset else None})
    page = search_datasets(catalog, local, settings, viewer)
    items = [dataset_to_item(r, urls) for r in page.records]
    after = offset + len(items)
    return Fetched(
        items=items,
        matched=page.matched,
        next_position={"o": after} if page.next_token else None,
        position={"o": offset},
    )


# -- merge -----------------------------------------------------------------------------------


def _sort_value(item: dict[str, Any], name: str) -> Any:
    name = name.removeprefix("properties.")
    if name == "id":
        return str(item.get("id", ""))
    value = (item.get("properties") or {}).get(name)
    if name in ("datetime", "created") and isinstance(value, str):
        try:
            when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            return (when if when.tzinfo else when.replace(tzinfo=dt.UTC)).timestamp()
        except ValueError:
            return None
    return value if isinstance(value, (int, float, str)) else None


def item_order(sortby: list[SortField] | None) -> Callable[[dict[str, Any]], Any]:
    """A sort key for items from any source: the search's sort (default newest first), None
    last, then id."""
    fields = sortby or [SortField(field="datetime", direction="desc")]

    def compare(a: dict[str, Any], b: dict[str, Any]) -> int:
        for f in [*fields, SortField(field="id")]:
            va, vb = _sort_value(a, f.field), _sort_value(b, f.field)
            if va == vb:
                continue
            if va is None or vb is None:
                return 1 if va is None else -1
            try:
                less = va < vb
            except TypeError:
                less = str(va) < str(vb)
            sign = -1 if less else 1
            return -sign if f.direction == "desc" else sign
        return 0

    return functools.cmp_to_key(compare)


def merge(
    fetched: dict[str, Fetched], order: list[str], limit: int, key: Callable[[Any], Any]
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Take up to ``limit`` items in sort order; stop when a source with more pages has
    nothing fetched left (its next item might come first)."""
    heads = {sid: 0 for sid in fetched}
    out: list[dict[str, Any]] = []
    while len(out) < limit:
        blocked = any(
            heads[s] >= len(f.items) and f.next_position is not None for s, f in fetched.items()
        )
        candidates = [s for s in order if s in fetched and heads[s] < len(fetched[s].items)]
        if blocked or not candidates:
            break
        best = min(candidates, key=lambda s: key(fetched[s].items[heads[s]]))
        out.append(fetched[best].items[heads[best]])
        heads[best] += 1
    return out, heads


def _position_after(sid: str, got: Fetched, taken: int) -> Any:
    if sid == LOCAL:
        start = int(got.position.get("o", 0))
        return {"o": start + taken} if taken < len(got.items) else got.next_position
    if taken < len(got.items):
        return {**got.position, "s": int(got.position.get("s", 0)) + taken}
    return got.next_position


# -- the search ------------------------------------------------------------------------------


def federated_search(
    catalog: Catalog,
    settings: Settings,
    viewer: Viewer,
    request: SearchRequest,
    sources: list[str],
    urls: StacUrls,
) -> FederatedPage:
    """One page of a search over ``sources`` (``local`` and federated source ids)."""
    limit = request.limit or DEFAULT_LIMIT
    if request.token:
        positions = decode_positions(request.token, sources)
    else:
        positions = {sid: ({"o": 0} if sid == LOCAL else {}) for sid in sources}
    if request.intersects_dataset is not None and sources != [LOCAL]:
        raise InvalidInput("intersects_dataset searches only the local catalog; use intersects.")
    timeout = settings.stac_source_timeout_s
    statuses: dict[str, SourceStatus] = {
        sid: SourceStatus(id=sid, status="done") for sid in sources if sid not in positions
    }
    fetched: dict[str, Fetched] = {}
    remote_jobs: dict[str, Any] = {}
    pool = ThreadPoolExecutor(max_workers=max(1, len(positions)), thread_name_prefix="federated")
    try:
        for sid, pos in positions.items():
            if sid == LOCAL:
                continue
            source = settings.stac_source(sid)
            assert source is not None  # parse_sources checked it
            body = remote_body(request, source, limit)
            if body is None:
                statuses[sid] = SourceStatus(
                    id=sid, status="skipped", error="offers none of the collections asked for"
                )
                continue
            remote_jobs[sid] = pool.submit(fetch_remote, source, body, pos, timeout)
        if LOCAL in positions:
            local = request.model_copy(update={"token": None})
            fetched[LOCAL] = fetch_local(
                catalog, settings, viewer, local, int(positions[LOCAL]["o"]), urls
            )
        deadline = time.monotonic() + timeout + 2
        for sid, job in remote_jobs.items():
            try:
                fetched[sid] = job.result(timeout=max(0.0, deadline - time.monotonic()))
            except FutureTimeout:
                statuses[sid] = SourceStatus(
                    id=sid, status="error", error=f"no answer within {timeout:g} s"
                )
            except SourceError as exc:
                statuses[sid] = SourceStatus(id=sid, status="error", error=str(exc))
    finally:
        pool.shutdown(wait=False, cancel_futures=True)

    features, taken = merge(fetched, sources, limit, item_order(request.sortby))
    next_positions: dict[str, Any] = {}
    for sid, got in fetched.items():
        after = _position_after(sid, got, taken[sid])
        if not features and after == got.position and got.next_position is not None:
            after = got.next_position  # an empty page that says there is more: go on
        if after is not None:
            next_positions[sid] = after
        statuses[sid] = SourceStatus(id=sid, status="ok", returned=taken[sid], matched=got.matched)
    marked = _with_sources(features, fetched)
    matches = [s.matched for s in statuses.values() if s.status == "ok"]
    matched = sum(m for m in matches if m is not None) if None not in matches else None
    if any(s.status == "error" for s in statuses.values()):
        matched = None  # unknown: a source did not answer
    return FederatedPage(
        features=marked,
        matched=matched,
        next_token=encode_positions(next_positions) if next_positions else None,
        statuses=[statuses[s] for s in sources if s in statuses],
    )


def _with_sources(
    features: list[dict[str, Any]], fetched: dict[str, Fetched]
) -> list[dict[str, Any]]:
    """Each item with ``properties["cogsight:source"]`` (a copy; remote links kept)."""
    owner = {id(item): sid for sid, got in fetched.items() for item in got.items}
    out = []
    for item in features:
        props = dict(item.get("properties") or {})
        props[SOURCE_PROPERTY] = owner[id(item)]
        out.append({**item, "properties": props})
    return out


def federated_collection(page: FederatedPage, links: list[dict[str, Any]]) -> dict[str, Any]:
    """The page as a STAC ItemCollection plus ``cogsight:sources`` (how each source did)."""
    result: dict[str, Any] = {
        "type": "FeatureCollection",
        "features": page.features,
        "links": links,
        "numberReturned": len(page.features),
        "cogsight:sources": [s.model_dump(exclude_none=True) for s in page.statuses],
    }
    if page.matched is not None:
        result["numberMatched"] = page.matched
    return result


# -- add a remote item to the catalog --------------------------------------------------------


def fetch_source_item(
    settings: Settings, source_id: str, collection: str, item_id: str
) -> dict[str, Any]:
    """The item ``collection/item_id`` as the configured source serves it, found by its item
    search (``ids`` + ``collections``): the URL is always the admin's, never a client's."""
    source = settings.stac_source(source_id)
    if source is None or not source.federated:
        raise SourceNotFound(f"No source '{source_id[:64]}' (GET /stac/sources).")
    if source.collections and collection not in source.collections:
        raise SourceNotFound(f"Source '{source.id}' offers no collection '{collection[:64]}'.")
    body = {"collections": [collection], "ids": [item_id], "limit": 1}
    try:
        got = fetch_remote(source, body, {}, settings.stac_source_timeout_s)
    except SourceError as exc:
        raise SourceUnavailable(f"Source '{source.id}': {exc}.") from None
    for item in got.items:
        if item.get("id") == item_id and item.get("collection") == collection:
            return item
    raise SourceNotFound(f"No item '{item_id[:100]}' in '{collection[:64]}' at '{source.id}'.")


def registered_from_source(catalog: Catalog, source_id: str, external_id: str) -> Any:
    """The dataset already registered for this source item, or None."""
    from sqlalchemy import select

    from tileserver.catalog.repository import _dataset_from_row
    from tileserver.catalog.tables import DatasetRow

    with catalog.session() as session:
        row = session.scalars(
            select(DatasetRow).where(
                DatasetRow.source == source_id, DatasetRow.external_id == external_id
            )
        ).first()
        return _dataset_from_row(row) if row is not None else None


def add_from_source(
    catalog: Catalog,
    settings: Settings,
    viewer: Viewer,
    owner: str | None,
    source_id: str,
    collection: str,
    item_id: str,
) -> Any:
    """Register a remote search result as a dataset (public, like the source's item; owned by
    the caller), or return the one registered before: idempotent by source + external id."""
    existing = registered_from_source(catalog, source_id, f"{collection}/{item_id}")
    if existing is not None and viewer.sees(existing):
        return existing
    item = fetch_source_item(settings, source_id, collection, item_id)
    from tileserver.scenes.register import register_item  # the scenes package's contract

    return register_item(catalog, settings, item, source=source_id, owner=owner)
