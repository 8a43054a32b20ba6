"""Quantized-mesh tiles read back by an independent decoder (``quantized-mesh-tile``): heights
equal the DEM within the zoom's stated error, both roots exist, neighbours' edges match."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.warp import transform as warp_transform

from tests.terrain.conftest import World, dem_path
from tests.terrain.dems import HILL_LAT, HILL_LON, Decoded, cesium_bounds, decode, surface, tile_at
from tileserver.terrain.mesh import SAMPLES, max_error

QUANTUM = 1100 / 32767 + 0.01
"""Height quantization of a tile spanning the DEM's ~1,100 m (plus float32 in the header)."""
RESAMPLING_M = 6.0
"""A vertex is the DEM resampled (bilinear, from an overview at low zooms) on the tile's sample
grid; the file sampled at the same point (nearest pixel) differs by the DEM's change across a
pixel: the hill's steepest 30 m pixel rises ~6 m."""


EDGE_M = 0.25
"""What two reads of the same edge sample may differ by (GDAL's downsampling kernel)."""


def get_tile(world: World, ident: str, z: int, x: int, y: int) -> Decoded:
    response = world.client.get(f"/terrain/{ident}/{z}/{x}/{y}.terrain")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == (
        "application/vnd.quantized-mesh;extensions=octvertexnormals-watermask"
    )
    assert response.headers["content-encoding"] == "gzip"
    return decode(response.content, cesium_bounds(z, x, y))


