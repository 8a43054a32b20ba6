"""``POST /datasets`` with hostile files: corrupt, truncated and impossible TIFFs, random bytes,
zip bombs and zip slips, broken shapefiles, GeoJSON and GeoPackages, files masquerading as other
formats, hostile names and form fields, malformed multipart bodies.

Every refusal is a precise 4xx with the app's JSON error and leaves the data dir and the catalog
exactly as they were (no dataset, no COG, no ``.partial``, nothing in scratch).
"""

from __future__ import annotations

import functools
import json
import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import shapely.geometry
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.hostile.checks import (
    Status,
    assert_added_one,
    assert_refused,
    assert_unchanged,
    data_state,
)
from tests.hostile.inputs import (
    ASCII,
    DOUBLE,
    SHORT,
    bomb,
    feature_collection,
    lying_sizes,
    many_vertices,
    polygon,
    real_geotiff,
    seeded_bytes,
    shapefile_parts,
    sqlite_file,
    tiff,
    zip_of,
)

MiB = 1024 * 1024
Made = tuple[str, bytes, dict[str, str]]


@dataclass(frozen=True)
class Case:
    name: str
    make: Callable[[Path, str], Made]
    status: Status
    code: str | None = None
    needle: str | None = None
    marks: tuple[Any, ...] = field(default=())

    def param(self) -> Any:
        return pytest.param(self, id=self.name, marks=self.marks)


def file(name: str, content: bytes, **form: str) -> Callable[[Path, str], Made]:
    return lambda _gen, _token: (name, content, form)


def post_file(client: TestClient, made: Made) -> Any:
    name, content, form = made
    return client.post(
        "/datasets", files={"file": (name, content, "application/octet-stream")}, data=form
    )


RASTER_400 = {"status": 400, "code": "invalid_raster"}

# corrupt headers -------------------------------------------------------------------------------
CORRUPT: list[Case] = [
    Case(
        "ifd-beyond-eof",
        file("x.tif", b"II*\x00" + struct.pack("<I", 10**6) + bytes(100)),
        **RASTER_400,
    ),
    Case(
        "ifd-at-zero", file("x.tif", b"II*\x00" + struct.pack("<I", 0) + bytes(100)), **RASTER_400
    ),
    Case(
        "ifd-65535-entries",
        file("x.tif", b"II*\x00\x08\x00\x00\x00\xff\xff" + bytes(64)),
        **RASTER_400,
    ),
    Case(
        "ifd-loops-to-itself",
        file("x.tif", b"II*\x00\x08\x00\x00\x00\x00\x00\x08\x00\x00\x00"),
        **RASTER_400,
    ),
    Case("big-endian-garbage", file("x.tif", seeded_bytes(1, 700, b"MM\x00*")), **RASTER_400),
    Case("bigtiff-garbage", file("x.tif", seeded_bytes(2, 700, b"II+\x00")), **RASTER_400),
    Case(
        "erdas-garbage", file("x.img", seeded_bytes(3, 900, b"EHFA_HEADER_TAG\x00")), **RASTER_400
    ),
    *[
        Case(
            f"random-ifd-seed{seed}",
            file("x.tif", seeded_bytes(seed, size, b"II*\x00\x08\x00\x00\x00")),
            **RASTER_400,
        )
        for seed, size in [(10, 64), (11, 512), (12, 4096), (13, 20000)]
    ],
    Case("tags-of-unknown-type", file("x.tif", tiff(extra=[(256, 99, [16])])), **RASTER_400),
]


# truncated at several offsets ----------------------------------------------------------------
def cut(compress: str, where: float | int) -> Callable[[Path, str], Made]:
    def make(gen: Path, _token: str) -> Made:
        raw = real_geotiff(gen, compress=compress)
        at = (
            int(len(raw) * where)
            if isinstance(where, float)
            else (where if where > 0 else len(raw) + where)
        )
        return "cut.tif", raw[:at], {}

    return make


TRUNCATED = [
    Case(f"truncated-{compress}-at-{where}", cut(compress, where), **RASTER_400)
    for compress in ("none", "deflate")
    for where in (4, 8, 16, 64, 300, 0.25, 0.5, 0.75, -64)
]

