"""Items from a STAC API's item search (pystac-client), page by page.

The cursor is the ``next`` link of the last page in a committed batch (with the search's own
parameters, for links that merge them), so a resumed run asks for exactly the page after it.
A search endpoint or ``next`` link on another host is not followed: the source's credentials
go only to the source. Credentials travel as headers, never in a URL; pystac-client's debug
log of each request has them masked while a harvest runs.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import requests
from pystac import Link
from pystac.errors import STACError
from pystac_client import Client
from pystac_client.exceptions import APIError
from pystac_client.stac_api_io import StacApiIO
from requests import Request

from tileserver.errors import SourceUnavailable
from tileserver.harvest.batches import Batch
from tileserver.harvest.options import HarvestOptions
from tileserver.harvest.sources import Source, shown

MAX_PAGE = 1000  # the largest page STAC APIs commonly allow
TIMEOUT_S = 30.0


class _MaskSecrets(logging.Filter):
    """Replaces header values (API keys) in pystac-client's debug lines with ``***``."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if any(s in text for s in self.secrets):
            for secret in self.secrets:
                text = text.replace(secret, "***")
            record.msg, record.args = text, None
        return True


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc


FOREIGN = "links to another host"


def _same_host_only(home: tuple[str, str]) -> Callable[[Request], Request | None]:
    """A pystac-client request modifier refusing every request that leaves the source's host
    (a landing page, search endpoint or next link elsewhere): its headers are credentials."""

    def check(request: Request) -> None:
        if _origin(str(request.url)) != home:
            raise ValueError(f"{FOREIGN} ({shown(str(request.url))})")

    return check


def describe(error: BaseException, label: str, timeout: float) -> str:
    """One line a person can act on, with no URL query, header or token in it."""
    cause = f"{error} {error.__context__ or ''}"
    if FOREIGN in cause:
        where = cause[cause.index(FOREIGN) :].split(")")[0] + ")"
        return f"The STAC API {label} {where}; not followed with its credentials."
    if isinstance(error, STACError):
        return f"{label} does not answer as a STAC API (no STAC landing page)."
    if isinstance(error, APIError):
        status = getattr(error, "status_code", None)
        if status:
            hint = " (credentials refused)" if status in (401, 403) else ""
            return f"The STAC API {label} answered HTTP {status}{hint}."
        text = str(error)
        if "timed out" in text.lower() or "timeout" in text.lower():
            return f"The STAC API {label} did not answer within {timeout:g} s."
        return f"The STAC API {label} is not reachable (connection failed)."
    if isinstance(error, json.JSONDecodeError | ValueError):
        return f"The STAC API {label} answered something that is not STAC JSON."
    if isinstance(error, NotImplementedError):
        return f"{label} is not a STAC API with item search."
    return f"The STAC API {label} failed ({type(error).__name__})."


def read_api(
    source: Source,
    options: HarvestOptions,
    cursor: dict[str, Any] | None,
    timeout: float = TIMEOUT_S,
) -> Iterator[Batch]:
    """Batches of about ``options.batch_size`` items, each with the cursor that follows it."""
    label = source.label
    mask = _MaskSecrets(list(source.headers.values()))
    logger = logging.getLogger("pystac_client.stac_api_io")
    logger.addFilter(mask)
    try:
        guard = _same_host_only(_origin(source.location))
        io = StacApiIO(
            headers=source.headers, timeout=timeout, max_retries=2, request_modifier=guard
        )
        if cursor is None:
            try:
                # open() re-applies these to ``io`` (a missing one would be reset to none)
                client = Client.open(
                    source.location,
                    headers=source.headers,
                    request_modifier=guard,
                    stac_io=io,
                    timeout=timeout,
                )
                collections = options.collections or list(source.collections) or None
                search = client.search(
                    collections=collections,
                    bbox=options.bbox,
                    intersects=options.intersects,
                    datetime=options.datetime,
                    filter=options.filter,
                    limit=min(options.batch_size, MAX_PAGE),
                    method="POST",
                )
                parameters = search.get_parameters()
                first: Any = search.url
            except (
                APIError,
                STACError,
                ValueError,
                NotImplementedError,
                requests.RequestException,
            ) as exc:
                raise SourceUnavailable(describe(exc, label, timeout)) from None
        else:
            parameters = cursor["parameters"]
            first = Link.from_dict(cursor["next"])
        target = first.href if isinstance(first, Link) else str(first)
        if _origin(target) != _origin(source.location):
            raise SourceUnavailable(
                f"The STAC API {label} names a search endpoint on another host "
                f"({shown(target)}); not asked with its credentials."
            )
        yield from _pages(io, source, first, parameters, options.batch_size, label, timeout)
    finally:
        logger.removeFilter(mask)


def _pages(
    io: StacApiIO,
    source: Source,
    request: Any,
    parameters: dict[str, Any],
    batch_size: int,
    label: str,
    timeout: float,
) -> Iterator[Batch]:
    home = _origin(source.location)
    items: list[dict[str, Any]] = []
    total: int | None = None
    while request is not None:
        try:
            if isinstance(request, Link):
                page = io.read_json(request, parameters=parameters)
            else:
                page = io.read_json(request, method="POST", parameters=parameters)
        except (APIError, ValueError, requests.RequestException) as exc:
            raise SourceUnavailable(describe(exc, label, timeout)) from None
        if not isinstance(page, dict) or not isinstance(page.get("features", []), list):
            raise SourceUnavailable(f"The STAC API {label} answered a page that is not GeoJSON.")
        features = [f for f in page.get("features") or [] if isinstance(f, dict)]
        matched = page.get("numberMatched") or (page.get("context") or {}).get("matched")
        total = matched if isinstance(matched, int) else total
        items.extend(features)
        link = next((x for x in page.get("links") or [] if x.get("rel") == "next"), None)
        if link is not None and _origin(str(link.get("href", ""))) != home:
            raise SourceUnavailable(
                f"The STAC API {label} sent a next link to another host "
                f"({shown(str(link.get('href', '')))}); not followed with its credentials."
            )
        request = Link.from_dict(link) if link is not None and features else None
        if len(items) >= batch_size or request is None:
            cursor = {"next": link, "parameters": parameters} if request is not None else None
            yield Batch(items=items, cursor=cursor, total=total)
            items = []
