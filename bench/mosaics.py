"""Query-mosaic tile cost: a 5,000-scene mosaic against a 50-scene one (target: <= 2x).

Usage: python bench/mosaics.py [--cells 10] [--passes 50] [--small-cells 5] [--small-passes 2]
                               [--tiles 20] [--rounds 2]

One catalog (SQLite, revision 0004's spatial index) holds both mosaics' scenes: synthetic
256² uint8 COGs in Web Mercator at z10 resolution (deflate, a few KB each), laid out as an
archive is: a fixed grid of footprints overlapping by a quarter, acquired pass after pass (one
date per pass). Large: 10 x 10 cells x 50 passes = 5,000 scenes; small: 5 x 5 x 2 = 50, in a
disjoint region. Each region gets a query mosaic ("kind": "query", newest first, first valid
pixel). Timed: PNG tiles at z10, z12 and z14 in the middle of each region, in-process through
the app (TestClient; tile cache off, so every tile is read), the two mosaics interleaved per
round, median of ``--rounds`` after a warm-up round. Printed: the median and p90 ms per zoom,
the scenes each tile read, and the ratio large / small.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import morecantile
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fastapi.testclient import TestClient

from tests.mosaics_archive.synthetic import SIDE, add_records, scene_record, write_scene
from tileserver.catalog import DatasetRecord
from tileserver.http.app import create_app
from tileserver.mosaics.backend import open_mosaic
from tileserver.settings import Settings

TMS = morecantile.tms.get("WebMercatorQuad")
ZOOM = 10
"""Scene resolution: 256 px at z10, so a z10 tile (one scene side) fits inside both regions."""
ZOOMS = (10, 12, 14)
STEP = 0.75
"""Grid step in scene sides: neighbouring footprints overlap by a quarter."""
RENDER = "bidx=1&bidx=2&bidx=1&rescale=0,255"


def scene_side() -> float:
    """A scene's side in metres: one tile at ZOOM (256 px at its resolution)."""
    b = TMS.xy_bounds(TMS.tile(0, 0, ZOOM))
    return float(b.right - b.left)


def region(origin: tuple[float, float], cells: int) -> tuple[float, float, float]:
    """Top-left corner (EPSG:3857) and side (m) of a grid of ``cells`` x ``cells`` footprints."""
    x, y = TMS.xy(*origin)
    return x, y, scene_side() * (STEP * (cells - 1) + 1)


def make_scenes(
    data_dir: Path, corner: tuple[float, float, float], cells: int, passes: int, seed: int, tag: str
) -> list[DatasetRecord]:
    """``passes`` acquisitions of a ``cells`` x ``cells`` grid of overlapping footprints (as
    an archive's fixed tiling, each pass one date, a few seconds apart from cell to cell)."""
    rng = random.Random(seed)
    left0, top0, _ = corner
    side = scene_side()
    pixel = side / SIDE
    ramp = np.add.outer(np.arange(SIDE), np.arange(SIDE)) // 2
    start = dt.datetime(2023, 1, 1, tzinfo=dt.UTC)
    records: list[DatasetRecord] = []
    for _pass in range(passes):
        day = start + dt.timedelta(days=rng.randrange(0, 3650))
        for row in range(cells):
            for col in range(cells):
                i = len(records)
                left = left0 + col * STEP * side
                top = top0 - row * STEP * side
                data = np.stack([np.full((SIDE, SIDE), 1 + i % 250), ramp]).astype("uint8")
                uri = f"scenes/{tag}-{i:05d}.tif"
                write_scene(data_dir / uri, data, left, top, pixel, None, compress="deflate")
                when = day + dt.timedelta(seconds=5 * (row * cells + col))
                cloud = rng.uniform(0, 100)
                records.append(
                    scene_record(uri, left, top, pixel, when=when, cloud_cover=cloud, dtype="uint8")
                )
    return records


def interior_tiles(corner: tuple[float, float, float], zoom: int, n: int, seed: int) -> list:  # type: ignore[type-arg]
    """``n`` tiles at ``zoom`` lying wholly inside the square, away from its edges."""
    left, top, side = corner
    tile_side = scene_side() * 2.0 ** (ZOOM - zoom)
    margin = max(0.2 * side, 1.05 * tile_side)
    rng = random.Random(seed)
    tiles = []
    for _ in range(n):
        x = left + (rng.uniform(margin, side - margin) if margin < side / 2 else side / 2)
        y = top - (rng.uniform(margin, side - margin) if margin < side / 2 else side / 2)
        lon, lat = TMS.lnglat(x, y)
        tiles.append(TMS.tile(lon, lat, zoom))
    return tiles