# impossible dimensions, bands and tiles --------------------------------------------------------
FINE_PIXELS = [(DOUBLE, 33550, [0.0000001, 0.0000001, 0.0])]
ABSURD: list[Case] = [
    Case("width-0", file("x.tif", tiff(width=0)), **RASTER_400),
    Case("height-0", file("x.tif", tiff(height=0)), **RASTER_400),
    Case(
        "4g-by-4g",
        file("x.tif", tiff(width=2**32 - 1, height=2**32 - 1, blocks=[(0, 0)])),
        **RASTER_400,
    ),
    Case(
        "99999-square-sparse",
        file(
            "x.tif",
            tiff(
                width=99_999,
                height=99_999,
                blocks=[(0, 0)],
                extra=[(33550, DOUBLE, [1e-6, 1e-6, 0.0])],
            ),
        ),
        **RASTER_400,
    ),
    Case(
        "1-by-1e9-sparse",
        file(
            "x.tif",
            tiff(
                width=1, height=10**9, blocks=[(0, 0)], extra=[(33550, DOUBLE, [1e-6, 1e-7, 0.0])]
            ),
        ),
        **RASTER_400,
    ),
    Case("0-bands", file("x.tif", tiff(samples=0)), **RASTER_400),
    Case(
        "65535-bands",
        file("x.tif", tiff(width=2, height=2, samples=65535, blocks=[(0, 0)])),
        **RASTER_400,
        needle="bands",
    ),
    Case("128-bit-samples", file("x.tif", tiff(bits=128)), **RASTER_400),
    Case("complex-int-samples", file("x.tif", tiff(bits=32, sample_format=5)), **RASTER_400),
    Case("tile-2g-square", file("x.tif", tiff(tile=(2**31, 2**31), blocks=[(0, 0)])), **RASTER_400),
    Case("tile-0", file("x.tif", tiff(tile=(0, 0), blocks=[(0, 0)])), **RASTER_400),
    Case(
        "tile-offsets-beyond-eof",
        file("x.tif", tiff(width=64, height=64, tile=(16, 16), blocks=[(2**31, 256)] * 16)),
        **RASTER_400,
    ),
    Case("strip-4g-bytes", file("x.tif", tiff(blocks=[(300, 2**32 - 1)])), **RASTER_400),
    Case(
        "jpeg-claimed-garbage-data",
        file("x.tif", tiff(compression=7, pixels=seeded_bytes(4, 256))),
        **RASTER_400,
    ),
    Case(
        "lzw-claimed-garbage-data",
        file("x.tif", tiff(compression=5, pixels=seeded_bytes(5, 256))),
        **RASTER_400,
    ),
    Case("unknown-compression", file("x.tif", tiff(compression=60000)), **RASTER_400),
    Case(
        "epsg-99999",
        file("x.tif", tiff(extra=[(34735, SHORT, [1, 1, 0, 2, 1024, 0, 1, 2, 2048, 0, 1, 32767])])),
        400,
    ),
    Case("not-georeferenced", file("x.tif", tiff(georef=False)), **RASTER_400),
    Case(
        "nan-pixel-size",
        file("x.tif", tiff(extra=[(33550, DOUBLE, [float("nan"), 1.0, 0.0])])),
        400,
    ),
    Case("geokeys-claim-10000", file("x.tif", tiff(extra=[(34735, SHORT, [1, 1, 0, 10000])])), 400),
    Case(
        "ascii-tag-with-path",
        file(
            "x.tif",
            tiff(
                georef=False,
                extra=[(33550, DOUBLE, [1.0, 1.0, 0.0]), (34737, ASCII, b"/etc/passwd|")],
            ),
        ),
        400,
    ),
]

# random bytes under raster and vector names ----------------------------------------------------
RANDOM = [
    Case(
        f"random-{size}B-{name}",
        file(name, seeded_bytes(size + i, size)),
        415,
        "unsupported_media_type",
    )
    for i, name in enumerate(
        ["x.tif", "x.tiff", "x.img", "X.TIF", "x.gtiff", "x.geojson", "x.gpkg", "x.zip"]
    )
    for size in (1, 100, 4096)
] + [Case("empty-tif", file("x.tif", b""), 400, "invalid_input", "is empty")]


# zips: bombs, slips, nesting -------------------------------------------------------------------
@functools.cache
def _bomb(kind: str) -> bytes:
    if kind == "one-member":
        return bomb([("layer.shp", 300 * MiB)])
    if kind == "dbf":
        return bomb(
            [("layer.dbf", 300 * MiB)],
            prefix=[("layer.shp", b"\x00\x00\x27\x0a"), ("layer.shx", b""), ("layer.prj", b"")],
        )
    if kind == "many-members":
        return bomb([(f"part{i}.txt", 8 * MiB) for i in range(40)])
    if kind == "lying-small":
        return lying_sizes(bomb([("layer.shp", 300 * MiB)]), 100)
    raise ValueError(kind)


def zip_bomb(kind: str) -> Callable[[Path, str], Made]:
    return lambda _gen, _token: ("bomb.zip", _bomb(kind), {})


def shapefile_zip(
    rename: Callable[[str], str] = lambda n: n,
    *,
    skip: tuple[str, ...] = (),
    replace: dict[str, bytes] | None = None,
    add: tuple[tuple[str, bytes], ...] = (),
    crs: str | None = "EPSG:4326",
) -> Callable[[Path, str], Made]:
    def make(gen: Path, token: str) -> Made:
        parts = shapefile_parts(gen, crs=crs)
        members = [
            (rename(f"layer{ext}").replace("TOKEN", token), (replace or {}).get(ext, data))
            for ext, data in sorted(parts.items())
            if ext not in skip
        ]
        members += [(n.replace("TOKEN", token), d) for n, d in add]
        return "layer.zip", zip_of(members), {}

    return make


