"""A cogeo-mosaic backend whose documents live in the catalog and whose low zooms are fast.

cogeo-mosaic answers a tile above the quadkey zoom by enumerating every child quadkey
(4^(qz - z) of them: 16 million for z0 of a z12 mosaic). A quadkey's children all start with
its own quadkey, so scanning the document's populated quadkeys for that prefix gives the same
assets in O(populated quadkeys), at any zoom. Assets are stored as catalog URIs and turned
into GDAL paths at read time, so documents survive a moved data root or a new storage mount.

A query mosaic (``query`` set, see ``tileserver.mosaics.query``) has no scene lists: each tile,
map or point asks the catalog for the scenes under it, in the mosaic's order, and
``mosaic_reader`` reads them first valid pixel on top, stopping once the tile is filled, or
composites them (``mean``, ``median``). At most ``max_scenes_per_tile`` are read; a tile that
would need more is a 400 that says so, never a silently partial image.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import attr
import numpy as np
import shapely
from cogeo_mosaic.backends.base import MosaicJSONBackend
from cogeo_mosaic.mosaic import MosaicJSON
from morecantile import Tile
from rasterio.crs import CRS
from rasterio.warp import transform as warp_transform
from rasterio.warp import transform_bounds
from rio_tiler.constants import WEB_MERCATOR_TMS, WGS84_CRS
from rio_tiler.errors import NoAssetFoundError
from rio_tiler.models import ImageData
from rio_tiler.mosaic.methods import PixelSelectionMethod
from rio_tiler.mosaic.methods.base import MosaicMethodBase
from rio_tiler.mosaic.methods.defaults import FirstMethod
from rio_tiler.mosaic.reader import mosaic_reader
from rio_tiler.utils import inherit_rasterio_env
from shapely.geometry.base import BaseGeometry

from tileserver.catalog import Catalog, MosaicRecord
from tileserver.errors import InvalidInput
from tileserver.mosaics.query import (
    MosaicQuery,
    Scene,
    SceneAccess,
    access_of,
    scenes_for_area,
    stored_query,
)
from tileserver.settings import Settings
from tileserver.sources import gdal_path
from tileserver.tiling.reader import CatalogReader

if TYPE_CHECKING:
    from tileserver.tiling.records import RecordCache


WATCHED_MOSAICS: set[str] = set()
"""Query mosaics this process has read tiles or areas of."""
REST_SCAN = 10
"""Past the cap, how many caps' worth of further scenes a tile checks for its empty pixels."""
FIRST_CHUNK = 2
"""Scenes read at a time (in parallel) for first-valid-pixel mosaics, before checking whether
the tile is filled: the newest scene usually fills it, so reading ten at once (titiler's thread
count) would cost a tile under 5,000 scenes several times a tile under 50."""


