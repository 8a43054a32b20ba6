"""A rio-tiler Reader that keeps datasets open between requests.

titiler opens and closes the file for every tile. Keeping one handle per worker thread skips
the open (header parse, and for S3 the first range requests) and, more importantly, keeps the
dataset's GDAL block cache warm, so neighbouring tiles that share a 512 px COG block or an
overview block do not decode it again. Handles are per thread because a rasterio dataset must
not be used by two threads at once.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

import attr
import rasterio
from morecantile import Tile
from rasterio.io import DatasetReader
from rio_tiler.io import Reader

MAX_OPEN_PER_THREAD = 64
_local = threading.local()


def _handles() -> OrderedDict[str, DatasetReader]:
    cache = getattr(_local, "handles", None)
    if cache is None:
        cache = _local.handles = OrderedDict()
    return cache


def shared_handle(path: str) -> DatasetReader:
    """This thread's open handle for ``path`` (opened on first use, LRU-closed past the cap)."""
    cache = _handles()
    handle = cache.get(path)
    if handle is not None and not handle.closed:
        cache.move_to_end(path)
        return handle
    handle = rasterio.open(path)
    cache[path] = handle
    while len(cache) > MAX_OPEN_PER_THREAD:
        _, old = cache.popitem(last=False)
        old.close()
    return handle


def forget(path: str) -> None:
    """Drop this thread's handle for a path (called when a dataset is deleted)."""
    handle = _handles().pop(path, None)
    if handle is not None:
        handle.close()


@attr.s
class CatalogReader(Reader):
    """rio-tiler Reader over a kept-open dataset handle; API-identical to ``Reader``."""

    def __attrs_post_init__(self) -> None:
        if self.dataset is None and self.input is not None:
            self.dataset = shared_handle(str(self.input))
        super().__attrs_post_init__()

    def tile_exists(self, tile_x: int, tile_y: int, tile_z: int) -> bool:
        """Intersect in geographic degrees.

        rio-tiler projects the tile into the dataset CRS; a z0-z2 tile projected into UTM is
        meaningless and "intersects" everything, so far-away tiles came back as empty 200s
        instead of a consistent 404.
        """
        geographic = self.tms.rasterio_geographic_crs
        w, s, e, n = self.tms.bounds(Tile(x=tile_x, y=tile_y, z=tile_z))
        dw, ds, de, dn = self.get_geographic_bounds(geographic)
        if dw > de:  # dataset crosses the antimeridian
            return (w < de or e > dw) and s < dn and n > ds
        return w < de and e > dw and s < dn and n > ds

    def __exit__(self, *args: Any) -> None:
        # The handle outlives the request; only what Reader itself opened (a VRT) is closed.
        self.close()