def encrypted_flag(gen: Path, token: str) -> Made:
    name, raw, form = shapefile_zip()(gen, token)
    data = bytearray(raw)
    for magic, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        pos = 0
        while (pos := data.find(magic, pos)) >= 0:
            data[pos + offset] |= 1
            pos += 4
    return name, bytes(data), form


def nested(depth: int) -> Callable[[Path, str], Made]:
    def make(gen: Path, token: str) -> Made:
        _, raw, _ = shapefile_zip()(gen, token)
        for level in range(depth):
            raw = zip_of([(f"inner{level}.zip", raw)])
        return "nested.zip", raw, {}

    return make


SLIP_NAMES = [
    "../layer.shp",
    "../../../../../../../../tmp/hostile-TOKEN/layer.shp",
    "/tmp/hostile-TOKEN/layer.shp",
    "..\\..\\..\\tmp\\hostile-TOKEN\\layer.shp",
    "C:\\hostile-TOKEN\\layer.shp",
    "C:/hostile-TOKEN/layer.shp",
    "a/../../hostile-TOKEN/layer.shp",
    "./../hostile-TOKEN/layer.shp",
    "\\\\server\\share\\hostile-TOKEN\\layer.shp",
    "layer/..\\..\\hostile-TOKEN\\layer.shp",
]
SLIP_EXTRA_MEMBER = [
    Case(
        f"zip-slip-extra-{i}",
        shapefile_zip(add=((name.replace("layer.shp", "evil.txt"), b"owned"),)),
        400,
        "invalid_input",
        "unsafe member path",
    )
    for i, name in enumerate(SLIP_NAMES)
]
SLIP_WHOLE_SHAPEFILE = [
    Case(
        f"zip-slip-shapefile-{i}",
        shapefile_zip(lambda n, prefix=name.removesuffix("layer.shp"): prefix + n),
        400,
        "invalid_input",
        "unsafe member path",
    )
    for i, name in enumerate(SLIP_NAMES[:5])
]

EMPTY_ZIP = b"PK\x05\x06" + bytes(18)
ZIPS: list[Case] = [
    Case("zip-bomb-one-member", zip_bomb("one-member"), 400, "invalid_input", "inflates"),
    Case("zip-bomb-dbf", zip_bomb("dbf"), 400, "invalid_input", "inflates"),
    Case("zip-bomb-many-members", zip_bomb("many-members"), 400, "invalid_input", "inflates"),
    Case("zip-bomb-lying-sizes", zip_bomb("lying-small"), 400, "invalid_input"),
    Case(
        "zip-5000-members-no-shapefile",
        file("m.zip", zip_of([(f"f{i}.txt", b"") for i in range(5000)])),
        400,
        "invalid_input",
        "no shapefile",
    ),
    *SLIP_EXTRA_MEMBER,
    *SLIP_WHOLE_SHAPEFILE,
    Case(
        "zip-symlink-like-member",
        shapefile_zip(replace={".shp": b"/etc/passwd"}),
        400,
        "invalid_input",
        "not a shapefile",
    ),
    Case("zip-nested-1", nested(1), 400, "invalid_input", "no shapefile"),
    Case("zip-nested-3", nested(3), 400, "invalid_input", "no shapefile"),
    Case("zip-empty", file("e.zip", EMPTY_ZIP), 400, "invalid_input"),
    Case(
        "zip-only-directories",
        file("d.zip", zip_of([("a/", b""), ("a/b/", b"")])),
        400,
        "invalid_input",
        "no shapefile",
    ),
    Case("zip-encrypted-flag", encrypted_flag, 400, "invalid_input"),
    Case(
        "zip-truncated",
        lambda g, t: ("t.zip", shapefile_zip()(g, t)[1][:200], {}),
        400,
        "invalid_input",
    ),
    Case(
        "zip-two-shapefiles",
        shapefile_zip(add=(("other.shp", b"\x00\x00\x27\x0a"),)),
        400,
        "invalid_input",
        "2 shapefiles",
    ),
    Case(
        "zip-shp-is-a-zip",
        shapefile_zip(replace={".shp": EMPTY_ZIP}),
        400,
        "invalid_input",
        "not a shapefile",
    ),
]

