"""Tile throughput: cogsight against bare titiler and the in-process rio-tiler floor.

One run, one COG, one list of tile requests over several zooms, one uvicorn worker each:
  (a) cogsight, tile cache off      (b) bare titiler TilerFactory with ?url=
  (c) in-process floor: rio_tiler Reader.tile + the same PNG render, no HTTP
  (d) cogsight with a hot tile cache
Prints tiles/s and the ratios a/b, c/a, d/a.  Usage: python bench/tiles.py [--tiles 600]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import morecantile
import numpy as np
from rasterio.transform import from_origin
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import fetch_all, uvicorn_server

TMS = morecantile.tms.get("WebMercatorQuad")
KINDS = (
    "a_cogsight_cache_off",
    "b_bare_titiler",
    "c_floor_open_per_tile",
    "c_floor_kept_open",
    "d_cogsight_hot_cache",
)
RENDERS = {
    "rgb": "bidx=3&bidx=2&bidx=1&rescale=0,2000&tilesize=256",
    "ndvi": "expression=(b4-b3)/(b4%2Bb3)&rescale=-1,1&colormap_name=rdylgn&tilesize=256",
}


def make_cog(folder: Path, size: int) -> Path:
    """A seeded 5-band uint16 scene (the demo's landscape model) written as a COG."""
    from tileserver.demo import make_optical_scene, write_cog

    transform = from_origin(230000.0, 3390000.0, 10.0, 10.0)
    data, _classes = make_optical_scene((size, size), transform, "EPSG:32650", seed=7)
    path = folder / "bench.tif"
    write_cog(path, data, transform, "EPSG:32650", 0, ["blue", "green", "red", "nir", "swir16"])
    return path


def tile_list(
    path: Path, bounds: tuple[float, float, float, float], minzoom: int, maxzoom: int, count: int
) -> list[tuple[int, int, int]]:
    """Tiles that both rio-tiler and cogsight consider inside the data, spread over zooms."""
    from rio_tiler.io import Reader

    from tileserver.tiling.reader import CatalogReader

    rng = np.random.default_rng(0)
    with Reader(str(path)) as plain, CatalogReader(str(path)) as ours:
        per_zoom: dict[int, list] = {
            z: [
                t
                for t in TMS.tiles(*bounds, zooms=[z])
                if plain.tile_exists(t.x, t.y, t.z) and ours.tile_exists(t.x, t.y, t.z)
            ]
            for z in range(minzoom, maxzoom + 1)
        }
    out: list[tuple[int, int, int]] = []
    share = max(1, count // len(per_zoom))
    for tiles in per_zoom.values():
        picks = rng.permutation(len(tiles))[:share]
        out += [(tiles[i].z, tiles[i].x, tiles[i].y) for i in picks]
    while len(out) < count:  # top up from the deepest zoom
        t = per_zoom[maxzoom][int(rng.integers(len(per_zoom[maxzoom])))]
        out.append((t.z, t.x, t.y))
    return out


@dataclass(frozen=True)
class BenchScene:
    """The benchmark COG registered in a catalog of its own, and the tiles to request."""

    data_dir: Path
    dataset_id: str
    served: Path
    tiles: list[tuple[int, int, int]]

    def urls(self, base: str, prefix: str, extra: str = "") -> list[str]:
        """Every tile in every render, under ``base`` + ``prefix`` (+ ``extra`` query)."""
        return [
            f"{base}{prefix}/tiles/WebMercatorQuad/{z}/{x}/{y}.png?{q}{extra}"
            for q in RENDERS.values()
            for z, x, y in self.tiles
        ]


def bench_scene(folder: Path, size: int, count: int) -> BenchScene:
    """Make the COG in ``folder``, register it in ``folder/data``, pick ``count`` tiles."""
    from tileserver.catalog import Catalog
    from tileserver.ingest import register_raster
    from tileserver.settings import Settings

    print(f"making a {size}x{size} 5-band COG ...")
    cog = make_cog(folder, size)
    settings = Settings(data_dir=folder / "data")
    settings.data_dir.mkdir()
    record = register_raster(Catalog(settings.resolved_database_url), settings, cog)
    served = settings.data_dir / record.uri
    tiles = tile_list(served, record.bounds, record.minzoom, record.maxzoom, count)
    print(f"{len(tiles)} tiles x {len(RENDERS)} renders, zooms {record.minzoom}-{record.maxzoom}")
    return BenchScene(settings.data_dir, record.id, served, tiles)


_KEPT: dict[str, object] = {}


def floor(path: Path, tiles: list[tuple[int, int, int]], keep_open: bool) -> float:
    """In-process cost of the same tiles: rio-tiler read + the PNG render cogsight uses."""
    from rio_tiler.colormap import cmap
    from rio_tiler.io import Reader
    from titiler.core.resources.enums import ImageType
    from titiler.core.utils import render_image

    colormap = cmap.get("rdylgn")
    started = time.perf_counter()
    if keep_open and str(path) not in _KEPT:  # one handle for the whole run, like the server's
        _KEPT[str(path)] = Reader(str(path))
    shared = _KEPT.get(str(path)) if keep_open else None
    for kind in RENDERS:
        for z, x, y in tiles:
            src = shared or Reader(str(path))
            try:
                if kind == "rgb":
                    img = src.tile(x, y, z, indexes=(3, 2, 1))
                    render_image(img, output_format=ImageType.png, rescale=[(0, 2000)] * 3)
                else:
                    img = src.tile(x, y, z, expression="(b4-b3)/(b4+b3)")
                    render_image(
                        img, output_format=ImageType.png, rescale=[(-1, 1)], colormap=colormap
                    )
            finally:
                if shared is None:
                    src.close()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--tiles", type=int, default=300, help="tiles per render style")
    parser.add_argument("--size", type=int, default=4096, help="COG width/height in pixels")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers per server")
    parser.add_argument("--concurrency", type=int, default=1, help="client connections")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median)")
    parser.add_argument("--out", type=Path, default=Path("bench/results/tiles.json"))
    args = parser.parse_args()

    from tileserver.settings import Settings
    from tileserver.tiling.encoding import configure_png

    configure_png(Settings().png_zlevel)  # the floor encodes exactly as cogsight does

    with tempfile.TemporaryDirectory(prefix="cogsight-bench-") as tmp:
        scene = bench_scene(Path(tmp), args.size, args.tiles)
        served, tiles = scene.served, scene.tiles

        env = {"COGSIGHT_DATA_DIR": str(scene.data_dir)}
        off = {**env, "COGSIGHT_TILE_CACHE_BYTES": "0"}
        runs: dict[str, list[float]] = {k: [] for k in KINDS}
        errors = dict.fromkeys(KINDS, 0)
        with (
            uvicorn_server("tileserver.http.app:create_app", off, args.workers, factory=True) as a,
            uvicorn_server("bench.bare_titiler:app", {}, args.workers) as b,
            uvicorn_server("tileserver.http.app:create_app", env, args.workers, factory=True) as d,
        ):
            batches = {
                "a_cogsight_cache_off": scene.urls(a, f"/raster/{scene.dataset_id}"),
                "b_bare_titiler": scene.urls(b, "/cog", f"&url={served}"),
                "d_cogsight_hot_cache": scene.urls(d, f"/raster/{scene.dataset_id}"),
            }
            for name, batch in batches.items():  # warm imports, connections, and d's cache
                fetch_all(batch if name.startswith("d") else batch[:20], args.concurrency)
            floor(served, tiles[:10], keep_open=False)
            for _ in tqdm(range(args.rounds), desc="rounds", unit="round"):
                for name, batch in batches.items():
                    seconds, bad = fetch_all(batch, args.concurrency)
                    runs[name].append(seconds)
                    errors[name] += bad
                runs["c_floor_open_per_tile"].append(floor(served, tiles, keep_open=False))
                runs["c_floor_kept_open"].append(floor(served, tiles, keep_open=True))

    n = len(tiles) * len(RENDERS)
    results = {
        k: {
            "seconds": statistics.median(v),
            "all_seconds": v,
            "errors": errors[k],
            "tiles_per_s": n / statistics.median(v),
        }
        for k, v in runs.items()
    }
    tps = {k: v["tiles_per_s"] for k, v in results.items()}
    ratios = {
        "a/b (cogsight vs bare titiler, target >= 1.2)": tps["a_cogsight_cache_off"]
        / tps["b_bare_titiler"],
        "c/a (floor kept open vs cogsight, target <= 1.3)": tps["c_floor_kept_open"]
        / tps["a_cogsight_cache_off"],
        "c/a (floor open per tile vs cogsight)": tps["c_floor_open_per_tile"]
        / tps["a_cogsight_cache_off"],
        "d/a (hot cache vs cache off, target >= 20)": tps["d_cogsight_hot_cache"]
        / tps["a_cogsight_cache_off"],
    }
    print(
        f"\n{n} tiles per run, median of {args.rounds} interleaved rounds, "
        f"{args.workers} uvicorn worker(s), {args.concurrency} connection(s)"
    )
    for name, r in results.items():
        print(
            f"  {name:24s} {r['tiles_per_s']:8.1f} tiles/s"
            f"   ({r['seconds']:.2f} s, {r['errors']} errors)"
        )
    for name, value in ratios.items():
        print(f"  {name:52s} {value:6.2f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "tiles": n,
                "workers": args.workers,
                "concurrency": args.concurrency,
                "results": results,
                "ratios": ratios,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
