"""Seeded generators of hostile inputs: hand-built TIFFs, zips, shapefiles, GeoJSON, GeoPackages.

Everything is made in memory from a seed, so no binary is committed and every case is
reproducible from its parameters.
"""

from __future__ import annotations

import io
import json
import random
import sqlite3
import struct
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path

# TIFF field types
SHORT, LONG, DOUBLE, ASCII = 3, 4, 12, 2
_TYPE_FORMAT = {SHORT: "H", LONG: "I", DOUBLE: "d", ASCII: "s"}
_TYPE_SIZE = {SHORT: 2, LONG: 4, DOUBLE: 8, ASCII: 1}

WGS84_GEOKEYS = [1, 1, 0, 3, 1024, 0, 1, 2, 1025, 0, 1, 1, 2048, 0, 1, 4326]


def tiff(
    width: int = 16,
    height: int = 16,
    *,
    samples: int = 1,
    bits: int = 8,
    sample_format: int = 1,
    compression: int = 1,
    tile: tuple[int, int] | None = None,
    blocks: Sequence[tuple[int, int]] | None = None,
    pixels: bytes | None = None,
    georef: bool = True,
    extra: Iterable[tuple[int, int, Sequence[float] | bytes]] = (),
    drop: Iterable[int] = (),
) -> bytes:
    """A classic little-endian TIFF built tag by tag, so any tag can claim anything.

    ``blocks`` are (offset, byte count) pairs for strips or tiles; None lays out ``pixels``
    (zeros of the declared size when None) as one strip or one tile. Offsets of 0 make a
    sparse file. ``drop`` removes tags by number, ``extra`` adds (tag, type, values).
    """
    tags: dict[int, tuple[int, Sequence[float] | bytes]] = {
        256: (LONG, [width]),
        257: (LONG, [height]),
        258: (SHORT, [bits] * max(samples, 1)),
        259: (SHORT, [compression]),
        262: (SHORT, [1]),
        277: (SHORT, [samples]),
        284: (SHORT, [1]),
        339: (SHORT, [sample_format] * max(samples, 1)),
    }
    if georef:
        tags[33550] = (DOUBLE, [0.001, 0.001, 0.0])
        tags[33922] = (DOUBLE, [0.0, 0.0, 0.0, 114.0, 30.6, 0.0])
        tags[34735] = (SHORT, WGS84_GEOKEYS)
    if tile:
        tags[322] = (LONG, [tile[0]])
        tags[323] = (LONG, [tile[1]])
    else:
        tags[278] = (LONG, [height])
    for number, kind, values in extra:
        tags[number] = (kind, values)
    for number in drop:
        tags.pop(number, None)
    offsets_tag, counts_tag = (324, 325) if tile else (273, 279)
    placeholder = [0] * (len(blocks) if blocks is not None else 1)
    tags[offsets_tag] = (LONG, placeholder)
    tags[counts_tag] = (LONG, placeholder)

    count = len(tags)
    ifd_size = 2 + 12 * count + 4
    out_of_line = 8 + ifd_size
    payload = bytearray()

    def encode(kind: int, values: Sequence[float] | bytes) -> bytes:
        if kind == ASCII:
            return bytes(values) + b"\x00"  # type: ignore[arg-type]
        return struct.pack(f"<{len(values)}{_TYPE_FORMAT.get(kind, 'I')}", *values)

    if pixels is None and blocks is None:
        side = tile or (width, height)
        size = side[0] * side[1] * max(samples, 1) * bits // 8
        pixels = bytes(min(size, 1 << 20))
    # first pass: the size of everything stored out of line, so pixel data can follow it
    sizes = {n: len(encode(k, v)) for n, (k, v) in tags.items()}
    extra_size = sum(s + (s % 2) for s in sizes.values() if s > 4)
    data_at = out_of_line + extra_size
    if blocks is None:
        assert pixels is not None
        blocks = [(data_at, len(pixels))]
    tags[offsets_tag] = (LONG, [b[0] for b in blocks])
    tags[counts_tag] = (LONG, [b[1] for b in blocks])

    entries = bytearray()
    for number in sorted(tags):
        kind, values = tags[number]
        raw = encode(kind, values)
        n = len(raw) // _TYPE_SIZE.get(kind, 4)
        if len(raw) <= 4:
            value = raw.ljust(4, b"\x00")
        else:
            value = struct.pack("<I", out_of_line + len(payload))
            payload += raw + (b"\x00" if len(raw) % 2 else b"")
        entries += struct.pack("<HHI", number, kind, n) + value
    head = b"II*\x00" + struct.pack("<I", 8)
    ifd = struct.pack("<H", count) + bytes(entries) + struct.pack("<I", 0)
    body = head + ifd + bytes(payload)
    body = body.ljust(data_at, b"\x00")
    return body + (pixels or b"")


def seeded_bytes(seed: int, size: int, prefix: bytes = b"") -> bytes:
    rng = random.Random(seed)
    return prefix + rng.randbytes(max(0, size - len(prefix)))


