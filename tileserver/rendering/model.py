"""A rendering as data: titiler's render query parameters, stored and turned back into URLs."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from pydantic import BaseModel, ConfigDict

RGBA = tuple[int, int, int, int]


class Render(BaseModel):
    """What ``bidx`` / ``expression`` / ``index`` / ``rescale`` / ``colormap_name`` /
    ``colormap`` / ``algorithm`` (a post-process such as ``hillshade``, with its
    ``algorithm_params``) of the same names do on a tile request; ``title`` says what it shows."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    title: str = ""
    bidx: list[int] | None = None
    expression: str | None = None
    index: str | None = None
    rescale: list[tuple[float, float]] | None = None
    colormap_name: str | None = None
    colormap: dict[str, RGBA] | None = None
    algorithm: str | None = None
    algorithm_params: dict[str, float] | None = None

    def query(self) -> list[tuple[str, str]]:
        """The query parameters, in titiler's spelling (``rescale`` as ``min,max``)."""
        params: list[tuple[str, str]] = [("bidx", str(b)) for b in self.bidx or []]
        if self.expression:
            params.append(("expression", self.expression))
        if self.index:
            params.append(("index", self.index))
        params.extend(("rescale", f"{lo:g},{hi:g}") for lo, hi in self.rescale or [])
        if self.colormap_name:
            params.append(("colormap_name", self.colormap_name))
        if self.colormap:
            table = {k: list(v) for k, v in self.colormap.items()}
            params.append(("colormap", json.dumps(table, separators=(",", ":"))))
        if self.algorithm:
            params.append(("algorithm", self.algorithm))
        if self.algorithm_params:
            params.append(("algorithm_params", json.dumps(self.algorithm_params)))
        return params

    def query_values(self) -> dict[str, Any]:
        """The query as a dict of lists (what titiler's WMTS ``get_renders`` expects)."""
        out: dict[str, list[str]] = {}
        for key, value in self.query():
            out.setdefault(key, []).append(value)
        return out

    def query_string(self) -> str:
        """URL-encoded query: commas as ``%2C`` (GDAL splits its ``WMTS:`` string at commas)."""
        return urlencode(self.query())

    def colormap_value(self) -> dict[int, RGBA] | None:
        """The colormap as titiler and rio-tiler take it (integer keys)."""
        if not self.colormap:
            return None
        return {int(float(k)): tuple(v) for k, v in self.colormap.items()}  # type: ignore[misc]
