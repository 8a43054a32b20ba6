"""Hillshade, slope, aspect and contour lines of an elevation tile, in ground metres.

titiler's own ``hillshade`` / ``slope`` take the gradient per pixel or per CRS unit, so a Web
Mercator tile's relief changes with zoom and latitude. These measure each pixel on the ground
(geodesic distances across the tile at its latitude), so 30° is 30° at every zoom. They need a
pixel beyond each edge: tiles are read with a 1-pixel buffer (``tileserver.elevation.process``)
and ``buffer`` pixels are cut off again here. Terrain-RGB / terrarium are titiler's encoders,
refusing more than one band. All read heights bilinearly unless asked otherwise.
"""

from __future__ import annotations

import functools
from typing import Any, ClassVar

import numpy as np
from pydantic import Field
from pyproj import Geod, Transformer
from rasterio import windows
from rio_tiler.models import ImageData
from titiler.core.algorithm import BaseAlgorithm
from titiler.core.algorithm import algorithms as titiler_algorithms
from titiler.core.algorithm.dem import TerrainRGB as TitilerTerrainRGB
from titiler.core.algorithm.dem import Terrarium as TitilerTerrarium

from tileserver.errors import InvalidInput

GEOD = Geod(ellps="WGS84")
CONTOUR_COLOUR = (110, 70, 30)
INDEX_CONTOUR_COLOUR = (60, 35, 10)
INDEX_EVERY = 5
"""Every fifth contour (an index contour) is drawn darker."""


@functools.lru_cache(maxsize=64)
def _to_lonlat(crs_wkt: str) -> Transformer:
    return Transformer.from_crs(crs_wkt, "EPSG:4326", always_xy=True)


def ground_pixel_size(img: ImageData) -> tuple[float, float]:
    """Metres per pixel (east-west, north-south) across the middle of the image."""
    west, south, east, north = img.bounds  # type: ignore[misc]
    if img.crs is None:
        return abs(east - west) / img.width, abs(north - south) / img.height
    cx, cy = (west + east) / 2, (south + north) / 2
    xs, ys = [west, east, cx, cx], [cy, cy, south, north]
    if img.crs.is_geographic:
        lons, lats = xs, ys
    else:
        lons, lats = _to_lonlat(img.crs.to_wkt()).transform(xs, ys, errcheck=False)
    lats = [max(-89.9, min(89.9, v)) for v in lats]
    _, _, across = GEOD.inv(lons[0], lats[0], lons[1], lats[1])
    _, _, down = GEOD.inv(lons[2], lats[2], lons[3], lats[3])
    return max(abs(across) / img.width, 1e-9), max(abs(down) / img.height, 1e-9)


def _single_band(img: ImageData, name: str) -> np.ndarray:
    """The heights as float64 with nodata as NaN; a 400 unless there is exactly one band."""
    if img.count != 1:
        raise InvalidInput(
            f"'{name}' draws an elevation model (one band of heights); "
            f"this image has {img.count} bands."
        )
    band = np.ma.masked_invalid(img.array[0].astype("float64"))
    return band.filled(np.nan)


def gradients(img: ImageData, name: str, z_exaggeration: float) -> tuple[np.ndarray, np.ndarray]:
    """dz/d(east) and dz/d(north), unitless (metres per metre); NaN next to nodata."""
    heights = _single_band(img, name) * z_exaggeration
    size_x, size_y = ground_pixel_size(img)
    if min(heights.shape) < 2:
        zeros = np.zeros_like(heights)
        return zeros, zeros
    per_row, per_col = np.gradient(heights, size_y, size_x)
    return np.asarray(per_col), -np.asarray(per_row)  # rows run south


def _cropped(img: ImageData, data: np.ma.MaskedArray, buffer: int, names: list[str]) -> ImageData:
    bounds = img.bounds
    if buffer and data.shape[-1] > 2 * buffer and data.shape[-2] > 2 * buffer:
        data = data[..., buffer:-buffer, buffer:-buffer]
        window = windows.Window(buffer, buffer, data.shape[-1], data.shape[-2])  # type: ignore[call-arg]
        bounds = windows.bounds(window, img.transform)
    return ImageData(data, assets=img.assets, crs=img.crs, bounds=bounds, band_descriptions=names)


def _masked(values: np.ndarray, invalid: np.ndarray, dtype: str) -> np.ma.MaskedArray:
    filled = np.where(invalid, 0, values).astype(dtype)
    return np.ma.MaskedArray(filled[None], mask=invalid[None])


class _Heights(BaseAlgorithm):
    """An algorithm over heights: read with bilinear resampling unless the request says
    otherwise (nearest would draw a DEM upsampled past its resolution as terraces)."""

    smooth_heights: ClassVar[bool] = True


class Terrarium(TitilerTerrarium, _Heights):
    def __call__(self, img: ImageData) -> ImageData:
        _single_band(img, "terrarium")
        return super().__call__(img)


class TerrainRGB(TitilerTerrainRGB, _Heights):
    def __call__(self, img: ImageData) -> ImageData:
        _single_band(img, "terrainrgb")
        return super().__call__(img)


