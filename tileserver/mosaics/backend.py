"""A cogeo-mosaic backend whose documents live in the catalog and whose low zooms are fast.

cogeo-mosaic answers a tile above the quadkey zoom by enumerating every child quadkey
(4^(qz - z) of them: 16 million for z0 of a z12 mosaic). A quadkey's children all start with
its own quadkey, so scanning the document's populated quadkeys for that prefix gives the same
assets in O(populated quadkeys), at any zoom. Assets are stored as catalog URIs and turned
into GDAL paths at read time, so documents survive a moved data root or a new storage mount.
"""

from __future__ import annotations

import itertools
from typing import Any

import attr
from cogeo_mosaic.backends.base import MosaicJSONBackend
from cogeo_mosaic.mosaic import MosaicJSON
from morecantile import Tile
from rasterio.crs import CRS
from rasterio.warp import transform_bounds
from rio_tiler.constants import WEB_MERCATOR_TMS

from tileserver.errors import InvalidInput
from tileserver.settings import Settings
from tileserver.sources import gdal_path


@attr.s
class CatalogMosaicBackend(MosaicJSONBackend):
    """Serve a MosaicJSON handed in by the catalog (``mosaic_def``); ``input`` is the mosaic id."""

    mosaic_def: MosaicJSON = attr.ib(default=None)
    settings: Settings | None = attr.ib(default=None)

    _backend_name = "cogsight"

    def _read(self) -> MosaicJSON:
        raise InvalidInput("Mosaic documents come from the catalog.")

    def write(self, overwrite: bool = True) -> None:
        raise InvalidInput("Mosaics are rebuilt through POST /mosaics, not written in place.")

    @property
    def _tms(self) -> Any:
        return self.mosaic_def.tilematrixset or WEB_MERCATOR_TMS

    def find_quadkeys(self, tile: Tile, quadkey_zoom: int) -> list[str]:
        if tile.z >= quadkey_zoom:
            return super().find_quadkeys(tile, quadkey_zoom)
        prefix = self._tms.quadkey(*tile) if tile.z > 0 else ""
        return [qk for qk in self.mosaic_def.tiles if qk.startswith(prefix)]

    def get_assets(  # type: ignore[override]
        self, x: int, y: int, z: int, reverse: bool = False
    ) -> list[str]:
        quadkeys = self.find_quadkeys(Tile(x=x, y=y, z=z), self.quadkey_zoom)
        uris = dict.fromkeys(
            itertools.chain.from_iterable(self.mosaic_def.tiles.get(qk, []) for qk in quadkeys)
        )
        assets = [self._to_path(u) for u in uris]
        return list(reversed(assets)) if reverse else assets

    def assets_for_bbox(
        self,
        xmin: float,
        ymin: float,
        xmax: float,
        ymax: float,
        coord_crs: CRS | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Assets whose quadkey cells intersect a bbox, without enumerating the cells."""
        tms = self._tms
        coord_crs = coord_crs or self.tms.rasterio_geographic_crs
        if coord_crs != tms.rasterio_geographic_crs:
            xmin, ymin, xmax, ymax = transform_bounds(
                coord_crs, tms.rasterio_geographic_crs, xmin, ymin, xmax, ymax
            )
        hits = []
        for qk in self.mosaic_def.tiles:
            w, s, e, n = tms.bounds(tms.quadkey_to_tile(qk))
            if w < xmax and e > xmin and s < ymax and n > ymin:
                hits.append(qk)
        uris = dict.fromkeys(
            itertools.chain.from_iterable(self.mosaic_def.tiles[qk] for qk in hits)
        )
        return [self._to_path(u) for u in uris]

    def _to_path(self, uri: str) -> str:
        return gdal_path(uri, self.settings) if self.settings else uri
