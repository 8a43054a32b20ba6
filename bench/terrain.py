"""Cesium terrain on the fly: quantized-mesh tiles/s beside the same area's PNG tiles, mesh size
and vertical error per zoom, and a DEM mosaic across two UTM zones.

Usage: python bench/terrain.py [--size 4096] [--pixel 5] [--side 3] [--zooms 8-15]
                               [--mosaic-size 2048] [--points 1500]

A ``--size``² float32 DEM (UTM 50N, ``--pixel`` m; a Gaussian hill on a slope, the test
surface of ``tests/terrain/dems.py``) is uploaded through ``POST /datasets`` (COG, overviews),
then, in-process through the app (TestClient; the tile cache on): per zoom the ``--side`` x
``--side`` block of terrain tiles around the hill, cold (first request: read, mesh, encode,
gzip) and cached (the same URLs again), and the PNG tiles of the same area (WebMercatorQuad at
z+1, whose tiles are about the size of a geographic z tile) cold and cached. Per zoom: the
vertices per tile (mean) and the largest vertical distance between the mesh and the DEM file at
``--points`` random points per tile (rasterio, nearest pixel) beside the stated bound
``max_error(z)``. Then two ``--mosaic-size``² DEMs in UTM 49N and 50N meeting at 114°E as one
mosaic: tiles/s across the seam and the largest error against the surface there.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import morecantile
import numpy as np
import rasterio
from rasterio.warp import transform as warp_transform

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fastapi.testclient import TestClient

from tests.terrain.dems import HILL_LAT, HILL_LON, cesium_bounds, decode, surface, tile_at, utm_dem
from tileserver.http.app import create_app
from tileserver.settings import Settings
from tileserver.terrain.mesh import max_error

MERCATOR = morecantile.tms.get("WebMercatorQuad")


def mesh_height(d, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:  # type: ignore[no-untyped-def]
    """The mesh's height at each point (barycentric in the triangle holding it)."""
    out = np.full(lon.shape, np.nan)
    for tri in d.triangles:
        (x1, x2, x3), (y1, y2, y3) = d.lon[tri], d.lat[tri]
        det = (y2 - y3) * (x1 - x3) + (x3 - x2) * (y1 - y3)
        if det == 0:
            continue
        a = ((y2 - y3) * (lon - x3) + (x3 - x2) * (lat - y3)) / det
        b = ((y3 - y1) * (lon - x3) + (x1 - x3) * (lat - y3)) / det
        hit = (a >= -1e-9) & (b >= -1e-9) & (1 - a - b >= -1e-9) & np.isnan(out)
        h = d.height[tri]
        out[hit] = (a * h[0] + b * h[1] + (1 - a - b) * h[2])[hit]
    return out


def block(z: int, lon: float, lat: float, side: int) -> list[tuple[int, int]]:
    x, y = tile_at(z, lon, lat)
    half = side // 2
    return [(x + i, y + j) for j in range(-half, side - half) for i in range(-half, side - half)]


def timed(client: TestClient, urls: list[str], strict: bool = True) -> tuple[float, list[bytes]]:
    """Seconds for all ``urls``; NaN when one is not a 200 and ``strict`` is off."""
    bodies: list[bytes] = []
    start = time.perf_counter()
    failed = False
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200 or not strict, (url, response.text[:200])
        failed |= response.status_code != 200
        bodies.append(response.content)
    return (float("nan") if failed else time.perf_counter() - start), bodies