class _Neighbourhood(_Heights):
    """An algorithm that reads each pixel's neighbours (a 1-pixel tile buffer)."""

    buffer: int = Field(default=0, ge=0, le=8, description="Pixels read beyond each edge, cut off.")
    z_exaggeration: float = Field(default=1.0, ge=1e-6, le=1e6)
    input_nbands: int = 1
    output_nbands: int = 1
    needs_neighbours: ClassVar[bool] = True


class Slope(_Neighbourhood):
    title: str = "Slope"
    description: str = "Slope of a DEM in degrees, measured in ground metres."
    output_dtype: str = "float32"
    output_min: list[float] = [0.0]
    output_max: list[float] = [90.0]

    def __call__(self, img: ImageData) -> ImageData:
        east, north = gradients(img, "slope", self.z_exaggeration)
        degrees = np.degrees(np.arctan(np.hypot(east, north)))
        data = _masked(degrees, ~np.isfinite(degrees), self.output_dtype)
        return _cropped(img, data, self.buffer, ["slope"])


class Aspect(_Neighbourhood):
    title: str = "Aspect"
    description: str = "Compass direction a slope faces (0 north, 90 east); flat is nodata."
    output_dtype: str = "float32"
    output_min: list[float] = [0.0]
    output_max: list[float] = [360.0]
    flat_below: float = Field(default=1e-6, ge=0, description="Gradients below this are flat.")

    def __call__(self, img: ImageData) -> ImageData:
        east, north = gradients(img, "aspect", self.z_exaggeration)
        degrees = np.degrees(np.arctan2(-east, -north)) % 360.0
        steepness = np.hypot(east, north)
        invalid = ~np.isfinite(degrees) | ~(steepness >= self.flat_below)
        return _cropped(img, _masked(degrees, invalid, self.output_dtype), self.buffer, ["aspect"])


class Hillshade(_Neighbourhood):
    title: str = "Hillshade"
    description: str = "Shaded relief of a DEM lit from azimuth / altitude (degrees)."
    azimuth: float = Field(default=315.0, ge=0, le=360, description="Sun direction, from north.")
    angle_altitude: float = Field(default=45.0, ge=0.0, le=90.0, description="Sun height.")
    output_dtype: str = "uint8"

    def __call__(self, img: ImageData) -> ImageData:
        east, north = gradients(img, "hillshade", self.z_exaggeration)
        slope = np.arctan(np.hypot(east, north))
        aspect = np.arctan2(-east, -north)
        zenith = np.radians(90.0 - self.angle_altitude)
        sun = np.radians(self.azimuth)
        shade = np.cos(zenith) * np.cos(slope) + np.sin(zenith) * np.sin(slope) * np.cos(
            sun - aspect
        )
        values = np.clip(shade * 255.0, 0, 255).round()
        data = _masked(values, ~np.isfinite(shade), self.output_dtype)
        return _cropped(img, data, self.buffer, ["hillshade"])


class Contours(_Neighbourhood):
    title: str = "Contours"
    description: str = "Contour lines every `interval` metres; clear between them."
    interval: float = Field(default=10.0, gt=0, le=100_000, description="Metres between lines.")
    output_nbands: int = 3
    output_dtype: str = "uint8"

    def __call__(self, img: ImageData) -> ImageData:
        heights = _single_band(img, "contours")
        level = np.floor(heights / self.interval)
        line = np.zeros(level.shape, dtype=bool)
        with np.errstate(invalid="ignore"):
            # a pixel is on the line of level k when it is at or above k * interval and a
            # 4-neighbour is below it: one pixel wide, on the upper side of the crossing
            line[:-1, :] |= level[:-1, :] > level[1:, :]
            line[1:, :] |= level[1:, :] > level[:-1, :]
            line[:, :-1] |= level[:, :-1] > level[:, 1:]
            line[:, 1:] |= level[:, 1:] > level[:, :-1]
        index = np.isfinite(level) & (np.nan_to_num(level) % INDEX_EVERY == 0)
        rgb = np.empty((3, *level.shape), dtype="uint8")
        for band in range(3):
            rgb[band] = np.where(index, INDEX_CONTOUR_COLOUR[band], CONTOUR_COLOUR[band])
        data = np.ma.MaskedArray(rgb, mask=np.broadcast_to(~line, rgb.shape).copy())
        return _cropped(img, data, self.buffer, ["contours_r", "contours_g", "contours_b"])


_OURS: dict[str, Any] = {
    "hillshade": Hillshade,
    "slope": Slope,
    "aspect": Aspect,
    "contours": Contours,
    "terrarium": Terrarium,
    "terrainrgb": TerrainRGB,
}
ALGORITHMS = titiler_algorithms.register(_OURS, overwrite=True)
"""titiler's algorithms with the DEM ones measured in ground metres (and ``aspect``)."""
ENCODINGS = ("terrarium", "terrainrgb")
"""Height encodings for MapLibre 3D terrain (``?encoding=``): titiler's encoders."""


def needs_neighbours(algorithm: Any) -> bool:
    return bool(getattr(algorithm, "needs_neighbours", False))


def smooth_heights(algorithm: Any) -> bool:
    return bool(getattr(algorithm, "smooth_heights", False))
