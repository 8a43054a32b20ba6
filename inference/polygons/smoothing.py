"""Chaikin smoothing of a coverage that keeps it a coverage.

Smoothing each polygon on its own would move a shared edge differently for the two
neighbours (gaps and overlaps). Instead the coverage is taken apart into its edges -- the
unique segments merged into chains between nodes (vertices where three or more edges meet) --
each chain is smoothed once with its end nodes fixed, and the faces are rebuilt with
`shapely.polygonize` and given back to the polygon they overlap most. Chains on the boundary
of ``frozen`` polygons (regularized buildings) are kept straight.
"""

from __future__ import annotations

import numpy as np
import shapely
from shapely import STRtree


def chaikin_lines(lines: np.ndarray, iterations: int) -> np.ndarray:
    """Chaikin corner cutting of many lines at once (vectorized over the ragged coordinates).

    Each iteration replaces every corner ``b`` (between ``a`` and ``c``) by the two points
    ``¾b + ¼a`` and ``¾b + ¼c``. Open lines keep their end points, closed lines are treated as
    cyclic (every vertex is a corner). Two-point lines do not change.
    """
    lines = np.asarray(lines, dtype=object)
    for _ in range(iterations):
        if len(lines) == 0:
            break
        coords, line = shapely.get_coordinates(lines, return_index=True)
        closed = np.asarray(shapely.is_closed(lines))
        count = np.bincount(line, minlength=len(lines))
        start = np.concatenate([[0], np.cumsum(count)[:-1]])
        pos = np.arange(len(coords)) - start[line]
        keep = ~(closed[line] & (pos == count[line] - 1))  # drop the closing duplicate
        pts, line, pos = coords[keep], line[keep], pos[keep]
        n = count - closed
        first = np.concatenate([[0], np.cumsum(n)[:-1]])
        j = np.arange(len(pts))
        last_of_line = first[line] + n[line] - 1
        prev = np.where(pos > 0, j - 1, last_of_line)
        nxt = np.where(pos < n[line] - 1, j + 1, first[line])
        corner = closed[line] | ((pos > 0) & (pos < n[line] - 1))
        r = 0.75 * pts + 0.25 * pts[prev]
        q = 0.75 * pts + 0.25 * pts[nxt]
        # emitted points: (line, order key, x, y); a corner emits r then q, an end itself
        ends = ~corner
        c_idx = np.flatnonzero(corner)
        e_idx = np.flatnonzero(ends)
        close_idx = np.flatnonzero(corner & closed[line] & (pos == 0))
        out_line = np.concatenate([line[c_idx], line[c_idx], line[e_idx], line[close_idx]])
        out_key = np.concatenate(
            [2 * pos[c_idx], 2 * pos[c_idx] + 1, 2 * pos[e_idx], 2 * n[line[close_idx]]]
        )
        out_xy = np.concatenate([r[c_idx], q[c_idx], pts[e_idx], r[close_idx]])
        order = np.lexsort((out_key, out_line))
        lines = np.asarray(
            shapely.linestrings(out_xy[order], indices=out_line[order]), dtype=object
        )
    return lines