@attr.s
class CatalogMosaicBackend(MosaicJSONBackend):
    """Serve a MosaicJSON handed in by the catalog (``mosaic_def``); ``input`` is the mosaic id."""

    mosaic_def: MosaicJSON = attr.ib(default=None)
    settings: Settings | None = attr.ib(default=None)
    query: MosaicQuery | None = attr.ib(default=None)
    catalog: Catalog | None = attr.ib(default=None)
    access: SceneAccess | None = attr.ib(default=None)
    band_count: int | None = attr.ib(default=None)

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
        if self.query is not None:
            bounds = self.tms.bounds(Tile(x, y, z))
            assets = self._paths(self._scenes(bounds, 0, self.query.max_scenes_per_tile))
            return list(reversed(assets)) if reverse else assets
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
        if self.query is not None:
            cap = self.query.max_scenes_per_tile
            return self._paths(self._scenes((xmin, ymin, xmax, ymax), 0, cap))
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

    # query mosaics ------------------------------------------------------------------------------
    def _more_would_fill(self, image: ImageData, bounds: Sequence[float]) -> bool:
        """Whether scenes past the cap lie under the image's empty pixels (a gap no scene
        covers is no reason to refuse the tile). Past ``REST_SCAN`` of them, assume so."""
        assert self.query is not None and self.catalog is not None and self.access is not None
        cap = self.query.max_scenes_per_tile
        rest = self._scenes(bounds, cap, cap * REST_SCAN)
        if len(rest) >= cap * REST_SCAN:
            return True
        return bool(rest) and _empty_under(image, [s.footprint for s in rest])

    def _scenes(self, bounds: Sequence[float], skip: int, limit: int) -> list[Scene]:
        """The query's scenes under ``bounds`` (WGS84), in order, ``limit`` after the first
        ``skip``, of the mosaic's band count (a scene of other bands registered later is left
        out, not an error)."""
        assert self.query is not None and self.catalog is not None and self.access is not None
        return scenes_for_area(
            self.catalog, self.query, self.access, bounds, limit, skip, self.band_count
        )

    def _paths(self, scenes: Sequence[Scene]) -> list[str]:
        return [self._to_path(s.uri) for s in scenes]

    def _method(self, given: Any) -> Any:
        """The request's pixel selection, or the mosaic's own when the request gave none
        (titiler's default, ``first``)."""
        assert self.query is not None
        default = given is None or given is FirstMethod or isinstance(given, FirstMethod)
        if default and self.query.method != "first":
            return PixelSelectionMethod[self.query.method].value()
        return given if given is not None else FirstMethod()

    def _mosaic(
        self,
        where: str,
        bounds: Sequence[float],
        read: Callable[..., ImageData],
        *args: Any,
        **kwargs: Any,
    ) -> tuple[ImageData, list[str]]:
        """Read the scenes under ``bounds`` with ``mosaic_reader``: first valid pixel on top,
        stopping when the image is filled (the scenes under it are never opened)."""
        assert self.query is not None
        cap = self.query.max_scenes_per_tile
        method: MosaicMethodBase = self._method(kwargs.pop("pixel_selection", None))
        scenes: Sequence[str]
        if method.exit_when_filled:
            scenes = _Pages(lambda skip, limit: self._paths(self._scenes(bounds, skip, limit)), cap)
        else:  # a composite reads every scene under the tile: more than the cap is refused
            found = self._paths(self._scenes(bounds, 0, cap + 1))
            if len(found) > cap:
                raise InvalidInput(
                    f"{where} lies under more than {cap} scenes of this mosaic's query, the "
                    "most one tile composites ('max_scenes_per_tile'); zoom in or narrow the "
                    "query."
                )
            scenes = found
        if not scenes:
            raise NoAssetFoundError(f"No scenes of this mosaic's query cover {where}.")
        threads = int(kwargs.pop("threads", 0) or 0)
        image, used = mosaic_reader(
            scenes,
            read,
            *args,
            pixel_selection=method,
            threads=threads,
            chunk_size=FIRST_CHUNK if method.exit_when_filled else None,
            **kwargs,
        )
        capped = isinstance(scenes, _Pages) and scenes.loaded >= cap
        if capped and not _filled(image) and self._more_would_fill(image, bounds):
            raise InvalidInput(
                f"{where} is not filled by the first {cap} scenes of this mosaic's query and "
                f"more lie under its empty part ('max_scenes_per_tile' is {cap}); zoom in or "
                "narrow the query."
            )
        return image, used

    def tile(  # type: ignore[override]
        self, x: int, y: int, z: int, search_options: dict | None = None, **kwargs: Any
    ) -> tuple[ImageData, list[str]]:
        if self.query is None:
            return super().tile(x, y, z, search_options=search_options, **kwargs)  # type: ignore[no-any-return]
        self._watch()
        bbox = self.tms.bounds(Tile(x, y, z))
        if self.tms.rasterio_geographic_crs != WGS84_CRS:
            bbox = transform_bounds(self.tms.rasterio_geographic_crs, WGS84_CRS, *bbox)

        @inherit_rasterio_env
        def _reader(asset: str, x: int, y: int, z: int, **options: Any) -> ImageData:
            with self.reader(asset, tms=self.tms, **self.reader_options) as src:
                return src.tile(x, y, z, **options)  # type: ignore[no-any-return]

        return self._mosaic(f"Tile {z}/{x}/{y}", bbox, _reader, x, y, z, **kwargs)

    def part(  # type: ignore[override]
        self,
        bbox: tuple[float, float, float, float],
        bounds_crs: CRS = WGS84_CRS,
        search_options: dict | None = None,
        **kwargs: Any,
    ) -> tuple[ImageData, list[str]]:
        if self.query is None:
            return super().part(
                bbox, bounds_crs=bounds_crs, search_options=search_options, **kwargs
            )  # type: ignore[no-any-return]
        self._watch()
        geo = (
            tuple(transform_bounds(bounds_crs, WGS84_CRS, *bbox))
            if bounds_crs != WGS84_CRS
            else tuple(bbox)
        )

        @inherit_rasterio_env
        def _reader(asset: str, bbox: Any, bounds_crs: CRS, **options: Any) -> ImageData:
            with self.reader(asset, **self.reader_options) as src:
                return src.part(bbox, bounds_crs=bounds_crs, **options)  # type: ignore[no-any-return]

        return self._mosaic("The requested area", geo, _reader, bbox, bounds_crs, **kwargs)

    def assets_for_point(
        self, lng: float, lat: float, coord_crs: CRS | None = None, **kwargs: Any
    ) -> list[str]:
        if self.query is None:
            return super().assets_for_point(lng, lat, coord_crs=coord_crs, **kwargs)  # type: ignore[no-any-return]
        coord_crs = coord_crs or WGS84_CRS
        if coord_crs != WGS84_CRS:
            lng, lat, *_ = transform_bounds(coord_crs, WGS84_CRS, lng, lat, lng, lat)
        cap = self.query.max_scenes_per_tile
        return self._paths(self._scenes((lng, lat, lng, lat), 0, cap))

    def _watch(self) -> None:
        """Cached tiles of this mosaic are stamped with the catalog's version from now on (a new
        scene shows at once in this process, within seconds elsewhere: ``http.freshness``)."""
        WATCHED_MOSAICS.add(self.input)


