"""A tile's heights → a triangle mesh within the zoom's maximum error.

Heights are sampled on a ``(SAMPLES, SAMPLES)`` grid whose first and last rows and columns lie
exactly on the tile's edges (pixel-is-point), so two neighbours sample the very same positions
along the edge they share and agree on every height there. ``pydelatin`` keeps the tile's corners
and adds vertices until no sample is further than ``max_error(z)`` metres from the mesh; its edge
vertices are listed in the tile (quantized-mesh edge indices) and Cesium hangs skirts from them,
so where two neighbours picked different edge vertices the small gap (at most the maximum error)
is closed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from pydelatin import Delatin

SAMPLES = 65
"""Height samples per tile side (as Cesium's own heightmap tiles): 64 cells."""
LEVEL_ZERO_ERROR = 6378137.0 * 2 * math.pi * 0.25 / (SAMPLES * 2)
"""Cesium's geometric error of a z0 tile (``getLevelMaximumGeometricError(0)``, ~77 km)."""
MIN_ERROR = 0.25


def max_error(z: int) -> float:
    """The largest vertical distance, in metres, between a zoom's mesh and its height samples:
    the geometric error Cesium assumes for that level, so its screen-space refinement holds."""
    return max(LEVEL_ZERO_ERROR / (1 << z), MIN_ERROR)


@dataclass(frozen=True)
class Mesh:
    positions: np.ndarray
    """(n, 3) float64 longitude, latitude, height (m above the ellipsoid as the DEM states)."""
    triangles: np.ndarray
    """(m, 3) uint32 vertex indices, counter-clockwise seen from above."""


def build_mesh(heights: np.ndarray, bounds: tuple[float, float, float, float], z: int) -> Mesh:
    """Mesh a ``(SAMPLES, SAMPLES)`` float grid (row 0 north) over ``bounds`` (degrees)."""
    rows, cols = heights.shape
    tin = Delatin(
        np.ascontiguousarray(heights, dtype=np.float32).ravel(),
        width=cols,
        height=rows,
        max_error=max_error(z),
    )
    vertices = np.asarray(tin.vertices, dtype=np.float64).reshape(-1, 3)  # col, row, height
    triangles = np.asarray(tin.triangles, dtype=np.uint32).reshape(-1, 3)
    col = np.rint(vertices[:, 0]).astype(int)
    row = np.rint(vertices[:, 1]).astype(int)
    west, south, east, north = bounds
    lon = west + col * (east - west) / (cols - 1)
    lat = north - row * (north - south) / (rows - 1)
    lon[col == cols - 1], lat[row == 0] = east, north  # exact edges, not a rounding of them
    positions = np.column_stack([lon, lat, heights[row, col].astype(np.float64)])
    return Mesh(positions, _counter_clockwise(positions, triangles))


def _counter_clockwise(positions: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Grid rows grow southwards, which mirrors the triangles: wind them as the spec wants."""
    a, b, c = (positions[triangles[:, i], :2] for i in range(3))
    area = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    flipped = triangles.copy()
    flipped[area < 0] = triangles[area < 0][:, [0, 2, 1]]
    return flipped
