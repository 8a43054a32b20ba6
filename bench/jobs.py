"""The index tool on a large raster with 1 and 2 Dask workers: wall time and peak memory.

Usage: python bench/jobs.py [--size 10240] [--block 1024]
Each cluster runs the job twice: "cold" is its first job (the workers import the libraries
and set GDAL up on their first block, a fixed cost that a second worker does not share out),
"warm" the same job after a job on *other* data (a small raster), so the workers are started
but nothing of the measured raster is in their caches: what a long-running server's jobs see.
Peak memory is the highest summed RSS of the worker processes (sampled every 50 ms), and the
highest single worker, so "memory does not grow with raster size" can be checked by changing
--size.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import rasterio
from rasterio.transform import from_origin
from rasterio.windows import Window
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def make_raster(path: Path, size: int) -> None:
    """A 2-band uint16 tiled GeoTIFF written block by block (never whole in memory)."""
    rng = np.random.default_rng(0)
    profile = dict(
        driver="GTiff",
        width=size,
        height=size,
        count=2,
        dtype="uint16",
        crs="EPSG:32650",
        transform=from_origin(200000, 3500000, 10, 10),
        tiled=True,
        blockxsize=512,
        blockysize=512,
        compress="deflate",
        nodata=0,
    )
    with rasterio.open(path, "w", **profile) as dst:
        rows = range(0, size, 1024)
        for row in tqdm(rows, desc="writing source", unit="strip"):
            height = min(1024, size - row)
            base = rng.integers(500, 3000, (2, height, size), dtype="uint16")
            base[1] += np.uint16(2000)  # a vegetated-looking NIR
            dst.write(base, window=Window(0, row, size, height))


def run_twice(settings, catalog, dataset_id: str, other_id: str) -> dict:
    from tileserver.jobs.runner import JobRunner
    from tileserver.jobs.store import JobStatus, JobStore

    runner = JobRunner(settings, catalog)
    store = JobStore(catalog)
    pids = list(runner.client.run(os.getpid).values())
    procs = [psutil.Process(p) for p in pids]
    peak_sum = peak_one = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak_sum, peak_one
        while not stop.is_set():
            rss = [p.memory_info().rss for p in procs if p.is_running()]
            peak_sum, peak_one = max(peak_sum, sum(rss)), max(peak_one, max(rss, default=0))
            time.sleep(0.05)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    timings = {}
    for run, dataset in (("cold", dataset_id), ("warm-up", other_id), ("warm", dataset_id)):
        job = store.create("index", {"dataset": dataset, "index": "NDVI"})
        started = time.perf_counter()
        runner.submit(job.id)
        blocks_done = None
        desc = f"{settings.dask_workers} worker(s), {run}"
        with tqdm(total=100, desc=desc, unit="%") as bar:
            while (state := store.get(job.id)).status not in (
                JobStatus.successful,
                JobStatus.failed,
            ):
                if blocks_done is None and state.progress >= 92:
                    blocks_done = time.perf_counter() - started
                bar.n = round(state.progress)
                bar.refresh()
                time.sleep(0.05)
        assert state.status == JobStatus.successful, state.message
        timings[run] = (time.perf_counter() - started, blocks_done)
    stop.set()
    thread.join()
    runner.close()
    return {
        "workers": settings.dask_workers,
        "seconds": timings["cold"][0],
        "block_phase_seconds": timings["cold"][1],
        "warm_seconds": timings["warm"][0],
        "warm_block_phase_seconds": timings["warm"][1],
        "peak_rss_all_workers_mib": peak_sum / 2**20,
        "peak_rss_one_worker_mib": peak_one / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--size", type=int, default=10240)
    parser.add_argument("--block", type=int, default=1024)
    parser.add_argument("--out", type=Path, default=Path("bench/results/jobs.json"))
    args = parser.parse_args()

    from tileserver.catalog import Catalog
    from tileserver.ingest import register_raster
    from tileserver.settings import Settings

    with tempfile.TemporaryDirectory(prefix="cogsight-jobs-") as tmp:
        folder = Path(tmp)
        source = folder / "source.tif"
        make_raster(source, args.size)
        other = folder / "other.tif"
        make_raster(other, 2048)
        base = Settings(data_dir=folder / "data", job_block_size=args.block)
        base.data_dir.mkdir()
        catalog = Catalog(base.resolved_database_url)
        print("registering (COG conversion) ...")
        record = register_raster(catalog, base, source, band_names=["red", "nir"])
        warmup = register_raster(catalog, base, other, band_names=["red", "nir"])
        source.unlink()
        runs = [
            run_twice(base.model_copy(update={"dask_workers": n}), catalog, record.id, warmup.id)
            for n in (1, 2)
        ]
    print(f"\nindex (NDVI) on a {args.size}x{args.size} 2-band uint16 COG, {args.block} px blocks")
    for r in runs:
        print(
            f"  {r['workers']} worker(s): cold {r['seconds']:6.1f} s "
            f"(blocks {r['block_phase_seconds'] or 0:5.1f} s), warm {r['warm_seconds']:6.1f} s "
            f"(blocks {r['warm_block_phase_seconds'] or 0:5.1f} s)   peak RSS all workers "
            f"{r['peak_rss_all_workers_mib']:6.0f} MiB, one worker "
            f"{r['peak_rss_one_worker_mib']:6.0f} MiB"
        )
    for run, key in (("cold", "seconds"), ("warm", "warm_seconds")):
        print(f"  speed-up 2 vs 1 worker, {run}: {runs[0][key] / runs[1][key]:.2f}x")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({"size": args.size, "block": args.block, "runs": runs}, indent=2)
    )


if __name__ == "__main__":
    main()
