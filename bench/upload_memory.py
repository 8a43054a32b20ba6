"""Peak server memory (RSS) while a 2 GiB GeoTIFF is uploaded to ``POST /datasets``.

The upload endpoint must stream: memory should stay flat however large the file. This writes an
uncompressed single-band uint16 GeoTIFF (32768 x 32768 px = 2 GiB) in a temporary folder,
starts the real server (uvicorn, one process), streams the file to it with httpx, and polls the
server process's RSS every 50 ms with psutil. Two phases are reported separately:

- receiving: from the first byte sent until the last (the multipart stream written to disk);
- converting: from the last byte sent until the 201 (COG conversion, overviews, thumbnail),
  where GDAL's block cache (``COGSIGHT_GDAL_CACHE_MB``, 512 MB by default; ``--gdal-cache-mb``
  sets it) and GDAL's overview building dominate.

Run from the repository root (it takes a few minutes and ~8 GiB of free disk):

    .venv/bin/python -m bench.upload_memory            # 2 GiB
    .venv/bin/python -m bench.upload_memory --side 8192  # a quick 128 MiB run

Results are printed and written to ``bench/results/upload_memory.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import psutil
import rasterio
from rasterio.transform import from_origin
from rasterio.windows import Window

from bench.common import ROOT, uvicorn_server

MiB = 1024 * 1024
BOUNDARY = "cogsight-bench-boundary"


def make_geotiff(path: Path, side: int, rows_per_write: int = 1024) -> None:
    """An uncompressed uint16 GeoTIFF (UTM 50N, 10 m), written a band of rows at a time."""
    profile = dict(
        driver="GTiff",
        width=side,
        height=side,
        count=1,
        dtype="uint16",
        crs="EPSG:32650",
        transform=from_origin(200000, 3600000, 10, 10),
        compress=None,
        BIGTIFF="IF_NEEDED",
    )
    cols = np.arange(side, dtype="uint32")
    with rasterio.open(path, "w", **profile) as dst:
        for top in range(0, side, rows_per_write):
            n = min(rows_per_write, side - top)
            rows = np.arange(top, top + n, dtype="uint32")[:, None]
            block = ((rows * 7 + cols * 3) % 4000 + 1).astype("uint16")
            dst.write(block[None], window=Window(0, top, side, n))


class RssSampler(threading.Thread):
    """Poll a process's resident set size (its children included) every ``interval`` s."""

    def __init__(self, proc: psutil.Process, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.proc = proc
        self.interval = interval
        self.samples: list[tuple[float, int]] = []
        self._halt = threading.Event()

    def rss(self) -> int:
        procs = [self.proc, *self.proc.children(recursive=True)]
        total = 0
        for p in procs:
            with contextlib.suppress(psutil.Error):
                total += p.memory_info().rss
        return total

    def run(self) -> None:
        while not self._halt.is_set():
            self.samples.append((time.perf_counter(), self.rss()))
            time.sleep(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join()

    def peak(self, start: float, end: float) -> int:
        return max((r for t, r in self.samples if start <= t <= end), default=0)


def multipart_stream(path: Path, sent: dict[str, float]) -> tuple[Iterator[bytes], int]:
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="title"\r\n\r\nbench\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="{path.name}"\r\nContent-Type: image/tiff\r\n\r\n'
    ).encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()
    size = len(head) + path.stat().st_size + len(tail)

    def body() -> Iterator[bytes]:
        sent["start"] = time.perf_counter()
        yield head
        with path.open("rb") as fh:
            while chunk := fh.read(MiB):
                yield chunk
        yield tail
        sent["end"] = time.perf_counter()

    return body(), size


def server_process(port: int) -> psutil.Process:
    """The uvicorn child of this process listening on ``port``."""
    for child in psutil.Process().children(recursive=True):
        try:
            if any(c.laddr.port == port for c in child.net_connections(kind="tcp")):
                return child
        except psutil.Error:
            continue
    raise RuntimeError("server process not found")


def run(side: int, workdir: Path, gdal_cache_mb: int | None = None) -> dict:
    src = workdir / "upload.tif"
    started = time.perf_counter()
    make_geotiff(src, side)
    print(f"wrote {src.stat().st_size / MiB:.0f} MiB in {time.perf_counter() - started:.0f} s")
    env = {
        "COGSIGHT_DATA_DIR": str(workdir / "data"),
        "COGSIGHT_MAX_UPLOAD_BYTES": str(src.stat().st_size + 64 * MiB),
        "COGSIGHT_MAX_RASTER_PIXELS": str(side * side),
    }
    if gdal_cache_mb is not None:
        env["COGSIGHT_GDAL_CACHE_MB"] = str(gdal_cache_mb)
    with uvicorn_server("tileserver.http.app:create_app", env, factory=True) as url:
        proc = server_process(int(url.rsplit(":", 1)[1]))
        sampler = RssSampler(proc)
        baseline = sampler.rss()
        sent: dict[str, float] = {}
        body, size = multipart_stream(src, sent)
        sampler.start()
        response = httpx.post(
            f"{url}/datasets",
            content=body,
            headers={
                "content-type": f"multipart/form-data; boundary={BOUNDARY}",
                "content-length": str(size),
            },
            timeout=None,
        )
        done = time.perf_counter()
        time.sleep(0.2)
        sampler.stop()
    if response.status_code != 201:
        raise RuntimeError(f"upload failed: {response.status_code} {response.text}")
    receive_s = sent["end"] - sent["start"]
    result = {
        "file_bytes": src.stat().st_size,
        "raster": f"{side}x{side} uint16, 1 band, uncompressed GeoTIFF",
        "gdal_cache_mb": gdal_cache_mb or "server default (512)",
        "server_rss_baseline_mib": round(baseline / MiB, 1),
        "server_rss_peak_receiving_mib": round(sampler.peak(sent["start"], sent["end"]) / MiB, 1),
        "server_rss_peak_converting_mib": round(sampler.peak(sent["end"], done) / MiB, 1),
        "server_rss_peak_total_mib": round(sampler.peak(0, done) / MiB, 1),
        "receive_seconds": round(receive_s, 1),
        "receive_mib_per_s": round(size / MiB / receive_s, 1),
        "convert_seconds": round(done - sent["end"], 1),
        "samples": len(sampler.samples),
        "dataset_id": response.json()["id"],
    }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--side", type=int, default=32768, help="Raster side in pixels.")
    parser.add_argument("--workdir", type=Path, default=None, help="Where to put the files.")
    parser.add_argument(
        "--gdal-cache-mb", type=int, default=None, help="COGSIGHT_GDAL_CACHE_MB for the server."
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.workdir, prefix="cogsight-upload-bench-") as tmp:
        result = run(args.side, Path(tmp), args.gdal_cache_mb)
    print(json.dumps(result, indent=2))
    out = ROOT / "bench" / "results" / "upload_memory.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
