"""A mesh → a gzip-compressed quantized-mesh-1.0 tile with ``octvertexnormals`` and
``watermask``.

The header (centre, height range, bounding sphere, horizon occlusion point), indices, edge
indices and extensions are written by ``quantized-mesh-encoder``. Only the vertex quantization
is done here: the library's ``encode`` casts positions to float32 (about 1e-5° at 100° E, a
third of a z15 tile's quantization range) and truncates, which moves edge vertices off the
edge at high zooms; here u/v are rounded from float64 against the exact tile bounds, so an
edge vertex is exactly 0 or 32767 and neighbours meet.

Water mask (decided): a sample of the DEM within 0.5 m of sea level (0 m) is water, as sea
and lakes at sea level are flat zeros in the common DEMs; everything else, and everywhere the
DEM has no data, is land. A tile all land or all water carries the one-byte form (0 / 255),
otherwise the 256 x 256 mask.
"""

from __future__ import annotations

import gzip
import io

import numpy as np
from quantized_mesh_encoder import WGS84, VertexNormalsExtension, WaterMaskExtension
from quantized_mesh_encoder.encode import (
    compute_header,
    encode_header,
    write_edge_indices,
    write_indices,
    write_vertices,
)

from tileserver.terrain.mesh import Mesh

MEDIA_TYPE = "application/vnd.quantized-mesh;extensions=octvertexnormals-watermask"
EXTENSIONS = ["octvertexnormals", "watermask"]
QUANTIZED = 32767
WATER_MASK_SIZE = 256
SEA_LEVEL_TOLERANCE_M = 0.5
GZIP_LEVEL = 6
POLAR_LATITUDE = 89.9999
FAR_OCCLUSION = 1000.0
"""Ellipsoid radii out along the tile's centre."""


def water_mask(heights: np.ndarray, has_data: np.ndarray) -> np.ndarray | int:
    """255 (all water), 0 (all land) or a (256, 256) uint8 mask, row 0 north."""
    water = has_data & (np.abs(heights) <= SEA_LEVEL_TOLERANCE_M)
    if not water.any():
        return 0
    if water.all():
        return 255
    rows, cols = water.shape
    pick_r = np.minimum((np.arange(WATER_MASK_SIZE) + 0.5) * rows / WATER_MASK_SIZE, rows - 1)
    pick_c = np.minimum((np.arange(WATER_MASK_SIZE) + 0.5) * cols / WATER_MASK_SIZE, cols - 1)
    picked = water[pick_r.astype(int)][:, pick_c.astype(int)]
    return np.where(picked, 255, 0).astype(np.uint8)


def _scaled_occlusion_point(header: dict[str, float]) -> None:
    """The horizon occlusion point in the ellipsoid-scaled frame, as the spec and Cesium
    (``occludeePointInScaledSpace``) take it: the library computes it there but multiplies it
    back to metres. A tile wider than a quarter of the globe (z0, z1) has no such point (the
    library divides by zero): it gets one far out along its centre, which the horizon never
    hides from the side facing it."""
    keys = ("horizonOcclusionPointX", "horizonOcclusionPointY", "horizonOcclusionPointZ")
    scale = np.array([WGS84.a, WGS84.a, WGS84.b])
    point = np.array([header[k] for k in keys], dtype=np.float64) / scale
    if not np.isfinite(point).all():
        centre = np.array([header["centerX"], header["centerY"], header["centerZ"]], np.float64)
        norm = float(np.linalg.norm(centre))
        direction = centre / norm if norm > 0 else np.array([1.0, 0.0, 0.0])
        point = direction * FAR_OCCLUSION
    for key, value in zip(keys, point, strict=True):
        header[key] = float(value)


def _quantize(
    mesh: Mesh, bounds: tuple[float, float, float, float], low: float, high: float
) -> np.ndarray:
    """u, v against the exact tile bounds; heights against the header's (float32) range, the
    one Cesium dequantizes with."""
    west, south, east, north = bounds
    lon, lat, h = mesh.positions.T
    u = np.rint((lon - west) / (east - west) * QUANTIZED)
    v = np.rint((lat - south) / (north - south) * QUANTIZED)
    q = np.rint((h - low) / (high - low) * QUANTIZED) if high > low else np.zeros_like(h)
    return np.clip(np.column_stack([u, v, q]), 0, QUANTIZED).astype(np.int16)


def encode_tile(
    mesh: Mesh, bounds: tuple[float, float, float, float], water: np.ndarray | int
) -> bytes:
    """The gzip-compressed tile body."""
    out = io.BytesIO()
    # the header's centre, sphere and occlusion point are float32 in the library (and the spec)
    with np.errstate(divide="ignore", invalid="ignore"):
        header = compute_header(mesh.positions.astype(np.float32), None)
    _scaled_occlusion_point(header)
    encode_header(out, header)
    low, high = (float(np.float32(header[k])) for k in ("minimumHeight", "maximumHeight"))
    quantized = _quantize(mesh, bounds, low, high)
    count = quantized.shape[0]
    write_vertices(out, quantized, count)
    write_indices(out, mesh.triangles, count)
    write_edge_indices(out, quantized, count)
    # a polar row's vertices meet in one point: keep its triangles' areas above zero
    near_poles = mesh.positions.copy()
    near_poles[:, 1] = np.clip(near_poles[:, 1], -POLAR_LATITUDE, POLAR_LATITUDE)
    normals = VertexNormalsExtension(indices=mesh.triangles, positions=near_poles)
    mask = WaterMaskExtension(data=water if isinstance(water, np.ndarray) else np.uint8(water))
    for extension in (normals, mask):
        out.write(extension.encode())
    return gzip.compress(out.getvalue(), compresslevel=GZIP_LEVEL, mtime=0)
