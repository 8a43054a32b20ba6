"""The sliding-window engine end to end: throughput against the bare model, and peak memory.

Usage: python bench/inference.py [--sizes 10000 20000 40000] [--model conv|ndwi|unet]
                                 [--workdir DIR]

For each size a 4-band uint16 tiled GeoTIFF (deflate, simple patterns, so even 40,000² px is a
small file) is written strip by strip, then ``run_inference`` turns it into a class COG. Reported:

* end-to-end px/s (image pixels / wall time, COG included) and chip px/s (pixels of the chips the
  engine ran, overlap included, / wall time);
* the bare model's px/s on real chips of the same image (same chip size, batch, threads), timed
  alone right before and after the run; the ratio ``chip px/s / forward px/s`` is the share of
  the model's speed the engine keeps (target >= 0.85);
* peak RSS of the process (sampled every 20 ms) above its baseline after warm-up (target: flat
  across sizes, <= 1.5 GiB). Each size runs in a fresh process, so one run's heap does not
  inflate the next one's baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import rasterio
import torch
from rasterio.transform import from_origin
from rasterio.windows import Window

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from inference.engine import EngineStats, run_inference

SCALE = 1e-4
BANDS = [1, 2, 3, 4]  # blue, green, red, nir


class TinyConv(torch.nn.Module):
    """A cheap segmentation net: one 3x3 convolution (4 -> 8), ReLU, 1x1 to 2 classes, softmax."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = torch.nn.Sequential(
            torch.nn.Conv2d(4, 8, 3, padding=1),
            torch.nn.ReLU(),
            torch.nn.Conv2d(8, 2, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.net(x), dim=1)


