"""Synthetic land-cover model of the Wuhan area that can be evaluated on any raster grid.

The landscape is a *continuous* function of ground position: every field is defined in one
world frame (an azimuthal-equidistant projection centred on Wuhan, metres), so two rasters in
different CRSs (e.g. UTM 49N and 50N) that overlap on the ground get the same land cover.

Smooth fields are sums of random plane waves (random Fourier features). Because a raster grid
maps affinely onto the world frame over a few kilometres (checked residual ~0.1 m), each wave
is separable in (row, col) and a whole field is two small matrix products -- exact at every
pixel and cheap. Discrete structure (street blocks, crop parcels) comes from integer hashing of
world coordinates, which is also grid independent.

Everything here is SYNTHETIC; only the place names and the rough geography are real.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from affine import Affine
from pyproj import CRS, Transformer

CLASSES: dict[int, str] = {
    0: "nodata",
    1: "water",
    2: "vegetation",
    3: "cropland",
    4: "built-up",
    5: "bare",
}
NODATA, WATER, VEGETATION, CROPLAND, BUILT, BARE = range(6)

CHANGE_CLASSES: dict[int, str] = {
    0: "no change",
    1: "vegetation loss",
    2: "new built-up",
    3: "water gain",
    4: "water loss",
}
CHANGE_NODATA = 255

# Crop phenology stages of a parcel (not land-cover change).
FLOODED, TILLED, EMERGING, GREEN, SENESCENT = range(5)
STAGE_NAMES = ("flooded paddy", "tilled soil", "emerging crop", "green crop", "ripe/harvested")
# Stage probabilities per season: 0 = early summer (May/June: rice transplanting, wheat and
# rapeseed harvest), 1 = early autumn (September: rice at full canopy or ripening).
_STAGE_PROBS = ((0.22, 0.16, 0.17, 0.22, 0.23), (0.0, 0.06, 0.06, 0.52, 0.36))

# Built-up surface types: roof materials 0..N_ROOFS-1 (spectra.ROOF_ENDMEMBERS: concrete,
# red tile, blue metal, dark), then streets and open space (yards, paving, trees) in blocks.
N_ROOFS = 4
STREET = N_ROOFS
OPEN = N_ROOFS + 1
_ROOF_CDF = np.cumsum((0.42, 0.16, 0.12, 0.30))

WORLD_CRS = CRS.from_proj4("+proj=aeqd +lat_0=30.55 +lon_0=114.2 +datum=WGS84 +units=m +no_defs")

# Geography (lon, lat) -- rough, real places, synthetic detail.
EAST_LAKE_SCENE_CENTRE = (114.40, 30.55)
MOSAIC_CENTRE = (114.0, 30.55)
_LAKES = ((114.395, 30.548, 1700.0), (113.995, 30.535, 1300.0), (113.962, 30.508, 650.0))
_CITIES = (
    (114.345, 30.565, 2600.0, 1.0),
    (114.44, 30.595, 1400.0, 0.75),
    (114.012, 30.585, 1000.0, 0.85),
)
_RIVER_LAT = 30.578
# Lake-level change on later dates: (direction from the lake centre, radians counter-clockwise
# from east; shoreline shift in units of the lake radius). Positive = the lake grows there:
# it floods the south-east shore and recedes on the north-west (exposing mudflats).
_LAKE_SHIFTS = ((-0.7, 0.30), (2.4, -0.30))
# Forced changes near East Lake: (dx, dy) from the scene centre in metres, half sizes (m).
CLEARING_TO_BUILT = (2700.0, -2700.0, 450.0, 360.0)
CLEARING_TO_BARE = (-2450.0, -2700.0, 400.0, 330.0)

_URBAN_ANGLE = 0.14  # street grid rotation, radians
_CROP_ANGLE = -0.26  # field-parcel grid rotation, radians
_BLOCK_ROW = 150.0  # street block depth (m)
_STREET_W = 20.0  # street width (m)
_YARD = 8.0  # open margin of a building lot (m)
_ROW_H = 110.0  # crop parcel row height (m)


@dataclass(frozen=True)
class Frame:
    """Affine map from pixel indices (col, row) to world metres: X = xc*c + xr*r + x0."""

    xc: float
    xr: float
    x0: float
    yc: float
    yr: float
    y0: float

    def coords(self, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """World X, Y (metres, float64) of every pixel centre."""
        r = np.arange(shape[0], dtype=np.float64)[:, None]
        c = np.arange(shape[1], dtype=np.float64)[None, :]
        return self.xc * c + self.xr * r + self.x0, self.yc * c + self.yr * r + self.y0


@dataclass(frozen=True)
class Waves:
    """A random plane-wave field: sum(amp * cos(kx*X + ky*Y + phase)), X/Y in metres."""

    kx: np.ndarray
    ky: np.ndarray
    phase: np.ndarray
    amp: np.ndarray

    def evaluate(self, frame: Frame, shape: tuple[int, int]) -> np.ndarray:
        """Exact field at every pixel via cos(a+b) = cos a cos b - sin a sin b (two matmuls)."""
        alpha = frame.xc * self.kx + frame.yc * self.ky
        beta = frame.xr * self.kx + frame.yr * self.ky
        gamma = frame.x0 * self.kx + frame.y0 * self.ky + self.phase
        a = np.outer(np.arange(shape[1]), alpha)
        b = np.outer(np.arange(shape[0]), beta) + gamma
        # Phases in float64 (world metres x wavenumber); products in float32 for speed.
        cos_b = (np.cos(b) * self.amp).astype(np.float32)
        sin_b = (np.sin(b) * self.amp).astype(np.float32)
        return cos_b @ np.cos(a).astype(np.float32).T - sin_b @ np.sin(a).astype(np.float32).T

    def derivative_x(self) -> Waves:
        """d/dX of the field (for 1-D waves): -k sin(t) == k cos(t + pi/2)."""
        return Waves(self.kx, self.ky, self.phase + np.pi / 2, self.amp * self.kx)


def _waves(
    seed: int,
    salt: int,
    scales: tuple[float, ...],
    n: int = 48,
    one_d: bool = False,
    decay: float = 0.6,
) -> Waves:
    """Unit-variance Gaussian-correlated field; octave i has correlation length scales[i] (m)
    and weight decay**i, so coarse shapes dominate and finer octaves roughen the edges."""
    rng = np.random.default_rng([seed, salt])
    weights = decay ** np.arange(len(scales))
    weights = weights / np.sqrt(np.sum(weights**2))
    parts = []
    for scale, weight in zip(scales, weights, strict=True):
        k = rng.normal(0.0, 1.0 / scale, size=(2, n))
        if one_d:
            k[1] = 0.0
        phase = rng.uniform(0.0, 2 * np.pi, n)
        parts.append((k[0], k[1], phase, np.full(n, weight * np.sqrt(2.0 / n))))
    return Waves(*(np.concatenate(p) for p in zip(*parts, strict=True)))


@dataclass(frozen=True)
class _Fields:
    lake: Waves
    urban: Waves
    agri: Waves
    hill: Waves
    bare: Waves
    village: Waves
    turbidity: Waves
    wind: Waves
    texture: Waves
    vigour: Waves
    meander: Waves
    river_width: Waves
    zone_edge: Waves


@lru_cache(maxsize=8)
def _fields(seed: int) -> _Fields:
    """All wave fields of one seed (fixed salts keep each field independent)."""
    return _Fields(
        lake=_waves(seed, 1, (800.0, 320.0, 130.0), decay=0.75),
        urban=_waves(seed, 2, (1400.0, 450.0)),
        agri=_waves(seed, 3, (2200.0, 800.0)),
        hill=_waves(seed, 4, (900.0, 300.0)),
        bare=_waves(seed, 5, (350.0, 130.0)),
        village=_waves(seed, 6, (140.0,)),
        turbidity=_waves(seed, 7, (1500.0, 500.0)),
        wind=_waves(seed, 8, (700.0, 250.0)),
        texture=_waves(seed, 9, (14.0, 30.0), n=128),
        vigour=_waves(seed, 10, (60.0,), n=96),
        meander=_waves(seed, 11, (2600.0, 1100.0), n=32, one_d=True),
        river_width=_waves(seed, 12, (3000.0,), n=16, one_d=True),
        zone_edge=_waves(seed, 13, (120.0,), n=48),
    )


@lru_cache(maxsize=32)
def _transformer(src_wkt: str) -> Transformer:
    return Transformer.from_crs(CRS.from_wkt(src_wkt), WORLD_CRS, always_xy=True)


@lru_cache(maxsize=64)
def world_xy(lon: float, lat: float) -> tuple[float, float]:
    """World-frame metres of a WGS84 position."""
    x, y = _transformer(CRS.from_epsg(4326).to_wkt()).transform(lon, lat)
    return float(x), float(y)


def fit_frame(shape: tuple[int, int], transform: Affine, crs_wkt: str) -> Frame:
    """Least-squares affine map pixel index -> world metres, from a 5x5 sample through pyproj."""
    rows, cols = np.meshgrid(np.linspace(0, shape[0] - 1, 5), np.linspace(0, shape[1] - 1, 5))
    c, r = cols.ravel() + 0.5, rows.ravel() + 0.5
    xs = transform.a * c + transform.b * r + transform.c
    ys = transform.d * c + transform.e * r + transform.f
    wx, wy = _transformer(crs_wkt).transform(xs, ys)
    design = np.column_stack([cols.ravel(), rows.ravel(), np.ones(cols.size)])
    cx, *_ = np.linalg.lstsq(design, np.asarray(wx), rcond=None)
    cy, *_ = np.linalg.lstsq(design, np.asarray(wy), rcond=None)
    return Frame(*(float(v) for v in cx), *(float(v) for v in cy))


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _mix(z: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser (uint64 arrays wrap silently)."""
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def hash01(seed: int, salt: int, *keys: np.ndarray) -> np.ndarray:
    """Uniform [0, 1) value per integer key tuple: grid-independent per-block randomness.
    Keys are folded in polynomially (cheap), then scrambled once by splitmix64."""
    base = _mix(np.array([(seed & 0xFFFFFFFF) << 16 | (salt & 0xFFFF)], dtype=np.uint64))
    h = base
    for key in keys:
        h = h * _GOLDEN + np.asarray(key, dtype=np.int64).astype(np.uint64)
    return (_mix(h) >> np.uint64(11)).astype(np.float64) * 2.0**-53