SHAPEFILES: list[Case] = [
    Case("shapefile-without-prj", shapefile_zip(skip=(".prj",)), 400, "invalid_input", "no .prj"),
    Case("shapefile-without-dbf", shapefile_zip(skip=(".dbf",)), 400, "invalid_input", "no .dbf"),
    Case("shapefile-without-shx", shapefile_zip(skip=(".shx",)), 400, "invalid_input", "no .shx"),
    Case(
        "shapefile-shp-only",
        shapefile_zip(skip=(".shx", ".dbf", ".prj", ".cpg")),
        400,
        "invalid_input",
    ),
    Case(
        "shapefile-random-shp",
        shapefile_zip(replace={".shp": seeded_bytes(20, 400)}),
        400,
        "invalid_input",
    ),
    Case(
        "shapefile-truncated-shp",
        lambda g, t: shapefile_zip(replace={".shp": shapefile_parts(g)[".shp"][:60]})(g, t),
        400,
        "invalid_input",
    ),
    Case(
        "shapefile-prj-garbage",
        shapefile_zip(replace={".prj": b'PROJCS["x",GEOGCS[garbage'}),
        400,
        "invalid_input",
    ),
    Case(
        "shapefile-prj-a-path",
        shapefile_zip(replace={".prj": b"/etc/passwd"}),
        400,
        "invalid_input",
    ),
    Case("shapefile-no-crs-at-all", shapefile_zip(skip=(".prj",), crs=None), 400, "invalid_input"),
]


# GeoJSON -----------------------------------------------------------------------------------
def geojson(content: bytes | str, name: str = "x.geojson") -> Callable[[Path, str], Made]:
    data = content.encode() if isinstance(content, str) else content
    return file(name, data)


def square_with_crs_named(name: str) -> str:
    """A square in a FeatureCollection whose old-style ``crs`` member names ``name``."""
    features = json.loads(feature_collection(polygon(SQUARE)))["features"]
    crs = {"type": "name", "properties": {"name": name}}
    return json.dumps({"type": "FeatureCollection", "crs": crs, "features": features})


SQUARE = [[114.3, 30.5], [114.4, 30.5], [114.4, 30.6], [114.3, 30.6], [114.3, 30.5]]
GEOJSON: list[Case] = [
    Case("geojson-open-brace", geojson("{"), 400, "invalid_input"),
    Case(
        "geojson-truncated", geojson(feature_collection(polygon(SQUARE))[:80]), 400, "invalid_input"
    ),
    Case(
        "geojson-features-a-number",
        geojson('{"type":"FeatureCollection","features":5}'),
        400,
        "invalid_input",
    ),
    Case(
        "geojson-features-strings",
        geojson('{"type":"FeatureCollection","features":["x","y"]}'),
        400,
        "invalid_input",
    ),
    Case(
        "geojson-no-features",
        geojson('{"type":"FeatureCollection","features":[]}'),
        400,
        "invalid_input",
    ),
    Case("geojson-null-geometries", geojson(feature_collection(None, None)), 400, "invalid_input"),
    Case(
        "geojson-circle-type",
        geojson(feature_collection({"type": "Circle", "coordinates": [114, 30], "radius": 1})),
        400,
        "invalid_input",
    ),
    Case(
        "geojson-string-coordinates",
        geojson(feature_collection({"type": "Point", "coordinates": ["114", "abc"]})),
        400,
        "invalid_input",
    ),
    Case(
        "geojson-empty-coordinates",
        geojson(feature_collection({"type": "Point", "coordinates": []})),
        400,
        "invalid_input",
    ),
    Case(
        "geojson-nan",
        geojson(
            '{"type":"Feature","properties":{},"geometry":{"type":"Point","coordinates":[NaN,30]}}'
        ),
        400,
        "invalid_input",
    ),
    Case(
        "geojson-infinity",
        geojson(
            '{"type":"Feature","properties":{},"geometry":{"type":"Point","coordinates":[Infinity,30]}}'
        ),
        400,
        "invalid_input",
    ),
    Case(
        "geojson-1e400",
        geojson(
            '{"type":"Feature","properties":{},"geometry":{"type":"Point","coordinates":[1e400,30]}}'
        ),
        400,
        "invalid_input",
    ),
    Case(
        "geojson-lon-200",
        geojson(feature_collection({"type": "Point", "coordinates": [200, 30]})),
        400,
        "invalid_input",
        "outside the world",
    ),
    Case(
        "geojson-lon-minus-181",
        geojson(feature_collection({"type": "Point", "coordinates": [-181, 30]})),
        400,
        "invalid_input",
        "outside the world",
    ),
    Case(
        "geojson-lat-95",
        geojson(feature_collection({"type": "Point", "coordinates": [114, 95]})),
        400,
        "invalid_input",
        "outside the world",
    ),
    Case(
        "geojson-lat-minus-1e9",
        geojson(feature_collection(polygon([[0, 0], [1, -1e9], [1, 0], [0, 0]]))),
        400,
        "invalid_input",
        "outside the world",
    ),
    Case(
        "geojson-200k-vertices-outside",
        lambda g, t: ("big.geojson", many_vertices(200_000, 7, lon=500.0), {}),
        400,
        "invalid_input",
        "outside the world",
    ),
    Case(
        "geojson-200k-vertices-self-intersecting",
        lambda g, t: ("big.geojson", many_vertices(200_000, 9, radius=0.0002, jitter=0.1), {}),
        400,
        "invalid_input",
        "too large to repair",
    ),
    Case(
        "geojson-topojson",
        geojson('{"type":"Topology","objects":{},"arcs":[]}'),
        400,
        "invalid_input",
    ),
    Case(
        "geojson-esrijson",
        geojson(
            '{"geometryType":"esriGeometryPoint","features":[{"geometry":{"x":1,"y":2},"attributes":{}}]}'
        ),
        400,
        "invalid_input",
    ),
    Case(
        "geojson-nested-100k",
        geojson('{"a":' * 100_000 + "1" + "}" * 100_000),
        400,
        "invalid_input",
    ),
    Case("geojson-array-top-level", geojson("[1, 2, 3]"), 415, "unsupported_media_type"),
    Case(
        "geojson-utf16",
        geojson('{"type":"FeatureCollection","features":[]}'.encode("utf-16")),
        415,
        "unsupported_media_type",
    ),
]

