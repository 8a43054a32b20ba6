"""Cesium's geographic tiling: EPSG:4326, two root tiles at z0 (west and east), TMS rows.

At zoom ``z`` there are ``2^(z+1)`` columns and ``2^z`` rows of square ``180 / 2^z`` degree
tiles; column 0 starts at 180°W, row 0 at 90°S (TMS: rows count up from the south).
"""

from __future__ import annotations

import math

from tileserver.errors import NotFoundError

MAX_ZOOM = 22


class OutsideGrid(NotFoundError):
    """A tile address that is not in Cesium's geographic grid (404)."""

    code = "tile_outside_grid"


def tile_span(z: int) -> float:
    """A tile's side in degrees at zoom ``z``."""
    return 180.0 / (1 << z)


def check_tile(z: int, x: int, y: int) -> None:
    if not 0 <= z <= MAX_ZOOM:
        raise OutsideGrid(f"Zoom {z} is outside the terrain grid (0-{MAX_ZOOM}).")
    if not (0 <= x < 2 << z and 0 <= y < 1 << z):
        raise OutsideGrid(
            f"Tile {z}/{x}/{y} is outside the terrain grid: at zoom {z} x is 0-{(2 << z) - 1} "
            f"and y is 0-{(1 << z) - 1}."
        )


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """(west, south, east, north) in degrees of a TMS tile."""
    check_tile(z, x, y)
    d = tile_span(z)
    return (-180.0 + x * d, -90.0 + y * d, -180.0 + (x + 1) * d, -90.0 + (y + 1) * d)


def tile_range(
    z: int, bounds: tuple[float, float, float, float]
) -> tuple[int, int, int, int] | None:
    """(startX, startY, endX, endY), inclusive, of the tiles at ``z`` that ``bounds`` touch."""
    west, south, east, north = bounds
    west, east = max(west, -180.0), min(east, 180.0)
    south, north = max(south, -90.0), min(north, 90.0)
    if not (west < east and south < north):
        return None
    d = tile_span(z)
    cols, rows = (2 << z) - 1, (1 << z) - 1
    x0 = min(cols, max(0, math.floor((west + 180.0) / d)))
    x1 = min(cols, max(0, math.ceil((east + 180.0) / d) - 1))
    y0 = min(rows, max(0, math.floor((south + 90.0) / d)))
    y1 = min(rows, max(0, math.ceil((north + 90.0) / d) - 1))
    return (x0, y0, max(x0, x1), max(y0, y1))