def real_geotiff(folder: Path, *, size: int = 96, count: int = 3, compress: str = "none") -> bytes:
    """A small valid GeoTIFF (rasterio), the base that truncation cases cut."""
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin

    path = folder / f"base-{size}-{count}-{compress}.tif"
    if not path.exists():
        rng = np.random.default_rng(size * 31 + count)
        data = rng.integers(1, 4000, (count, size, size)).astype("uint16")
        profile = dict(
            driver="GTiff",
            width=size,
            height=size,
            count=count,
            dtype="uint16",
            crs="EPSG:32650",
            transform=from_origin(300000, 3400000, 30, 30),
        )
        if compress != "none":
            profile.update(compress=compress, tiled=True, blockxsize=32, blockysize=32)
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(data)
    return path.read_bytes()


# zips ----------------------------------------------------------------------------------------
def zip_of(members: Sequence[tuple[str, bytes]], *, level: int = 6) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as archive:
        for name, data in members:
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return buffer.getvalue()


def bomb(members: Sequence[tuple[str, int]], *, prefix: Sequence[tuple[str, bytes]] = ()) -> bytes:
    """A zip whose members of zeros inflate to the given sizes (~1000:1 with deflate)."""
    buffer = io.BytesIO()
    zeros = bytes(1 << 22)
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, data in prefix:
            archive.writestr(name, data)
        for name, size in members:
            with archive.open(name, "w", force_zip64=True) as member:
                left = size
                while left > 0:
                    member.write(zeros[: min(left, len(zeros))])
                    left -= len(zeros)
    return buffer.getvalue()


def lying_sizes(raw: bytes, declared: int) -> bytes:
    """Rewrite every declared uncompressed size in a zip (local headers and central directory)."""
    data = bytearray(raw)
    pos = 0
    while (pos := data.find(b"PK\x03\x04", pos)) >= 0:
        struct.pack_into("<I", data, pos + 22, declared)
        pos += 4
    pos = 0
    while (pos := data.find(b"PK\x01\x02", pos)) >= 0:
        struct.pack_into("<I", data, pos + 24, declared)
        pos += 4
    return bytes(data)


# shapefiles ----------------------------------------------------------------------------------
def shapefile_parts(folder: Path, *, crs: str | None = "EPSG:4326") -> dict[str, bytes]:
    """The files of a small valid point shapefile, by lower-case extension."""
    import geopandas as gpd
    from shapely.geometry import Point

    sub = folder / f"shp-{(crs or 'none').replace(':', '')}"
    if not sub.exists():
        sub.mkdir(parents=True)
        frame = gpd.GeoDataFrame(
            {"name": ["a", "b"]}, geometry=[Point(114.3, 30.5), Point(114.4, 30.6)], crs=crs
        )
        frame.to_file(sub / "layer.shp")
    return {p.suffix.lower(): p.read_bytes() for p in sub.iterdir()}


# GeoJSON -------------------------------------------------------------------------------------
def feature_collection(*geometries: object) -> bytes:
    features = [
        {"type": "Feature", "properties": {"i": i}, "geometry": g} for i, g in enumerate(geometries)
    ]
    return json.dumps({"type": "FeatureCollection", "features": features}).encode()


def polygon(ring: Sequence[Sequence[float]]) -> dict[str, object]:
    return {"type": "Polygon", "coordinates": [list(map(list, ring))]}


def many_vertices(
    n: int,
    seed: int,
    *,
    lon: float = 114.3,
    lat: float = 30.5,
    radius: float = 0.5,
    jitter: float = 0.0,
) -> bytes:
    """A star-shaped polygon with ``n`` vertices, written as raw text (json.dumps of 10^6 lists
    is slow). Without ``jitter`` it is a smooth circle; with it, a zigzag that crowds into
    self-intersections at 7 decimals when ``radius`` is small."""
    import numpy as np

    rng = np.random.default_rng(seed)
    angles = np.linspace(0, 2 * np.pi, n, endpoint=False)
    radius = radius * (1 + rng.uniform(0, jitter, n))
    xs, ys = lon + radius * np.cos(angles), lat + radius * np.sin(angles)
    coords = ",".join(f"[{x:.7f},{y:.7f}]" for x, y in zip(xs, ys, strict=True))
    first = f"[{xs[0]:.7f},{ys[0]:.7f}]"
    geometry = '{"type":"Polygon","coordinates":[[' + coords + "," + first + "]]}"
    return (
        '{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},"geometry":'
        + geometry
        + "}]}"
    ).encode()


# GeoPackage-like SQLite files ----------------------------------------------------------------
def sqlite_file(folder: Path, name: str, statements: Sequence[str]) -> bytes:
    path = folder / name
    path.unlink(missing_ok=True)
    with sqlite3.connect(path) as db:
        for sql in statements:
            db.execute(sql)
    data = path.read_bytes()
    path.unlink()
    return data
