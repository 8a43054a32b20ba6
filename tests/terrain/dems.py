"""Synthetic DEMs as GeoTIFF bytes, and an independent decoder of the tiles the server makes.

Heights are a function of longitude and latitude (a Gaussian hill on a slope), so any file, in
any CRS, samples the same surface: a tile's vertex can be checked against the function itself
as well as against the file.
"""

from __future__ import annotations

import gzip
import io
from dataclasses import dataclass

import numpy as np
import rasterio
from quantized_mesh_tile.terrain import TerrainTile
from rasterio.transform import Affine, from_origin
from rasterio.warp import transform as warp_transform

HILL_LON, HILL_LAT = 114.06, 30.72
"""The hill's summit (just east of 114°E, the UTM 49N / 50N zone boundary)."""


def surface(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Metres: 200 m base, a slope rising ~400 m per degree eastwards, an 800 m hill."""
    hill = 800.0 * np.exp(-(((lon - HILL_LON) / 0.03) ** 2 + ((lat - HILL_LAT) / 0.03) ** 2))
    return 200.0 + 400.0 * (lon - 114.0) + 100.0 * (lat - 30.7) + hill


def dem_geotiff(
    crs: str, transform: Affine, size: int, nodata: float | None = -9999.0,
    hole: tuple[slice, slice] | None = None, fill: float | None = None, sea_cols: int = 0,
) -> bytes:  # fmt: skip
    """A ``size``² float32 DEM of ``surface`` (pixel centres), ``hole`` set to nodata, or
    ``fill`` everywhere (e.g. all nodata), the first ``sea_cols`` columns at sea level (0 m)."""
    cols, rows = np.meshgrid(np.arange(size) + 0.5, np.arange(size) + 0.5)
    xs, ys = transform * (cols.ravel(), rows.ravel())
    lon, lat = warp_transform(crs, "EPSG:4326", xs, ys) if crs != "EPSG:4326" else (xs, ys)
    heights = surface(np.asarray(lon), np.asarray(lat)).reshape(size, size).astype("float32")
    if fill is not None:
        heights[:] = fill
    if hole is not None:
        heights[hole] = nodata
    heights[:, :sea_cols] = 0.0
    with rasterio.MemoryFile() as memfile:
        with memfile.open(
            driver="GTiff", width=size, height=size, count=1, dtype="float32", crs=crs,
            transform=transform, nodata=nodata, tiled=True, blockxsize=256, blockysize=256,
        ) as dst:  # fmt: skip
            dst.write(heights, 1)
            dst.set_band_description(1, "elevation")
            dst.update_tags(1, units="m")
        return bytes(memfile.read())


def utm_origin(epsg: int, lon: float, lat: float) -> tuple[float, float]:
    xs, ys = warp_transform("EPSG:4326", f"EPSG:{epsg}", [lon], [lat])
    return round(xs[0]), round(ys[0])


def utm_dem(
    size: int = 512, pixel: float = 30.0, epsg: int = 32650, west: float = 114.0,
    north: float = 30.8, **options: object,
) -> bytes:  # fmt: skip
    """A UTM DEM whose top-left corner is at (``west``, ``north``)."""
    x, y = utm_origin(epsg, west, north)
    return dem_geotiff(f"EPSG:{epsg}", from_origin(x, y, pixel, pixel), size, **options)  # type: ignore[arg-type]


def geographic_dem(size: int = 512, pixel: float = 0.0003, **options: object) -> bytes:
    return dem_geotiff("EPSG:4326", from_origin(114.0, 30.8, pixel, pixel), size, **options)  # type: ignore[arg-type]


@dataclass
class Decoded:
    lon: np.ndarray
    lat: np.ndarray
    height: np.ndarray
    u: np.ndarray
    v: np.ndarray
    triangles: np.ndarray
    west: np.ndarray
    south: np.ndarray
    east: np.ndarray
    north: np.ndarray
    normals: bool
    watermask: object
    header: dict[str, float] | None = None


def decode(body: bytes, bounds: tuple[float, float, float, float]) -> Decoded:
    """A gzip quantized-mesh tile read by ``quantized-mesh-tile`` (not our encoder's code)."""
    west, south, east, north = bounds
    tile = TerrainTile(west=west, south=south, east=east, north=north)
    if body[:2] == b"\x1f\x8b":  # the HTTP client may have decoded Content-Encoding already
        body = gzip.decompress(body)
    tile.fromBytesIO(io.BytesIO(body), hasLighting=True, hasWatermask=True)
    coords = np.array(tile.getVerticesCoordinates(), dtype=np.float64)
    return Decoded(
        lon=coords[:, 0], lat=coords[:, 1], height=coords[:, 2],
        u=np.array(tile.u), v=np.array(tile.v),
        triangles=np.array(tile.indices, dtype=np.int64).reshape(-1, 3),
        west=np.array(tile.westI), south=np.array(tile.southI),
        east=np.array(tile.eastI), north=np.array(tile.northI),
        normals=len(tile.vLight) == len(tile.u), watermask=tile.watermask,
        header=dict(tile.header),
    )  # fmt: skip


def cesium_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """Cesium's geographic tiling, written out again here (TMS rows, 2x1 roots)."""
    d = 180.0 / 2**z
    return (-180.0 + x * d, -90.0 + y * d, -180.0 + (x + 1) * d, -90.0 + (y + 1) * d)


def tile_at(z: int, lon: float, lat: float) -> tuple[int, int]:
    d = 180.0 / 2**z
    return int((lon + 180.0) // d), int((lat + 90.0) // d)
