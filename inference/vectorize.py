"""Class raster → polygon layer, read block by block, with the block seams joined.

The class raster is never read whole: each block of ``block_size`` pixels goes through GDAL's
polygonize (`rasterio.features.shapes`, 4-connected) in *pixel* coordinates, so every vertex
is an exact integer. Polygons that do not touch an inner block edge are final; those that do
are collected per class and unioned across the seams once all blocks are read, which gives
exactly the polygons a whole-raster polygonize gives (4-connectivity: a diagonal contact
across a seam stays two polygons, as it would in one piece).

The polygons then form a coverage (no gaps, no overlaps) and every later step keeps it one:

1. edge matching on the pixel grid (`inference.polygons.edge_match_pixels`),
2. minimum-area filter: small polygons are absorbed by their largest neighbour,
3. pixel → CRS coordinates with the raster's affine transform (shared vertices stay equal),
4. `shapely.coverage_simplify` (Visvalingam-Whyatt on shared edges, once for both sides),
5. optional orthogonal regularization of building classes, fitted to the exact pixel
   outlines and applied after simplification so that no simplification cuts its corners,
6. optional Chaikin smoothing of the coverage's edges (regularized outlines stay straight),

and finally the attributes: ``area_m2`` and ``perimeter_m`` (metres, through a local UTM
projection when the CRS is geographic) and ``score``, the mean probability of the polygon's
class read block by block from a score raster on the same grid.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from itertools import chain

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import rasterio
import rasterio.features
import shapely
from affine import Affine
from rasterio.windows import Window
from shapely import STRtree

from inference.polygons import (
    absorb_small,
    edge_match_pixels,
    regularize_coverage,
    smooth_coverage,
)

ProgressFn = Callable[[float, str], None]
"""Called with (percent 0-100, message), like the processing context's progress."""

_SCORE_SCALE = {"uint8": 1 / 255, "uint16": 1 / 65535}
_POLYGONIZE_DTYPES = {"uint8", "int16", "uint16", "int32"}  # what GDAL polygonize takes as is


