"""Where a query mosaic keeps its facts inside the record's MosaicJSON document (no schema
change: the ``mosaicjson`` column already holds any JSON)."""

from __future__ import annotations

from tileserver.catalog import MosaicRecord

QUERY_KEY = "cogsight:query"
"""The stored query, order, method and per-tile cap."""
MATCHED_KEY = "cogsight:matched"
"""How many scenes the query matched when the mosaic was created."""
SCENE_KEY = "cogsight:scene"
"""The scene on top when it was created: the mosaic's default rendering is its. Kept here, not
in ``dataset_ids``, so deleting that scene is not refused as "used by a mosaic"."""


def top_scene(record: MosaicRecord) -> str | None:
    ident = record.mosaicjson.get(SCENE_KEY)
    return ident if isinstance(ident, str) else None
