"""The catalog at scale: STAC search, collections and queryables as the catalog grows, on
SQLite and PostgreSQL, and the harvest-like insert rate.

Usage: python bench/catalog.py [--sizes 10000 100000 1000000] [--pg-sizes 10000 100000 1000000]
                               [--backends sqlite postgresql] [--queries 100]

The catalog is filled with Sentinel-2-like metadata rows (a 1 degree tile grid over 20,000
land-sized cells, one scene per tile every 5 days, footprints that are whole or clipped tiles,
cloud cover, a collection): straight bulk inserts (executemany on SQLite, COPY on PostgreSQL)
through the same triggers that keep the spatial index and the collection summaries. At each size
it measures, through the real app (TestClient on ``create_app``): a 0.2 degree bbox + one month
datetime search (limit 10), ``GET /stac/collections``, ``GET /stac/queryables`` and a
collection's queryables; then the insert rate of ``Catalog.add_datasets`` (batches of 500, as
harvest registers items). PostgreSQL is a throwaway cluster (``tests/scaleout/pg.py``; PostGIS
when installed). Each size grows the previous catalog, so the curve costs one fill.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import secrets
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np
from fastapi.testclient import TestClient
from sqlalchemy import Text, cast, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tileserver.catalog import Catalog
from tileserver.catalog.schemas import DatasetRecord
from tileserver.catalog.spatial import bounds_overlap
from tileserver.catalog.tables import DatasetRow
from tileserver.http.app import create_app
from tileserver.settings import Settings
from tileserver.stac.collections import published
from tileserver.stac.datetimes import parse_interval
from tileserver.stac.search import BOUNDS, in_interval, sort_order

COLUMNS = [c.name for c in DatasetRow.__table__.columns]  # scene() yields them in this order
TILES = 20_000
REVISIT_DAYS = 5
EPOCH = dt.datetime(2017, 1, 1, tzinfo=dt.UTC)
BANDS = json.dumps(["blue", "green", "red", "nir", "swir16", "swir22", "scl"])
PROPS = json.dumps(
    {"platform": "sentinel-2a", "constellation": "sentinel-2", "instruments": ["msi"]}
)


def tile_grid(seed: int = 0) -> np.ndarray:
    """(TILES, 2) south-west corners of 1 degree cells, between 56 S and 76 N."""
    rng = np.random.default_rng(seed)
    cells = rng.choice(360 * 132, size=TILES, replace=False)
    return np.stack([cells % 360 - 180.0, cells // 360 - 56.0], axis=1).astype(float)


GRID = tile_grid()


def scene(n: int) -> tuple[Any, ...]:
    """The n-th scene: tile n % TILES at pass n // TILES (all tiles per pass, 5 days apart)."""
    west, south = GRID[n % TILES]
    when = EPOCH + dt.timedelta(days=REVISIT_DAYS * (n // TILES), minutes=n % 600)
    east, north = west + 1.0, south + 0.9
    if n % 3 == 0:  # clipped by the swath edge: a triangle of the tile
        ring = [[west, south], [east, south], [west, north], [west, south]]
    else:
        ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    footprint = json.dumps({"type": "Polygon", "coordinates": [ring]})
    tile = f"T{n % TILES:05d}"
    ident = f"S2A_{tile}_{when:%Y%m%d}_{n:09d}"
    return (
        secrets.token_hex(6),
        ident,
        "raster",
        f"s3://sentinel-cogs/{tile}/{ident}.vrt",
        "EPSG:32633",
        west,
        south,
        east,
        north,
        footprint,
        when,
        "sentinel2-l2a",
        BANDS,
        "uint16",
        0.0,
        10980,
        10980,
        10.0,
        8,
        14,
        0.0001,
        -0.1,
        (n * 2654435761 % 10_000) / 100,  # cloud cover, spread over 0-100
        None,
        "public",
        PROPS,
        when,
        "sentinel-2-l2a",
        "earth-search",
        f"sentinel-2-l2a/{ident}",
        None,
    )


def sqlite_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def fill_sqlite(path: Path, start: int, stop: int, batch: int = 50_000) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous=OFF")
    marks = ", ".join("?" * len(COLUMNS))
    sql = f"INSERT INTO datasets ({', '.join(COLUMNS)}) VALUES ({marks})"
    for first in range(start, stop, batch):
        rows = (
            tuple(sqlite_value(v) for v in scene(n)) for n in range(first, min(stop, first + batch))
        )
        with conn:
            conn.executemany(sql, rows)
    conn.execute("ANALYZE")
    conn.close()


def fill_postgres(url: str, start: int, stop: int, batch: int = 200_000) -> None:
    import psycopg

    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as conn:
        for first in range(start, stop, batch):
            with conn.cursor() as cur:
                copy_sql = f"COPY datasets ({', '.join(COLUMNS)}) FROM STDIN"
                with cur.copy(copy_sql) as copy:
                    for n in range(first, min(stop, first + batch)):
                        copy.write_row(scene(n))
            conn.commit()
        conn.autocommit = True
        conn.execute("ANALYZE datasets")


def record(n: int) -> DatasetRecord:
    values = dict(zip(COLUMNS, scene(n), strict=True))
    for key in ("footprint", "band_names", "properties"):
        values[key] = json.loads(values[key])
    values["bounds"] = tuple(values.pop(k) for k in ("west", "south", "east", "north"))
    return DatasetRecord.model_validate(values)


def timed(call: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """p50 and p95 in milliseconds of ``repeat`` calls (after one warm-up)."""
    call()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        call()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, math.ceil(0.95 * len(times)) - 1)]


def searches(size: int, seed: int = 1) -> Iterator[dict[str, str]]:
    """Random 0.2 degree boxes over the tile grid and one-month windows of the filled period."""
    rng = np.random.default_rng(seed)
    days = max(30, REVISIT_DAYS * math.ceil(size / TILES))
    while True:
        west, south = GRID[rng.integers(TILES)] + rng.uniform(0, 0.8, 2)
        start = EPOCH + dt.timedelta(days=int(rng.integers(0, max(1, days - 30))))
        end = start + dt.timedelta(days=30)
        yield {
            "bbox": f"{west:.4f},{south:.4f},{west + 0.2:.4f},{south + 0.2:.4f}",
            "datetime": f"{start:%Y-%m-%dT%H:%M:%SZ}/{end:%Y-%m-%dT%H:%M:%SZ}",
            "limit": "10",
        }


def measure(client: TestClient, size: int, repeat: int) -> dict[str, Any]:
    queries = searches(size)
    found: list[int] = []

    def search() -> None:
        response = client.get("/stac/search", params=next(queries))
        response.raise_for_status()
        found.append(len(response.json()["features"]))

    def get(path: str) -> Callable[[], Any]:
        return lambda: client.get(path).raise_for_status()

    def newest() -> None:
        params = next(queries)
        response = client.get("/stac/search", params={"datetime": params["datetime"], "limit": 10})
        response.raise_for_status()

    out: dict[str, Any] = {"search": timed(search, repeat)}
    out["hits"] = statistics.mean(found)
    out["newest"] = timed(newest, repeat)
    out["collections"] = timed(get("/stac/collections"), repeat)
    out["queryables"] = timed(get("/stac/queryables"), repeat)
    out["coll_queryables"] = timed(get("/stac/collections/sentinel-2-l2a/queryables"), repeat)
    return out


def database_time(catalog: Catalog, size: int, repeat: int) -> tuple[float, float]:
    """p50 and p95 in ms of the search's SQL alone (the candidates of a bbox + datetime search:
    index lookup, filters, order), as the database reports it: PostgreSQL's planning +
    execution time from EXPLAIN ANALYZE, SQLite's in-process run. Unlike the HTTP figures it
    leaves out round trips and the client's scheduling, which shared cores make noisy."""
    queries = searches(size, seed=7)
    sqlite = catalog.engine.dialect.name == "sqlite"
    times = []
    with catalog.engine.connect() as conn:
        for _ in range(repeat + 1):
            params = next(queries)
            box = [float(v) for v in params["bbox"].split(",")]
            conditions = [
                published(None),
                in_interval(*parse_interval(params["datetime"])),
                bounds_overlap(box),
            ]
            columns = (DatasetRow.id, cast(DatasetRow.footprint, Text), *BOUNDS)
            stmt = select(*columns).where(*conditions).order_by(*sort_order(None))
            if sqlite:
                t0 = time.perf_counter()
                conn.execute(stmt).all()
                times.append((time.perf_counter() - t0) * 1000)
                continue
            sql = str(stmt.compile(catalog.engine, compile_kwargs={"literal_binds": True}))
            plan = conn.exec_driver_sql(f"EXPLAIN (ANALYZE, TIMING OFF) {sql}").scalars().all()
            times.append(
                sum(float(line.split(":")[1].split()[0]) for line in plan if "Time:" in line)
            )
    times = sorted(times[1:])
    return statistics.median(times), times[min(len(times) - 1, math.ceil(0.95 * len(times)) - 1)]


def insert_rate(catalog: Catalog, first: int, count: int, batch: int = 500) -> tuple[float, float]:
    """Items per second through ``Catalog.add_datasets`` (records built beforehand): per
    second of wall time, and per second of this process's CPU (on SQLite all of the work;
    on PostgreSQL the client's share only), which shared cores disturb less."""
    records = [record(n) for n in range(first, first + count)]
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(0, count, batch):
        catalog.add_datasets(records[i : i + batch])
    return count / (time.perf_counter() - t0), count / (time.process_time() - c0)


def run_backend(name: str, url: str, data_dir: Path, sizes: list[int], repeat: int) -> list[dict]:
    rows = []
    filled = 0
    Catalog(url)  # the schema (revision 0004's index and triggers)
    for size in sizes:
        t0 = time.perf_counter()
        if name == "sqlite":
            fill_sqlite(Path(url.removeprefix("sqlite:///")), filled, size)
        else:
            fill_postgres(url, filled, size)
        fill_s = time.perf_counter() - t0
        filled = size
        app = create_app(Settings(data_dir=data_dir, database_url=url))
        with TestClient(app) as client:
            result = measure(client, size, repeat)
        catalog = Catalog(url)
        result["database"] = database_time(catalog, size, repeat)
        harvest, harvest_cpu = insert_rate(catalog, 50_000_000 + 10 * size, 5_000)
        catalog.engine.dispose()
        rows.append(
            {
                "backend": name,
                "size": size,
                "fill_s": fill_s,
                "harvest": harvest,
                "harvest_cpu": harvest_cpu,
                "load": os.getloadavg()[0],
                **result,
            }
        )
        print_row(rows[-1], rows[0])
    return rows


def print_table(rows: list[dict]) -> None:
    """The whole curve as a Markdown table (p50 / p95 in ms; x: p50 against the smallest)."""
    print(
        "\n| backend | items | bbox+datetime search | x | its SQL | x | datetime only "
        "| collections | queryables | collection queryables | add_datasets items/s (per CPU s) "
        "| load |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        first = next(r for r in rows if r["backend"] == row["backend"])
        cells = [
            f"{row[k][0]:.1f} / {row[k][1]:.1f}"
            for k in ("search", "newest", "collections", "queryables", "coll_queryables")
        ]
        ratio = row["search"][0] / first["search"][0]
        db = row["database"]
        db_ratio = db[0] / first["database"][0]
        print(
            f"| {row['backend']} | {row['size']:,} | {cells[0]} | {ratio:.2f} | "
            f"{db[0]:.2f} / {db[1]:.2f} | {db_ratio:.2f} | {cells[1]} | "
            f"{cells[2]} | {cells[3]} | {cells[4]} | {row['harvest']:,.0f} "
            f"({row['harvest_cpu']:,.0f}) | {row['load']:.1f} |"
        )


def print_row(row: dict, first: dict) -> None:
    ratio = row["search"][0] / first["search"][0]
    print(
        f"{row['backend']:<10} {row['size']:>10,} | search p50 {row['search'][0]:6.1f} ms "
        f"p95 {row['search'][1]:6.1f} (x{ratio:4.1f}, {row['hits']:.1f} hits) | its SQL "
        f"{row['database'][0]:5.2f}/{row['database'][1]:5.2f} | datetime only "
        f"{row['newest'][0]:5.1f}/{row['newest'][1]:5.1f} | collections "
        f"{row['collections'][0]:5.1f}/{row['collections'][1]:5.1f} | queryables "
        f"{row['queryables'][0]:4.1f}/{row['queryables'][1]:4.1f} | coll. queryables "
        f"{row['coll_queryables'][0]:4.1f}/{row['coll_queryables'][1]:4.1f} | "
        f"add_datasets {row['harvest']:,.0f} items/s ({row['harvest_cpu']:,.0f} per CPU s) | "
        f"fill {row['fill_s']:.0f} s | load {row['load']:.1f}",
        flush=True,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--pg-sizes", type=int, nargs="+", default=None)
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--queries", type=int, default=100)
    args = parser.parse_args(argv)
    rows: list[dict] = []
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-catalog-")))
        for backend in args.backends:
            if backend == "sqlite":
                url = f"sqlite:///{tmp / 'catalog.db'}"
                rows += run_backend(backend, url, tmp / "sqlite", args.sizes, args.queries)
            else:
                from tests.scaleout.pg import pg_cluster

                cluster = stack.enter_context(pg_cluster())
                sizes = args.pg_sizes or args.sizes
                rows += run_backend(backend, cluster.database(), tmp / "pg", sizes, args.queries)
    print_table(rows)


if __name__ == "__main__":
    main()