def vectorize_raster(
    class_path: str,
    *,
    score_path: str | None = None,
    score_band: int | None = None,
    score_scale: float | None = None,
    block_size: int = 2048,
    classes: Sequence[int] | None = None,
    simplify_tolerance: float | None = None,
    smooth_iterations: int = 0,
    regularize: bool | Sequence[int] = False,
    min_area: float = 0.0,
    class_names: Mapping[int, str] | None = None,
    progress: ProgressFn | None = None,
) -> gpd.GeoDataFrame:
    """Polygons of the classes in band 1 of ``class_path``, in the raster's CRS.

    Pixels masked by the raster (nodata value, internal mask) belong to no polygon; every other
    value is a class and takes part in the coverage, so neighbours are simplified together,
    even those of classes left out of the output by ``classes``.

    - ``block_size``: pixels per block side; memory for raster reads is O(block_size²).
    - ``simplify_tolerance``: CRS units (`shapely.coverage_simplify`, roughly the square root
      of the largest triangle area removed). None: one pixel. 0: no simplification (only the
      collinear vertices go, so areas stay exact pixel counts).
    - ``smooth_iterations``: Chaikin corner-cutting passes on the coverage's edges.
    - ``regularize``: classes to square up (building-like); True: every output class. An
      outline is squared only if the result keeps its area within 20 % and overlaps it with
      an IoU of at least 0.85 (see `inference.polygons.regularize_polygon`); others stay.
    - ``min_area``: m² (CRS units² times the CRS unit in metres, squared; for a geographic CRS
      the area of the centre pixel in UTM sets the pixel count). Smaller polygons are merged
      into their largest neighbour; those with no neighbour are dropped.
    - ``score_path``: a raster on the same grid holding probabilities, either one band (the
      predicted class's probability) or one band per class value (band = class + 1); uint8
      is read as /255, uint16 as /65535. ``score`` is null without it. ``score_band``: the
      1-based band of ``score_path`` holding the predicted class's probability (e.g. band 2
      of the engine's ``scored`` output, with ``score_scale`` 1/254); ``score_scale``
      overrides the dtype's scale.
    - ``class_names``: adds a ``class_name`` column.

    Returns columns ``class``, [``class_name``], ``score``, ``area_m2``, ``perimeter_m``,
    ``geometry`` (one Polygon per row, exterior counter-clockwise).
    """
    report = progress or (lambda _percent, _message: None)
    with rasterio.open(class_path) as src:
        if not np.issubdtype(np.dtype(src.dtypes[0]), np.integer):
            raise ValueError(f"class raster must hold integers, not {src.dtypes[0]}")
        transform, crs, shape = src.transform, src.crs, (src.height, src.width)
        geoms, values = vectorize_blocks(src, block_size, report)
    report(60.0, f"{len(geoms)} polygons; matching edges")
    geoms = edge_match_pixels(geoms)
    if min_area > 0 and len(geoms):
        geoms, values = absorb_small(geoms, values, min_area / pixel_area_m2(transform, crs, shape))
    # the same order and ring start points whatever the block size: coverage simplification
    # depends on both
    order = _canonical_order(geoms, values)
    geoms, values = np.asarray(shapely.normalize(geoms[order])), values[order]
    geoms = pixels_to_crs(geoms, transform)
    pixel = math.sqrt(abs(transform.determinant))

    report(70.0, "simplifying the coverage")
    tolerance = pixel if simplify_tolerance is None else float(simplify_tolerance)
    outlines = geoms
    if len(geoms):
        geoms = np.asarray(shapely.coverage_simplify(geoms, max(tolerance, 1e-3 * pixel)))

    wanted = np.unique(values) if classes is None else np.asarray(list(classes))
    if regularize is True:
        square = wanted
    else:
        square = np.asarray(list(regularize or []), dtype=np.int64)
    frozen = np.isin(values, square)
    if frozen.any():
        report(75.0, f"regularizing {int(frozen.sum())} polygons")
        geoms = regularize_coverage(geoms, frozen, pixel_size=pixel, outlines=outlines)
        geoms, values, frozen = _explode(geoms, values, frozen)
        # drop the collinear vertices the edits left along straight edges; corners stay
        geoms = np.asarray(shapely.coverage_simplify(geoms, 1e-3 * pixel))
    if smooth_iterations > 0 and len(geoms):
        report(80.0, "smoothing edges")
        frame = pixels_to_crs(np.array([shapely.box(0, 0, shape[1], shape[0])]), transform)[0]
        geoms = smooth_coverage(
            geoms, smooth_iterations, frozen, shapely.boundary(frame), 1e-6 * pixel
        )
        geoms, values = _explode(geoms, values)

    keep = np.isin(values, wanted)
    geoms, values = np.asarray(shapely.orient_polygons(geoms[keep])), values[keep]
    report(85.0, "measuring")
    area_m2, perimeter_m = measure(geoms, crs)
    score = np.full(len(geoms), np.nan)
    if score_path is not None and len(geoms):
        score = zonal_scores(
            score_path, geoms, values, transform, shape, block_size, report,
            score_band=score_band, score_scale=score_scale,
        )  # fmt: skip
    columns: dict[str, object] = {"class": values.astype(np.int64)}
    if class_names is not None:
        columns["class_name"] = [class_names.get(int(v)) for v in values]
    columns["score"] = pd.array(score, dtype="Float64")  # NaN becomes a null
    columns["area_m2"] = area_m2
    columns["perimeter_m"] = perimeter_m
    report(100.0, f"{len(geoms)} polygons")
    return gpd.GeoDataFrame(columns, geometry=list(geoms), crs=_crs(crs))


def block_windows(shape: tuple[int, int], block_size: int) -> Iterator[Window]:
    """Windows of ``block_size`` pixels covering a raster of ``shape`` (rows, cols), row-major."""
    if block_size <= 0:
        raise ValueError("block_size must be positive")
    height, width = shape
    for row in range(0, height, block_size):
        for col in range(0, width, block_size):
            yield Window(col, row, min(block_size, width - col), min(block_size, height - row))


