"""What SOURCE names: a configured source id, a STAC API URL, a static catalog, or an items
file (ndjson or an ItemCollection), and how it is shown without its credentials.

Over HTTP (``POST /harvests``) only configured source ids are accepted, never a URL a client
chose; the CLI, run by an admin on the server, may name any URL or file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from tileserver.errors import InvalidInput, NotFoundError
from tileserver.settings import Settings

Kind = Literal["api", "static", "file"]
ITEM_FILE_SUFFIXES = (".ndjson", ".jsonl", ".geojson", ".geojsonl")


@dataclass(frozen=True)
class Source:
    kind: Kind
    location: str  # a URL or an absolute path; may carry credentials only in its headers
    source_id: str | None = None  # the configured source (datasets.source), or None
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    collections: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """What reports, runs and logs show: the id, or the location without secrets."""
        return self.source_id or shown(self.location)


def shown(location: str) -> str:
    """A URL without user info, query or fragment (tokens live there); a path as it is."""
    if "://" not in location or location.startswith("file://"):
        return location
    parts = urlsplit(location)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def kind_of(location: str) -> Kind:
    """By the name: ``*.ndjson`` (and friends) and other non-catalog ``*.json`` files are item
    files; ``catalog.json`` / ``collection.json`` are static catalogs; a URL without a
    ``.json`` name is a STAC API root."""
    name = urlsplit(location).path.rsplit("/", 1)[-1].lower()
    if name.endswith(ITEM_FILE_SUFFIXES):
        return "file"
    if name in ("catalog.json", "collection.json"):
        return "static"
    if name.endswith(".json"):
        return "static" if _is_catalog_file(location) else "file"
    if "://" in location and not location.startswith("file://"):
        return "api"
    return "file"


def _is_catalog_file(location: str) -> bool:
    """A local ``*.json`` that is a Catalog or Collection rather than an ItemCollection."""
    path = _local_path(location)
    if path is None:
        return False
    try:
        with path.open("rb") as f:
            head = f.read(4096).decode("utf-8", "replace")
    except OSError:
        return False
    return '"Catalog"' in head or '"Collection"' in head


def _local_path(location: str) -> Path | None:
    if location.startswith("file://"):
        return Path(location.removeprefix("file://"))
    if "://" in location:
        return None
    return Path(location)


def resolve(settings: Settings, source: str, *, configured_only: bool = False) -> Source:
    """``source`` as a ``Source``: a configured id first, else (CLI only) a URL or a path."""
    configured = settings.stac_source(source)
    if configured is not None:
        return Source(
            kind=kind_of(configured.url),
            location=configured.url,
            source_id=configured.id,
            headers=dict(configured.headers),
            collections=tuple(configured.collections),
        )
    if configured_only:
        known = ", ".join(s.id for s in settings.stac_sources) or "none configured"
        raise NotFoundError(f"No STAC source '{source[:64]}' is configured (known: {known}).")
    if source.startswith(("http://", "https://")):
        return Source(kind=kind_of(source), location=source)
    path = _local_path(source)
    if path is None:
        raise InvalidInput("SOURCE is a configured source id, an http(s) URL or a file.")
    path = path.expanduser().resolve()
    if not path.is_file():
        raise InvalidInput(f"SOURCE {source!r} is neither a configured source id nor a file.")
    return Source(kind=kind_of(str(path)), location=str(path))