class _Pages(Sequence[str]):
    """The scenes under a tile, fetched page by page (each twice the last) as ``mosaic_reader``
    asks for the next chunk: a tile filled by its first scenes never loads the rest. Its
    length is the cap; positions past the last scene are empty."""

    def __init__(self, fetch: Callable[[int, int], list[str]], cap: int, first: int = 4) -> None:
        self._fetch, self._cap, self._next = fetch, cap, first
        self._loaded: list[str] = []
        self._done = False

    def _load(self, stop: int) -> None:
        while not self._done and len(self._loaded) < min(stop, self._cap):
            want = min(self._next, self._cap - len(self._loaded))
            page = self._fetch(len(self._loaded), want)
            self._loaded += page
            self._done = len(page) < want or len(self._loaded) >= self._cap
            self._next *= 2

    @property
    def loaded(self) -> int:
        return len(self._loaded)

    def __len__(self) -> int:
        self._load(1)
        return self._cap if self._loaded else 0

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            self._load(index.stop if index.stop is not None else self._cap)
            return self._loaded[index]
        self._load(index + 1)
        return self._loaded[index]


def _filled(image: ImageData) -> bool:
    return not bool(image.array.mask.any())


def _empty_under(image: ImageData, footprints: list[BaseGeometry], sample: int = 4096) -> bool:
    """Whether some empty pixel of ``image`` (up to ``sample`` of them, spread evenly) lies
    inside one of ``footprints`` (WGS84), two pixels or more from its edge."""
    rows, cols = np.nonzero(image.array.mask.all(axis=0))
    if rows.size == 0 or image.bounds is None or image.crs is None:
        return False
    if rows.size > sample:
        pick = np.linspace(0, rows.size - 1, sample).astype(int)
        rows, cols = rows[pick], cols[pick]
    west, south, east, north = image.bounds
    xs = west + (cols + 0.5) * (east - west) / image.width
    ys = north - (rows + 0.5) * (north - south) / image.height
    if image.crs != WGS84_CRS:
        xs, ys = (np.asarray(v) for v in warp_transform(image.crs, WGS84_CRS, xs, ys))
    # a pixel on a footprint's very edge may be empty in the scene's own read: look inside
    w, s, e, n = transform_bounds(image.crs, WGS84_CRS, *image.bounds)
    pixel = max(abs(e - w) / image.width, abs(n - s) / image.height)
    inside = shapely.union_all(footprints).buffer(-2 * pixel)
    return bool(shapely.intersects_xy(inside, xs, ys).any())


def open_mosaic(
    record: MosaicRecord, records: RecordCache, settings: Settings, **options: Any
) -> CatalogMosaicBackend:
    """The backend for a catalog mosaic, listed scenes or query alike (WMS, featureinfo)."""
    return CatalogMosaicBackend(
        record.id,
        reader=CatalogReader,
        **backend_options(record, records, settings),
        **options,
    )


def backend_options(
    record: MosaicRecord, records: RecordCache, settings: Settings
) -> dict[str, Any]:
    """What the backend takes besides the id: the parsed document, and a query mosaic's query,
    catalog and scene access."""
    query = stored_query(record)
    options: dict[str, Any] = {
        "mosaic_def": records.mosaic_document(record.id),
        "settings": settings,
    }
    if query is not None:
        options.update(
            query=query,
            catalog=records.catalog,
            access=access_of(record),
            band_count=len(record.band_names),
        )
    return options
