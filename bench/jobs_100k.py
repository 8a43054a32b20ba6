"""An index (NDVI) job on a 100,000 x 100,000 px raster, end to end, on the embedded cluster.

Usage: python bench/jobs_100k.py [--size 100000] [--workers 2] [--block 4096] [--dir DIR]

The input is real NAIP imagery (../shared/data, 4-band uint8, 5 m): the quarter-quad mirrored
into a seamless tile saved as a COG, and a GDAL VRT repeating that tile to ``--size`` pixels, so
no 100k² input file is written. The VRT is recorded in the catalog as a dataset like any other.
Reported: wall time, the block and assembly phases, peak RSS of each worker (sampled every
0.5 s), peak scratch bytes (the data root's scratch area, sampled every 5 s), output size, and
whether the output validates as a COG. Free disk space is checked first: the output (float32,
deflate) and the parts in scratch (zstd) need about 1.9 x 4 bytes per pixel on this input
(measured: 76.9 GB at the peak for 10^10 px).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import rasterio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

NAIP = Path(__file__).resolve().parent.parent.parent / "shared/data/naip-northdakota-2009-2020"


def log(message: str) -> None:
    print(time.strftime("%H:%M:%S"), message, flush=True)


def make_tile(path: Path, repeat: int = 8) -> tuple[int, int]:
    """The NAIP quarter-quad mirrored ``repeat`` x ``repeat`` times (seamless), as a COG."""
    source = sorted(NAIP.glob("*2020*.tif"))[0]
    with rasterio.open(source) as src:
        data = src.read()
        profile = src.profile
    pair = np.concatenate([data, data[:, :, ::-1]], axis=2)
    pair = np.concatenate([pair, pair[:, ::-1, :]], axis=1)
    tile = np.tile(pair, (1, repeat // 2, repeat // 2))
    _count, height, width = tile.shape
    profile.update(
        driver="COG", width=width, height=height, compress="deflate", blocksize=512, nodata=0
    )
    profile.pop("tiled", None), profile.pop("blockxsize", None), profile.pop("blockysize", None)
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(tile)
    return width, height


def repeat_vrt(tile: Path, size: int, out: Path) -> None:
    """A VRT of ``size`` x ``size`` px repeating ``tile`` (same CRS and pixel size)."""
    from xml.sax.saxutils import escape

    with rasterio.open(tile) as src:
        w, h, t, count, crs = src.width, src.height, src.transform, src.count, src.crs
    lines = [
        f'<VRTDataset rasterXSize="{size}" rasterYSize="{size}">',
        f"<SRS>{escape(crs.to_wkt())}</SRS>",
        f"<GeoTransform>{t.c!r}, {t.a!r}, 0.0, {t.f!r}, 0.0, {t.e!r}</GeoTransform>",
    ]
    for band in range(1, count + 1):
        lines.append(f'<VRTRasterBand dataType="Byte" band="{band}"><NoDataValue>0</NoDataValue>')
        for row in range(0, size, h):
            for col in range(0, size, w):
                cw, ch = min(w, size - col), min(h, size - row)
                lines.append(
                    f'<SimpleSource><SourceFilename relativeToVRT="1">{tile.name}'
                    f"</SourceFilename><SourceBand>{band}</SourceBand>"
                    f'<SrcRect xOff="0" yOff="0" xSize="{cw}" ySize="{ch}"/>'
                    f'<DstRect xOff="{col}" yOff="{row}" xSize="{cw}" ySize="{ch}"/>'
                    "</SimpleSource>"
                )
        lines.append("</VRTRasterBand>")
    lines.append("</VRTDataset>")
    out.write_text("\n".join(lines))


def folder_bytes(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
    return total


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--block", type=int, default=4096)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/cogsight-100k"))
    parser.add_argument("--out", type=Path, default=Path("bench/results/jobs_100k.json"))
    args = parser.parse_args()

    from rio_cogeo.cogeo import cog_validate

    from tileserver.catalog import Catalog
    from tileserver.catalog.repository import new_id
    from tileserver.ingest import register_raster
    from tileserver.jobs.runner import JobRunner
    from tileserver.jobs.store import JobStatus, JobStore
    from tileserver.settings import Settings

    need = int(args.size**2 * 4 * 1.9)
    args.dir.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(args.dir).free
    log(f"free disk {free / 1e9:.1f} GB, estimated need {need / 1e9:.1f} GB")
    if free < need:
        sys.exit("not enough free disk space")
    settings = Settings(
        data_dir=args.dir / "data", job_block_size=args.block, dask_workers=args.workers
    )
    settings.data_dir.mkdir(exist_ok=True)
    catalog = Catalog(settings.resolved_database_url)
    tile_path = args.dir / "tile.tif"
    width, height = make_tile(tile_path)
    log(f"tile {width}x{height} (NAIP mirrored), registering")
    tile = register_raster(
        catalog, settings, tile_path, band_names=["red", "green", "blue", "nir"], thumbnail=False
    )
    stored = settings.data_dir / tile.uri
    vrt = stored.parent / f"repeat-{args.size}.vrt"
    repeat_vrt(stored, args.size, vrt)
    with rasterio.open(vrt) as src:
        big = tile.model_copy(
            update={
                "id": new_id(),
                "title": f"NAIP repeated to {args.size} px",
                "uri": str(vrt.relative_to(settings.data_dir)),
                "width": src.width,
                "height": src.height,
            }
        )
    catalog.add_dataset(big)

    runner = JobRunner(settings, catalog)
    store = JobStore(catalog)
    procs = [psutil.Process(p) for p in runner.client.run(os.getpid).values()]
    peaks = {p.pid: 0 for p in procs}
    scratch = {"peak": 0}
    stop = threading.Event()

    def sample_rss() -> None:
        while not stop.is_set():
            for p in procs:
                with contextlib.suppress(psutil.Error):
                    peaks[p.pid] = max(peaks[p.pid], p.memory_info().rss)
            time.sleep(0.5)

    def sample_scratch() -> None:
        while not stop.is_set():
            scratch["peak"] = max(scratch["peak"], folder_bytes(settings.data_dir / ".tmp"))
            time.sleep(5)

    threads = [threading.Thread(target=f, daemon=True) for f in (sample_rss, sample_scratch)]
    for t in threads:
        t.start()
    job = store.create("index", {"dataset": big.id, "index": "NDVI"})
    started = time.perf_counter()
    runner.submit(job.id)
    log(f"job {job.id} submitted: NDVI of {args.size}x{args.size}, {args.workers} workers")
    last = ""
    blocks_done = None
    while (state := store.get(job.id)).status not in (JobStatus.successful, JobStatus.failed):
        message = f"{state.progress:5.1f} % {state.message or ''}"
        if message != last:
            elapsed = time.perf_counter() - started
            log(f"{elapsed:7.0f} s  {message}  scratch {scratch['peak'] / 1e9:.1f} GB")
            last = message
        if blocks_done is None and state.progress >= 92:
            blocks_done = time.perf_counter() - started
        time.sleep(2)
    seconds = time.perf_counter() - started
    stop.set()
    runner.close()
    log(f"{state.status}: {state.message or ''} in {seconds:.0f} s")
    result: dict = {
        "size": args.size,
        "workers": args.workers,
        "block": args.block,
        "status": str(state.status),
        "seconds": seconds,
        "block_phase_seconds": blocks_done,
        "peak_rss_per_worker_mib": [v / 2**20 for v in peaks.values()],
        "peak_scratch_bytes": scratch["peak"],
    }
    if state.status == JobStatus.successful:
        outputs = [d for d in catalog.find_datasets() if d.id not in (tile.id, big.id)]
        if outputs:
            out = settings.data_dir / outputs[0].uri
            result["output_bytes"] = out.stat().st_size
            result["valid_cog"] = bool(cog_validate(str(out), quiet=True)[0])
    log(json.dumps(result))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
