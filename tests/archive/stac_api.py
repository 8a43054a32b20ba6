"""A fake STAC archive on loopback: a STAC API (item search) and a static catalog, over HTTP.

No public archive is reachable from the test machines, so this speaks the same protocols as
Earth Search / Planetary Computer closely enough for pystac-client and pystac: a landing page
with conformance classes (core, item-search, filter), ``/collections``, ``GET``/``POST /search``
with ``bbox`` / ``intersects`` (by bbox) / ``datetime`` / ``collections`` / ``ids`` /
``limit`` / a small CQL2-JSON ``filter``, and ``next`` links carrying a ``token``; and a static
catalog at ``/static/catalog.json`` (catalog → one collection per collection id → item files).

It serves whatever item dicts it is given (``tests/archive/items.py``'s Earth Search-like items,
or items a test builds). Failure switches for tests: ``fail`` = ``"500"`` / ``"hang"`` /
``"malformed"`` answers every matching request that way (``fail_paths`` limits it to path
prefixes; ``fail_after`` lets that many matching requests through first), and
``required_headers`` answers 401 to requests without them (a credential check);
``page_delay`` slows every search page (to stop a harvest half way). Every request's
path, query and headers are kept in ``requests`` for assertions.

    with serve_stac_api(items) as api:
        Client.open(api.url).search(collections=["sentinel-2-l2a"], bbox=[...]).items()
        api.static_url   # the static catalog
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

CONFORMANCE = [
    "https://api.stacspec.org/v1.0.0/core",
    "https://api.stacspec.org/v1.0.0/collections",
    "https://api.stacspec.org/v1.0.0/ogcapi-features",
    "https://api.stacspec.org/v1.0.0/item-search",
    "https://api.stacspec.org/v1.0.0-rc.2/item-search#filter",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
]
DEFAULT_LIMIT = 10
MAX_LIMIT = 1000


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any = None


@dataclass
class FakeStacApi:
    """The server's state; change ``items`` or the failure switches between requests."""

    items: list[dict[str, Any]]
    url: str = ""
    fail: str | None = None  # "500" | "hang" | "malformed"
    fail_paths: tuple[str, ...] = ()
    fail_after: int = 0
    hang_seconds: float = 30.0
    page_delay: float = 0.0  # seconds before each search page (a slow archive)
    cache_json: bool = False  # encode each item once (benchmarks; items must not be mutated)
    static_links: list[dict[str, Any]] = field(default_factory=list)  # more catalog.json links
    required_headers: dict[str, str] = field(default_factory=dict)
    max_limit: int = MAX_LIMIT
    requests: list[Seen] = field(default_factory=list)
    _matched_failures: int = 0
    _encoded: dict[int, bytes] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def static_url(self) -> str:
        return f"{self.url}/static/catalog.json"

    def collection_ids(self) -> list[str]:
        return sorted({str(i.get("collection")) for i in self.items if i.get("collection")})

    def searches(self) -> list[Seen]:
        return [r for r in self.requests if r.path == "/search"]

    def should_fail(self, path: str) -> bool:
        if self.fail is None:
            return False
        if self.fail_paths and not path.startswith(self.fail_paths):
            return False
        with self._lock:
            self._matched_failures += 1
            return self._matched_failures > self.fail_after


# -- search semantics ------------------------------------------------------------------------


def _parse_instant(text: str, end: bool = False) -> datetime | None:
    if text in ("", ".."):
        return None
    if len(text) == 10:  # a date
        text += "T23:59:59.999999+00:00" if end else "T00:00:00+00:00"
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _interval(text: str) -> tuple[datetime | None, datetime | None]:
    if "/" in text:
        start, end = text.split("/", 1)
        return _parse_instant(start), _parse_instant(end, end=True)
    return _parse_instant(text), _parse_instant(text, end=True)


def _item_time(item: dict[str, Any]) -> datetime | None:
    props = item.get("properties") or {}
    text = props.get("datetime") or props.get("start_datetime")
    return _parse_instant(text) if isinstance(text, str) else None


def _item_bbox(item: dict[str, Any]) -> list[float] | None:
    bbox = item.get("bbox")
    if isinstance(bbox, list) and len(bbox) >= 4:
        return [float(v) for v in bbox[:2] + bbox[-2:]] if len(bbox) == 6 else bbox
    return None


def _geometry_bbox(geometry: dict[str, Any]) -> list[float]:
    xs: list[float] = []
    ys: list[float] = []

    def walk(coords: Any) -> None:
        if coords and isinstance(coords[0], (int, float)):
            xs.append(float(coords[0]))
            ys.append(float(coords[1]))
        else:
            for c in coords:
                walk(c)

    walk(geometry["coordinates"])
    return [min(xs), min(ys), max(xs), max(ys)]