class NdwiThreshold(torch.nn.Module):
    """Water where NDWI = (green - nir) / (green + nir) > 0, as soft two-class probabilities."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        green, nir = x[:, 1:2], x[:, 3:4]
        water = torch.sigmoid(20.0 * (green - nir) / (green + nir + 1e-6))
        return torch.cat([1.0 - water, water], dim=1)


def build_model(name: str) -> torch.nn.Module:
    """conv: one 3x3 convolution (the engine's overhead shows most); ndwi: a threshold;
    unet: the product's U-Net (width 16, depth 3), as trained by `cogsight train`."""
    if name == "unet":
        from inference.networks import UNet

        torch.manual_seed(0)
        return UNet(4, 2)
    return TinyConv() if name == "conv" else NdwiThreshold()


def make_input(path: Path, size: int) -> None:
    """Blocks of 'water' and 'land' with gentle ramps, written 512 rows at a time."""
    if path.exists():
        return
    profile = dict(
        driver="GTiff", width=size, height=size, count=4, dtype="uint16", nodata=0,
        crs="EPSG:32650", transform=from_origin(200000, 3500000, 10, 10), tiled=True,
        blockxsize=512, blockysize=512, compress="deflate", num_threads="all_cpus",
        bigtiff="if_safer",
    )  # fmt: skip
    partial = path.with_suffix(".partial.tif")
    x = np.arange(size, dtype=np.int32)[None, :]
    with rasterio.open(partial, "w", **profile) as dst:
        for row in range(0, size, 512):
            h = min(512, size - row)
            y = np.arange(row, row + h, dtype=np.int32)[:, None]
            water = ((x // 777 + y // 555) % 3 == 0).astype(np.int32)
            ramp = (x % 256) + (y % 256)
            data = np.stack(
                [
                    600 + 200 * water + ramp,  # blue
                    900 + 500 * water + ramp,  # green
                    1200 - 600 * water + ramp,  # red
                    3000 - 2600 * water + ramp,  # nir
                ]
            ).astype(np.uint16)
            dst.write(data, window=Window(0, row, size, h))
    os.replace(partial, path)


class RssPeak:
    """Highest RSS of this process, sampled every 20 ms in a thread."""

    def __init__(self) -> None:
        self.proc = psutil.Process()
        self.peak = self.proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self.proc.memory_info().rss)

    def __enter__(self) -> RssPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def forward_rate(
    model: torch.nn.Module, path: Path, chip: int, batch: int, seconds: float
) -> float:
    """Bare model px/s on real chips of ``path`` (read and converted beforehand)."""
    with rasterio.open(path) as src:
        data = src.read(BANDS, window=Window(0, 0, chip * batch * 2, chip))
    chips = [data[:, :, i * chip : (i + 1) * chip] for i in range(batch * 2)]
    batches = [
        torch.from_numpy(np.stack(chips[i : i + batch])).to(torch.float32) * SCALE
        for i in range(0, len(chips), batch)
    ]
    done = 0
    with torch.inference_mode():
        model(batches[0])
        began = time.perf_counter()
        while time.perf_counter() - began < seconds:
            model(batches[done % len(batches)])
            done += 1
        elapsed = time.perf_counter() - began
    return done * batch * chip * chip / elapsed


def measure(size: int, workdir: Path, args: argparse.Namespace) -> dict:
    """One size, in a fresh process: warm up, then time and sample the run."""
    model = build_model(args.model).eval()
    source = workdir / f"input-{size}.tif"
    options = dict(
        bands=[BANDS], scale=SCALE, chip=args.chip, overlap=args.overlap, batch=args.batch,
        output="classes", device=args.device,
    )  # fmt: skip
    run_inference(model, [workdir / "input-1024.tif"], workdir / "warm.tif", **options)
    before = forward_rate(model, source, args.chip, args.batch, args.forward_seconds)
    out = workdir / f"classes-{size}.tif"
    stats = EngineStats()
    baseline = psutil.Process().memory_info().rss
    with RssPeak() as rss:
        run_inference(model, [source], out, stats=stats, **options)
    after = forward_rate(model, source, args.chip, args.batch, args.forward_seconds)
    forward = (before + after) / 2
    chip_px = stats.chips * args.chip**2
    if not args.keep:
        out.unlink(missing_ok=True)
    return {
        "size": size,
        "total_s": round(stats.total_s, 1),
        "image_mpx_s": round(size * size / stats.total_s / 1e6, 2),
        "chip_mpx_s": round(chip_px / stats.total_s / 1e6, 2),
        "forward_mpx_s": round(forward / 1e6, 2),
        "ratio": round(chip_px / stats.total_s / forward, 3),
        "forward_share": round(stats.forward_s / stats.total_s, 3),
        "baseline_mib": round(baseline / 2**20),
        "peak_mib": round(rss.peak / 2**20),
        "growth_mib": round((rss.peak - baseline) / 2**20),
        "chips": stats.chips,
        "strips": stats.strips,
        "block_rows": stats.block_rows,
        "accumulator": list(stats.accumulator_shape),
        "seconds": {
            k: round(getattr(stats, k), 1)
            for k in ("read_s", "forward_s", "blend_s", "write_s", "cog_s")
        },
        "load_avg": round(os.getloadavg()[0], 2),
        "threads": torch.get_num_threads(),
    }


def child(flag: str, size: int, args: argparse.Namespace) -> str:
    """Run this script for one size in a fresh process (clean RSS baseline); its last line."""
    command = [sys.executable, __file__, flag, str(size), "--workdir", str(args.workdir)]
    for name in ("model", "chip", "overlap", "batch", "forward_seconds"):
        command += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    if args.device:
        command += ["--device", args.device]
    if args.keep:
        command.append("--keep")
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return done.stdout.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10000, 20000, 40000])
    parser.add_argument("--model", choices=["conv", "ndwi", "unet"], default="conv")
    parser.add_argument("--chip", type=int, default=512)
    parser.add_argument("--overlap", type=int, default=64)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--device", default=None)
    parser.add_argument("--forward-seconds", type=float, default=8.0)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the output COGs")
    parser.add_argument(
        "--json", type=Path, default=Path(__file__).parent / "results" / "inference.json"
    )
    parser.add_argument("--make", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--measure", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.workdir = args.workdir or Path(tempfile.mkdtemp(prefix="cogsight-bench-"))
    args.workdir.mkdir(parents=True, exist_ok=True)
    if args.make:
        began = time.perf_counter()
        make_input(args.workdir / f"input-{args.make}.tif", args.make)
        print(round(time.perf_counter() - began, 1))
        return
    if args.measure:
        print(json.dumps(measure(args.measure, args.workdir, args)))
        return
    print(
        f"model={args.model} chip={args.chip} overlap={args.overlap} batch={args.batch} "
        f"cpus={os.cpu_count()} workdir={args.workdir}"
    )
    print(
        f"{'size':>7} {'total s':>8} {'image Mpx/s':>11} {'chip Mpx/s':>10} {'fwd Mpx/s':>9} "
        f"{'ratio':>6} {'fwd share':>9} {'baseline':>9} {'peak RSS':>9} {'growth':>8} "
        f"{'strips':>6} {'rows':>5}"
    )
    rows = []
    child("--make", 1024, args)
    for size in args.sizes:
        made = float(child("--make", size, args))
        row = json.loads(child("--measure", size, args))
        row["input_s"] = made
        rows.append(row)
        print(
            f"{size:>7} {row['total_s']:>8} {row['image_mpx_s']:>11} {row['chip_mpx_s']:>10} "
            f"{row['forward_mpx_s']:>9} {row['ratio']:>6} {row['forward_share']:>9} "
            f"{row['baseline_mib']:>5} MiB {row['peak_mib']:>5} MiB {row['growth_mib']:>4} MiB "
            f"{row['strips']:>6} {row['block_rows']:>5}",
            flush=True,
        )
        print(f"        seconds: {row['seconds']}, load {row['load_avg']}", flush=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"model": args.model, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
