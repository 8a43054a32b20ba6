"""The STAC API landing page and its conformance classes."""

from __future__ import annotations

from typing import Any

from tileserver import __version__
from tileserver.stac.collections import STAC_VERSION
from tileserver.stac.links import GEOJSON, JSON, OPENAPI, SCHEMA, StacUrls, link

OGC_CQL2 = "http://www.opengis.net/spec/cql2/1.0/conf"
OGC_FEATURES_3 = "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf"
CONFORMANCE = [
    "https://api.stacspec.org/v1.0.0/core",
    "https://api.stacspec.org/v1.0.0/collections",
    "https://api.stacspec.org/v1.0.0/ogcapi-features",
    "https://api.stacspec.org/v1.0.0/item-search",
    "https://api.stacspec.org/v1.0.0/item-search#sort",
    "https://api.stacspec.org/v1.0.0-rc.2/item-search#filter",
    "https://api.stacspec.org/v1.0.0-rc.2/ogcapi-features#filter",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    f"{OGC_FEATURES_3}/queryables",
    f"{OGC_FEATURES_3}/filter",
    f"{OGC_FEATURES_3}/features-filter",
    f"{OGC_CQL2}/basic-cql2",
    f"{OGC_CQL2}/cql2-text",
    f"{OGC_CQL2}/cql2-json",
    f"{OGC_CQL2}/basic-spatial-functions",
    f"{OGC_CQL2}/basic-spatial-functions-plus",
    f"{OGC_CQL2}/spatial-functions",
    f"{OGC_CQL2}/temporal-functions",
    f"{OGC_CQL2}/array-functions",
]
"""Declared only where tests pass (tests/stac: the validator, pystac-client, each function).
LIKE, BETWEEN and IN work too, but ``advanced-comparison-operators`` is not declared:
stac-api-validator tests it on a property ``mission`` that items here do not have, and an
unknown property is a 400 here, not an empty result."""

QUERYABLES_REL = "http://www.opengis.net/def/rel/ogc/1.0/queryables"


def landing_page(urls: StacUrls, collection_ids: list[str]) -> dict[str, Any]:
    """The root Catalog: what the API conforms to and where everything is."""
    return {
        "type": "Catalog",
        "stac_version": STAC_VERSION,
        "id": "cogsight",
        "title": "cogsight STAC API",
        "description": "Rasters and vectors served by cogsight, searchable as STAC items.",
        "cogsight:version": __version__,
        "conformsTo": CONFORMANCE,
        "links": [
            link("self", urls.root, JSON),
            link("root", urls.root, JSON),
            link("conformance", urls.conformance, JSON),
            link("data", urls.collections, JSON),
            link("search", urls.search, GEOJSON, method="GET", title="Item search (GET)"),
            link("search", urls.search, GEOJSON, method="POST", title="Item search (POST)"),
            link(QUERYABLES_REL, urls.queryables, SCHEMA),
            link("service-desc", urls.service_desc, OPENAPI),
            link("service-doc", urls.docs, "text/html"),
            *(link("child", urls.collection(c), JSON) for c in collection_ids),
        ],
    }


def conformance() -> dict[str, list[str]]:
    return {"conformsTo": CONFORMANCE}