def sample_dem(path: Path, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """The DEM file's own value at each point (rasterio, nearest pixel), NaN off the data."""
    with rasterio.open(path) as src:
        xs, ys = warp_transform("EPSG:4326", src.crs, lon, lat)
        values = np.array([v[0] for v in src.sample(zip(xs, ys, strict=True))], dtype=float)
        inside = np.array([
            0 <= r < src.height and 0 <= c < src.width
            for r, c in (src.index(x, y) for x, y in zip(xs, ys, strict=True))
        ])  # fmt: skip
        nodata = src.nodata
    return np.where(inside & (values != nodata), values, np.nan).astype(float)


def interior(world: World, name: str, d: Decoded, margin: float) -> np.ndarray:
    """Vertices at least ``margin`` degrees inside the DEM's bounds."""
    west, south, east, north = world.client.get(f"/datasets/{world.ids[name]}").json()["bounds"]
    return (
        (d.lon > west + margin) & (d.lon < east - margin)
        & (d.lat > south + margin) & (d.lat < north - margin)
    )  # fmt: skip


def mesh_height(d: Decoded, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """The mesh's height at each point (barycentric in the triangle holding it)."""
    out = np.full(lon.shape, np.nan)
    for tri in d.triangles:
        (x1, x2, x3), (y1, y2, y3) = d.lon[tri], d.lat[tri]
        det = (y2 - y3) * (x1 - x3) + (x3 - x2) * (y1 - y3)
        if det == 0:
            continue
        a = ((y2 - y3) * (lon - x3) + (x3 - x2) * (lat - y3)) / det
        b = ((y3 - y1) * (lon - x3) + (x1 - x3) * (lat - y3)) / det
        c = 1 - a - b
        hit = (a >= -1e-9) & (b >= -1e-9) & (c >= -1e-9) & np.isnan(out)
        out[hit] = (a * d.height[tri[0]] + b * d.height[tri[1]] + c * d.height[tri[2]])[hit]
    return out


@pytest.mark.parametrize("name", ["utm", "geo"])
@pytest.mark.parametrize("z", [11, 13])
def test_heights_equal_the_dem_within_the_zooms_error(
    world: World, tmp_path: Path, name: str, z: int
) -> None:
    x, y = tile_at(z, HILL_LON, HILL_LAT)
    d = get_tile(world, world.ids[name], z, x, y)
    path = dem_path(world, name, tmp_path)
    spacing = 180.0 / 2**z / (SAMPLES - 1)
    keep = interior(world, name, d, 2 * spacing) & (d.lon > 114.0 + 41 * 0.0003)  # off the sea
    assert keep.sum() >= 10
    dem = sample_dem(path, d.lon[keep], d.lat[keep])
    ok = ~np.isnan(dem)
    assert ok.sum() >= 10
    assert np.abs(d.height[keep][ok] - dem[ok]).max() <= RESAMPLING_M + QUANTUM
    # between vertices the mesh is within the zoom's maximum error of the DEM
    west, south, east, north = cesium_bounds(z, x, y)
    rng = np.random.default_rng(z)
    lon = rng.uniform(west, east, 400)
    lat = rng.uniform(south, north, 400)
    dem = sample_dem(path, lon, lat)
    inside = ~np.isnan(dem) & interior(world, name, _points(lon, lat), 2 * spacing)
    inside &= lon > 114.0 + 42 * 0.0003
    assert inside.sum() >= 50
    between = mesh_height(d, lon[inside], lat[inside])
    assert np.abs(between - dem[inside]).max() <= max_error(z) + RESAMPLING_M + QUANTUM
    assert d.height.max() > 250  # the hill is there (not a flat tile passing trivially)


def _points(lon: np.ndarray, lat: np.ndarray) -> Decoded:
    empty = np.array([])
    return Decoded(lon, lat, empty, empty, empty, empty, empty, empty, empty, empty, False, None)


def test_both_root_tiles_exist_and_decode(world: World) -> None:
    for x in (0, 1):
        d = get_tile(world, world.ids["utm"], 0, x, 0)
        assert len(d.lon) >= 4 and len(d.triangles) >= 2
        assert d.lon.min() == pytest.approx(-180 + 180 * x) and d.lon.max() == pytest.approx(
            180 * x
        )
        assert d.lat.min() == pytest.approx(-90) and d.lat.max() == pytest.approx(90)
        assert np.isfinite(d.height).all()
        assert d.normals  # octvertexnormals present for every vertex


@pytest.mark.parametrize(
    ("z", "lon", "lat"), [(0, 114.0, 30.7), (1, 114.0, 30.7), (12, 114.06, 30.72)]
)
def test_horizon_occlusion_point_is_in_the_ellipsoid_scaled_frame(
    world: World, z: int, lon: float, lat: float
) -> None:
    """Cesium reads it as ``occludeePointInScaledSpace``: just above the unit sphere for a
    small tile (metres would put it millions of radii out and disable horizon culling)."""
    x, y = tile_at(z, lon, lat)
    d = get_tile(world, world.ids["utm"], z, x, y)
    assert d.header is not None
    point = np.array([d.header[f"horizonOcclusionPoint{c}"] for c in "XYZ"])
    assert np.isfinite(point).all()
    norm = float(np.linalg.norm(point))
    assert 1.0 < norm < (1.01 if z == 12 else 1001.0)
    centre = np.array([d.header[f"center{c}"] for c in "XYZ"])
    assert float(np.dot(point / norm, centre / np.linalg.norm(centre))) > 0.99


def test_tiles_with_no_data_are_flat_at_the_ellipsoid(world: World) -> None:
    x, y = tile_at(12, -70.0, -30.0)  # far from every DEM
    d = get_tile(world, world.ids["utm"], 12, x, y)
    assert len(d.lon) == 4 and np.all(d.height == 0)


def test_edge_lists_name_exactly_the_vertices_on_each_edge(world: World) -> None:
    z = 12
    x, y = tile_at(z, HILL_LON, HILL_LAT)
    d = get_tile(world, world.ids["utm"], z, x, y)
    assert set(d.west) == set(np.flatnonzero(d.u == 0))
    assert set(d.east) == set(np.flatnonzero(d.u == 32767))
    assert set(d.south) == set(np.flatnonzero(d.v == 0))
    assert set(d.north) == set(np.flatnonzero(d.v == 32767))
    assert min(len(d.west), len(d.east), len(d.south), len(d.north)) >= 2


@pytest.mark.parametrize("name", ["utm", "mosaic"])
@pytest.mark.parametrize("direction", ["east", "north"])
def test_neighbouring_tiles_meet(world: World, name: str, direction: str) -> None:
    """Both tiles sample the same positions along their shared edge: a position both keep
    has one height, and every edge vertex of one lies within the maximum error of the
    other's edge line (Cesium's skirts cover that much)."""
    z = 12
    lon, lat = (HILL_LON, HILL_LAT) if name == "utm" else (114.0, 30.70)
    x, y = tile_at(z, lon, lat)
    nx, ny = (x + 1, y) if direction == "east" else (x, y + 1)
    a = get_tile(world, world.ids[name], z, x, y)
    b = get_tile(world, world.ids[name], z, nx, ny)
    if direction == "east":
        ea, eb, pa, pb = a.east, b.west, a.lat, b.lat
    else:
        ea, eb, pa, pb = a.north, b.south, a.lon, b.lon
    shared_a = {round(float(p), 9): float(h) for p, h in zip(pa[ea], a.height[ea], strict=True)}
    shared_b = {round(float(p), 9): float(h) for p, h in zip(pb[eb], b.height[eb], strict=True)}
    common = set(shared_a) & set(shared_b)
    assert len(common) >= 2  # at least the corners
    for p in common:  # GDAL scales its bilinear kernel per read window: ~0.1 m apart
        assert shared_a[p] == pytest.approx(shared_b[p], abs=EDGE_M + 2 * QUANTUM)
    assert max(shared_a.values()) > 150  # an edge through data, not the flat ellipsoid
    for mine, other in ((shared_a, shared_b), (shared_b, shared_a)):
        line = sorted(other)
        along = np.interp(list(mine), line, [other[p] for p in line])
        gap = np.abs(along - np.array(list(mine.values()))).max()
        assert gap <= max_error(z) + EDGE_M + 2 * QUANTUM


def test_nodata_holes_are_filled_before_meshing(world: World) -> None:
    """The UTM DEM's 20 x 30 px hole (rows 200-219, cols 150-179) meshes as ground nearby."""
    with rasterio.open(dem_path(world, "utm", Path(world.settings.data_dir))) as src:
        hx, hy = src.xy(210, 165)
        (lon,), (lat,) = warp_transform(src.crs, "EPSG:4326", [hx], [hy])
    z = 14
    x, y = tile_at(z, lon, lat)
    d = get_tile(world, world.ids["utm"], z, x, y)
    lons = lon + np.linspace(-0.004, 0.004, 9)
    lats = np.full(lons.shape, lat)
    found = mesh_height(d, lons, lats)  # across the hole, 0.0003° (30 m) per pixel
    assert np.abs(found - surface(lons, lats)).max() < 40  # filled from around, not 0 or -9999


def test_sea_level_is_the_water_mask(world: World) -> None:
    z = 11
    x, y = tile_at(z, 114.0 + 40 * 0.0003, 30.75)  # across the geographic DEM's coastline
    d = get_tile(world, world.ids["geo"], z, x, y)
    mask = np.array(d.watermask, dtype=np.uint8)
    assert mask.shape == (256, 256)
    assert set(np.unique(mask)) == {0, 255}
    west, south, east, north = cesium_bounds(z, x, y)
    col = int((114.0 + 20 * 0.0003 - west) / (east - west) * 256)  # mid-sea column
    row = int((north - 30.75) / (north - south) * 256)
    assert mask[row, col] == 255 and mask[row, col + 40] == 0
    land = get_tile(world, world.ids["utm"], z, *tile_at(z, HILL_LON, HILL_LAT))
    assert land.watermask in ([0], 0) or np.all(np.array(land.watermask) == 0)


def test_mosaic_across_two_utm_zones_is_one_terrain(world: World) -> None:
    """Scenes in UTM 49N and 50N meet at 114°E: the tile across the seam follows the one
    surface on both sides, with no flat gap between them."""
    z = 13
    x, y = tile_at(z, 114.0, 30.72)
    d = get_tile(world, world.ids["mosaic"], z, x, y)
    west, south, east, north = cesium_bounds(z, x, y)
    assert west < 114.0 < east
    assert (d.lon < 114.0).sum() >= 2 and (d.lon > 114.0).sum() >= 2
    inside = (d.lat > 30.68) & (d.lat < 30.745)
    error = np.abs(d.height[inside] - surface(d.lon[inside], d.lat[inside]))
    assert error.max() <= RESAMPLING_M + QUANTUM
    rng = np.random.default_rng(7)
    lon, lat = rng.uniform(west, east, 300), rng.uniform(30.69, 30.74, 300)
    lat = lat[(lat > south) & (lat < north)]
    lon = lon[: lat.size]
    between = mesh_height(d, lon, lat)
    assert np.abs(between - surface(lon, lat)).max() <= max_error(z) + RESAMPLING_M


def test_tiles_are_cached_with_their_encoding(world: World) -> None:
    ident = world.ids["utm"]
    x, y = tile_at(10, HILL_LON, HILL_LAT)
    url = f"/terrain/{ident}/10/{x}/{y}.terrain"
    first = world.client.get(url)
    second = world.client.get(url)
    assert second.headers["etag"] == first.headers["etag"]
    assert second.headers["content-encoding"] == "gzip"
    assert second.headers["cache-control"].startswith("public, max-age=")
    assert second.content == first.content
    raw = world.client.get(url, headers={"if-none-match": first.headers["etag"]})
    assert raw.status_code == 304
    with world.client.stream("GET", url) as response:
        body = b"".join(response.iter_raw())
    assert gzip.decompress(body) == first.content  # the wire body is gzip
