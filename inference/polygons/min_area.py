"""Minimum-area filter for a coverage: small polygons are absorbed by a neighbour, not deleted.

Deleting a small polygon from a coverage would leave a hole; instead each polygon smaller than
the threshold is merged into its largest edge-sharing neighbour (GDAL's sieve rule, applied to
vectors), smallest first, so the merged neighbour's area is the sum and the total area of the
coverage is unchanged. A small polygon that shares no edge with any other (an island in
nodata) has nothing to merge into and is dropped.
"""

from __future__ import annotations

import numpy as np
import shapely
from shapely import STRtree


def absorb_small(
    geoms: np.ndarray, values: np.ndarray, min_area: float
) -> tuple[np.ndarray, np.ndarray]:
    """Merge polygons with area < ``min_area`` (units² of ``geoms``) into a neighbour.

    ``geoms`` must be an edge-matched coverage (see `edge_match_pixels`); ``values`` are their
    classes. A small polygon goes to the neighbour, among those sharing an edge of positive
    length, whose (already merged) group is largest; groups are unioned with
    `shapely.coverage_union_all`, so the result is again a coverage. Returns the new polygons
    and their classes (the absorbing polygon's class).
    """
    areas = np.asarray(shapely.area(geoms), dtype=float)
    small = np.flatnonzero(areas < min_area)
    if len(small) == 0:
        return geoms, values
    neighbours = _edge_neighbours(geoms, small)

    n = len(geoms)
    parent = np.arange(n)
    group_area = areas.copy()
    dropped = np.zeros(n, dtype=bool)

    def find(i: int) -> int:
        root = i
        while parent[root] != root:
            root = parent[root]
        while parent[i] != root:  # path compression
            parent[i], i = root, parent[i]
        return root

    for i in small[np.argsort(areas[small], kind="stable")]:
        if parent[i] != i or group_area[i] >= min_area:
            continue  # already absorbed, or grown past the threshold by what it absorbed
        around = {find(j) for j in neighbours.get(i, ())} - {i}
        if not around:
            dropped[i] = True
            continue
        target = max(around, key=lambda r: (group_area[r], -r))
        parent[i] = target
        group_area[target] += group_area[i]
        if target in neighbours:  # a small target inherits the group's neighbours
            neighbours[target] |= neighbours[i]

    roots = np.arange(n)
    for i in small.tolist():  # only small polygons were ever absorbed
        roots[i] = find(i)
    kept = np.flatnonzero((roots == np.arange(n)) & ~dropped)
    members: dict[int, list[int]] = {}
    for i in np.flatnonzero(roots != np.arange(n)).tolist():
        members.setdefault(int(roots[i]), []).append(i)
    out = geoms[kept].copy()
    for k, r in enumerate(kept.tolist()):
        if r in members:
            out[k] = shapely.coverage_union_all(geoms[[r, *members[r]]])
    return out, values[kept]


def _edge_neighbours(geoms: np.ndarray, which: np.ndarray) -> dict[int, set[int]]:
    """For each index in ``which``: the polygons sharing an edge of positive length with it."""
    tree = STRtree(geoms)
    left, right = tree.query(geoms[which], predicate="touches")
    left = which[left]
    if len(left):
        shared = shapely.length(shapely.intersection(geoms[left], geoms[right]))
        left, right = left[shared > 0], right[shared > 0]
    out: dict[int, set[int]] = {int(i): set() for i in which}
    for i, j in zip(left.tolist(), right.tolist(), strict=True):
        out[i].add(j)
    return out
