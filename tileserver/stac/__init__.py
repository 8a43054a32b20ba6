"""A STAC API (v1.0.0) over the catalog: items, collections and item search.

Plain functions live here (no FastAPI), so the CLI and tests can search without HTTP;
``tileserver/http/routers/stac.py`` is the thin HTTP layer over them.
"""

from tileserver.stac.params import SearchRequest, SortField
from tileserver.stac.search import SearchPage, search_datasets

__all__ = ["SearchPage", "SearchRequest", "SortField", "search_datasets"]
