"""A rio-tiler Reader that keeps datasets open between requests.

titiler opens and closes the file for every tile. Keeping one handle per worker thread skips
the open (header parse, and for S3 the first range requests) and, more importantly, keeps the
dataset's GDAL block cache warm, so neighbouring tiles that share a 512 px COG block or an
overview block do not decode it again. Handles are per thread because a rasterio dataset must
not be used by two threads at once.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict, deque
from typing import Any

import attr
import numpy
import rasterio
from cachetools import LRUCache
from morecantile import Tile
from rasterio.coords import BoundingBox
from rasterio.io import DatasetReader
from rasterio.warp import transform_bounds
from rio_tiler.constants import WGS84_CRS
from rio_tiler.errors import TileOutsideBounds
from rio_tiler.io import Reader
from rio_tiler.models import ImageData

from tileserver.errors import InvalidInput
from tileserver.scenes.masks import masked_call, scene_mask

MAX_OPEN_PER_THREAD = 64
_BOUNDS: LRUCache[tuple[str, str, str], tuple[float, float, float, float]] = LRUCache(8192)
_local = threading.local()


_released: deque[tuple[int, str]] = deque(maxlen=4096)
_released_lock = threading.Lock()
_released_count = 0


def _handles() -> OrderedDict[str, DatasetReader]:
    """This thread's handles, less those of files released (deleted) since it last looked."""
    cache = getattr(_local, "handles", None)
    if cache is None:
        cache = _local.handles = OrderedDict()
        _local.seen = _released_count
    if _local.seen != _released_count:
        with _released_lock:
            gone = [path for n, path in _released if n > _local.seen]
            _local.seen = _released_count
        for path in gone:
            handle = cache.pop(path, None)
            if handle is not None:
                handle.close()
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