def vectorize_blocks(
    src: rasterio.DatasetReader, block_size: int, report: ProgressFn
) -> tuple[np.ndarray, np.ndarray]:
    """Polygons (pixel coordinates) and classes of band 1, block by block, seams joined."""
    height, width = src.height, src.width
    finished: list[np.ndarray] = []
    finished_values: list[np.ndarray] = []
    on_seam: dict[int, list[np.ndarray]] = defaultdict(list)
    windows = list(block_windows((height, width), block_size))
    for k, win in enumerate(windows):
        data = src.read(1, window=win)
        if data.dtype.name not in _POLYGONIZE_DTYPES:
            data = data.astype(np.int32)
        valid = src.read_masks(1, window=win) > 0
        report(60.0 * k / len(windows), f"vectorizing block {k + 1}/{len(windows)}")
        if not valid.any():
            continue
        col, row = int(win.col_off), int(win.row_off)
        found = list(
            rasterio.features.shapes(
                data, mask=valid, connectivity=4, transform=Affine.translation(col, row)
            )
        )
        polys = _polygons(g for g, _ in found)
        vals = np.array([v for _, v in found]).astype(np.int64)
        b = shapely.bounds(polys)
        right, bottom = col + int(win.width), row + int(win.height)
        seam = (
            ((b[:, 0] == col) & (col > 0))
            | ((b[:, 1] == row) & (row > 0))
            | ((b[:, 2] == right) & (right < width))
            | ((b[:, 3] == bottom) & (bottom < height))
        )
        finished.append(polys[~seam])
        finished_values.append(vals[~seam])
        for v in np.unique(vals[seam]).tolist():
            on_seam[v].append(polys[seam & (vals == v)])
    for v, parts in on_seam.items():
        joined = shapely.get_parts(shapely.union_all(np.concatenate(parts)))
        finished.append(joined)
        finished_values.append(np.full(len(joined), v, dtype=np.int64))
    if not finished:
        return np.array([], dtype=object), np.array([], dtype=np.int64)
    return np.concatenate(finished), np.concatenate(finished_values)


def _polygons(geojson: Iterable[dict]) -> np.ndarray:
    """Shapely polygons from polygonize's GeoJSON rings, built in one vectorized call."""
    rings_per_polygon: list[int] = []
    rings: list[list] = []
    for geom in geojson:
        rings_per_polygon.append(len(geom["coordinates"]))
        rings.extend(geom["coordinates"])
    if not rings:
        return np.array([], dtype=object)
    ring_sizes = np.fromiter((len(r) for r in rings), dtype=np.int64, count=len(rings))
    coords = np.array(list(chain.from_iterable(rings)), dtype=np.float64)
    offsets = (np.r_[0, np.cumsum(ring_sizes)], np.r_[0, np.cumsum(rings_per_polygon)])
    return np.asarray(shapely.from_ragged_array(shapely.GeometryType.POLYGON, coords, offsets))


def pixels_to_crs(geoms: np.ndarray, transform: Affine) -> np.ndarray:
    """Apply the raster's affine transform; equal pixel vertices map to equal CRS vertices."""
    a, b, c, d, e, f = transform[:6]

    def to_crs(xy: np.ndarray) -> np.ndarray:
        x, y = xy[:, 0], xy[:, 1]
        return np.column_stack([a * x + b * y + c, d * x + e * y + f])

    return np.asarray(shapely.transform(geoms, to_crs))


def _canonical_order(geoms: np.ndarray, values: np.ndarray) -> np.ndarray:
    """An order that depends on the polygons only (coverage simplification is order-sensitive)."""
    if len(geoms) == 0:
        return np.array([], dtype=int)
    b = shapely.bounds(geoms)
    return np.lexsort((shapely.area(geoms), b[:, 3], b[:, 2], values, b[:, 0], b[:, 1]))


def _explode(geoms: np.ndarray, *columns: np.ndarray) -> tuple[np.ndarray, ...]:
    """One row per polygon part; empty and zero-area parts dropped."""
    parts, index = shapely.get_parts(geoms, return_index=True)
    keep = ~shapely.is_empty(parts) & (shapely.area(parts) > 0)
    return (parts[keep], *(c[index[keep]] for c in columns))


def _crs(crs: object) -> pyproj.CRS | None:
    return None if crs is None else pyproj.CRS.from_user_input(crs)