# geometry problems a repair may fix: accepted (then valid) or refused, never a 5xx
TOLERATED: list[Case] = [
    Case(
        "geojson-crs-names-a-url",
        geojson(square_with_crs_named("http://127.0.0.1:9/x.prj")),
        (201, 400),
    ),
    Case("geojson-crs-names-a-file", geojson(square_with_crs_named("/etc/passwd")), (201, 400)),
    Case(
        "shapefile-random-shx", shapefile_zip(replace={".shx": seeded_bytes(22, 300)}), (201, 400)
    ),
    Case(
        "shapefile-random-dbf", shapefile_zip(replace={".dbf": seeded_bytes(21, 300)}), (201, 400)
    ),
    Case(
        "geojson-self-intersecting-bowtie",
        geojson(
            feature_collection(
                polygon([[114.3, 30.5], [114.4, 30.6], [114.4, 30.5], [114.3, 30.6], [114.3, 30.5]])
            )
        ),
        (201, 400),
    ),
    Case("geojson-unclosed-ring", geojson(feature_collection(polygon(SQUARE[:-1]))), (201, 400)),
    Case("geojson-two-point-ring", geojson(feature_collection(polygon(SQUARE[:2]))), (201, 400)),
    Case(
        "geojson-zero-area-ring",
        geojson(
            feature_collection(
                polygon([[114.3, 30.5], [114.4, 30.5], [114.3, 30.5], [114.3, 30.5]])
            )
        ),
        (201, 400),
    ),
    Case("geojson-1e6-vertices", lambda g, t: ("big.geojson", many_vertices(10**6, 8), {}), 201),
    Case(
        "geojson-4d-coordinates",
        geojson(feature_collection({"type": "Point", "coordinates": [114.3, 30.5, 1, 2]})),
        (201, 400),
    ),
]


# GeoPackage --------------------------------------------------------------------------------
def gpkg(statements: list[str], *, garbage: int | None = None) -> Callable[[Path, str], Made]:
    def make(gen: Path, token: str) -> Made:
        if garbage is not None:
            return "x.gpkg", seeded_bytes(garbage, 8192, b"SQLite format 3\x00"), {}
        return (
            "x.gpkg",
            sqlite_file(gen, f"g-{abs(hash(tuple(statements)))}.sqlite", statements),
            {},
        )

    return make


def gpkg_with_broken_geometry(gen: Path, token: str) -> Made:
    import sqlite3

    import geopandas as gpd
    from shapely.geometry import Point

    path = gen / "broken.gpkg"
    path.unlink(missing_ok=True)
    gpd.GeoDataFrame({"a": [1]}, geometry=[Point(114.3, 30.5)], crs="EPSG:4326").to_file(
        path, layer="pts"
    )
    with sqlite3.connect(path) as db:
        triggers = db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall()
        for (trigger,) in triggers:
            db.execute(f'DROP TRIGGER "{trigger}"')
        db.execute("UPDATE pts SET geom = X'47500003E6100000DEADBEEF'")
    return "broken.gpkg", path.read_bytes(), {}


