"""Polygon coverages made from class rasters: edge matching, minimum-area merging, orthogonal
regularization and coverage-preserving smoothing.

Every function here takes and returns a numpy array of shapely polygons that tile the plane
without overlaps (a *coverage*) and keeps it a coverage: neighbours keep sharing exactly the
same edge vertices, so `shapely.coverage_is_valid` stays True and `shapely.coverage_simplify`
can simplify shared edges once for both sides.
"""

from inference.polygons.coverage import edge_match_pixels, match_vertices, overlapping_pairs
from inference.polygons.min_area import absorb_small
from inference.polygons.regularize import regularize_coverage, regularize_polygon
from inference.polygons.smoothing import chaikin_lines, smooth_coverage

__all__ = [
    "absorb_small",
    "chaikin_lines",
    "edge_match_pixels",
    "match_vertices",
    "overlapping_pairs",
    "regularize_coverage",
    "regularize_polygon",
    "smooth_coverage",
]
