"""The fake archive's files: per-band COGs as public archives publish them, and the servers that
hold them on loopback (plain HTTP with Range requests, and the moto S3 server).

- ``landsat_band_cogs(folder)``: the real Landsat 8 C2L2 scene in ``../shared/data`` (SR_B2..B7,
  QA_PIXEL), one COG per band, named as USGS names them.
- ``s2_band_cogs(folder, date=0|1)``: the Sentinel-2 L2A sample (8 bands: B04, B03, B02, B08 of
  two dates, SOURCE.md) split into per-band COGs, plus a 20 m SCL layer made up here (a cloud
  square, class 9), as Earth Search serves SCL at half the 10 m bands' resolution.
- ``synthetic_scene(folder, sensor, bbox, ...)``: per-band COGs of either layout anywhere.
- ``serve_directory(root)``: a threaded HTTP server with Range (206) on loopback; any path with a
  part named ``forbidden`` answers 403, a missing file 404. Every request is logged.
- ``moto_s3()``: a moto S3 server; ``upload_folder`` copies files into a bucket.

Files are written once per folder (a test session's tmp) and reused.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import rasterio
from rasterio.io import MemoryFile
from rasterio.transform import from_bounds, from_origin
from rasterio.warp import transform_bounds

ROOT = Path(__file__).resolve().parents[2]
REALDATA = Path(os.environ.get("COGSIGHT_REALDATA_DIR", ROOT.parent / "shared" / "data"))
LANDSAT_DIR = REALDATA / "landsat8-c2l2-colombia"
LANDSAT_ID = "LC08_L2SP_008059_20191201_20200825_02_T1"
S2_FILE = REALDATA / "s2-l2a-austria-2date" / "inference-img.tif"
S2_IDS = (
    "S2B_MSIL2A_20210617T100559_R022_T33UUP_20210624T063729",
    "S2B_MSIL2A_20210925T101019_R022_T33UUP_20210926T121923",
)
S2_DATES = (
    dt.datetime(2021, 6, 17, 10, 5, 59, tzinfo=dt.UTC),
    dt.datetime(2021, 9, 25, 10, 10, 19, tzinfo=dt.UTC),
)

# Earth Search landsat-c2-l2 asset key -> the USGS file suffix
LANDSAT_KEYS = {
    "blue": "SR_B2",
    "green": "SR_B3",
    "red": "SR_B4",
    "nir08": "SR_B5",
    "swir16": "SR_B6",
    "swir22": "SR_B7",
    "qa_pixel": "QA_PIXEL",
}
# the S2 sample's band order (SOURCE.md): red, green, blue, nir for each date
S2_SAMPLE_KEYS = ("red", "green", "blue", "nir")
S2_SCL_CLOUD = 9  # SCL class "cloud high probability"
S2_SCL_VEGETATION = 4
LANDSAT_QA_CLEAR = 21824  # clear land, low confidences (bit 6 set, bits 0-4 clear)
LANDSAT_QA_CLOUD = 22280  # cloud (bit 3), high cloud confidence


def have_realdata() -> bool:
    return LANDSAT_DIR.is_dir() and S2_FILE.is_file()


def write_cog(
    path: Path,
    data: np.ndarray,
    transform: Any,
    crs: str,
    nodata: float | None,
) -> Path:
    """One single-band COG (deflate, 256 px blocks, overviews) written with rio-cogeo."""
    from rio_cogeo.cogeo import cog_translate
    from rio_cogeo.profiles import cog_profiles

    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    profile = {
        "driver": "GTiff",
        "width": data.shape[-1],
        "height": data.shape[-2],
        "count": 1,
        "dtype": str(data.dtype),
        "crs": crs,
        "transform": transform,
        "nodata": nodata,
    }
    out = cog_profiles.get("deflate")
    out.update(blockxsize=256, blockysize=256)
    tmp = path.with_name(path.name + ".part")
    with MemoryFile() as mem:
        with mem.open(**profile) as dst:
            dst.write(data.reshape(1, *data.shape[-2:]))
        with mem.open() as src:
            cog_translate(
                src,
                str(tmp),
                out,
                overview_level=None,
                overview_resampling="nearest",
                quiet=True,
                in_memory=True,
            )
    tmp.rename(path)
    return path


def landsat_band_cogs(folder: Path) -> dict[str, Path]:
    """The real Landsat scene's bands as COGs, ``{asset key: path}`` (nodata 0 on SR bands,
    none on QA_PIXEL, as USGS writes them)."""
    out: dict[str, Path] = {}
    for key, suffix in LANDSAT_KEYS.items():
        src_path = LANDSAT_DIR / f"{LANDSAT_ID}_{suffix}.TIF"
        with rasterio.open(src_path) as src:
            data, transform, crs, nodata = src.read(1), src.transform, src.crs, src.nodata
        target = folder / LANDSAT_ID / f"{LANDSAT_ID}_{suffix}.TIF"
        out[key] = write_cog(target, data, transform, crs.to_string(), nodata)
    return out


def landsat_source(key: str) -> Path:
    """The original (not COG) file of a Landsat asset key, to compare pixels against."""
    return LANDSAT_DIR / f"{LANDSAT_ID}_{LANDSAT_KEYS[key]}.TIF"


def s2_cloud_square(shape: tuple[int, int], date: int = 0) -> tuple[slice, slice]:
    """Where the made-up 20 m SCL layer of a date says "cloud" (rows, cols of the 20 m grid):
    a square left of the centre in June, right of it in September."""
    rows, cols = shape
    first = cols // 4 if date == 0 else cols // 2
    return slice(rows // 4, rows // 2), slice(first, first + cols // 4)


def s2_band_cogs(folder: Path, date: int = 0) -> dict[str, Path]:
    """The Sentinel-2 sample's bands of one date (0: June, 1: September) as per-band COGs
    ``{red, green, blue, nir, scl}`` (nodata 0), SCL at 20 m with a cloud square."""
    out: dict[str, Path] = {}
    with rasterio.open(S2_FILE) as src:
        data, transform, crs = src.read(), src.transform, src.crs.to_string()
    scene = S2_IDS[date]
    for i, key in enumerate(S2_SAMPLE_KEYS):
        band = data[date * 4 + i]
        out[key] = write_cog(folder / scene / f"{key.upper()}.tif", band, transform, crs, 0)
    rows, cols = data.shape[1] // 2, data.shape[2] // 2
    scl = np.full((rows, cols), S2_SCL_VEGETATION, dtype="uint8")
    scl[s2_cloud_square((rows, cols), date)] = S2_SCL_CLOUD
    scl_transform = from_origin(transform.c, transform.f, transform.a * 2, -transform.e * 2)
    out["scl"] = write_cog(folder / scene / "SCL.tif", scl, scl_transform, crs, 0)
    return out


def s2_source(date: int, key: str) -> tuple[np.ndarray, Any]:
    """The sample's values of one band and date, and its transform, to compare against."""
    with rasterio.open(S2_FILE) as src:
        return src.read(date * 4 + S2_SAMPLE_KEYS.index(key) + 1), src.transform