GPKG_APP_ID = "PRAGMA application_id = 1196444487"
GEOPACKAGES: list[Case] = [
    *[Case(f"gpkg-garbage-seed{s}", gpkg([], garbage=s), 400, "invalid_input") for s in (30, 31)],
    Case("gpkg-empty-sqlite", gpkg(["CREATE TABLE t (a)", "DROP TABLE t"]), 400, "invalid_input"),
    Case(
        "gpkg-plain-sqlite-table",
        gpkg(["CREATE TABLE t (a INTEGER, b TEXT)", "INSERT INTO t VALUES (1, 'x')"]),
        400,
        "invalid_input",
    ),
    Case(
        "gpkg-app-id-no-contents", gpkg([GPKG_APP_ID, "CREATE TABLE t (a)"]), 400, "invalid_input"
    ),
    Case(
        "gpkg-contents-names-a-path",
        gpkg(
            [
                GPKG_APP_ID,
                "CREATE TABLE gpkg_spatial_ref_sys (srs_name TEXT, srs_id INTEGER PRIMARY KEY, organization TEXT, organization_coordsys_id INTEGER, definition TEXT, description TEXT)",  # noqa: E501
                "CREATE TABLE gpkg_contents (table_name TEXT PRIMARY KEY, data_type TEXT, identifier TEXT, description TEXT, last_change DATETIME, min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER)",  # noqa: E501
                "CREATE TABLE gpkg_geometry_columns (table_name TEXT, column_name TEXT, geometry_type_name TEXT, srs_id INTEGER, z TINYINT, m TINYINT)",  # noqa: E501
                "INSERT INTO gpkg_contents VALUES ('../../etc/passwd', 'features', 'x', '', '2024-01-01', 0, 0, 1, 1, 4326)",  # noqa: E501
                "INSERT INTO gpkg_geometry_columns VALUES ('../../etc/passwd', 'geom', 'POINT', 4326, 0, 0)",  # noqa: E501
            ]
        ),
        400,
        "invalid_input",
    ),
    Case("gpkg-broken-geometry-blob", gpkg_with_broken_geometry, 400, "invalid_input"),
]

# formats masquerading as others, and names that are paths or URLs ---------------------------
VRT = b'<VRTDataset rasterXSize="1" rasterYSize="1"><VRTRasterBand dataType="Byte" band="1"><SimpleSource><SourceFilename>/etc/passwd</SourceFilename></SimpleSource></VRTRasterBand></VRTDataset>'  # noqa: E501
OGR_VRT = b'<OGRVRTDataSource><OGRVRTLayer name="x"><SrcDataSource>/etc/passwd</SrcDataSource></OGRVRTLayer></OGRVRTDataSource>'  # noqa: E501
MASQUERADING: list[Case] = [
    Case(
        "vrt-named-tif", file("x.tif", VRT), 415, "unsupported_media_type", "named like a GeoTIFF"
    ),
    Case("vrt-named-img", file("x.img", VRT), 415, "unsupported_media_type"),
    Case("vrt-named-vrt", file("x.vrt", VRT), 415, "unsupported_media_type"),
    Case("ogr-vrt-named-geojson", file("x.geojson", OGR_VRT), 415, "unsupported_media_type"),
    Case("ogr-vrt-named-json", file("x.json", OGR_VRT), 415, "unsupported_media_type"),
    Case("ogr-vrt-named-gpkg", file("x.gpkg", OGR_VRT), 415, "unsupported_media_type"),
    Case(
        "ogr-vrt-as-shp-in-zip",
        shapefile_zip(replace={".shp": OGR_VRT}),
        400,
        "invalid_input",
        "not a shapefile",
    ),
    Case(
        "vsicurl-text-named-tif",
        file("x.tif", b"/vsicurl/http://127.0.0.1:9/x.tif"),
        415,
        "unsupported_media_type",
    ),
    Case(
        "html-named-tif",
        file("x.tif", b"<!doctype html><html></html>"),
        415,
        "unsupported_media_type",
    ),
    Case("gpkg-named-geojson", gpkg(["CREATE TABLE t (a)"]), 400, "invalid_input"),
    Case("tiff-magic-then-xml", file("x.tif", b"II*\x00" + VRT), **RASTER_400),
    *[
        Case(f"hostile-filename-{i}", file(name, seeded_bytes(40 + i, 300)), (400, 415))
        for i, name in enumerate(
            [
                "../../../../etc/passwd",
                "/etc/passwd.tif",
                "file:///etc/passwd.tif",
                "/vsicurl/http://127.0.0.1:9/x.tif",
                "http://127.0.0.1:9/x.tif",
                "..\\..\\windows\\win.ini.tif",
                "CON.tif",
                "x" * 5000 + ".tif",
                "\u202etxt.tif",
                "a\r\nX-Injected: 1.tif",
            ]
        )
    ],
]
# a GeoPackage under a .geojson name is refused from its first bytes (SQLite, not JSON)
MASQUERADING[9] = Case(
    "gpkg-named-geojson",
    lambda g, t: ("x.geojson", gpkg(["CREATE TABLE t (a)"])(g, t)[1], {}),
    415,
    "unsupported_media_type",
)


# form fields ---------------------------------------------------------------------------------
def tiny_raster(gen: Path) -> bytes:
    return real_geotiff(gen, size=32, count=1)


def with_form(name: str = "r.tif", **form: str) -> Callable[[Path, str], Made]:
    return lambda gen, token: (
        name,
        tiny_raster(gen),
        {k: v.replace("TOKEN", token) for k, v in form.items()},
    )


