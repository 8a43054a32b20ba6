"""Orthogonal regularization of building outlines, one polygon or in place inside a coverage.

A building vectorized from a class raster is a staircase of pixel edges. Buildings are mostly
rectilinear, so the outline is rebuilt from straight edges at right angles:

1. orientation: candidates are the peak of a length-weighted histogram of edge directions
   modulo 90° of the Douglas-Peucker-simplified outline (unlike the minimum rotated rectangle
   it also fits L and U shapes) and the minimum rotated rectangle's; the one whose result
   overlaps the input best (IoU) wins and is refined by a small search (±2°, ±1°, ±0.5°);
2. each simplified edge is classed as running along or across that orientation; consecutive
   edges of one class form a *run*, placed at the length-weighted mean position of the pixel
   edges it replaces (the mid-line of the staircase, which keeps the area);
3. while the shortest edge of the rebuilt outline is shorter than ``min_edge``, it is dropped
   and the two runs beside it merge; the corners are the crossings of consecutive runs.

The result is accepted if it is valid, keeps the area within ``area_tolerance`` and overlaps
the input with an IoU of at least ``min_iou``; otherwise the minimum rotated rectangle is
tried under the same rules, and failing that the input is kept (round or diagonal buildings).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import shapely
from shapely import STRtree

from inference.polygons.coverage import match_vertices

_HIST_SMOOTH = 2  # ± bins (degrees) of the circular box filter on the direction histogram
_REFINE = np.radians(5.0)  # edges within this of the peak refine the orientation
_AGREE = np.radians(0.5)  # histogram and rectangle orientations this close need no search


def dominant_angle(coords: np.ndarray) -> float:
    """Dominant edge direction (radians, in [0, π/2)) of a closed line, weighted by length."""
    d = np.diff(coords, axis=0)
    length = np.hypot(d[:, 0], d[:, 1])
    theta = np.mod(np.arctan2(d[:, 1], d[:, 0]), np.pi / 2)
    bins = np.rint(np.degrees(theta)).astype(int) % 90
    hist = np.bincount(bins, weights=length, minlength=90)
    smooth = sum(np.roll(hist, k) for k in range(-_HIST_SMOOTH, _HIST_SMOOTH + 1))
    peak = np.radians(float(np.argmax(smooth)))
    offset = np.mod(theta - peak + np.pi / 4, np.pi / 2) - np.pi / 4
    near = np.abs(offset) < _REFINE
    if near.any() and length[near].sum() > 0:  # long edges are the reliable ones: weight ∝ length²
        peak += float(np.average(offset[near], weights=length[near] ** 2))
    return float(np.mod(peak, np.pi / 2))


def _rotate(xy: np.ndarray, angle: float, center: np.ndarray) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    rel = xy - center
    return np.column_stack([c * rel[:, 0] - s * rel[:, 1], s * rel[:, 0] + c * rel[:, 1]]) + center


def _simplified_indices(ring: np.ndarray, tolerance: float) -> np.ndarray:
    """Indices into ``ring[:-1]`` of the vertices Douglas-Peucker keeps (they are a subset)."""
    simple = shapely.simplify(shapely.linestrings(ring), tolerance, preserve_topology=False)
    where: dict[tuple[float, float], int] = {}
    for k, (x, y) in enumerate(ring[:-1].tolist()):
        where.setdefault((x, y), k)
    picked = {where[(x, y)] for x, y in shapely.get_coordinates(simple).tolist()}
    return np.array(sorted(picked), dtype=int)


def _orthogonal_ring(
    ring: np.ndarray, keep: np.ndarray, angle: float, center: np.ndarray, min_edge: float
) -> np.ndarray | None:
    """Rebuild one closed ring with edges at ``angle`` and ``angle + 90°``; None if it collapses."""
    pts = _rotate(ring[:-1], -angle, center)
    n, m = len(pts), len(keep)
    if m < 3:
        return None
    seg = np.roll(pts, -1, axis=0) - pts
    seg_len = np.hypot(seg[:, 0], seg[:, 1])
    seg_mid = pts + seg / 2
    # simplified edge t spans the pixel segments keep[t] .. keep[t + 1] - 1 (cyclically)
    edge_of = (np.searchsorted(keep, np.arange(n), side="right") - 1) % m
    d = pts[np.roll(keep, -1)] - pts[keep]
    horizontal = np.abs(d[:, 0]) >= np.abs(d[:, 1])
    # runs: consecutive simplified edges of one direction, numbered from a direction change
    change = horizontal != np.roll(horizontal, 1)
    if not change.any():
        return None
    order = np.roll(np.arange(m), -int(np.flatnonzero(change)[0]))
    run_of_edge = np.empty(m, dtype=np.int64)
    run_of_edge[order] = np.cumsum(change[order]) - 1
    count = int(run_of_edge.max()) + 1
    seg_run = run_of_edge[edge_of]
    position = np.where(horizontal[edge_of], seg_mid[:, 1], seg_mid[:, 0])
    weight = np.bincount(seg_run, weights=seg_len, minlength=count)
    moment = np.bincount(seg_run, weights=seg_len * position, minlength=count)
    run_horizontal = np.zeros(count, dtype=bool)
    run_horizontal[run_of_edge] = horizontal
    # [horizontal, weight, weight * position] per run, in ring order
    runs = [
        [bool(h), float(w), float(mo)]
        for h, w, mo in zip(run_horizontal, weight, moment, strict=True)
    ]
    # drop the shortest edge of the rebuilt outline (its length is the distance between the
    # two runs beside it) while it is shorter than min_edge; those two runs merge
    while len(runs) > 4:
        r = len(runs)
        position = [run[2] / run[1] if run[1] > 0 else 0.0 for run in runs]
        length = [abs(position[(t - 1) % r] - position[(t + 1) % r]) for t in range(r)]
        j = int(np.argmin(length))
        if length[j] >= min_edge:
            break
        before, after = (j - 1) % r, (j + 1) % r
        merged = [
            runs[before][0],
            runs[before][1] + runs[after][1],
            runs[before][2] + runs[after][2],
        ]
        runs = [merged if k == before else runs[k] for k in range(r) if k not in (j, after)]
    if len(runs) < 4 or len(runs) % 2:
        return None
    position = [run[2] / run[1] if run[1] > 0 else 0.0 for run in runs]
    corners = []
    for t in range(len(runs)):
        u = (t + 1) % len(runs)
        x = position[u] if runs[t][0] else position[t]
        y = position[t] if runs[t][0] else position[u]
        corners.append((x, y))
    corners.append(corners[0])
    return _rotate(np.array(corners), angle, center)


def regularize_polygon(
    poly: shapely.Polygon,
    *,
    pixel_size: float,
    min_edge: float | None = None,
    area_tolerance: float = 0.2,
    min_iou: float = 0.85,
) -> shapely.Polygon:
    """An orthogonal version of ``poly`` (CRS units), or ``poly`` itself if none fits.

    ``pixel_size`` scales the Douglas-Peucker tolerance (1.5 pixels, which flattens the
    staircases) and the default ``min_edge`` (3 pixels): shorter steps of the outline are
    treated as noise. The orientation is the better (by IoU with ``poly``) of the edge
    histogram's and the minimum rotated rectangle's, refined by a small search (±2°, 1°,
    0.5°): noisy staircases bias either estimate by a few degrees, enough to turn a long
    straight wall into steps. The result must keep the area within ``area_tolerance``
    (relative) and overlap ``poly`` with an IoU of at least ``min_iou``: a building that is
    not rectilinear (a diagonal wall, a rounded end) is better left as it is than squared.
    """
    if poly.is_empty or poly.area <= 0:
        return poly
    min_edge = 3.0 * pixel_size if min_edge is None else min_edge
    tolerance = 1.5 * pixel_size
    shell = np.asarray(poly.exterior.coords)
    keep = _simplified_indices(shell, tolerance)
    rings = [(shell, keep)]
    for interior in poly.interiors:
        ring = np.asarray(interior.coords)
        if shapely.area(shapely.polygons(ring)) >= min_edge**2:  # pinholes are noise
            rings.append((ring, _simplified_indices(ring, tolerance)))
    center = np.asarray(poly.centroid.coords[0])
    rectangle = shapely.oriented_envelope(poly)
    corners = shapely.get_coordinates(rectangle)
    first = corners[1] - corners[0]
    angles = [float(np.mod(np.arctan2(first[1], first[0]), np.pi / 2))]
    if len(keep) >= 3:
        angles.insert(0, dominant_angle(shell[np.append(keep, keep[:1])]))
    tried: dict[float, tuple[float, shapely.Geometry | None]] = {}

    def fit(angle: float) -> float:
        angle = float(np.mod(angle, np.pi / 2))
        if angle not in tried:
            candidate = _fit_rings(rings, angle, center, min_edge)
            ok = _area_ok(candidate, poly, area_tolerance)
            tried[angle] = (_iou(candidate, poly) if ok else -1.0, candidate if ok else None)
        return tried[angle][0]

    best = max(angles, key=fit)
    spread = abs(np.mod(angles[0] - angles[-1] + np.pi / 4, np.pi / 2) - np.pi / 4)
    if spread > _AGREE:  # the estimates disagree: search around the better one
        for step in np.radians([2.0, 1.0, 0.5]):
            best = max((best - step, best, best + step), key=fit)
    score, candidate = tried[float(np.mod(best, np.pi / 2))]
    rectangle_score = _iou(rectangle, poly) if _area_ok(rectangle, poly, area_tolerance) else -1
    if candidate is not None and score >= max(rectangle_score, min_iou):
        return candidate
    if rectangle_score >= min_iou:
        return rectangle
    return poly


def _fit_rings(
    rings: list[tuple[np.ndarray, np.ndarray]], angle: float, center: np.ndarray, min_edge: float
) -> shapely.Geometry | None:
    """The orthogonal polygon at ``angle`` from (ring, kept indices) pairs, shell first."""
    shell = _orthogonal_ring(*rings[0], angle, center, min_edge)
    if shell is None:
        return None
    holes = []
    for ring, keep in rings[1:]:
        hole = _orthogonal_ring(ring, keep, angle, center, min_edge)
        holes.append(hole if hole is not None else ring)
    candidate = shapely.Polygon(shell, holes)
    if not candidate.is_valid:
        return _largest_part(shapely.make_valid(candidate))
    return candidate


def _iou(a: shapely.Geometry | None, b: shapely.Geometry) -> float:
    if a is None:
        return -1.0
    common = float(shapely.area(shapely.intersection(a, b)))
    union = a.area + b.area - common
    return common / union if union > 0 else -1.0


def _area_ok(candidate: shapely.Geometry | None, poly: shapely.Polygon, tolerance: float) -> bool:
    return (
        candidate is not None
        and shapely.get_type_id(candidate) == 3
        and not candidate.is_empty
        and abs(candidate.area - poly.area) <= tolerance * poly.area
    )


def _largest_part(geom: shapely.Geometry) -> shapely.Geometry | None:
    parts = shapely.get_parts(shapely.get_parts(geom))
    polys = parts[shapely.get_type_id(parts) == 3]
    if len(polys) == 0:
        return None
    return polys[int(np.argmax(shapely.area(polys)))]


def regularize_coverage(
    geoms: np.ndarray,
    targets: np.ndarray,
    *,
    pixel_size: float,
    outlines: np.ndarray | None = None,
    min_edge: float | None = None,
    area_tolerance: float = 0.2,
    min_iou: float = 0.85,
) -> np.ndarray:
    """Regularize the polygons flagged in ``targets`` and keep ``geoms`` a valid coverage.

    ``outlines`` (default ``geoms``) are what the orthogonal shapes are fitted to: pass the
    exact pixel outlines when ``geoms`` is already simplified, so the fit sees the staircases
    and the result keeps its corners (simplifying after would cut corners next to nodes).

    Larger targets go first. A regularized outline may reach into neighbouring polygons that
    are not targets, or are smaller targets not yet regularized (which then stay as they are:
    specks of the same class along a building's edge must not notch it), never into nodata or
    into an already regularized polygon. Those neighbours lose that area, and the parts of the
    original outline the new one leaves are given to the neighbour sharing the longest edge
    with them (a plain one if possible), so no gaps or overlaps appear. Vertices are then
    matched along every changed edge. Returns a new array of the same length; a polygon may
    become a MultiPolygon (split by a building) or empty (swallowed).
    """
    out = geoms.copy()
    outlines = geoms if outlines is None else outlines
    tree = STRtree(geoms)
    targets = np.asarray(targets, dtype=bool)
    areas = shapely.area(geoms)
    idx = np.flatnonzero(targets)
    claims: dict[int, list[int]] = defaultdict(list)  # plain polygon -> targets that took from it
    changed: list[int] = []
    plain = ~targets  # not regularized: non-targets, and targets a larger one took from
    done = np.zeros(len(geoms), dtype=bool)
    for i in idx[np.argsort(-areas[idx], kind="stable")].tolist():
        done[i] = True
        if plain[i]:
            continue
        raw = regularize_polygon(
            outlines[i],
            pixel_size=pixel_size,
            min_edge=min_edge,
            area_tolerance=area_tolerance,
            min_iou=min_iou,
        )
        if raw is outlines[i]:
            continue
        around = tree.query(raw, predicate="intersects")
        others = [int(j) for j in around if plain[j] or not done[j]]
        # raw within (self + plain neighbours), piece by piece: each overlay stays local to raw
        pieces = shapely.intersection(raw, geoms[[i, *others]])
        new = shapely.union_all(pieces[shapely.area(pieces) > 0])
        prior = sorted({k for j in others for k in claims.get(j, ())})
        if prior:
            new = shapely.difference(new, shapely.union_all(out[prior]))
        new = _largest_part(new)
        if not _area_ok(new, outlines[i], area_tolerance):
            continue
        out[i] = new
        changed.append(i)
        taken = shapely.area(shapely.intersection(new, geoms[others])) if others else []
        for j, a in zip(others, np.atleast_1d(taken), strict=False):
            if a > 0:
                claims[j].append(i)
                plain[j] = True
    for j, ks in claims.items():
        if ks:
            out[j] = shapely.difference(geoms[j], shapely.union_all(out[ks]))
    _give_back_leftovers(geoms, out, changed, plain, claims, tree, pixel_size)
    touched = np.array(sorted({*changed, *claims}), dtype=int)
    if len(touched) == 0:
        return out
    tolerance = 1e-4 * pixel_size
    new_tree = STRtree(out)
    _, around = new_tree.query(out[touched], predicate="dwithin", distance=tolerance)
    edited = np.array(changed, dtype=int)
    zone = shapely.union_all(shapely.boundary(np.concatenate([geoms[edited], out[edited]])))
    return match_vertices(out, np.union1d(touched, around), tolerance, zone)


def _give_back_leftovers(
    geoms: np.ndarray,
    out: np.ndarray,
    changed: list[int],
    plain: np.ndarray,
    claims: dict[int, list[int]],
    tree: STRtree,
    pixel_size: float,
) -> None:
    """Hand the parts of each original outline that its regularized one left to a neighbour."""
    gifts: dict[int, list[shapely.Geometry]] = defaultdict(list)
    sliver = 1e-6 * pixel_size**2
    for i in changed:
        pieces = shapely.get_parts(shapely.difference(geoms[i], out[i]))
        pieces = pieces[shapely.area(pieces) > sliver]
        if len(pieces) == 0:
            continue
        near = {int(j) for j in tree.query(geoms[i])}
        near |= {k for j in list(near) for k in claims.get(j, ())}
        near.add(i)  # a piece touching nothing else goes back to its own building
        cands = np.array(sorted(near), dtype=int)
        for piece in pieces:
            if len(cands) == 0:
                break
            shared = np.asarray(shapely.length(shapely.intersection(piece, out[cands])))
            plain_cands = plain[cands]
            best = None
            if (shared[plain_cands] > 0).any():
                best = int(cands[plain_cands][np.argmax(shared[plain_cands])])
            elif (shared > 0).any():
                best = int(cands[np.argmax(shared)])
            if best is not None:
                gifts[best].append(piece)
    for j, pieces in gifts.items():
        out[j] = shapely.union_all([out[j], *pieces])
