"""Edge matching: make neighbouring polygons share identical vertices along their common edges.

A polygonal coverage is valid when polygons do not overlap *and* every shared edge has the
same vertices on both sides. GDAL's polygonize (behind `rasterio.features.shapes`) only puts
a vertex where a boundary turns, so one long edge can face several neighbours whose corners
are not vertices of it (T-junctions): the polygons tile the plane, but GEOS's coverage
operations see unmatched edges. Edits that move boundaries (regularization) create the same
kind of T-junctions; `match_vertices` repairs those locally.
"""

from __future__ import annotations

import numpy as np
import shapely
from shapely import STRtree


def edge_match_pixels(geoms: np.ndarray) -> np.ndarray:
    """Snap pixel-space polygons to the pixel grid and put a vertex at every pixel corner.

    ``geoms`` are in pixel coordinates (column, row), so the pixel grid is the integer grid:
    `shapely.set_precision` with grid size 1 makes both sides of an edge use the very same
    coordinates (polygonize in pixel coordinates already gives integers, so this is checked
    first and skipped: it costs as much as the simplification). Segmentizing at 1 pixel then
    puts a vertex at every pixel corner along every edge, on both sides, which removes all
    T-junctions. The extra collinear vertices cost memory only until
    `shapely.coverage_simplify` removes them (it keeps the nodes).
    """
    coords = shapely.get_coordinates(geoms)
    if not np.array_equal(coords, np.round(coords)):
        geoms = shapely.set_precision(geoms, 1.0)
    return np.asarray(shapely.segmentize(geoms, 1.0))


def match_vertices(
    geoms: np.ndarray, which: np.ndarray, tolerance: float, zone: shapely.Geometry | None = None
) -> np.ndarray:
    """Make the polygons of ``which`` edge-matched again after overlay edits.

    Two steps, on the vertices within ``tolerance`` of ``zone`` (where the coverage was edited;
    all vertices if None): vertices closer than ``tolerance`` (CRS units; a tiny fraction of a
    pixel absorbs overlay rounding) are merged into one, the smallest in (x, y), the same for
    every polygon; then each polygon gets, as new vertices, the merged vertices lying on its
    edges (T-junctions). ``which`` must hold every polygon that touches an edited one.
    Returns a new array; the polygons outside ``which`` are untouched.
    """
    out = geoms.copy()
    which = np.unique(which)
    if len(which) == 0:
        return out
    mine = out[which]
    coords = shapely.get_coordinates(mine)
    cand = np.arange(len(coords))
    if zone is not None:
        shapely.prepare(zone)
        cand = cand[shapely.dwithin(zone, shapely.points(coords), tolerance)]
    if len(cand) == 0:
        return out
    coords[cand] = _merge_close(coords[cand], tolerance)
    mine = shapely.set_coordinates(mine.copy(), coords)
    mine = shapely.remove_repeated_points(mine, 0.0)
    points = np.unique(coords[cand], axis=0)
    point_geoms = shapely.points(points)
    point_tree = STRtree(point_geoms)
    for k, geom in enumerate(mine):
        if geom is None or shapely.is_empty(geom):
            continue
        near = point_tree.query(shapely.boundary(geom), predicate="dwithin", distance=tolerance)
        if len(near):
            geom = _crack(geom, points[near], tolerance)
        if not shapely.is_valid(geom):
            geom = _largest_polygonal(shapely.make_valid(geom))
        mine[k] = geom
    out[which] = mine
    return out


def _merge_close(xy: np.ndarray, tolerance: float) -> np.ndarray:
    """Each point replaced by the smallest (x, y) of its cluster of points within ``tolerance``."""
    order = np.lexsort((xy[:, 1], xy[:, 0]))
    xy_sorted = xy[order]
    left, right = STRtree(shapely.points(xy_sorted)).query(
        shapely.points(xy_sorted), predicate="dwithin", distance=tolerance
    )
    label = np.arange(len(xy_sorted))
    while True:  # propagate the smallest label through the pairs until nothing changes
        new = label.copy()
        np.minimum.at(new, left, label[right])
        new = new[new]
        if np.array_equal(new, label):
            break
        label = new
    merged = np.empty_like(xy)
    merged[order] = xy_sorted[label]
    return merged


def _crack(geom: shapely.Geometry, pts: np.ndarray, tolerance: float) -> shapely.Geometry:
    """``geom`` with the points ``pts`` that lie inside its segments inserted as vertices."""
    parts = shapely.get_parts(geom)
    rings, part_of = shapely.get_rings(parts, return_index=True)
    coords, ring_of = shapely.get_coordinates(rings, return_index=True)
    seg = np.flatnonzero(ring_of[:-1] == ring_of[1:])  # segment k runs coords[k] -> coords[k+1]
    a, b = coords[seg], coords[seg + 1]
    seg_tree = STRtree(shapely.linestrings(np.stack([a, b], axis=1)))
    p_idx, s_idx = seg_tree.query(shapely.points(pts), predicate="dwithin", distance=tolerance)
    p, sa, sb = pts[p_idx], a[s_idx], b[s_idx]
    inner = (np.hypot(*(p - sa).T) > tolerance) & (np.hypot(*(p - sb).T) > tolerance)
    if not inner.any():
        return geom
    p, sa, sb, s_idx = p[inner], sa[inner], sb[inner], s_idx[inner]
    d = sb - sa
    t = np.einsum("ij,ij->i", p - sa, d) / np.einsum("ij,ij->i", d, d)
    # each ring: its vertices, plus the inserted points ordered by (segment, position on it)
    key = np.concatenate([np.arange(len(coords), dtype=float), seg[s_idx] + np.clip(t, 1e-9, 1)])
    xy = np.concatenate([coords, p])
    ring = np.concatenate([ring_of, ring_of[seg[s_idx]]])
    order = np.lexsort((key, ring))
    new_rings = shapely.linearrings(xy[order], indices=ring[order])
    polys = []
    for k in range(len(parts)):
        own = new_rings[part_of == k]
        polys.append(shapely.Polygon(own[0], list(own[1:])))
    return polys[0] if len(polys) == 1 else shapely.MultiPolygon(polys)


def overlapping_pairs(geoms: np.ndarray, min_area: float = 0.0) -> np.ndarray:
    """Index pairs ``(i, j)``, i < j, whose interiors overlap by more than ``min_area``.

    An STRtree finds candidate pairs; only those are intersected. A valid coverage has none.
    """
    tree = STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    area = shapely.area(shapely.intersection(geoms[left], geoms[right]))
    bad = area > min_area
    return np.stack([left[bad], right[bad]], axis=1)


def _largest_polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    """The polygonal part of a repaired geometry (lines and points left by make_valid dropped)."""
    parts = shapely.get_parts(shapely.get_parts(geom))  # a collection may hold multipolygons
    polys = parts[shapely.get_type_id(parts) == 3]
    if len(polys) == 0:
        return shapely.Polygon()
    if len(polys) == 1:
        return polys[0]
    return shapely.multipolygons(polys)
