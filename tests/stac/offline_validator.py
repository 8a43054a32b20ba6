"""Run stac-api-validator with no internet: JSON schemas come from ``tests/stac/schemas``.

The validator (and stac-validator / stac-check under it) fetch every schema with ``requests``.
This launcher wraps requests' transport adapter: a schema URL is answered from the bundled
file at ``schemas/<host>/<path>`` (draft-07's meta-schema from ``jsonschema_specifications``),
loopback goes to the server under test, and anything else fails loudly with the URL, so a
schema that is missing from the bundle shows up as an error instead of a silent pass.

Usage: ``python tests/stac/offline_validator.py --root-url http://127.0.0.1:PORT/stac ...``
(the validator's own arguments).
"""

from __future__ import annotations

import json
import sys
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

SCHEMAS = Path(__file__).resolve().parent / "schemas"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
REFUSED: list[str] = []

_send = HTTPAdapter.send


def _bundled(host: str, path: str) -> bytes | None:
    if host == "json-schema.org" and path.rstrip("/#").endswith("draft-07/schema"):
        draft7 = resources.files("jsonschema_specifications") / "schemas/draft7/metaschema.json"
        return draft7.read_bytes()
    file = (SCHEMAS / host / path.lstrip("/")).resolve()
    if SCHEMAS in file.parents and file.is_file():
        return file.read_bytes()
    return None


def _offline_send(self: HTTPAdapter, request: requests.PreparedRequest, **kwargs: Any) -> Any:
    parts = urlsplit(request.url or "")
    host = parts.hostname or ""
    if host in LOOPBACK:
        return _send(self, request, **kwargs)
    body = _bundled(host, parts.path)
    if body is None:
        REFUSED.append(str(request.url))
        print(f"offline_validator: no bundled file for {request.url}", file=sys.stderr)
        raise requests.ConnectionError(f"offline: {request.url} is not bundled")
    response = requests.Response()
    response.status_code = 200
    response._content = body
    response.headers["Content-Type"] = "application/schema+json"
    response.url = str(request.url)
    response.request = request
    json.loads(body)  # a broken bundle fails here, not deep inside a validator
    return response


def main() -> None:
    HTTPAdapter.send = _offline_send  # type: ignore[method-assign]
    from stac_api_validator.__main__ import main as validator

    validator(args=sys.argv[1:], prog_name="stac-api-validator")


if __name__ == "__main__":
    main()