def _rotate(x: np.ndarray, y: np.ndarray, angle: float) -> tuple[np.ndarray, np.ndarray]:
    ca, sa = math.cos(angle), math.sin(angle)
    return x * ca + y * sa, -x * sa + y * ca


@dataclass(frozen=True)
class Layers:
    """Per-pixel land-cover state; floats are unitless 0..1 or ~N(0, 1) modulators."""

    classes: np.ndarray  # uint8 CLASSES ids
    stage: np.ndarray  # int8 crop stage, -1 outside cropland
    roof: np.ndarray  # int8 roof material 0..N_ROOFS-1, STREET, OPEN; -1 outside built-up
    turbidity: np.ndarray  # water turbidity 0..1
    forest: np.ndarray  # forest (vs grass) share of vegetation 0..1
    wetness: np.ndarray  # bare-soil moisture 0..1
    vigour: np.ndarray  # crop vigour ~N(0,1)
    texture: np.ndarray  # static fine texture ~N(0,1), identical on every date
    double_bounce: np.ndarray  # SAR building orientation factor 0..1
    wind: np.ndarray  # water-surface roughness ~N(0,1)


def _lake_field(x: np.ndarray, y: np.ndarray, noise: np.ndarray, changed: bool) -> np.ndarray:
    """Signed lake field (<0 is water): normalised distance to the lake centres + noise, with
    the shoreline pushed out / pulled in over angular windows after the level change."""
    field = np.full(x.shape, np.inf, dtype=np.float32)
    for lon, lat, radius in _LAKES:
        cx, cy = world_xy(lon, lat)
        dx, dy = x - cx, y - cy
        value = np.hypot(dx, dy) / radius - 1.0
        if changed:
            theta = np.arctan2(dy, dx)
            for angle, shift in _LAKE_SHIFTS:
                value -= shift * np.maximum(np.cos(theta - angle), 0.0) ** 4
        np.minimum(field, value, out=field)
    return field + 0.42 * noise