FIELDS: list[Case] = [
    Case(
        "sensor-path", with_form(sensor="../../etc/passwd"), 400, "invalid_input", "Unknown sensor"
    ),
    Case("visibility-path", with_form(visibility="/etc/passwd"), 400, "invalid_input"),
    Case("datetime-path", with_form(datetime="../../etc/passwd"), 400, "invalid_input"),
    Case("datetime-year-99999", with_form(datetime="99999-01-01T00:00:00Z"), 400, "invalid_input"),
    Case("cloud-cover-nan", with_form(cloud_cover="nan"), 400, "invalid_input"),
    Case("cloud-cover-inf", with_form(cloud_cover="inf"), 400, "invalid_input"),
    Case("cloud-cover-1e999", with_form(cloud_cover="1e999"), 400, "invalid_input"),
    Case(
        "bands-too-many",
        with_form(bands=",".join(f"b{i}" for i in range(5000))),
        400,
        "invalid_input",
    ),
    Case("bands-empty-names", with_form(bands=",,,"), 400, "invalid_input"),
    Case("field-over-64k", with_form(title="x" * 70_000), 400, "invalid_input", "64 KiB"),
    Case(
        "unknown-field-uri",
        with_form(uri="/etc/passwd"),
        400,
        "invalid_input",
        "Unknown form field",
    ),
    Case(
        "unknown-field-path",
        with_form(path="/vsicurl/http://127.0.0.1:9/x.tif"),
        400,
        "invalid_input",
        "Unknown form field",
    ),
]

# accepted: hostile text that is only ever data, never a path
ACCEPTED_NAMES: list[tuple[str, Callable[[Path, str], Made]]] = [
    ("filename-climbing", lambda g, t: (f"../../../../tmp/hostile-{t}/x.tif", tiny_raster(g), {})),
    ("filename-absolute", lambda g, t: (f"/tmp/hostile-{t}/x.tif", tiny_raster(g), {})),
    ("filename-url", lambda g, t: (f"http://127.0.0.1:9/hostile-{t}.tif", tiny_raster(g), {})),
    (
        "filename-vsicurl",
        lambda g, t: (f"/vsicurl/http://127.0.0.1:9/hostile-{t}.tif", tiny_raster(g), {}),
    ),
    ("title-path", with_form(title="../../../../tmp/hostile-TOKEN/title")),
    ("band-name-path", with_form(bands="../../tmp/hostile-TOKEN")),
]

ALL_REFUSED = [
    *CORRUPT,
    *TRUNCATED,
    *ABSURD,
    *RANDOM,
    *ZIPS,
    *SHAPEFILES,
    *GEOJSON,
    *GEOPACKAGES,
    *MASQUERADING,
    *FIELDS,
]


def hostile_paths(app: FastAPI, token: str) -> list[Path]:
    """Every place a hostile name of this run could have landed."""
    roots = {
        Path("/tmp"),
        Path.cwd(),
        app.state.settings.data_dir,
        *app.state.settings.data_dir.parents,
    }
    found = [p for root in roots for p in root.glob(f"*hostile-{token}*")]
    found += [
        p
        for p in app.state.settings.data_dir.rglob("*")
        if "hostile" in p.name or p.name in ("evil.txt", "layer.shp")
    ]
    return found


@pytest.mark.parametrize("case", [c.param() for c in ALL_REFUSED])
def test_hostile_upload_is_refused_and_leaves_nothing(
    upload_client, upload_app, gen_dir, token, case
):
    made = case.make(gen_dir, token)
    before = data_state(upload_app)
    r = post_file(upload_client, made)
    assert_refused(
        r,
        case.status,
        case.code,
        needle=case.needle,
        hidden=[str(upload_app.state.settings.data_dir)],
    )
    assert_unchanged(upload_app, before)
    assert not hostile_paths(upload_app, token)


@pytest.mark.parametrize("case", [c.param() for c in TOLERATED])
def test_repairable_input_is_served_valid_or_refused(
    upload_client, upload_app, gen_dir, token, case
):
    """Odd but meaningful input: accepted (vectors repaired to valid geometries) or refused."""
    made = case.make(gen_dir, token)
    before = data_state(upload_app)
    r = post_file(upload_client, made)
    allowed = {case.status} if isinstance(case.status, int) else set(case.status)
    assert r.status_code in allowed, r.text[:600]
    if r.status_code != 201:
        assert_refused(r, 400)
        assert_unchanged(upload_app, before)
        return
    dataset_id = assert_added_one(upload_app, before)
    assert r.json()["kind"] == "vector"
    assert upload_client.get(f"/vectors/{dataset_id}/tilejson.json").status_code == 200
    if len(made[1]) < MiB:
        features = upload_client.get(f"/vectors/{dataset_id}/features").json()["features"]
        assert features and all(shapely.geometry.shape(f["geometry"]).is_valid for f in features)