def measure(geoms: np.ndarray, crs: object) -> tuple[np.ndarray, np.ndarray]:
    """Areas (m²) and perimeters (m, holes included) of CRS polygons.

    A projected CRS scales by its unit (feet → metres); a geographic one is measured in the
    UTM zone of the data's centre. Without a CRS the units are taken as metres.
    """
    geo_crs = _crs(crs)
    if geo_crs is not None and geo_crs.is_geographic:
        series = gpd.GeoSeries(list(geoms), crs=geo_crs)
        projected = series.to_crs(series.estimate_utm_crs())
        return projected.area.to_numpy(), projected.length.to_numpy()
    unit = 1.0 if geo_crs is None else geo_crs.axis_info[0].unit_conversion_factor
    return shapely.area(geoms) * unit**2, shapely.length(geoms) * unit


def pixel_area_m2(transform: Affine, crs: object, shape: tuple[int, int]) -> float:
    """Area of one pixel in m² (for a geographic CRS: the centre pixel, in its UTM zone)."""
    row, col = shape[0] // 2, shape[1] // 2
    centre = pixels_to_crs(np.array([shapely.box(col, row, col + 1, row + 1)]), transform)
    return float(measure(centre, crs)[0][0])


def zonal_scores(
    score_path: str,
    geoms: np.ndarray,
    values: np.ndarray,
    transform: Affine,
    shape: tuple[int, int],
    block_size: int,
    report: ProgressFn,
    *,
    score_band: int | None = None,
    score_scale: float | None = None,
) -> np.ndarray:
    """Mean score of each polygon's class over the pixels whose centres it covers.

    A polygon covering no pixel centre takes the pixel under a point inside it; NaN where the
    score raster has no value there or no band for the class.

    Read block by block: the polygons meeting a block are rasterized into it with their index,
    and per-polygon sums and counts are accumulated, so memory stays O(block + polygons).
    """
    sums = np.zeros(len(geoms))
    counts = np.zeros(len(geoms))
    tree = STRtree(geoms)
    with rasterio.open(score_path) as src:
        if (src.height, src.width) != shape or not src.transform.almost_equals(transform):
            raise ValueError("score raster must be on the class raster's grid")
        scale = score_scale or _SCORE_SCALE.get(src.dtypes[0], 1.0)
        top = int(values.max()) + 1
        if score_band is not None:
            band_of = np.full(top, score_band - 1, dtype=np.int64)
        else:
            band_of = np.zeros(top, dtype=np.int64) if src.count == 1 else np.arange(top)
        band_of[band_of >= src.count] = -1  # no band for this class
        windows = list(block_windows(shape, block_size))
        for k, win in enumerate(windows):
            report(85.0 + 15.0 * k / len(windows), f"scoring block {k + 1}/{len(windows)}")
            win_transform = rasterio.windows.transform(win, transform)
            box = shapely.box(*rasterio.windows.bounds(win, transform))
            hit = tree.query(box, predicate="intersects")
            if len(hit) == 0:
                continue
            ids = rasterio.features.rasterize(
                zip(geoms[hit], range(1, len(hit) + 1), strict=True),
                out_shape=(int(win.height), int(win.width)),
                transform=win_transform,
                fill=0,
                dtype="int32",
            )
            rows, cols = np.nonzero(ids)
            local = ids[rows, cols] - 1
            band = band_of[values[hit[local]]]
            ok = band >= 0
            rows, cols, local, band = rows[ok], cols[ok], local[ok], band[ok]
            if len(rows) == 0:
                continue
            need = np.unique(band)
            data = src.read((need + 1).tolist(), window=win, masked=True)
            slot = np.searchsorted(need, band)
            picked = data[slot, rows, cols]
            good = ~np.ma.getmaskarray(picked)
            weights = np.ma.getdata(picked)[good].astype(np.float64) * scale
            sums[hit] += np.bincount(local[good], weights=weights, minlength=len(hit))
            counts[hit] += np.bincount(local[good], minlength=len(hit))
        # slivers that cover no pixel centre (a one-pixel polygon simplified to a triangle):
        # the pixel under a point inside them
        for i in np.flatnonzero(counts == 0).tolist():
            band = int(band_of[values[i]])
            if band < 0:
                continue
            point = shapely.point_on_surface(geoms[i])
            sample = next(src.sample([(point.x, point.y)], indexes=band + 1, masked=True))
            if not np.ma.is_masked(sample[0]):
                sums[i], counts[i] = float(sample[0]) * scale, 1
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / counts, np.nan)