@dataclass
class SyntheticScene:
    """Per-band COGs made up at a place and time; ``truth`` holds what was written."""

    files: dict[str, Path]
    bbox: tuple[float, float, float, float]
    crs: str
    truth: dict[str, np.ndarray] = field(default_factory=dict)


SYNTHETIC_BANDS = {
    "sentinel-2-l2a": ("blue", "green", "red", "nir", "swir16", "swir22", "scl"),
    "landsat-c2-l2": ("blue", "green", "red", "nir08", "swir16", "swir22", "qa_pixel"),
}


def _utm_epsg(lon: float, lat: float) -> int:
    zone = int((lon + 180) // 6) + 1
    return (32600 if lat >= 0 else 32700) + zone


def synthetic_scene(
    folder: Path,
    name: str,
    collection: str = "sentinel-2-l2a",
    bbox: tuple[float, float, float, float] = (114.20, 30.50, 114.26, 30.56),
    size: int = 256,
    value: int | None = None,
    cloud: tuple[slice, slice] | None = None,
) -> SyntheticScene:
    """Per-band COGs over ``bbox`` (WGS84) in its UTM zone, ``size`` px square. Each band holds
    a gradient plus its band number x 100 (or the constant ``value``); the mask band (SCL /
    QA_PIXEL) says clear except a ``cloud`` window. Written once per ``folder/name``."""
    west, south, east, north = bbox
    epsg = _utm_epsg((west + east) / 2, (south + north) / 2)
    crs = f"EPSG:{epsg}"
    left, bottom, right, top = transform_bounds("EPSG:4326", crs, *bbox)
    transform = from_bounds(left, bottom, right, top, size, size)
    ramp = np.add.outer(np.arange(size), np.arange(size)).astype("uint16") * 5 + 1000
    scene = SyntheticScene(files={}, bbox=bbox, crs=crs)
    for i, key in enumerate(SYNTHETIC_BANDS[collection], 1):
        if key == "scl":
            data = np.full((size, size), S2_SCL_VEGETATION, dtype="uint8")
            if cloud:
                data[cloud] = S2_SCL_CLOUD
            nodata: float | None = 0
        elif key == "qa_pixel":
            data = np.full((size, size), LANDSAT_QA_CLEAR, dtype="uint16")
            if cloud:
                data[cloud] = LANDSAT_QA_CLOUD
            nodata = 1
        else:
            data = ramp + i * 100 if value is None else np.full((size, size), value, "uint16")
            nodata = 0
        scene.truth[key] = data
        scene.files[key] = write_cog(folder / name / f"{key}.tif", data, transform, crs, nodata)
    return scene


# --- plain HTTP with Range ----------------------------------------------------------------------

_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")


@dataclass
class HttpArchive:
    """A running range server: ``url`` (no trailing slash), the served ``root``, and
    ``href(path)`` for a file under the root; ``requests`` lists what it was asked
    (``(method, path, range header)``)."""

    url: str
    root: Path
    log: Path

    def href(self, path: Path) -> str:
        return f"{self.url}/{path.resolve().relative_to(self.root.resolve()).as_posix()}"

    @property
    def requests(self) -> list[tuple[str, str, str | None]]:
        if not self.log.exists():
            return []
        rows = [line.split("\t") for line in self.log.read_text().splitlines() if line]
        return [(r[0], r[1], r[2] or None) for r in rows]


def _handler(root: Path, log: Path) -> type[BaseHTTPRequestHandler]:
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _target(self) -> Path | None:
            rel = self.path.split("?", 1)[0].lstrip("/")
            if "forbidden" in rel.split("/"):
                self._reply(403, b"Forbidden")
                return None
            path = (root / rel).resolve()
            if not path.is_relative_to(root.resolve()) or not path.is_file():
                self._reply(404, b"Not Found")
                return None
            return path

        def _reply(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _serve(self, head: bool) -> None:
            with lock, log.open("a") as f:
                f.write(f"{self.command}\t{self.path}\t{self.headers.get('Range') or ''}\n")
            path = self._target()
            if path is None:
                return
            size = path.stat().st_size
            match = _RANGE.match(self.headers.get("Range", "").strip())
            start, end = 0, size - 1
            status = 200
            if match and (match.group(1) or match.group(2)):
                if match.group(1):
                    start = int(match.group(1))
                    end = min(int(match.group(2)) if match.group(2) else size - 1, size - 1)
                else:
                    start = max(0, size - int(match.group(2)))
                if start >= size:
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{size}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                status = 206
            self.send_response(status)
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Type", "image/tiff")
            self.send_header("Content-Length", str(end - start + 1))
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
            self.end_headers()
            if head:
                return
            with path.open("rb") as f:
                f.seek(start)
                self.wfile.write(f.read(end - start + 1))

        def do_GET(self) -> None:
            self._serve(head=False)

        def do_HEAD(self) -> None:
            self._serve(head=True)

    return Handler


def _serve_forever(root: str, port: int, log: str) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler(Path(root), Path(log)))
    server.daemon_threads = True
    server.serve_forever()


@contextmanager
def serve_directory(root: Path) -> Iterator[HttpArchive]:
    """Serve ``root`` over HTTP with Range on 127.0.0.1 until the block ends. The server runs
    in its own process: GDAL holds the GIL through parts of an open, and a server thread in the
    reading process would stall it."""
    port = _free_port()
    log = root / f".requests-{port}.log"
    archive = HttpArchive(url=f"http://127.0.0.1:{port}", root=root, log=log)
    code = "import sys; from tests.archive.assets import _serve_forever as s; "
    code += "s(sys.argv[1], int(sys.argv[2]), sys.argv[3])"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(root), str(port), str(log)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        for _ in range(200):
            try:
                httpx.head(f"{archive.url}/", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        log.unlink(missing_ok=True)
        yield archive
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# --- S3 (moto) ----------------------------------------------------------------------------------


@dataclass
class S3Archive:
    """A running moto S3 server: ``endpoint`` (host:port), ``client`` (boto3), and the
    settings that point cogsight at it."""

    port: int
    client: Any

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        """COGSIGHT_ settings for a server reading this S3 (any keys are accepted)."""
        return {
            "COGSIGHT_S3_ENDPOINT": self.endpoint,
            "COGSIGHT_S3_HTTPS": "false",
            "COGSIGHT_S3_ACCESS_KEY_ID": "test",
            "COGSIGHT_S3_SECRET_ACCESS_KEY": "test",
        }

    def upload_folder(self, bucket: str, folder: Path, files: Sequence[Path], prefix: str) -> dict:
        """Upload ``files`` (under ``folder``) as ``s3://bucket/prefix/<relative path>``;
        returns ``{path: s3 href}``."""
        existing = {b["Name"] for b in self.client.list_buckets().get("Buckets", [])}
        if bucket not in existing:
            self.client.create_bucket(Bucket=bucket)
        hrefs: dict[Path, str] = {}
        for path in files:
            rel = path.relative_to(folder).as_posix()
            key = f"{prefix.strip('/')}/{rel}" if prefix.strip("/") else rel
            self.client.upload_file(str(path), bucket, key)
            hrefs[path] = f"s3://{bucket}/{key}"
        return hrefs


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def moto_s3() -> Iterator[S3Archive]:
    """A moto S3 server on loopback (``python -m moto.server``) until the block ends."""
    import boto3

    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(150):
            try:
                httpx.get(f"http://127.0.0.1:{port}", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        client = boto3.client(
            "s3",
            endpoint_url=f"http://127.0.0.1:{port}",
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        yield S3Archive(port=port, client=client)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def gdal_s3_env(archive: S3Archive) -> Mapping[str, str]:
    """GDAL's own variables for reading this S3 in the test process: set them in ``os.environ``
    (``monkeypatch.setenv``); rasterio.Env refuses AWS options."""
    return {
        "AWS_S3_ENDPOINT": archive.endpoint,
        "AWS_HTTPS": "NO",
        "AWS_VIRTUAL_HOSTING": "FALSE",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
    }
