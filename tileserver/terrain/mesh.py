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
    # pydelatin's vertices are (column, rows - 1 - row, height): its y grows northwards
    vertices = np.asarray(tin.vertices, dtype=np.float64).reshape(-1, 3)
    triangles = np.asarray(tin.triangles, dtype=np.uint32).reshape(-1, 3)
    col = np.rint(vertices[:, 0]).astype(int)
    row = rows - 1 - np.rint(vertices[:, 1]).astype(int)
    west, south, east, north = bounds
    lon = west + col * (east - west) / (cols - 1)
    lat = north - row * (north - south) / (rows - 1)
    lon[col == cols - 1], lat[row == 0] = east, north  # exact edges, not a rounding of them
    positions = np.column_stack([lon, lat, heights[row, col].astype(np.float64)])
    return _first_use_order(Mesh(positions, _counter_clockwise(positions, triangles)))


def _first_use_order(mesh: Mesh) -> Mesh:
    """Number vertices in the order the triangles first use them: the spec's high-water-mark
    index encoding can only say "the next new vertex" or "one already seen"."""
    flat = mesh.triangles.ravel()
    _, first = np.unique(flat, return_index=True)
    order = flat[np.sort(first)]  # old vertex ids, by first use
    new_id = np.empty(mesh.positions.shape[0], dtype=np.uint32)
    new_id[order] = np.arange(order.size, dtype=np.uint32)
    return Mesh(mesh.positions[order], new_id[mesh.triangles])


def _counter_clockwise(positions: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Wind every triangle counter-clockwise seen from above, as the spec wants."""
    a, b, c = (positions[triangles[:, i], :2] for i in range(3))
    area = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    flipped = triangles.copy()
    flipped[area < 0] = triangles[area < 0][:, [0, 2, 1]]
    return flipped
