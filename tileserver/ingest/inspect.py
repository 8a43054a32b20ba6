"""Read a raster's facts once (CRS, bands, grid) and refuse what cogsight cannot serve."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import rasterio
from rasterio.crs import CRS
from rasterio.enums import MaskFlags
from rasterio.errors import RasterioError
from rasterio.warp import transform_bounds, transform_geom
from shapely.geometry import box, mapping, shape
from shapely.ops import unary_union

from tileserver.errors import InvalidRaster

SUPPORTED_DTYPES = {"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "float64"}
MAX_BANDS = 1024
MAX_INFLATION = 1000
MIN_INFLATION_LIMIT = 256 * 1024**2
"""A file may claim at most ``MAX_INFLATION`` times its size in pixels (at least
``MIN_INFLATION_LIMIT`` bytes): a few hundred bytes of sparse or compressed TIFF can otherwise
declare 10^10 pixels and keep the conversion busy for hours, like a zip bomb."""


@dataclass(frozen=True)
class RasterFacts:
    crs: CRS | None
    has_gcps: bool
    width: int
    height: int
    count: int
    dtype: str
    nodata: float | None
    descriptions: tuple[str | None, ...]
    datetime_tag: str | None


def inspect_raster(path: str, max_pixels: int) -> RasterFacts:
    try:
        with rasterio.open(path) as src:
            gcps, gcp_crs = src.gcps
            has_gcps = bool(gcps) and gcp_crs is not None
            georeferenced = src.crs is not None and src.transform != rasterio.Affine.identity()
            if not georeferenced and not has_gcps:
                raise InvalidRaster(
                    "The raster is not georeferenced (it needs a CRS and a geotransform, or GCPs)."
                )
            transform = src.transform
            if georeferenced and (
                not all(math.isfinite(v) for v in transform[:6]) or transform.determinant == 0
            ):
                raise InvalidRaster("The raster's geotransform is degenerate or not finite.")
            if src.count < 1:
                raise InvalidRaster("The raster has no bands.")
            if src.count > MAX_BANDS:
                raise InvalidRaster(
                    f"The raster has {src.count} bands, over the limit of {MAX_BANDS}."
                )
            dtypes = set(src.dtypes)
            if len(dtypes) != 1:
                raise InvalidRaster(f"Bands must share one data type, found {sorted(dtypes)}.")
            dtype = src.dtypes[0]
            if dtype not in SUPPORTED_DTYPES:
                raise InvalidRaster(
                    f"Data type {dtype} is not supported; use 8/16/32-bit integers or floats."
                )
            if src.width * src.height > max_pixels:
                raise InvalidRaster(
                    f"The raster is {src.width}x{src.height} px, over the limit of "
                    f"{max_pixels} pixels."
                )
            return RasterFacts(
                crs=src.crs if georeferenced else gcp_crs,
                has_gcps=has_gcps and not georeferenced,
                width=src.width,
                height=src.height,
                count=src.count,
                dtype=dtype,
                nodata=src.nodata,
                descriptions=tuple(src.descriptions),
                datetime_tag=src.tags().get("TIFFTAG_DATETIME"),
            )
    except InvalidRaster:
        raise
    except (RasterioError, OSError, ValueError) as exc:
        raise InvalidRaster("The file is not a readable raster.") from exc


def require_plausible_size(facts: RasterFacts, file_size: int) -> None:
    """Refuse a file that claims far more pixel bytes than it could hold (a "raster bomb")."""
    claimed = facts.width * facts.height * facts.count * np.dtype(facts.dtype).itemsize
    if claimed > max(MIN_INFLATION_LIMIT, MAX_INFLATION * file_size):
        raise InvalidRaster(
            f"The raster claims {facts.width}x{facts.height} px x {facts.count} band(s) "
            f"({claimed} bytes of pixels) from a {file_size}-byte file, more than "
            f"{MAX_INFLATION} times its size."
        )


def require_readable_pixels(path: str) -> None:
    """Decode every block, overviews and mask included, of a raster stored as it is (a valid
    COG is copied, not converted): a truncated or corrupt one would fail only at tile time."""
    try:
        with rasterio.open(path) as src:
            levels = len(src.overviews(1))
        for level in [None, *range(levels)]:
            with rasterio.open(path, overview_level=level) as src:
                masked = MaskFlags.per_dataset in src.mask_flag_enums[0]
                for _, window in src.block_windows(1):
                    src.read(window=window)
                    if masked:
                        src.read_masks(1, window=window)
    except (RasterioError, OSError) as exc:
        raise InvalidRaster(
            "The raster's pixels could not be read: the file is truncated or corrupt."
        ) from exc


def geographic_bounds(path: str) -> tuple[float, float, float, float]:
    with rasterio.open(path) as src:
        w, s, e, n = transform_bounds(src.crs, "EPSG:4326", *src.bounds, densify_pts=21)
    return (w, s, e, n)


def valid_footprint(path: str, max_side: int = 256) -> dict:
    """WGS84 outline of the valid pixels, from the dataset mask read at a coarse overview."""
    with rasterio.open(path) as src:
        factor = max(1, int(np.ceil(max(src.width, src.height) / max_side)))
        out_shape = (max(1, src.height // factor), max(1, src.width // factor))
        mask = src.dataset_mask(out_shape=out_shape)
        transform = src.transform @ rasterio.Affine.scale(
            src.width / out_shape[1], src.height / out_shape[0]
        )
        from rasterio.features import shapes

        polys = [shape(g) for g, v in shapes(mask, mask=mask > 0, transform=transform) if v]
        if polys:
            geom = unary_union(polys).simplify(abs(transform.a))
        else:
            geom = box(*src.bounds)
        if geom.is_empty:
            geom = box(*src.bounds)
        return transform_geom(src.crs, "EPSG:4326", mapping(geom), precision=7)