def _river(
    x: np.ndarray, y: np.ndarray, frame: Frame, shape: tuple[int, int], fields: _Fields
) -> np.ndarray:
    """Meandering W-E river: perpendicular distance to the centreline < half its width."""
    _, y0 = world_xy(MOSAIC_CENTRE[0], _RIVER_LAT)
    centre = y0 + 650.0 * fields.meander.evaluate(frame, shape)
    slope = 650.0 * fields.meander.derivative_x().evaluate(frame, shape)
    width = np.clip(75.0 + 25.0 * fields.river_width.evaluate(frame, shape), 45.0, 120.0)
    return np.abs(y - centre) / np.sqrt(1.0 + slope**2) < width / 2


def _zone(
    x: np.ndarray, y: np.ndarray, spec: tuple[float, float, float, float], edge: np.ndarray
) -> np.ndarray:
    """Irregular rectangle around the East Lake scene centre (forced-change area)."""
    cx, cy = world_xy(*EAST_LAKE_SCENE_CENTRE)
    dx, dy, hu, hv = spec
    u, v = _rotate(x - cx - dx, y - cy - dy, _URBAN_ANGLE)
    return np.maximum(np.abs(u) / hu, np.abs(v) / hv) < 1.0 + 0.08 * edge


def _urban_index(x: np.ndarray, y: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """City-core Gaussians plus noise; > 0.5 is continuous built-up fabric."""
    index = 0.3 * noise
    for lon, lat, sigma, weight in _CITIES:
        cx, cy = world_xy(lon, lat)
        index = index + weight * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * sigma**2))
    return index.astype(np.float32)


