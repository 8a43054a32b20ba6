"""The tile matrix sets cogsight serves (a focused subset keeps WMTS documents small)."""

from __future__ import annotations

import attr
import morecantile
from morecantile import TileMatrixSet
from morecantile.defaults import TileMatrixSets

SERVED_TMS = ("WebMercatorQuad", "WorldCRS84Quad", "WGS1984Quad")


@attr.s(frozen=True)
class SharedTileMatrixSets(TileMatrixSets):
    """Hands out one shared instance per TMS instead of a deep copy per call.

    titiler calls ``get`` on every tile; the copy cost ~2 % of a tile and threw away the
    TMS's cached CRS conversions, which cost another ~4 %. Nothing downstream mutates a TMS.
    """

    def get(self, identifier: str) -> TileMatrixSet:
        tms = self.tilematrixsets.get(identifier)
        return tms if isinstance(tms, TileMatrixSet) else super().get(identifier)


supported_tms = SharedTileMatrixSets({name: morecantile.tms.get(name) for name in SERVED_TMS})
