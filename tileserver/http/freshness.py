"""What the tile cache middleware re-checks on every hit, for tiles of things that change in
place (``register_freshness`` in ``tileserver.http.cache``):

- an edited vector dataset's PMTiles archive is replaced by each edit (``vectors.editing``):
  its identity (inode, mtime, size) is compared, so no process keeps serving tiles of a
  replaced archive, whichever API process made the edit;
- a query mosaic this process has read (``mosaics.backend.WATCHED_MOSAICS``) gains scenes as
  datasets are published: its tiles are stamped with the catalog's version (a new scene shows at
  once in this process, within seconds elsewhere).

This is the one place that turns a request (its path, its app's settings) into those checks;
the libraries behind it take plain arguments.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, MutableMapping
from typing import Any

from tileserver.http.cache import register_freshness
from tileserver.mosaics.backend import WATCHED_MOSAICS
from tileserver.mosaics.query import catalog_version
from tileserver.storage import dataset_folder
from tileserver.vectors.store import KIND, TILES_FILE

_SAFE_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
"""What a dataset id can be: anything else in the URL is not a dataset and never a path."""


def _path_id(scope: MutableMapping[str, Any]) -> str | None:
    """The id in ``/{family}/{id}/...``."""
    parts = str(scope.get("path", "")).split("/")
    return parts[2] if len(parts) >= 3 else None


def _archive_identity(scope: MutableMapping[str, Any]) -> tuple[int, int, int] | None:
    """The identity (inode, mtime, size) of the archive a /vectors/{id}/tiles/ request reads."""
    app = scope.get("app")
    settings = getattr(getattr(app, "state", None), "settings", None)
    if settings is None:
        return None
    ident = _path_id(scope)
    if ident is None or not _SAFE_ID.fullmatch(ident):
        return None
    try:
        st = (dataset_folder(settings, KIND, ident) / TILES_FILE).stat()
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def _mosaic_version(scope: MutableMapping[str, Any]) -> Hashable:
    """The catalog's version for a watched query mosaic's tiles; None (never stale) otherwise."""
    return catalog_version() if _path_id(scope) in WATCHED_MOSAICS else None


def install_freshness() -> None:
    """Make the tile cache re-check, on each hit, vector archives and query mosaics."""
    register_freshness("/vectors/", _archive_identity)
    register_freshness("/mosaics/", _mosaic_version)