def _blocks(x: np.ndarray, y: np.ndarray, seed: int) -> tuple[np.ndarray, ...]:
    """Urban fabric: (roof layer, block hash, block SAR orientation factor).

    Staggered street blocks (rows 150 m deep, 140-300 m long, 20 m streets) hold building lots
    of 30-60 m; a lot is built with a per-block density and keeps an 8 m yard, otherwise it is
    open space (paving, trees)."""
    u, v = _rotate(x, y, _URBAN_ANGLE)
    row = np.floor(v / _BLOCK_ROW).astype(np.int64)
    length = 140.0 + 160.0 * hash01(seed, 20, row)
    u = u + length * hash01(seed, 21, row)
    col = np.floor(u / length).astype(np.int64)
    fu, fv = u - col * length - _STREET_W, v - row * _BLOCK_ROW - _STREET_W
    street = (fu < 0) | (fv < 0)
    lot_u = 30.0 + 30.0 * hash01(seed, 22, row, col)
    lot_v = 30.0 + 20.0 * hash01(seed, 23, row, col)
    lu, lv = np.floor(fu / lot_u), np.floor(fv / lot_v)
    yard = ((fu - lu * lot_u) < _YARD) | ((fv - lv * lot_v) < _YARD)
    lu, lv = lu.astype(np.int64), lv.astype(np.int64)
    density = 0.55 + 0.4 * hash01(seed, 24, row, col)
    building = ~yard & (hash01(seed, 25, row, col, lu, lv) < density)
    material = np.searchsorted(_ROOF_CDF, hash01(seed, 26, row, col, lu, lv), side="right")
    roof = np.where(building, np.minimum(material, N_ROOFS - 1), OPEN)
    roof = np.where(street, STREET, roof).astype(np.int8)
    return roof, hash01(seed, 27, row, col), hash01(seed, 28, row, col).astype(np.float32)