def scenes_read(app: object, mosaic_id: str, tiles: list) -> list[int]:  # type: ignore[type-arg]
    """How many scenes each tile read (the backend's own answer; not timed)."""
    state = app.state  # type: ignore[attr-defined]
    record = state.catalog.get_mosaic(mosaic_id)
    counts = []
    for t in tiles:
        with open_mosaic(record, state.records, state.settings) as mosaic:
            _, used = mosaic.tile(t.x, t.y, t.z, threads=0)
        counts.append(len(used))
    return counts


def wgs84_box(corner: tuple[float, float, float]) -> list[float]:
    left, top, side = corner
    w, n = TMS.lnglat(left, top)
    e, s = TMS.lnglat(left + side, top - side)
    return [w, s, e, n]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=10, help="large grid side (cells)")
    parser.add_argument("--passes", type=int, default=50, help="large mosaic's acquisitions")
    parser.add_argument("--small-cells", type=int, default=5)
    parser.add_argument("--small-passes", type=int, default=2)
    parser.add_argument("--tiles", type=int, default=20, help="tiles per zoom and mosaic")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="cogsight-bench-mosaics-") as tmp:
        data_dir = Path(tmp)
        app = create_app(Settings(data_dir=data_dir, tile_cache_bytes=0))
        catalog = app.state.catalog
        big = region((10.0, 46.0), args.cells)
        small = region((20.0, 46.0), args.small_cells)
        started = time.perf_counter()
        records = make_scenes(data_dir, big, args.cells, args.passes, 1, "big")
        records += make_scenes(data_dir, small, args.small_cells, args.small_passes, 2, "small")
        n_large, n_small = args.cells**2 * args.passes, args.small_cells**2 * args.small_passes
        written = time.perf_counter() - started
        add_records(catalog, records)
        took = time.perf_counter() - started
        print(f"{len(records):,} scenes written and registered in {took:.1f} s")
        print(f"(files: {written:.1f} s)")
        with TestClient(app) as client:
            mosaics = {}
            for name, corner, expected in (
                ("large", big, n_large),
                ("small", small, n_small),
            ):
                t0 = time.perf_counter()
                r = client.post("/mosaics", json={"kind": "query", "bbox": wgs84_box(corner)})
                assert r.status_code == 201, r.text
                body = r.json()
                assert body["matched"] == expected, (body["matched"], expected)
                mosaics[name] = body["id"]
                print(
                    f"{name}: query mosaic of {body['matched']:,} scenes created in "
                    f"{1000 * (time.perf_counter() - t0):.0f} ms"
                )

            print(
                f"\n{'zoom':>4} {'mosaic':>6} {'median ms':>10} {'p90 ms':>8} {'scenes read':>12}"
            )
            ratios = {}
            for zoom in ZOOMS:
                tiles = {
                    "large": interior_tiles(big, zoom, args.tiles, zoom),
                    "small": interior_tiles(small, zoom, args.tiles, zoom),
                }
                times: dict[str, list[float]] = {"large": [], "small": []}
                used: dict[str, list[int]] = {"large": [], "small": []}
                for round_ in range(args.rounds + 1):  # round 0 warms the GDAL caches
                    for name in ("small", "large"):
                        per_round = []
                        for t in tiles[name]:
                            url = (
                                f"/mosaics/{mosaics[name]}/tiles/WebMercatorQuad/"
                                f"{t.z}/{t.x}/{t.y}.png?{RENDER}"
                            )
                            t0 = time.perf_counter()
                            r = client.get(url)
                            per_round.append(time.perf_counter() - t0)
                            assert r.status_code == 200, (url, r.status_code, r.text[:200])
                        if round_:
                            times[name].append(statistics.median(per_round))
                            times.setdefault(f"{name}-all", []).extend(per_round)
                for name in ("small", "large"):
                    used[name] = scenes_read(app, mosaics[name], tiles[name])
                for name in ("small", "large"):
                    every = sorted(times[f"{name}-all"])
                    p90 = every[int(0.9 * (len(every) - 1))]
                    print(
                        f"{zoom:>4} {name:>6} {1000 * statistics.median(times[name]):>10.1f} "
                        f"{1000 * p90:>8.1f} {statistics.mean(used[name]):>12.1f}"
                    )
                ratios[zoom] = statistics.median(times["large"]) / statistics.median(times["small"])
            print()
            for zoom, ratio in ratios.items():
                verdict = "ok" if ratio <= 2.0 else "OVER TARGET"
                print(
                    f"z{zoom}: {n_large:,}-scene tile / {n_small}-scene tile = "
                    f"{ratio:.2f}x (target <= 2x: {verdict})"
                )


if __name__ == "__main__":
    main()
