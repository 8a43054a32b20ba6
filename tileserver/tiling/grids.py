"""The tile matrix sets cogsight serves (a focused subset keeps WMTS documents small)."""

from __future__ import annotations

import morecantile
from morecantile.defaults import TileMatrixSets

SERVED_TMS = ("WebMercatorQuad", "WorldCRS84Quad", "WGS1984Quad")

supported_tms = TileMatrixSets({name: morecantile.tms.get(name) for name in SERVED_TMS})