def _filter_matches(expr: dict[str, Any], item: dict[str, Any]) -> bool:
    """A small CQL2-JSON: and / or / not over = <> < <= > >= on properties and ``collection``."""
    op = str(expr.get("op", "")).lower()
    args = expr.get("args", [])
    if op == "and":
        return all(_filter_matches(a, item) for a in args)
    if op == "or":
        return any(_filter_matches(a, item) for a in args)
    if op == "not":
        return not _filter_matches(args[0], item)

    def value(arg: Any) -> Any:
        if isinstance(arg, dict) and "property" in arg:
            name = arg["property"]
            if name in ("collection", "id"):
                return item.get(name)
            return (item.get("properties") or {}).get(name)
        return arg

    left, right = value(args[0]), value(args[1])
    if left is None or right is None:
        return False
    compare = {
        "=": lambda: left == right,
        "<>": lambda: left != right,
        "<": lambda: left < right,
        "<=": lambda: left <= right,
        ">": lambda: left > right,
        ">=": lambda: left >= right,
    }
    if op not in compare:
        raise ValueError(f"unsupported filter op {op!r}")
    return bool(compare[op]())


def search(api: FakeStacApi, params: dict[str, Any]) -> list[dict[str, Any]]:
    """The items matching ``params`` (already decoded to lists / numbers), in stored order."""
    collections = params.get("collections")
    ids = params.get("ids")
    bbox = params.get("bbox")
    if params.get("intersects"):
        bbox = _geometry_bbox(params["intersects"])
    start = end = None
    if params.get("datetime"):
        start, end = _interval(params["datetime"])
    flt = params.get("filter")
    out = []
    for item in api.items:
        if collections and item.get("collection") not in collections:
            continue
        if ids and item.get("id") not in ids:
            continue
        if bbox:
            ib = _item_bbox(item)
            if (
                ib is None
                or ib[0] > bbox[2]
                or ib[2] < bbox[0]
                or ib[1] > bbox[3]
                or ib[3] < bbox[1]
            ):
                continue
        if start or end:
            when = _item_time(item)
            if when is None or (start and when < start) or (end and when > end):
                continue
        if flt and not _filter_matches(flt, item):
            continue
        out.append(item)
    return out


# -- HTTP ------------------------------------------------------------------------------------