def dem_at(path: Path, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    with rasterio.open(path) as src:
        xs, ys = warp_transform("EPSG:4326", src.crs, lon, lat)
        values = np.array([v[0] for v in src.sample(zip(xs, ys, strict=True))], dtype=float)
        rows, cols = zip(*(src.index(x, y) for x, y in zip(xs, ys, strict=True)), strict=True)
        inside = (np.array(rows) >= 0) & (np.array(rows) < src.height)
        inside &= (np.array(cols) >= 0) & (np.array(cols) < src.width)
    return np.where(inside, values, np.nan)


def covered(paths: list[Path], lon: np.ndarray, lat: np.ndarray, step: float) -> np.ndarray:
    """Points whose surroundings (``step`` each way) some file has data at: away from the data's
    edge, where the mesh steps down to the ellipsoid."""
    ok = np.ones(lon.shape, dtype=bool)
    for dx, dy in ((0, 0), (step, 0), (-step, 0), (0, step), (0, -step)):
        hit = np.zeros(lon.shape, dtype=bool)
        for path in paths:
            hit |= ~np.isnan(dem_at(path, lon + dx, lat + dy))
        ok &= hit
    return ok


def upload(client: TestClient, name: str, body: bytes) -> str:
    response = client.post("/datasets", files={"file": (f"{name}.tif", body, "image/tiff")})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--pixel", type=float, default=5.0)
    parser.add_argument("--side", type=int, default=3)
    parser.add_argument("--zooms", default="8-15")
    parser.add_argument("--mosaic-size", type=int, default=2048)
    parser.add_argument("--points", type=int, default=1500)
    args = parser.parse_args()
    z0, z1 = (int(v) for v in args.zooms.split("-"))
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "data", tile_cache_bytes=512 * 1024 * 1024)
        with TestClient(create_app(settings)) as client:
            start = time.perf_counter()
            body = utm_dem(size=args.size, pixel=args.pixel, west=113.98, north=30.82)
            path = Path(tmp) / "dem.tif"
            path.write_bytes(body)
            ident = upload(client, "dem", body)
            print(
                f"{args.size}² float32 DEM, {args.pixel:g} m pixels (UTM 50N): written and "
                f"uploaded in {time.perf_counter() - start:.1f} s; "
                f"maxzoom {client.get(f'/terrain/{ident}/layer.json').json()['maxzoom']}"
            )
            print(
                f"{args.side}x{args.side} tiles per zoom around the hill; in-process; "
                "tiles/s = tiles / total time"
            )
            header = (
                f"{'z':>3} {'terrain cold':>13} {'cached':>9} {'PNG cold':>9} {'cached':>9} "
                f"{'vertices':>9} {'max err m':>10} {'bound m':>8} {'KB':>6}"
            )
            print(header)
            for z in range(z0, z1 + 1):
                tiles = block(z, HILL_LON, HILL_LAT, args.side)
                urls = [f"/terrain/{ident}/{z}/{x}/{y}.terrain" for x, y in tiles]
                cold, bodies = timed(client, urls)
                warm, _ = timed(client, urls)
                centre = MERCATOR.tile(HILL_LON, HILL_LAT, z + 1)
                half = args.side // 2
                png = f"/raster/{ident}/tiles/WebMercatorQuad/{z + 1}"
                pngs = [
                    f"{png}/{centre.x + i}/{centre.y + j}.png"
                    for j in range(-half, args.side - half)
                    for i in range(-half, args.side - half)
                ]  # below the dataset's minzoom PNG tiles are 404s: shown as nan
                png_cold, _ = timed(client, pngs, strict=False)
                png_warm, _ = timed(client, pngs, strict=False)
                vertices, worst, size = [], 0.0, 0
                for (x, y), tile in zip(tiles, bodies, strict=True):
                    bounds = cesium_bounds(z, x, y)
                    d = decode(tile, bounds)
                    vertices.append(len(d.lon))
                    size += len(tile)
                    lon = rng.uniform(bounds[0], bounds[2], args.points)
                    lat = rng.uniform(bounds[1], bounds[3], args.points)
                    dem = dem_at(path, lon, lat)
                    ok = covered([path], lon, lat, 2 * (bounds[2] - bounds[0]) / 64)
                    if ok.any():
                        worst = max(
                            worst,
                            float(np.nanmax(np.abs(mesh_height(d, lon[ok], lat[ok]) - dem[ok]))),
                        )
                n = len(urls)
                print(
                    f"{z:>3} {n / cold:>10.1f}/s {n / warm:>7.0f}/s {n / png_cold:>7.1f}/s "
                    f"{n / png_warm:>7.0f}/s {np.mean(vertices):>9.0f} {worst:>10.1f} "
                    f"{max_error(z):>8.1f} {size / n / 1024:>6.1f}"
                )

            print()
            half = args.mosaic_size * args.pixel / 2 / 111_320
            west49 = utm_dem(size=args.mosaic_size, pixel=args.pixel, epsg=32649,
                             west=114.0 - 1.6 * half, north=30.75)  # fmt: skip
            east50 = utm_dem(size=args.mosaic_size, pixel=args.pixel, epsg=32650,
                             west=114.0 - 0.1 * half, north=30.75)  # fmt: skip
            ids = [upload(client, "west49", west49), upload(client, "east50", east50)]
            scenes = [Path(tmp) / "west49.tif", Path(tmp) / "east50.tif"]
            scenes[0].write_bytes(west49)
            scenes[1].write_bytes(east50)
            mosaic = client.post("/mosaics", json={"ids": ids, "title": "two zones"}).json()["id"]
            print(
                f"mosaic of two {args.mosaic_size}² DEMs (UTM 49N + 50N, {args.pixel:g} m) "
                "meeting at 114°E: tiles across the seam"
            )
            columns = ("cold", "cached", "vertices")
            print(f"{'z':>3} " + " ".join(f"{c:>9}" for c in columns) + "  max err m  bound m")
            for z in range(max(z0, 10), min(z1, 14) + 1):
                tiles = block(z, 114.0, 30.72, args.side)
                urls = [f"/terrain/{mosaic}/{z}/{x}/{y}.terrain" for x, y in tiles]
                cold, bodies = timed(client, urls)
                warm, _ = timed(client, urls)
                vertices, worst = [], 0.0
                for (x, y), tile in zip(tiles, bodies, strict=True):
                    bounds = cesium_bounds(z, x, y)
                    d = decode(tile, bounds)
                    vertices.append(len(d.lon))
                    lon = rng.uniform(bounds[0], bounds[2], args.points)
                    lat = rng.uniform(bounds[1], bounds[3], args.points)
                    ok = covered(scenes, lon, lat, 2 * (bounds[2] - bounds[0]) / 64)
                    if ok.any():  # against the surface both scenes sample
                        err = np.abs(mesh_height(d, lon[ok], lat[ok]) - surface(lon[ok], lat[ok]))
                        worst = max(worst, float(np.nanmax(err)))
                n = len(urls)
                print(
                    f"{z:>3} {n / cold:>7.1f}/s {n / warm:>7.0f}/s {np.mean(vertices):>9.0f} "
                    f"{worst:>10.1f} {max_error(z):>8.1f}"
                )


if __name__ == "__main__":
    main()
