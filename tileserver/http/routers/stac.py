"""``/stac``: a STAC API (v1.0.0) over the catalog; thin HTTP over ``tileserver.stac``.

Every URL in a response is absolute, built from ``request.base_url``. Malformed parameters are
400s (``InvalidInput``), unknown collections and items 404s, through the app's error map.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from tileserver.auth.access import Viewer
from tileserver.auth.principal import get_principal
from tileserver.auth.schemas import Principal
from tileserver.catalog import Catalog
from tileserver.errors import DatasetNotFound, InvalidInput
from tileserver.http.dependencies import get_catalog, get_settings
from tileserver.http.routers.bodies import bounded_route
from tileserver.settings import Settings
from tileserver.stac.collections import (
    collection_dict,
    collection_id,
    get_collection,
    list_collections,
)
from tileserver.stac.federated import (
    SourceInfo,
    federated_collection,
    federated_search,
    list_sources,
    parse_sources,
)
from tileserver.stac.items import dataset_to_item, item_collection
from tileserver.stac.landing import conformance, landing_page
from tileserver.stac.links import GEOJSON, JSON, OPENAPI, SCHEMA, StacUrls, link, with_query
from tileserver.stac.params import (
    SearchRequest,
    parse_search_body,
    parse_search_query,
)
from tileserver.stac.queryables import queryables_schema
from tileserver.stac.search import SearchPage, search_datasets

FILTER_DOC = (
    "CQL2 (cql2-text or, with filter-lang=cql2-json, JSON) over /stac/queryables, e.g. "
    "\"eo:cloud_cover < 10 AND datetime >= TIMESTAMP('2020-01-01T00:00:00Z')\"."
)


SOURCES_DOC = (
    "cogsight: comma-separated source ids from /stac/sources (e.g. local,earth-search); "
    "absent: the local catalog only. Items are marked properties['cogsight:source'] and the "
    "response's cogsight:sources says how each source answered."
)


def _urls(request: Request) -> StacUrls:
    return StacUrls.from_base(str(request.base_url))


def _json(content: dict[str, Any], media_type: str = JSON) -> JSONResponse:
    return JSONResponse(content=content, media_type=media_type)


async def search_body(request: Request) -> SearchRequest:
    """The POST body, parsed here so a malformed one is a 400 like every other bad input."""
    raw = await request.body()
    if not raw.strip():
        return parse_search_body({})
    try:
        data = await request.json()
    except (ValueError, RecursionError):
        raise InvalidInput("The search body must be JSON.") from None
    if isinstance(data, dict) and "sources" in data:  # federated search: see search_post
        data = dict(data)
        request.state.stac_sources = data.pop("sources")
    return parse_search_body(data)


def _inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """A pydantic JSON schema with its ``$defs`` inlined, to embed in the OpenAPI document."""
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return walk(defs[ref.removeprefix("#/$defs/")])
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(schema)


def _search_body_schema() -> dict[str, Any]:
    schema = _inline_refs(SearchRequest.model_json_schema(by_alias=True))
    schema["properties"]["sources"] = {
        "type": "array",
        "items": {"type": "string"},
        "description": SOURCES_DOC.replace("comma-separated ", ""),
    }
    return schema


SEARCH_BODY_DOC = {
    "requestBody": {
        "required": False,
        "content": {"application/json": {"schema": _search_body_schema()}},
    }
}


def _page_response(
    page: SearchPage, urls: StacUrls, links: list[dict[str, Any]], next_link: dict | None
) -> JSONResponse:
    if next_link is not None:
        links = [*links, next_link]
    return _json(item_collection(page.records, urls, page.matched, links), GEOJSON)


async def get_viewer(
    principal: Principal = Depends(get_principal), settings: Settings = Depends(get_settings)
) -> Viewer:
    return Viewer(principal, settings.anonymous_read)


def build_stac_router() -> APIRouter:
    router = APIRouter(
        prefix="/stac", tags=["STAC"], route_class=bounded_route("max_json_body_bytes")
    )

    @router.get("", summary="STAC landing page")
    def landing(
        request: Request,
        catalog: Catalog = Depends(get_catalog),
        viewer: Viewer = Depends(get_viewer),
    ) -> JSONResponse:
        ids = [c.id for c in list_collections(catalog, viewer)]
        return _json(landing_page(_urls(request), ids))

    @router.get("/conformance", summary="Conformance classes")
    def conformance_classes() -> JSONResponse:
        return _json(conformance())

    @router.get("/api", summary="This API's OpenAPI document (the STAC service-desc)")
    def service_desc(request: Request) -> JSONResponse:
        return _json(request.app.openapi(), OPENAPI)

    @router.get("/queryables", summary="What `filter` may name (JSON Schema)")
    def queryables(request: Request) -> JSONResponse:
        urls = _urls(request)
        return _json(queryables_schema(urls.queryables), SCHEMA)

    @router.get("/collections/{cid}/queryables", summary="What `filter` may name in a collection")
    def collection_queryables(
        cid: str,
        request: Request,
        catalog: Catalog = Depends(get_catalog),
        viewer: Viewer = Depends(get_viewer),
    ) -> JSONResponse:
        get_collection(catalog, cid, viewer)
        return _json(queryables_schema(_urls(request).collection_queryables(cid)), SCHEMA)

    @router.get("/collections", summary="Collections (one per sensor, plus vectors)")
    def collections(
        request: Request,
        catalog: Catalog = Depends(get_catalog),
        viewer: Viewer = Depends(get_viewer),
    ) -> JSONResponse:
        urls = _urls(request)
        found = list_collections(catalog, viewer)
        return _json(
            {
                "collections": [collection_dict(c, urls) for c in found],
                "links": [
                    link("self", urls.collections, JSON),
                    link("root", urls.root, JSON),
                    link("parent", urls.root, JSON),
                ],
            }
        )

    @router.get("/collections/{cid}", summary="One collection")
    def collection(
        cid: str,
        request: Request,
        catalog: Catalog = Depends(get_catalog),
        viewer: Viewer = Depends(get_viewer),
    ) -> JSONResponse:
        return _json(collection_dict(get_collection(catalog, cid, viewer), _urls(request)))

    @router.get("/collections/{cid}/items", summary="Items of a collection")
    def collection_items(
        cid: str,
        request: Request,
        bbox: str | None = Query(None, description="west,south,east,north (WGS84)."),
        datetime: str | None = Query(None, description="RFC 3339 instant or interval."),
        limit: str | None = Query(None, description="Items per page, 1-1000 (default 10)."),
        filter_: str | None = Query(None, alias="filter", description=FILTER_DOC),
        filter_lang: str | None = Query(None, alias="filter-lang"),
        filter_crs: str | None = Query(None, alias="filter-crs"),
        token: str | None = Query(None, description="Paging token from a 'next' link."),
        catalog: Catalog = Depends(get_catalog),
        settings: Settings = Depends(get_settings),
        viewer: Viewer = Depends(get_viewer),
    ) -> JSONResponse:
        get_collection(catalog, cid, viewer)
        search = parse_search_query(
            {
                "bbox": bbox,
                "datetime": datetime,
                "limit": limit,
                "filter": filter_,
                "filter-lang": filter_lang,
                "filter-crs": filter_crs,
                "token": token,
            }
        ).model_copy(update={"collections": [cid]})
        page = search_datasets(catalog, search, settings, viewer)
        urls = _urls(request)
        links = [
            link("self", str(request.url), GEOJSON),
            link("root", urls.root, JSON),
            link("parent", urls.collection(cid), JSON),
            link("collection", urls.collection(cid), JSON),
        ]
        next_link = (
            link("next", with_query(str(request.url), token=page.next_token), GEOJSON)
            if page.next_token
            else None
        )
        return _page_response(page, urls, links, next_link)

    @router.get("/collections/{cid}/items/{item_id}", summary="One item")
    def item(
        cid: str,
        item_id: str,
        request: Request,
        catalog: Catalog = Depends(get_catalog),
        viewer: Viewer = Depends(get_viewer),
    ) -> JSONResponse:
        record = catalog.get_dataset(item_id)
        if collection_id(record) != cid or not viewer.sees(record):
            raise DatasetNotFound(f"No item '{item_id}' in collection '{cid}'.")
        return _json(dataset_to_item(record, _urls(request)), GEOJSON)

    @router.get("/sources", response_model=list[SourceInfo], summary="Sources to search")
    def sources(settings: Settings = Depends(get_settings)) -> list[SourceInfo]:
        """The local catalog and each federated remote STAC API, for ``sources`` in a search
        (ids and titles only: no URL, no credentials)."""
        return list_sources(settings)

    @router.get("/search", summary="Item search (GET)")
    def search_get(
        request: Request,
        bbox: str | None = Query(None, description="west,south,east,north (WGS84)."),
        intersects: str | None = Query(None, description="GeoJSON geometry, JSON-encoded."),
        intersects_dataset: str | None = Query(
            None, description="cogsight: id of a vector dataset to intersect with."
        ),
        datetime: str | None = Query(None, description="RFC 3339 instant or interval."),
        ids: str | None = Query(None, description="Comma-separated item ids."),
        collections: str | None = Query(None, description="Comma-separated collection ids."),
        limit: str | None = Query(None, description="Items per page, 1-1000 (default 10)."),
        sortby: str | None = Query(None, description="e.g. -datetime,+properties.eo:cloud_cover"),
        filter_: str | None = Query(None, alias="filter", description=FILTER_DOC),
        filter_lang: str | None = Query(None, alias="filter-lang"),
        filter_crs: str | None = Query(None, alias="filter-crs"),
        token: str | None = Query(None, description="Paging token from a 'next' link."),
        sources: str | None = Query(None, description=SOURCES_DOC),
        catalog: Catalog = Depends(get_catalog),
        settings: Settings = Depends(get_settings),
        viewer: Viewer = Depends(get_viewer),
    ) -> JSONResponse:
        search = parse_search_query(
            {
                "bbox": bbox,
                "intersects": intersects,
                "intersects_dataset": intersects_dataset,
                "datetime": datetime,
                "ids": ids,
                "collections": collections,
                "limit": limit,
                "sortby": sortby,
                "filter": filter_,
                "filter-lang": filter_lang,
                "filter-crs": filter_crs,
                "token": token,
            }
        )
        urls = _urls(request)
        links = [link("self", str(request.url), GEOJSON), link("root", urls.root, JSON)]
        chosen = parse_sources(sources, settings)
        if chosen is not None:
            found = federated_search(catalog, settings, viewer, search, chosen, urls)
            if found.next_token:
                links.append(
                    link("next", with_query(str(request.url), token=found.next_token), GEOJSON)
                )
            return _json(federated_collection(found, links), GEOJSON)
        page = search_datasets(catalog, search, settings, viewer)
        next_link = (
            link("next", with_query(str(request.url), token=page.next_token), GEOJSON)
            if page.next_token
            else None
        )
        return _page_response(page, urls, links, next_link)

    @router.post("/search", summary="Item search (POST)", openapi_extra=SEARCH_BODY_DOC)
    def search_post(
        request: Request,
        search: SearchRequest = Depends(search_body),
        catalog: Catalog = Depends(get_catalog),
        settings: Settings = Depends(get_settings),
        viewer: Viewer = Depends(get_viewer),
    ) -> JSONResponse:
        urls = _urls(request)
        links = [link("self", urls.search, GEOJSON), link("root", urls.root, JSON)]
        chosen = parse_sources(getattr(request.state, "stac_sources", None), settings)
        if chosen is not None:
            found = federated_search(catalog, settings, viewer, search, chosen, urls)
            if found.next_token:
                body = {**search.body(token=found.next_token), "sources": chosen}
                links.append(
                    link("next", urls.search, GEOJSON, method="POST", body=body, merge=False)
                )
            return _json(federated_collection(found, links), GEOJSON)
        page = search_datasets(catalog, search, settings, viewer)
        next_link = (
            link(
                "next",
                urls.search,
                GEOJSON,
                method="POST",
                body=search.body(token=page.next_token),
                merge=False,
            )
            if page.next_token
            else None
        )
        return _page_response(page, urls, links, next_link)

    return router


__all__ = ["build_stac_router"]
