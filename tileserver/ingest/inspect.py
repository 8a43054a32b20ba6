"""Read a raster's facts once (CRS, bands, grid) and refuse what cogsight cannot serve."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import rasterio
from rasterio.crs import CRS
from rasterio.errors import RasterioError
from rasterio.warp import transform_bounds, transform_geom
from shapely.geometry import box, mapping, shape
from shapely.ops import unary_union

from tileserver.errors import InvalidRaster

SUPPORTED_DTYPES = {"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "float64"}


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
            if src.count < 1:
                raise InvalidRaster("The raster has no bands.")
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
