"""Vectorize + simplify throughput on generated class rasters (4k² and 10k² by default).

Usage: python bench/vectorize.py [--sizes 4096 10240] [--block 2048] [--min-area 0]
                                 [--regularize 4] [--smooth 2]

Each raster is a tiled uint8 GeoTIFF written block by block from a seeded generator: wavy
field parcels (cropland, vegetation, bare), built-up parcels holding rows of small buildings,
a meandering river and a sprinkle of single-pixel noise, like a segmentation model's output.
`vectorize_raster` runs with its defaults (block-wise polygonize, seam join, edge matching,
coverage simplification at one pixel, attributes) in a fresh process, so the peak RSS is that
of vectorization alone. Prints a table; not part of the test suite.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin
from rasterio.windows import Window

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PIXEL = 10.0
WRITE_ROWS = 1024


def _hash01(seed: int, *keys: np.ndarray) -> np.ndarray:
    """A uniform [0, 1) value per integer key tuple (splitmix-style mixing)."""
    h = np.full(keys[0].shape, np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15), dtype=np.uint64)
    for k in keys:
        h ^= k.astype(np.int64).view(np.uint64)
        h *= np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(31)
    return (h >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def class_block(row: int, col: int, height: int, width: int, seed: int) -> np.ndarray:
    """Classes (1 water, 2 vegetation, 3 cropland, 4 built-up, 5 bare) of one window.

    Everything is a function of the global pixel position, so blocks written separately
    join seamlessly.
    """
    y, x = np.mgrid[row : row + height, col : col + width].astype(np.float64)
    xw = x + 9 * np.sin(y / 53 + seed) + 4 * np.sin(y / 17)
    yw = y + 9 * np.sin(x / 61 + 2 * seed) + 4 * np.sin(x / 13)
    parcel = _hash01(seed, np.floor(yw / 120), np.floor(xw / 90))
    cls = np.select([parcel < 0.45, parcel < 0.8, parcel < 0.9], [3, 2, 5], 4).astype(np.uint8)
    building = ((y % 16) < 10) & ((x % 20) < 13)  # 13 by 10 px houses on a 20 by 16 px pitch
    cls[(cls == 4) & ~building] = 5
    offset = (y - 700 * np.sin(x / 1500 + seed)) % 5000 - 2500
    cls[np.abs(offset) < 25 + 8 * np.sin(x / 97)] = 1
    noise = _hash01(seed + 1, y, x)
    speck = noise < 1e-4
    cls[speck] = (1 + (noise[speck] * 1e5).astype(np.uint8) % 5).astype(np.uint8)
    return cls


def make_raster(path: Path, size: int, seed: int = 0) -> None:
    """A size-by-size tiled uint8 GeoTIFF written in strips (never whole in memory)."""
    profile = dict(
        driver="GTiff",
        width=size,
        height=size,
        count=1,
        dtype="uint8",
        crs="EPSG:32650",
        transform=from_origin(200_000, 3_500_000, PIXEL, PIXEL),
        tiled=True,
        blockxsize=512,
        blockysize=512,
        compress="deflate",
        nodata=0,
    )
    with rasterio.open(path, "w", **profile) as dst:
        for row in range(0, size, WRITE_ROWS):
            height = min(WRITE_ROWS, size - row)
            dst.write(
                class_block(row, 0, height, size, seed), 1, window=Window(0, row, size, height)
            )


def _vectorize(path: str, block: int, options: dict, queue: mp.Queue) -> None:
    """Run in a fresh process: time the stages through the progress callback."""
    import shapely

    from inference.vectorize import vectorize_raster

    marks: list[tuple[float, float]] = []
    start = time.perf_counter()
    gdf = vectorize_raster(
        path,
        block_size=block,
        **options,
        progress=lambda p, _m: marks.append((p, time.perf_counter() - start)),
    )
    total = time.perf_counter() - start

    def at(percent: float) -> float:
        return next(t for p, t in marks if p >= percent)

    queue.put(
        dict(
            polygons=len(gdf),
            vertices=int(shapely.get_num_coordinates(gdf.geometry.values).sum()),
            polygonize_s=at(60.0),
            coverage_s=at(85.0) - at(60.0),
            attributes_s=total - at(85.0),
            total_s=total,
            peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[4096, 10240])
    parser.add_argument("--block", type=int, default=2048)
    parser.add_argument("--min-area", type=float, default=0.0, help="m²")
    parser.add_argument("--regularize", type=int, nargs="*", default=[], help="classes")
    parser.add_argument("--smooth", type=int, default=0, help="Chaikin iterations")
    args = parser.parse_args()
    options = dict(
        min_area=args.min_area, regularize=args.regularize, smooth_iterations=args.smooth
    )
    ctx = mp.get_context("spawn")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            path = Path(tmp) / f"classes_{size}.tif"
            t0 = time.perf_counter()
            make_raster(path, size)
            print(f"generated {size}² in {time.perf_counter() - t0:.1f} s", flush=True)
            queue: mp.Queue = ctx.Queue()
            proc = ctx.Process(target=_vectorize, args=(str(path), args.block, options, queue))
            proc.start()
            result = queue.get()
            proc.join()
            result["size"] = size
            result["mpx_s"] = size * size / 1e6 / result["total_s"]
            rows.append(result)
    print()
    print(f"block {args.block} px, simplify 1 px, {options}")
    head = (
        f"{'raster':>8} {'Mpx':>6} {'polygons':>9} {'vertices':>10} {'polygonize':>10} "
        f"{'coverage':>9} {'attrs':>6} {'total':>7} {'Mpx/s':>6} {'peak RSS':>9}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        print(
            f"{r['size']:>7}² {r['size'] ** 2 / 1e6:>6.1f} {r['polygons']:>9} {r['vertices']:>10} "
            f"{r['polygonize_s']:>9.1f}s {r['coverage_s']:>8.1f}s {r['attributes_s']:>5.1f}s "
            f"{r['total_s']:>6.1f}s {r['mpx_s']:>6.2f} {r['peak_rss_mb']:>6.0f} MB"
        )


if __name__ == "__main__":
    main()