def _csv(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    return [v for part in values for v in part.split(",") if v]


def _first(query: dict[str, list[str]], key: str) -> str | None:
    values = query.get(key)
    return values[0] if values else None


def _get_params(query: dict[str, list[str]]) -> dict[str, Any]:
    params: dict[str, Any] = {
        "collections": _csv(query.get("collections")),
        "ids": _csv(query.get("ids")),
        "datetime": _first(query, "datetime"),
        "limit": int(_first(query, "limit") or DEFAULT_LIMIT),
        "token": _first(query, "token"),
    }
    if query.get("bbox"):
        params["bbox"] = [float(v) for v in _csv(query["bbox"]) or []]
    if query.get("intersects"):
        params["intersects"] = json.loads(query["intersects"][0])
    if query.get("filter"):
        text = query["filter"][0]
        params["filter"] = json.loads(text) if text.lstrip().startswith("{") else None
    return params


class _Handler(BaseHTTPRequestHandler):
    api: FakeStacApi
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # plumbing
    def _send(self, status: int, body: Any, content_type: str = "application/json") -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
            self.close_connection = True

    def _base(self) -> str:
        return self.api.url

    def _record(self, method: str, body: Any = None) -> tuple[str, dict[str, list[str]]]:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.api.requests.append(Seen(method, parts.path, query, headers, body))
        return parts.path, query

    def _gate(self, path: str) -> bool:
        """Credentials and failure switches; True when the request was answered here."""
        for key, value in self.api.required_headers.items():
            if self.headers.get(key) != value:
                self._send(401, {"code": "Unauthorized", "description": "missing credentials"})
                return True
        if self.api.should_fail(path):
            if self.api.fail == "500":
                self._send(500, {"code": "InternalServerError", "description": "boom"})
            elif self.api.fail == "hang":
                time.sleep(self.api.hang_seconds)
                self._send(504, {"code": "Timeout"})
            else:
                self._send(
                    200,
                    b'{"type": "FeatureCollection", "features": [ {"id": ',
                    "application/geo+json",
                )
            return True
        return False

    # routes
    def do_GET(self) -> None:
        path, query = self._record("GET")
        if self._gate(path):
            return
        if path in ("", "/"):
            return self._send(200, self._landing())
        if path == "/conformance":
            return self._send(200, {"conformsTo": CONFORMANCE})
        if path == "/collections":
            cols = [self._collection(c) for c in self.api.collection_ids()]
            return self._send(200, {"collections": cols, "links": []})
        if path.startswith("/collections/"):
            rest = path.removeprefix("/collections/").split("/")
            if rest[0] not in self.api.collection_ids():
                return self._send(404, {"code": "NotFound", "description": "no such collection"})
            if len(rest) == 1:
                return self._send(200, self._collection(rest[0]))
            if rest[1] == "items":
                params = _get_params(query)
                params["collections"] = [rest[0]]
                return self._page(params, f"{self._base()}{path}", query)
        if path == "/search":
            try:
                params = _get_params(query)
            except (ValueError, json.JSONDecodeError):
                return self._send(400, {"code": "BadRequest", "description": "bad parameters"})
            return self._page(params, f"{self._base()}/search", query)
        if path.startswith("/static/"):
            return self._static(path.removeprefix("/static/"))
        return self._send(404, {"code": "NotFound", "description": path})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b"{}"
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            body = None
        path, _query = self._record("POST", body)
        if self._gate(path):
            return
        if path != "/search":
            return self._send(404, {"code": "NotFound", "description": path})
        if not isinstance(body, dict):
            return self._send(400, {"code": "BadRequest", "description": "body is not JSON"})
        params = dict(body)
        params.setdefault("limit", DEFAULT_LIMIT)
        return self._page(params, f"{self._base()}/search", None, post_body=body)

    # documents
    def _landing(self) -> dict[str, Any]:
        base = self._base()
        links = [
            {"rel": "self", "href": f"{base}/", "type": "application/json"},
            {"rel": "root", "href": f"{base}/", "type": "application/json"},
            {"rel": "conformance", "href": f"{base}/conformance", "type": "application/json"},
            {"rel": "data", "href": f"{base}/collections", "type": "application/json"},
            {
                "rel": "search",
                "href": f"{base}/search",
                "type": "application/geo+json",
                "method": "GET",
            },
            {
                "rel": "search",
                "href": f"{base}/search",
                "type": "application/geo+json",
                "method": "POST",
            },
        ]
        links += [
            {"rel": "child", "href": f"{base}/collections/{c}", "type": "application/json"}
            for c in self.api.collection_ids()
        ]
        return {
            "type": "Catalog",
            "id": "fake-earth-search",
            "title": "Fake Earth Search",
            "description": "A STAC API on loopback for tests.",
            "stac_version": "1.0.0",
            "conformsTo": CONFORMANCE,
            "links": links,
        }

    def _collection(self, cid: str, static: bool = False) -> dict[str, Any]:
        base = self._base()
        members = [i for i in self.api.items if i.get("collection") == cid]
        boxes = [b for b in (_item_bbox(i) for i in members) if b]
        bbox = (
            [
                min(b[0] for b in boxes),
                min(b[1] for b in boxes),
                max(b[2] for b in boxes),
                max(b[3] for b in boxes),
            ]
            if boxes
            else [-180.0, -90.0, 180.0, 90.0]
        )
        if static:
            links = [
                {"rel": "root", "href": f"{base}/static/catalog.json", "type": "application/json"},
                {
                    "rel": "parent",
                    "href": f"{base}/static/catalog.json",
                    "type": "application/json",
                },
                {
                    "rel": "self",
                    "href": f"{base}/static/{cid}/collection.json",
                    "type": "application/json",
                },
            ] + [
                {
                    "rel": "item",
                    "href": f"{base}/static/{cid}/items/{i['id']}.json",
                    "type": "application/geo+json",
                }
                for i in members
            ]
        else:
            links = [
                {"rel": "self", "href": f"{base}/collections/{cid}", "type": "application/json"},
                {"rel": "root", "href": f"{base}/", "type": "application/json"},
                {
                    "rel": "items",
                    "href": f"{base}/collections/{cid}/items",
                    "type": "application/geo+json",
                },
            ]
        return {
            "type": "Collection",
            "id": cid,
            "stac_version": "1.0.0",
            "description": f"{cid} (fake)",
            "license": "proprietary",
            "extent": {"spatial": {"bbox": [bbox]}, "temporal": {"interval": [[None, None]]}},
            "links": links,
        }

    def _page(
        self,
        params: dict[str, Any],
        self_href: str,
        query: dict[str, list[str]] | None,
        post_body: dict[str, Any] | None = None,
    ) -> None:
        try:
            matched = search(self.api, params)
            limit = max(1, min(int(params.get("limit") or DEFAULT_LIMIT), self.api.max_limit))
            offset = int(params.get("token") or 0)
        except (ValueError, TypeError, KeyError):
            return self._send(400, {"code": "BadRequest", "description": "bad parameters"})
        page = matched[offset : offset + limit]
        if self.api.page_delay:
            time.sleep(self.api.page_delay)
        links: list[dict[str, Any]] = [
            {"rel": "root", "href": f"{self._base()}/", "type": "application/json"}
        ]
        if offset + limit < len(matched):
            token = str(offset + limit)
            if post_body is not None:
                links.append(
                    {
                        "rel": "next",
                        "href": self_href,
                        "method": "POST",
                        "type": "application/geo+json",
                        "body": {**post_body, "token": token},
                        "merge": False,
                    }
                )
            else:
                q = {k: v[0] for k, v in (query or {}).items() if k != "token"}
                q["token"] = token
                links.append(
                    {
                        "rel": "next",
                        "href": f"{self_href}?{urlencode(q)}",
                        "type": "application/geo+json",
                    }
                )
        head = {
            "type": "FeatureCollection",
            "links": links,
            "numberMatched": len(matched),
            "numberReturned": len(page),
            "context": {"matched": len(matched), "returned": len(page), "limit": limit},
        }
        if not self.api.cache_json:
            return self._send(200, {**head, "features": page}, "application/geo+json")
        encoded = self.api._encoded
        features = b",".join(
            encoded.get(id(i)) or encoded.setdefault(id(i), json.dumps(i).encode()) for i in page
        )
        body = json.dumps(head).encode()[:-1] + b', "features": [' + features + b"]}"
        self._send(200, body, "application/geo+json")

    def _static(self, rest: str) -> None:
        base = self._base()
        if rest == "catalog.json":
            links = [
                {"rel": "root", "href": f"{base}/static/catalog.json", "type": "application/json"},
                {"rel": "self", "href": f"{base}/static/catalog.json", "type": "application/json"},
            ] + [
                {
                    "rel": "child",
                    "href": f"{base}/static/{c}/collection.json",
                    "type": "application/json",
                }
                for c in self.api.collection_ids()
            ]
            links += self.api.static_links
            return self._send(
                200,
                {
                    "type": "Catalog",
                    "id": "fake-static",
                    "stac_version": "1.0.0",
                    "description": "A static catalog on loopback for tests.",
                    "links": links,
                },
            )
        parts = rest.split("/")
        if (
            len(parts) == 2
            and parts[1] == "collection.json"
            and parts[0] in self.api.collection_ids()
        ):
            return self._send(200, self._collection(parts[0], static=True))
        if len(parts) == 3 and parts[1] == "items" and parts[2].endswith(".json"):
            item_id = parts[2].removesuffix(".json")
            for item in self.api.items:
                if item.get("collection") == parts[0] and item.get("id") == item_id:
                    links = [
                        {
                            "rel": "root",
                            "href": f"{base}/static/catalog.json",
                            "type": "application/json",
                        },
                        {
                            "rel": "parent",
                            "href": f"{base}/static/{parts[0]}/collection.json",
                            "type": "application/json",
                        },
                        {
                            "rel": "collection",
                            "href": f"{base}/static/{parts[0]}/collection.json",
                            "type": "application/json",
                        },
                        {
                            "rel": "self",
                            "href": f"{base}/static/{rest}",
                            "type": "application/geo+json",
                        },
                    ]
                    return self._send(200, {**item, "links": links}, "application/geo+json")
        return self._send(404, {"code": "NotFound", "description": rest})


@contextmanager
def serve_stac_api(items: Sequence[dict[str, Any]] = (), **options: Any) -> Iterator[FakeStacApi]:
    """Serve ``items`` on a free loopback port for the ``with`` block; yields the state
    (``api.url``: the STAC API root, ``api.static_url``: the static catalog)."""
    api = FakeStacApi(items=list(items), **options)
    handler = type("Handler", (_Handler,), {"api": api})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    api.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def item_collection(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """A GeoJSON FeatureCollection (a STAC ItemCollection) of ``items``."""
    return {"type": "FeatureCollection", "features": list(items)}


try:  # a pytest fixture for test modules that import it (tests run without pytest too)
    import pytest

    @pytest.fixture
    def stac_api() -> Iterator[Any]:
        """A factory: ``api = stac_api(items, fail="500")`` starts a fake STAC API, stopped
        at the end of the test."""
        stack: list[Any] = []

        def start(items: Sequence[dict[str, Any]] = (), **options: Any) -> FakeStacApi:
            cm = serve_stac_api(items, **options)
            stack.append(cm)
            return cm.__enter__()

        yield start
        for cm in reversed(stack):
            cm.__exit__(None, None, None)

except ImportError:  # pragma: no cover
    pass


def main() -> None:
    """``python -m tests.archive.stac_api ITEMS.ndjson [MAX_LIMIT]``: serve the items until
    killed, in a process of its own; prints the API's URL on the first line."""
    import sys

    with open(sys.argv[1], encoding="utf-8") as f:
        items = [json.loads(line) for line in f if line.strip()]
    limit = int(sys.argv[2]) if len(sys.argv) > 2 else MAX_LIMIT
    with serve_stac_api(items, max_limit=limit, cache_json=True) as api:
        print(api.url, flush=True)
        threading.Event().wait()


if __name__ == "__main__":
    main()