def release_file(path: str) -> None:
    """A dataset's file at ``path`` was deleted: every thread closes its handle for it when it
    next reads anything (this one at once), so no open handle keeps the deleted file's space.
    Handles are per thread, so each thread closes its own."""
    global _released_count
    with _released_lock:
        _released_count += 1
        _released.append((_released_count, path))
    _handles()


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
        w, s, e, n = self.tms.bounds(Tile(x=tile_x, y=tile_y, z=tile_z))
        dw, ds, de, dn = self._bounds_in("geographic", self.tms.rasterio_geographic_crs)
        if dw > de:  # dataset crosses the antimeridian
            return (w < de or e > dw) and s < dn and n > ds
        return w < de and e > dw and s < dn and n > ds

    def tile(  # type: ignore[override]
        self,
        tile_x: int,
        tile_y: int,
        tile_z: int,
        tilesize: int | None = None,
        indexes: Any = None,
        expression: str | None = None,
        buffer: float | None = None,
        **kwargs: Any,
    ) -> ImageData:
        """Read only the part of a tile that the data covers, then pad to the full tile.

        Warping a whole low-zoom tile (most of a hemisphere) from a UTM scene makes GDAL
        chase source windows far outside the projection's domain: measured 4 s at z6 and
        no answer at z4 for a 5 km scene. The covered part, snapped to the tile's pixel
        grid, gives the same pixels in milliseconds.
        """
        if self._needs_scene_mask():
            return self._scene_masked(
                CatalogReader.tile, indexes, expression, tile_x, tile_y, tile_z,
                tilesize=tilesize, buffer=buffer, **kwargs,
            )  # fmt: skip
        if buffer or not self.tile_exists(tile_x, tile_y, tile_z):
            return super().tile(
                tile_x, tile_y, tile_z, tilesize, indexes, expression, buffer, **kwargs
            )
        matrix = self.tms.matrix(tile_z)
        shape = (tilesize or matrix.tileHeight, tilesize or matrix.tileWidth)
        area = self.tms.xy_bounds(Tile(x=tile_x, y=tile_y, z=tile_z))
        crs = self.tms.rasterio_crs
        window = _covered_window(area, self._bounds_in("tms", crs), shape)
        col0, row0, col1, row1 = window
        if window == (0, 0, shape[1], shape[0]) or col1 <= col0 or row1 <= row0:
            return super().tile(
                tile_x, tile_y, tile_z, tilesize, indexes, expression, buffer, **kwargs
            )
        return self._read_window(
            area, crs, shape, window, indexes=indexes, expression=expression, **kwargs
        )

    def part(  # type: ignore[override]
        self,
        bbox: tuple[float, float, float, float],
        dst_crs: Any = None,
        bounds_crs: Any = WGS84_CRS,
        indexes: Any = None,
        expression: str | None = None,
        max_size: int | None = None,
        height: int | None = None,
        width: int | None = None,
        buffer: float | None = None,
        **kwargs: Any,
    ) -> ImageData:
        """Read only the part of ``bbox`` that the data covers, then pad to the whole area.

        As with low-zoom tiles, warping an area far larger than a scene (a continent around a
        UTM scene) makes GDAL chase source windows outside the projection's domain for minutes.
        An area that misses the data is a 404, like a tile outside it.
        """
        if self._needs_scene_mask():
            return self._scene_masked(
                CatalogReader.part, indexes, expression, bbox, dst_crs=dst_crs,
                bounds_crs=bounds_crs, max_size=max_size, height=height, width=width,
                buffer=buffer, **kwargs,
            )  # fmt: skip
        crs = dst_crs or bounds_crs
        area = bbox
        if bounds_crs and bounds_crs != crs:
            area = transform_bounds(bounds_crs, crs, *bbox, densify_pts=21)
        left, bottom, right, top = area
        if not (all(math.isfinite(v) for v in area) and left < right and bottom < top):
            raise InvalidInput("The area must be finite, with west < east and south < north.")
        dl, db, dr, dt = self._bounds_in(f"part {crs}", crs)
        if not (left < dr and right > dl and bottom < dt and top > db):
            raise TileOutsideBounds("The area does not intersect the dataset.")
        options = dict(indexes=indexes, expression=expression, buffer=buffer, **kwargs)
        if buffer or (left >= dl and right <= dr and bottom >= db and top <= dt):
            return super().part(
                area, crs, crs, max_size=max_size, height=height, width=width, **options
            )
        if not (width and height):
            assert self.width and self.height, "set when the reader opened the dataset"
            cols, rows = self.width, self.height
            width = max(1, math.ceil((right - left) / ((dr - dl) / cols)))
            height = max(1, math.ceil((top - bottom) / ((dt - db) / rows)))
            if max_size and max(width, height) > max_size:
                scale = max_size / max(width, height)
                width, height = max(1, round(width * scale)), max(1, round(height * scale))
        col0, row0, col1, row1 = _covered_window(area, (dl, db, dr, dt), (height, width))
        window = (col0, row0, max(col0 + 1, col1), max(row0 + 1, row1))  # at least a pixel
        return self._read_window(area, crs, (height, width), window, **options)

    def read(self, indexes: Any = None, expression: str | None = None, **kwargs: Any) -> ImageData:
        if self._needs_scene_mask():
            return self._scene_masked(CatalogReader.read, indexes, expression, **kwargs)
        return super().read(indexes=indexes, expression=expression, **kwargs)

    def point(  # type: ignore[override]
        self, lon: float, lat: float, indexes: Any = None, expression: str | None = None,
        **kwargs: Any,
    ) -> Any:  # fmt: skip
        if self._needs_scene_mask():
            return self._scene_masked(CatalogReader.point, indexes, expression, lon, lat, **kwargs)
        return super().point(lon, lat, indexes=indexes, expression=expression, **kwargs)

    def _needs_scene_mask(self) -> bool:
        """An archive scene with a QA band (``scenes/masks.py``), not already being masked."""
        return not getattr(self, "_masking", False) and scene_mask(self.dataset) is not None

    def _scene_masked(
        self, method: Any, indexes: Any, expression: str | None, *args: Any, **kwargs: Any
    ) -> Any:
        """``method`` with clouds and shadows masked by the scene's QA band (the one rule in
        ``scenes/masks.py``); nested reads inside it are not masked twice."""
        self._masking = True
        try:
            return masked_call(
                self.dataset, lambda **kw: method(self, *args, **kw), indexes, expression, **kwargs
            )
        finally:
            self._masking = False

    def _read_window(
        self,
        area: tuple[float, float, float, float],
        crs: Any,
        shape: tuple[int, int],
        window: tuple[int, int, int, int],
        **options: Any,
    ) -> ImageData:
        """Read ``window`` (col0, row0, col1, row1) of a ``shape`` grid over ``area`` and pad
        it to the whole grid: the one read both ``tile`` and ``part`` end in."""
        left, bottom, right, top = area
        height, width = shape
        col0, row0, col1, row1 = window
        xres, yres = (right - left) / width, (top - bottom) / height
        part = super().part(
            (left + col0 * xres, top - row1 * yres, left + col1 * xres, top - row0 * yres),
            dst_crs=crs,
            bounds_crs=crs,
            height=row1 - row0,
            width=col1 - col0,
            max_size=None,
            **options,
        )
        full = numpy.ma.masked_all((part.count, height, width), dtype=part.array.dtype)
        full[:, row0:row1, col0:col1] = part.array
        return ImageData(
            full,
            bounds=BoundingBox(*area),
            crs=crs,
            metadata=part.metadata,
            nodata=part.nodata,
            scales=part.scales,
            offsets=part.offsets,
            band_names=part.band_names,
            band_descriptions=part.band_descriptions,
            dataset_statistics=part.dataset_statistics,
        )

    def _bounds_in(self, role: str, crs: Any) -> tuple[float, float, float, float]:
        """Dataset bounds in another CRS, cached per file (files never change in place)."""
        key = (str(self.input), self.tms.id or "", role)
        cached = _BOUNDS.get(key)
        if cached is None:
            cached = _BOUNDS[key] = transform_bounds(self.crs, crs, *self.bounds, densify_pts=21)
        return cached

    def __exit__(self, *args: Any) -> None:
        # The handle outlives the request; only what Reader itself opened (a VRT) is closed.
        self.close()


def _covered_window(
    area: tuple[float, float, float, float],
    data: tuple[float, float, float, float],
    shape: tuple[int, int],
) -> tuple[int, int, int, int]:
    """The pixels (col0, row0, col1, row1) of a ``shape`` (rows, cols) grid over ``area`` that
    the ``data`` bounds (same CRS) cover, clipped to the grid; empty when they miss it."""
    left, bottom, right, top = area
    dl, db, dr, dt = data
    height, width = shape
    xres, yres = (right - left) / width, (top - bottom) / height
    return (
        max(0, math.floor((dl - left) / xres)),
        max(0, math.floor((top - dt) / yres)),
        min(width, math.ceil((dr - left) / xres)),
        min(height, math.ceil((top - db) / yres)),
    )