def _parcels(x: np.ndarray, y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Rectangular field parcels: rows of fixed height, per-row random widths (70-260 m)."""
    u, v = _rotate(x, y, _CROP_ANGLE)
    row = np.floor(v / _ROW_H).astype(np.int64)
    width = 70.0 + 190.0 * hash01(seed, 31, row)
    col = np.floor((u + width * hash01(seed, 32, row)) / width).astype(np.int64)
    return row, col


def _stages(seed: int, row: np.ndarray, col: np.ndarray, date_variant: int) -> np.ndarray:
    """Crop stage per parcel, drawn per date from that season's stage probabilities."""
    cdf = np.cumsum(_STAGE_PROBS[min(date_variant, 1)])
    draw = hash01(seed, 40 + date_variant, row, col)
    return np.searchsorted(cdf, draw, side="right").clip(0, 4).astype(np.int8)


def _base_classes(
    noise: dict[str, np.ndarray],
    urban: np.ndarray,
    block: np.ndarray,
    pond: np.ndarray,
    cleared_later: np.ndarray,
    water: np.ndarray,
) -> np.ndarray:
    """Baseline classes by precedence: water > built-up (with parks, construction sites) >
    bare > cropland (with fish ponds) > vegetation."""
    cls = np.full(urban.shape, VEGETATION, dtype=np.uint8)
    cls[0.8 * noise["agri"] + 0.35 - 1.6 * urban > 0] = CROPLAND
    cls[(noise["bare"] > 2.3) | ((urban > 0.3) & (urban < 0.5) & (noise["bare"] > 1.4))] = BARE
    built = (urban > 0.5) | ((noise["village"] > 2.4) & (cls == CROPLAND))
    cls[built] = BUILT
    cls[built & (block < 0.07)] = VEGETATION  # urban parks
    cls[built & (block >= 0.07) & (block < 0.11)] = BARE  # construction sites
    cls[cleared_later] = VEGETATION  # woodland that is cleared on later dates
    cls[(cls == CROPLAND) & pond] = WATER  # fish ponds
    cls[water] = WATER
    return cls


def _apply_changes(
    cls: np.ndarray,
    to_built: np.ndarray,
    to_bare: np.ndarray,
    lake0: np.ndarray,
    lake1: np.ndarray,
    river: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Turn baseline classes into the later date in place; returns (water gain, water loss).
    Only woodland is cleared; the rising lake floods everything but buildings."""
    before = cls.copy()
    cls[to_built & (before == VEGETATION)] = BUILT
    cls[to_bare & (before == VEGETATION)] = BARE
    gain = lake1 & ~lake0 & (before != WATER) & (before != BUILT)
    loss = lake0 & ~lake1 & ~river
    cls[gain] = WATER
    cls[loss] = BARE  # exposed mudflat
    return gain, loss


def evaluate(
    shape: tuple[int, int], transform: Affine, crs_wkt: str, seed: int, date_variant: int = 0
) -> Layers:
    """Land cover of a grid. date_variant 0 is the baseline (May); >= 1 is a later date with
    the known changes (clearings, lake-level change) and another crop phenology draw."""
    frame = fit_frame(shape, transform, crs_wkt)
    fields = _fields(seed)
    x, y = frame.coords(shape)
    noise = {
        name: getattr(fields, name).evaluate(frame, shape)
        for name in (
            "lake",
            "urban",
            "agri",
            "hill",
            "bare",
            "village",
            "turbidity",
            "wind",
            "texture",
            "vigour",
            "zone_edge",
        )
    }
    urban = _urban_index(x, y, noise["urban"])
    roof, block, double_bounce = _blocks(x, y, seed)
    row, col = _parcels(x, y, seed)
    lake0 = _lake_field(x, y, noise["lake"], changed=False) < 0
    river = _river(x, y, frame, shape, fields)
    pond = (hash01(seed, 33, row, col) < 0.09) & (noise["agri"] > 0.2)
    to_built = _zone(x, y, CLEARING_TO_BUILT, noise["zone_edge"])
    to_bare = _zone(x, y, CLEARING_TO_BARE, noise["zone_edge"])
    cls = _base_classes(noise, urban, block, pond, to_built | to_bare, lake0 | river)

    gain = loss = np.zeros(shape, dtype=bool)
    if date_variant >= 1:
        lake1 = _lake_field(x, y, noise["lake"], changed=True) < 0
        gain, loss = _apply_changes(cls, to_built, to_bare, lake0, lake1, river)

    stage = np.where(cls == CROPLAND, _stages(seed, row, col, date_variant), -1)
    roof[cls != BUILT] = -1
    turbidity = np.clip(0.3 + 0.18 * noise["turbidity"] + 0.1 * min(date_variant, 1), 0.0, 1.0)
    turbidity = np.where(river, 0.85, turbidity)
    turbidity = np.where(pond & ~lake0 & ~river, hash01(seed, 34, row, col), turbidity)
    turbidity = np.where(gain, 0.75, turbidity)  # shallow, freshly flooded
    forest = 1.0 / (1.0 + np.exp(-(1.6 * noise["hill"] + 0.4)))
    wetness = np.where(loss, 0.9, np.clip(0.25 + 0.15 * noise["bare"], 0.0, 1.0))
    vigour = noise["vigour"] + 1.2 * (hash01(seed, 35, row, col) - 0.5)
    f32 = np.float32
    return Layers(
        cls,
        stage.astype(np.int8),
        roof,
        turbidity.astype(f32),
        forest.astype(f32),
        wetness.astype(f32),
        vigour.astype(f32),
        noise["texture"],
        double_bounce,
        noise["wind"],
    )


def change_mask(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """CHANGE_CLASSES ids from two class rasters; CHANGE_NODATA where either is nodata."""
    out = np.zeros(before.shape, dtype=np.uint8)
    changed = before != after
    out[changed & np.isin(before, (VEGETATION, CROPLAND)) & (after == BARE)] = 1
    out[changed & (after == BUILT)] = 2
    out[changed & (after == WATER)] = 3
    out[changed & (before == WATER)] = 4
    out[(before == NODATA) | (after == NODATA)] = CHANGE_NODATA
    return out