@pytest.mark.parametrize(("name", "make"), ACCEPTED_NAMES, ids=[n for n, _ in ACCEPTED_NAMES])
def test_hostile_names_are_only_text(upload_client, upload_app, gen_dir, token, name, make):
    """A valid raster under a path-like name or title is stored by id, its name kept as text."""
    filename, content, form = make(gen_dir, token)
    before = data_state(upload_app)
    r = upload_client.post(
        "/datasets", files={"file": (filename, content, "image/tiff")}, data=form
    )
    assert r.status_code == 201, r.text
    dataset_id = assert_added_one(upload_app, before)
    body = r.json()
    assert body["uri"] == f"cogs/{dataset_id}.tif"
    assert not hostile_paths(upload_app, token)
    download = upload_client.get(f"/datasets/{dataset_id}/download", headers={"Range": "bytes=0-1"})
    disposition = download.headers["content-disposition"]
    assert "/" not in disposition and ".." not in disposition


# malformed multipart bodies --------------------------------------------------------------------
def _part(name: str, value: bytes, filename: str | None = None, boundary: bytes = b"bnd") -> bytes:
    disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
    return (
        b"--"
        + boundary
        + b"\r\nContent-Disposition: "
        + disposition.encode()
        + b"\r\n\r\n"
        + value
        + b"\r\n"
    )


MULTIPART = "multipart/form-data; boundary=bnd"
TIF_HEAD = b"II*\x00" + bytes(600)
RAW_BODIES: list[tuple[str, dict[str, str], bytes, int, str]] = [
    ("no-content-type", {}, b"x", 415, "unsupported_media_type"),
    (
        "json-content-type",
        {"content-type": "application/json"},
        b"{}",
        415,
        "unsupported_media_type",
    ),
    ("no-boundary", {"content-type": "multipart/form-data"}, b"x", 400, "invalid_input"),
    (
        "empty-boundary",
        {"content-type": "multipart/form-data; boundary="},
        b"x",
        400,
        "invalid_input",
    ),
    (
        "wrong-boundary",
        {"content-type": MULTIPART},
        _part("file", TIF_HEAD, "a.tif", b"other") + b"--other--\r\n",
        400,
        "invalid_input",
    ),
    (
        "no-closing-boundary",
        {"content-type": MULTIPART},
        _part("file", TIF_HEAD, "a.tif"),
        400,
        "invalid_input",
    ),
    (
        "part-without-name",
        {"content-type": MULTIPART},
        b"--bnd\r\nContent-Disposition: form-data\r\n\r\nx\r\n--bnd--\r\n",
        400,
        "invalid_input",
    ),
    (
        "two-files",
        {"content-type": MULTIPART},
        _part("file", TIF_HEAD, "a.tif") + _part("file", TIF_HEAD, "b.tif") + b"--bnd--\r\n",
        400,
        "invalid_input",
    ),
    (
        "repeated-field",
        {"content-type": MULTIPART},
        _part("title", b"a")
        + _part("title", b"b")
        + _part("file", TIF_HEAD, "a.tif")
        + b"--bnd--\r\n",
        400,
        "invalid_input",
    ),
    ("random-body", {"content-type": MULTIPART}, seeded_bytes(50, 1 << 20), 400, "invalid_input"),
    (
        "content-length-not-a-number",
        {"content-type": MULTIPART, "content-length": "abc"},
        b"",
        400,
        "invalid_input",
    ),
    (
        "content-length-1e15",
        {"content-type": MULTIPART, "content-length": str(10**15)},
        b"",
        413,
        "payload_too_large",
    ),
    (
        "empty-file-part",
        {"content-type": MULTIPART},
        _part("file", b"", "a.tif") + b"--bnd--\r\n",
        400,
        "invalid_input",
    ),
    (
        "header-injection-in-filename",
        {"content-type": MULTIPART},
        b'--bnd\r\nContent-Disposition: form-data; name="file"; filename="a.tif"\r\nContent-Disposition: form-data; name="file"; filename="/etc/passwd"\r\n\r\nxx\r\n--bnd--\r\n',  # noqa: E501
        415,
        "unsupported_media_type",
    ),
]


@pytest.mark.parametrize(
    ("headers", "body", "status", "code"),
    [pytest.param(h, b, s, c, id=n) for n, h, b, s, c in RAW_BODIES],
)
def test_malformed_multipart_is_refused(upload_client, upload_app, headers, body, status, code):
    before = data_state(upload_app)
    r = upload_client.post("/datasets", content=body, headers=headers)
    assert_refused(r, status, code)
    assert_unchanged(upload_app, before)


def test_zip_bombs_are_small_on_the_wire():
    """The bombs above really are bombs: ~300 MiB from well under 1 MiB."""
    raw = _bomb("one-member")
    with zipfile.ZipFile(__import__("io").BytesIO(raw)) as archive:
        assert sum(i.file_size for i in archive.infolist()) >= 300 * MiB
    assert len(raw) < MiB