def _edges(geoms: np.ndarray, frozen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unique chains of the coverage's edges and whether each borders a frozen polygon."""
    parts, part_owner = shapely.get_parts(geoms, return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    owner = part_owner[ring_part]
    coords, ring = shapely.get_coordinates(rings, return_index=True)
    same = ring[:-1] == ring[1:]
    a, b = coords[:-1][same], coords[1:][same]
    seg_frozen = frozen[owner[ring[:-1][same]]]
    swap = (a[:, 0] > b[:, 0]) | ((a[:, 0] == b[:, 0]) & (a[:, 1] > b[:, 1]))
    lo = np.where(swap[:, None], b, a)
    hi = np.where(swap[:, None], a, b)
    key = np.concatenate([lo, hi], axis=1)
    unique, inverse = np.unique(key, axis=0, return_inverse=True)
    unique_frozen = np.zeros(len(unique), dtype=bool)
    np.logical_or.at(unique_frozen, inverse.ravel(), seg_frozen)
    segments = shapely.linestrings(unique.reshape(-1, 2, 2))
    chains = shapely.get_parts(shapely.line_merge(shapely.multilinestrings(segments)))
    chain_frozen = np.zeros(len(chains), dtype=bool)
    if unique_frozen.any():
        # a chain's segments all border the same two faces, so its first segment decides
        first = shapely.get_coordinates(shapely.get_point(chains, 0))
        second = shapely.get_coordinates(shapely.get_point(chains, 1))
        swap = (first[:, 0] > second[:, 0]) | (
            (first[:, 0] == second[:, 0]) & (first[:, 1] > second[:, 1])
        )
        lo = np.where(swap[:, None], second, first)
        hi = np.where(swap[:, None], first, second)
        frozen_keys = {tuple(k) for k in unique[unique_frozen].tolist()}
        chain_frozen = np.array(
            [tuple(k) in frozen_keys for k in np.concatenate([lo, hi], axis=1).tolist()],
            dtype=bool,
        )
    return np.asarray(chains, dtype=object), chain_frozen


def smooth_coverage(
    geoms: np.ndarray,
    iterations: int,
    frozen: np.ndarray | None = None,
    fixed: shapely.Geometry | None = None,
    tolerance: float = 0.0,
) -> np.ndarray:
    """Chaikin-smooth every edge of the coverage ``geoms`` once, ``iterations`` times.

    Returns an array of the same length: each polygon replaced by the rebuilt faces it
    overlaps most (a face that overlaps no polygon by half its area, e.g. a nodata hole, is
    dropped). ``frozen`` flags polygons whose edges stay as they are; edges lying within
    ``tolerance`` of the lines ``fixed`` (e.g. the raster's frame, whose corners should stay
    square) stay too.
    """
    if iterations <= 0 or len(geoms) == 0:
        return geoms
    frozen = np.zeros(len(geoms), dtype=bool) if frozen is None else np.asarray(frozen, bool)
    chains, chain_frozen = _edges(geoms, frozen)
    if fixed is not None:
        shapely.prepare(fixed)
        coords, chain = shapely.get_coordinates(chains, return_index=True)
        on = shapely.dwithin(fixed, shapely.points(coords), tolerance)
        total = np.bincount(chain, minlength=len(chains))
        chain_frozen |= np.bincount(chain, weights=on, minlength=len(chains)) == total
    chains[~chain_frozen] = chaikin_lines(chains[~chain_frozen], iterations)
    faces, cuts, dangles, invalid = shapely.polygonize_full(chains)
    if not (cuts.is_empty and dangles.is_empty and invalid.is_empty):
        # smoothed chains crossed somewhere: node them before building faces
        faces = shapely.polygonize(
            shapely.get_parts(shapely.node(shapely.multilinestrings(chains)))
        )
    faces = shapely.get_parts(faces)
    face_idx, poly_idx = _assign_faces(faces, geoms)
    out = np.array([shapely.Polygon()] * len(geoms), dtype=object)
    order = np.argsort(poly_idx, kind="stable")
    face_idx, poly_idx = face_idx[order], poly_idx[order]
    groups = np.split(np.arange(len(poly_idx)), np.flatnonzero(np.diff(poly_idx)) + 1)
    for group in groups:
        if len(group) == 0:
            continue
        fs = faces[face_idx[group]]
        out[poly_idx[group[0]]] = fs[0] if len(fs) == 1 else shapely.multipolygons(fs)
    return out


def _assign_faces(faces: np.ndarray, geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (face, polygon): each face goes to the polygon it came from.

    Smoothing moves edges by a fraction of a segment, so a point inside the face is almost
    always inside its polygon: that settles most faces cheaply. Faces whose point falls in no
    polygon, or in a polygon that gets several faces, are settled by largest overlap area
    (at least half the face; a face over a nodata hole gets none).
    """
    tree = STRtree(geoms)
    face_idx, poly_idx = tree.query(shapely.point_on_surface(faces), predicate="within")
    hits = np.bincount(poly_idx, minlength=len(geoms))
    sure = hits[poly_idx] == 1
    settled = np.zeros(len(faces), dtype=bool)
    settled[face_idx[sure]] = True
    face_idx, poly_idx = face_idx[sure], poly_idx[sure]
    rest = np.flatnonzero(~settled)
    if len(rest) == 0:
        return face_idx, poly_idx
    f, g = tree.query(faces[rest], predicate="intersects")
    f = rest[f]
    overlap = shapely.area(shapely.intersection(faces[f], geoms[g]))
    order = np.lexsort((-overlap, f))
    f, g, overlap = f[order], g[order], overlap[order]
    first = np.unique(f, return_index=True)[1]
    f, g, overlap = f[first], g[first], overlap[first]
    ok = overlap >= 0.5 * shapely.area(faces[f])
    return np.concatenate([face_idx, f[ok]]), np.concatenate([poly_idx, g[ok]])
