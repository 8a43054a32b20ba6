"""Load: many concurrent clients on tiles for a fixed time, cogsight against bare titiler.

Both servers serve the same COG under uvicorn (one worker each, run one after the other so they
never share the cores). Each client is a thread with one keep-alive connection that requests
random tiles (RGB and NDVI renders over every zoom of the scene) until the time is up; the tile
cache is off so every request reads and renders pixels. Before the timed phase every URL is
fetched once and then the same load runs for ``--warmup`` seconds, so GDAL's block cache and
each request thread's open datasets are as full as they will get: what grows afterwards is
growth, not warm-up.

Reported per server: requests, tiles/s, p50 / p90 / p99 latency (as the client sees it, queueing
included), status counts (5xx and connection errors separately), and the server's RSS at the
start of the timed phase, at its end and at its peak: growth = end / start - 1 (target < 10 %).
Usage: python bench/load.py [--clients 64] [--seconds 60]
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import contextlib

from bench.common import fetch_all, uvicorn_process
from bench.tiles import RENDERS, bench_scene


@dataclass
class Tally:
    """What the clients saw; each client appends under the lock only at the end."""

    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    connection_errors: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _client(urls: list[str], deadline: float, seed: int, tally: Tally) -> None:
    """Request random URLs over one keep-alive connection until ``deadline``."""
    rng = random.Random(seed)
    parsed = urlsplit(urls[0])
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=120)
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    errors = 0
    while time.perf_counter() < deadline:
        part = urlsplit(rng.choice(urls))
        started = time.perf_counter()
        try:
            conn.request("GET", f"{part.path}?{part.query}")
            response = conn.getresponse()
            response.read()
        except (OSError, http.client.HTTPException):
            errors += 1
            conn.close()
            conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=120)
            continue
        latencies.append(time.perf_counter() - started)
        statuses[response.status] += 1
    conn.close()
    with tally.lock:
        tally.latencies += latencies
        tally.statuses.update(statuses)
        tally.connection_errors += errors


def tree_rss(pid: int) -> int:
    """Resident memory of a server process and its children (uvicorn's workers), bytes."""
    root = psutil.Process(pid)
    total = 0
    for proc in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += proc.memory_info().rss
    return total


def run_load(urls: list[str], pid: int, clients: int, seconds: float, label: str) -> dict[str, Any]:
    """``clients`` threads on ``urls`` for ``seconds``; RSS sampled twice a second."""
    tally = Tally()
    samples: list[tuple[float, int]] = []
    started = time.perf_counter()
    deadline = started + seconds
    threads = [
        threading.Thread(target=_client, args=(urls, deadline, seed, tally), daemon=True)
        for seed in range(clients)
    ]
    samples.append((0.0, tree_rss(pid)))
    for thread in threads:
        thread.start()
    with tqdm(total=int(seconds), desc=label, unit="s") as bar:
        while time.perf_counter() < deadline:
            time.sleep(0.5)
            samples.append((time.perf_counter() - started, tree_rss(pid)))
            bar.n = min(int(seconds), int(time.perf_counter() - started))
            bar.refresh()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    samples.append((elapsed, tree_rss(pid)))
    lat = sorted(tally.latencies)
    quantiles = statistics.quantiles(lat, n=100, method="inclusive") if len(lat) > 1 else [0] * 99
    rss_start, rss_end = samples[0][1], samples[-1][1]
    return {
        "clients": clients,
        "seconds": elapsed,
        "requests": len(lat),
        "tiles_per_s": len(lat) / elapsed,
        "p50_ms": 1000 * quantiles[49],
        "p90_ms": 1000 * quantiles[89],
        "p99_ms": 1000 * quantiles[98],
        "max_ms": 1000 * (lat[-1] if lat else 0.0),
        "statuses": {str(k): v for k, v in sorted(tally.statuses.items())},
        "server_errors_5xx": sum(v for k, v in tally.statuses.items() if k >= 500),
        "connection_errors": tally.connection_errors,
        "rss_start_mib": rss_start / 2**20,
        "rss_end_mib": rss_end / 2**20,
        "rss_peak_mib": max(r for _, r in samples) / 2**20,
        "rss_growth": rss_end / rss_start - 1,
        "rss_samples_mib": [(round(t, 1), round(r / 2**20, 1)) for t, r in samples],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=64, help="concurrent client connections")
    parser.add_argument("--seconds", type=float, default=60, help="timed phase per server")
    parser.add_argument(
        "--warmup", type=float, default=30, help="seconds of the same load before timing"
    )
    parser.add_argument("--tiles", type=int, default=400, help="distinct tiles per render")
    parser.add_argument("--size", type=int, default=4096, help="COG width/height in pixels")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers per server")
    parser.add_argument("--only", choices=["cogsight", "titiler"], help="load one server, not both")
    parser.add_argument("--out", type=Path, default=Path("bench/results/load.json"))
    args = parser.parse_args()

    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="cogsight-load-") as tmp:
        scene = bench_scene(Path(tmp), args.size, args.tiles)
        servers = {
            "cogsight": (
                "tileserver.http.app:create_app",
                {"COGSIGHT_DATA_DIR": str(scene.data_dir), "COGSIGHT_TILE_CACHE_BYTES": "0"},
                True,
                f"/raster/{scene.dataset_id}",
                "",
            ),
            "titiler": ("bench.bare_titiler:app", {}, False, "/cog", f"&url={scene.served}"),
        }
        for name, (target, env, factory, prefix, extra) in servers.items():
            if args.only and name != args.only:
                continue
            with uvicorn_process(target, env, args.workers, factory) as (base, proc):
                batch = scene.urls(base, prefix, extra)
                idle = tree_rss(proc.pid)
                print(f"{name}: warming up on all {len(batch)} URLs once ...")
                _seconds, bad = fetch_all(batch, args.clients)
                if bad:
                    print(f"  {bad} warm-up requests did not answer 200")
                if args.warmup:
                    warm = run_load(batch, proc.pid, args.clients, args.warmup, f"{name} warm-up")
                    before, after = warm["rss_start_mib"], warm["rss_end_mib"]
                    print(f"  warm-up: RSS {before:.0f} -> {after:.0f} MiB")
                results[name] = run_load(batch, proc.pid, args.clients, args.seconds, name)
                results[name]["rss_idle_mib"] = idle / 2**20

    print(
        f"\n{args.clients} clients x {args.seconds:.0f} s per server, {args.workers} uvicorn "
        f"worker(s), tile cache off, {len(scene.tiles) * len(RENDERS)} distinct tile URLs"
    )
    header = (
        f"  {'server':9s} {'requests':>8s} {'tiles/s':>8s} {'p50 ms':>8s} {'p90 ms':>8s} "
        f"{'p99 ms':>8s} {'5xx':>5s} {'conn err':>8s} {'RSS start':>10s} {'end':>8s} "
        f"{'peak':>8s} {'growth':>7s}"
    )
    print(header)
    for name, r in results.items():
        print(
            f"  {name:9s} {r['requests']:8d} {r['tiles_per_s']:8.1f} {r['p50_ms']:8.0f} "
            f"{r['p90_ms']:8.0f} {r['p99_ms']:8.0f} {r['server_errors_5xx']:5d} "
            f"{r['connection_errors']:8d} {r['rss_start_mib']:8.0f} MiB {r['rss_end_mib']:5.0f} "
            f"MiB {r['rss_peak_mib']:5.0f} MiB {100 * r['rss_growth']:6.1f} %"
        )
    ratios: dict[str, float] = {}
    if len(results) == 2:
        ours, bare = results["cogsight"], results["titiler"]
        ratios = {
            "throughput cogsight / titiler": ours["tiles_per_s"] / bare["tiles_per_s"],
            "p50 cogsight / titiler": ours["p50_ms"] / bare["p50_ms"],
            "p99 cogsight / titiler": ours["p99_ms"] / bare["p99_ms"],
        }
        for label, value in ratios.items():
            print(f"  {label:32s} {value:6.2f}")
    for name, r in results.items():
        verdict = (
            "meets"
            if r["server_errors_5xx"] == 0 and r["connection_errors"] == 0 and r["rss_growth"] < 0.1
            else "MISSES"
        )
        print(f"  {name}: {verdict} the targets (0 5xx, 0 connection errors, RSS growth < 10 %)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "clients": args.clients,
                "seconds": args.seconds,
                "workers": args.workers,
                "urls": len(scene.tiles) * len(RENDERS),
                "results": results,
                "ratios": ratios,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
