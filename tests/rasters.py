"""Small GeoTIFFs in memory for tests that upload one: UTM 50N, 10 m pixels, north of Wuhan."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import rasterio
from rasterio.transform import from_origin


def utm_geotiff(
    data: np.ndarray, easting: float = 250000, descriptions: Sequence[str] = (), **creation: Any
) -> bytes:
    """``data`` (bands, rows, cols) as GeoTIFF bytes whose top-left corner is at ``easting``,
    northing 3,385,000 in EPSG:32650; ``creation`` adds GDAL creation options (tiling ...)."""
    count, height, width = data.shape
    with rasterio.MemoryFile() as memfile:
        with memfile.open(
            driver="GTiff",
            width=width,
            height=height,
            count=count,
            dtype=data.dtype.name,
            crs="EPSG:32650",
            transform=from_origin(easting, 3385000, 10, 10),
            **creation,
        ) as dst:
            dst.write(data)
            if descriptions:
                dst.descriptions = tuple(descriptions)
        return bytes(memfile.read())
