"""Absolute URLs of the STAC API and of the tile endpoints items point to.

Everything hangs off one base URL (``request.base_url`` in the router) so the plain functions
building items and collections need no request, and links stay right behind a proxy prefix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

GEOJSON = "application/geo+json"
JSON = "application/json"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
SCHEMA = "application/schema+json"
COG = "image/tiff; application=geotiff; profile=cloud-optimized"
PNG = "image/png"
MVT = "application/vnd.mapbox-vector-tile"
XML = "application/xml"


def link(rel: str, href: str, media_type: str | None = None, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"rel": rel, "href": href}
    if media_type:
        out["type"] = media_type
    out.update(extra)
    return out


def with_query(url: str, **params: str) -> str:
    """``url`` with the given query parameters set (replacing any of the same name)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    query.extend(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


@dataclass(frozen=True)
class StacUrls:
    """URL builder for one base (e.g. ``http://host:8000``, no trailing slash)."""

    base: str

    @classmethod
    def from_base(cls, base_url: str) -> StacUrls:
        return cls(base_url.rstrip("/"))

    # the STAC API ---------------------------------------------------------------------------
    @property
    def root(self) -> str:
        return f"{self.base}/stac"

    @property
    def conformance(self) -> str:
        return f"{self.root}/conformance"

    @property
    def collections(self) -> str:
        return f"{self.root}/collections"

    @property
    def search(self) -> str:
        return f"{self.root}/search"

    @property
    def queryables(self) -> str:
        return f"{self.root}/queryables"

    @property
    def openapi(self) -> str:
        return f"{self.base}/openapi.json"

    @property
    def service_desc(self) -> str:
        """The OpenAPI document served as ``application/vnd.oai.openapi+json;version=3.0``."""
        return f"{self.root}/api"

    @property
    def docs(self) -> str:
        return f"{self.base}/docs"

    def collection(self, collection_id: str) -> str:
        return f"{self.collections}/{collection_id}"

    def collection_queryables(self, collection_id: str) -> str:
        return f"{self.collection(collection_id)}/queryables"

    def items(self, collection_id: str) -> str:
        return f"{self.collection(collection_id)}/items"

    def item(self, collection_id: str, item_id: str) -> str:
        return f"{self.items(collection_id)}/{item_id}"

    # what items point to --------------------------------------------------------------------
    def dataset(self, dataset_id: str) -> str:
        return f"{self.base}/datasets/{dataset_id}"

    def download(self, dataset_id: str) -> str:
        return f"{self.dataset(dataset_id)}/download"

    def thumbnail(self, dataset_id: str) -> str:
        return f"{self.dataset(dataset_id)}/thumbnail.png"

    def raster_tiles(self, dataset_id: str, query: str = "") -> str:
        url = f"{self.base}/raster/{dataset_id}/tiles/WebMercatorQuad/{{z}}/{{x}}/{{y}}.png"
        return f"{url}?{query}" if query else url

    def raster_tilejson(self, dataset_id: str, query: str = "") -> str:
        url = f"{self.base}/raster/{dataset_id}/WebMercatorQuad/tilejson.json"
        return f"{url}?{query}" if query else url

    def raster_wmts(self, dataset_id: str, query: str = "") -> str:
        url = f"{self.base}/raster/{dataset_id}/WMTSCapabilities.xml"
        return f"{url}?{query}" if query else url

    def vector_tiles(self, dataset_id: str) -> str:
        return f"{self.base}/vectors/{dataset_id}/tiles/{{z}}/{{x}}/{{y}}.mvt"

    def vector_tilejson(self, dataset_id: str) -> str:
        return f"{self.base}/vectors/{dataset_id}/tilejson.json"
