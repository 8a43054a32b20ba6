"""``POST /datasets``: uploads become served datasets at once, and every refusal is precise and
leaves nothing behind (no row, no COG, no thumbnail, no scratch file), even when the client
walks away mid-transfer. Also the download and thumbnail endpoints."""

from __future__ import annotations

import asyncio
import io
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import morecantile
import numpy as np
import pytest
import rasterio
from fastapi.testclient import TestClient
from PIL import Image
from rasterio.crs import CRS
from rasterio.enums import MaskFlags
from rasterio.transform import Affine, from_bounds, from_origin
from rasterio.warp import transform as warp_points
from rio_cogeo.cogeo import cog_validate

from tests.servers import ROOT, free_port
from tests.tiling.helpers import decode
from tileserver.catalog import Catalog, DatasetRecord
from tileserver.catalog.repository import new_id, utcnow
from tileserver.errors import InvalidInput, InvalidRaster, UnsupportedMediaType
from tileserver.http.app import create_app
from tileserver.ingest.crs_check import require_known_crs
from tileserver.ingest.detect import detect_format
from tileserver.ingest.raster import register_raster
from tileserver.settings import Settings

MiB = 1024 * 1024
TIFF = "image/tiff"


# helpers -------------------------------------------------------------------------------------
def write_raster(
    path: Path,
    *,
    crs: str | None = "EPSG:32650",
    transform: Affine | None = None,
    count: int = 1,
    dtype: str = "uint16",
    width: int = 64,
    height: int = 64,
    driver: str = "GTiff",
    nodata: float | None = None,
    data: np.ndarray | None = None,
) -> np.ndarray:
    """Write a random raster; return its pixels (bands, rows, cols)."""
    if data is None:
        rng = np.random.default_rng(len(path.name))
        data = rng.integers(1, 250, (count, height, width)).astype(dtype)
    profile: dict[str, Any] = dict(
        driver=driver, width=width, height=height, count=count, dtype=dtype, nodata=nodata
    )
    if crs is not None:
        profile.update(crs=crs, transform=transform or from_origin(300000, 3400000, 30, 30))
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
    return data


def snapshot(app) -> tuple[set[str], set[str]]:
    """Files under the data dir (catalog database aside) and dataset ids."""
    settings: Settings = app.state.settings
    files = {
        p.relative_to(settings.data_dir).as_posix()
        for p in settings.data_dir.rglob("*")
        if p.is_file() and not p.name.startswith("catalog.db")
    }
    return files, {d.id for d in app.state.catalog.find_datasets()}


def upload(client: TestClient, name: str, content: bytes, **form: str) -> Any:
    return client.post("/datasets", files={"file": (name, content, TIFF)}, data=form)


def pixel_lonlat(transform: Affine, crs: str, row: int, col: int) -> tuple[float, float]:
    x, y = transform * (col + 0.5, row + 0.5)
    lons, lats = warp_points(CRS.from_user_input(crs), "EPSG:4326", [x], [y])
    return lons[0], lats[0]


# fixtures ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory):
    """An app of its own: uploads must not leak into the shared demo catalog."""
    data = tmp_path_factory.mktemp("upload-data")
    return create_app(Settings(data_dir=data, tile_cache_bytes=0))


@pytest.fixture(scope="module")
def client(app) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="module")
def tiny_app(tmp_path_factory: pytest.TempPathFactory):
    data = tmp_path_factory.mktemp("tiny-upload-data")
    return create_app(Settings(data_dir=data, max_upload_bytes=64 * 1024))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A real uvicorn process on its own data dir: real sockets, real disconnects."""
    data = tmp_path_factory.mktemp("upload-live")
    port = free_port()
    env = {**os.environ, "COGSIGHT_DATA_DIR": str(data)}
    cmd = [sys.executable, "-m", "uvicorn", "--factory", "tileserver.http.app:create_app"]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            raise RuntimeError("server did not start")
        yield url, data
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


# accepted uploads ----------------------------------------------------------------------------
def test_geotiff_upload_is_served_at_once(client, app, tmp_path):
    """A tile of the upload equals the source pixels exactly (grid aligned to WebMercatorQuad)."""
    tms = morecantile.tms.get("WebMercatorQuad")
    parent = tms.tile(114.3, 30.6, 12)
    transform = from_bounds(*tms.xy_bounds(parent), 1024, 1024)
    src = tmp_path / "wuhan scene.tif"
    rng = np.random.default_rng(7)
    data = rng.integers(1, 60000, (3, 1024, 1024)).astype("uint16")
    write_raster(
        src, crs="EPSG:3857", transform=transform, count=3, data=data, width=1024, height=1024
    )

    r = upload(
        client,
        src.name,
        src.read_bytes(),
        bands="red,green,blue",
        datetime="2024-05-12T03:00:00Z",
        cloud_cover="12.5",
        sensor="generic",
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert r.headers["location"] == f"http://testserver/datasets/{body['id']}"
    assert body["title"] == "wuhan scene" and body["crs"] == "EPSG:3857"
    assert body["band_names"] == ["red", "green", "blue"] and body["cloud_cover"] == 12.5
    assert body["datetime"].startswith("2024-05-12T03:00:00") and body["links"]["tiles"]
    assert body["properties"]["source_format"] == "GeoTIFF"

    cog = app.state.settings.data_dir / body["uri"]
    assert cog_validate(str(cog), quiet=True)[0]
    with rasterio.open(cog) as ds:
        assert ds.overviews(1) == [2], "overviews were built"
        assert ds.mask_flag_enums[0] == [MaskFlags.per_dataset], "internal mask (no nodata)"

    child = tms.children(parent, zoom=14)[6]
    tile = client.get(f"/raster/{body['id']}/tiles/WebMercatorQuad/14/{child.x}/{child.y}.tif")
    assert tile.status_code == 200
    row, col = (child.y - parent.y * 4) * 256, (child.x - parent.x * 4) * 256
    np.testing.assert_array_equal(
        decode(tile.content)[:3], data[:, row : row + 256, col : col + 256]
    )

    thumb = client.get(f"/datasets/{body['id']}/thumbnail.png")
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(thumb.content))
    assert image.format == "PNG" and image.mode == "RGBA" and max(image.size) == 256


def test_thumbnail_stretches_and_makes_nodata_transparent(client, tmp_path):
    src = tmp_path / "half.tif"
    data = np.full((1, 600, 1000), 500, "int16")
    data[:, :, :500] = -9999
    data[:, :, 500:] += np.arange(500, dtype="int16")
    write_raster(src, dtype="int16", nodata=-9999, data=data, width=1000, height=600)
    r = upload(client, src.name, src.read_bytes())
    assert r.status_code == 201, r.text
    image = Image.open(io.BytesIO(client.get(f"/datasets/{r.json()['id']}/thumbnail.png").content))
    assert image.size == (256, 154) and image.mode == "LA"
    grey, alpha = (np.asarray(image)[..., i] for i in (0, 1))
    assert (alpha[:, :120] == 0).all() and (alpha[:, 136:] == 255).all()
    valid = grey[alpha == 255]
    assert valid.min() == 0 and valid.max() == 255, "2-98 % stretch over the valid pixels"


def test_erdas_imagine_upload(client, tmp_path):
    src = tmp_path / "scene.img"
    data = write_raster(src, driver="HFA", count=2, dtype="uint8")
    assert src.read_bytes().startswith(b"EHFA_HEADER_TAG")
    r = upload(client, src.name, src.read_bytes(), bands="nir,red")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["crs"] == "EPSG:32650" and body["properties"]["source_format"] == "ERDAS Imagine"
    lon, lat = pixel_lonlat(from_origin(300000, 3400000, 30, 30), "EPSG:32650", 10, 20)
    point = client.get(f"/raster/{body['id']}/point/{lon},{lat}")
    assert point.status_code == 200 and point.json()["values"] == data[:, 10, 20].tolist()


GEOGRAPHIC = from_origin(114.0, 31.0, 0.001, 0.001)


@pytest.mark.parametrize(
    ("crs", "transform", "driver"),
    [
        ("EPSG:4490", GEOGRAPHIC, "GTiff"),  # CGCS2000
        ("EPSG:4490", GEOGRAPHIC, "HFA"),  # ERDAS drops the authority: matched by equivalence
        ("EPSG:4527", from_origin(39_500_000, 3_430_000, 30, 30), "GTiff"),  # CGCS2000 GK 39
        ("EPSG:4547", from_origin(500_000, 3_400_000, 30, 30), "GTiff"),  # CGCS2000 GK CM 114E
        ("EPSG:2383", from_origin(500_000, 3_400_000, 30, 30), "GTiff"),  # Xian 1980 GK CM 114E
        ("EPSG:4610", GEOGRAPHIC, "HFA"),  # Xian 1980
        ("EPSG:4214", GEOGRAPHIC, "GTiff"),  # Beijing 1954
        ("EPSG:4326", GEOGRAPHIC, "GTiff"),
    ],
)
def test_chinese_and_international_crs_uploads(client, tmp_path, crs, transform, driver):
    src = tmp_path / ("scene.img" if driver == "HFA" else "scene.tif")
    data = write_raster(src, crs=crs, transform=transform, driver=driver)
    r = upload(client, src.name, src.read_bytes())
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["crs"] == crs
    lon, lat = pixel_lonlat(transform, crs, 10, 20)
    west, south, east, north = body["bounds"]
    assert west < lon < east and south < lat < north
    point = client.get(f"/raster/{body['id']}/point/{lon},{lat}")
    assert point.status_code == 200 and point.json()["values"] == data[:, 10, 20].tolist()


def test_vector_upload_is_published(client, app):
    """A real zipped shapefile upload: stored, tiled and downloadable at once."""
    import io
    import zipfile

    import geopandas as gpd
    from shapely.geometry import box

    frame = gpd.GeoDataFrame(
        {"name": ["a", "b"]},
        geometry=[box(760000, 3390000, 761000, 3391000), box(762000, 3390000, 763000, 3391000)],
        crs="EPSG:32649",
    )
    folder = Path(app.state.settings.data_dir).parent / "shp-upload"
    folder.mkdir(exist_ok=True)
    frame.to_file(folder / "fields.shp")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for part in folder.glob("fields.*"):
            archive.write(part, part.name)
    before_files, _ = snapshot(app)
    r = client.post(
        "/datasets", files={"file": ("fields.zip", buffer.getvalue(), "application/zip")}
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["kind"] == "vector" and body["title"] == "fields"
    assert body["properties"]["feature_count"] == 2
    after_files, _ = snapshot(app)
    assert not any(".tmp" in f for f in after_files - before_files), "no upload copy is left"
    features = client.get(f"/vectors/{body['id']}/features").json()
    assert sorted(f["properties"]["name"] for f in features["features"]) == ["a", "b"]

    download = client.get(f"/datasets/{body['id']}/download", follow_redirects=False)
    assert download.status_code == 307
    assert download.headers["location"] == f"/vectors/{body['id']}/download?format=geojson"


# refused uploads -----------------------------------------------------------------------------
def _truncated(tmp: Path) -> tuple[str, bytes, dict]:
    write_raster(tmp / "good.tif", width=700, height=700, count=3)
    raw = (tmp / "good.tif").read_bytes()
    return "cut.tif", raw[: len(raw) // 3], {}


def _not_georeferenced(tmp: Path) -> tuple[str, bytes, dict]:
    write_raster(tmp / "plain.tif", crs=None)
    return "plain.tif", (tmp / "plain.tif").read_bytes(), {}


def _raster(tmp: Path, **kwargs: Any) -> bytes:
    write_raster(tmp / "r.tif", **kwargs)
    return (tmp / "r.tif").read_bytes()


CUSTOM_CRS = "+proj=aeqd +lat_0=30.5 +lon_0=114.3 +datum=WGS84 +units=m"

BAD_INPUTS: dict[str, tuple[Any, int, str]] = {
    # name: (make(tmp) -> (filename, content, form), status, message fragment)
    "empty file": (lambda t: ("empty.tif", b"", {}), 400, "'empty.tif' is empty."),
    # 415, not 400: the request is fine but its bytes are no format we take (detected by
    # content, the name is only a claim); 400 is for a format we take that is broken.
    "text named .tif": (
        lambda t: ("notes.tif", b"just some notes\n" * 20, {}),
        415,
        "'notes.tif' is named like a GeoTIFF but its content looks like plain text.",
    ),
    "truncated tiff": (_truncated, 400, "truncated or corrupt"),
    "not georeferenced": (_not_georeferenced, 400, "not georeferenced"),
    "complex dtype": (
        lambda t: ("c.tif", _raster(t, dtype="complex64"), {}),
        400,
        "Data type complex64 is not supported",
    ),
    "64-bit integers": (
        lambda t: ("i.tif", _raster(t, dtype="int64"), {}),
        400,
        "Data type int64 is not supported",
    ),
    "executable": (
        lambda t: ("setup.exe", b"MZ\x90\x00" + bytes(600), {}),
        415,
        "Unsupported '.exe' file 'setup.exe': its content looks like a Windows executable.",
    ),
    "png image": (
        lambda t: ("map.png", b"\x89PNG\r\n\x1a\n" + bytes(600), {}),
        415,
        "its content looks like a PNG image",
    ),
    "text named .gpkg": (
        lambda t: ("layer.gpkg", b"id,name\n1,a\n", {}),
        415,
        "'layer.gpkg' is named like a GeoPackage but its content looks like plain text.",
    ),
    "too many band names": (
        lambda t: ("two.tif", _raster(t, count=2), {"bands": "a,b,c"}),
        400,
        "3 band names given for a 2-band raster.",
    ),
    "duplicate band names": (
        lambda t: ("two.tif", _raster(t, count=2), {"bands": "a,A"}),
        400,
        "Band names must be unique",
    ),
    "unknown crs": (
        lambda t: ("aeqd.tif", _raster(t, crs=CUSTOM_CRS), {}),
        400,
        "Unknown coordinate system",
    ),
    "bad datetime": (
        lambda t: ("r.tif", _raster(t), {"datetime": "last tuesday"}),
        400,
        "Cannot parse datetime 'last tuesday'",
    ),
    "bad cloud cover": (
        lambda t: ("r.tif", _raster(t), {"cloud_cover": "cloudy"}),
        400,
        "cloud_cover must be a number, got 'cloudy'.",
    ),
    "cloud cover out of range": (
        lambda t: ("r.tif", _raster(t), {"cloud_cover": "120"}),
        400,
        "cloud_cover must be a percentage in 0..100",
    ),
    "unknown sensor": (
        lambda t: ("r.tif", _raster(t), {"sensor": "spot-7"}),
        400,
        "Unknown sensor 'spot-7'",
    ),
    "unknown form field": (
        lambda t: ("r.tif", _raster(t), {"band": "red"}),
        400,
        "Unknown form field 'band'",
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_refused_precisely_and_leaves_nothing(client, app, tmp_path, case):
    make, status, message = BAD_INPUTS[case]
    name, content, form = make(tmp_path)
    before = snapshot(app)
    r = upload(client, name, content, **form)
    assert r.status_code == status, r.text
    assert message in r.json()["detail"]
    assert snapshot(app) == before


def test_vector_upload_without_vector_support_is_415(client, app, monkeypatch):
    monkeypatch.setitem(sys.modules, "tileserver.vectors", None)  # import fails
    before = snapshot(app)
    r = client.post("/datasets", files={"file": ("a.geojson", b'{"type": "Feature"}', "x/y")})
    assert r.status_code == 415 and r.json()["detail"] == (
        "vector uploads are not available on this server."
    )
    assert snapshot(app) == before


@pytest.mark.parametrize(
    ("kwargs", "status", "message"),
    [
        ({"content": b"{}", "headers": {"content-type": "application/json"}}, 415, "multipart"),
        ({"data": {"title": "no file"}, "files": {"other": ("a", b"b")}}, 400, "Unknown form"),
        ({"data": {"title": "no file"}}, 415, "multipart"),  # urlencoded form
    ],
)
def test_malformed_requests(client, app, kwargs, status, message):
    before = snapshot(app)
    r = client.post("/datasets", **kwargs)
    assert r.status_code == status and message in r.json()["detail"], r.text
    assert snapshot(app) == before


def test_multipart_without_file_part(client):
    body = b'--xx\r\nContent-Disposition: form-data; name="title"\r\n\r\nT\r\n--xx--\r\n'
    r = client.post(
        "/datasets", content=body, headers={"content-type": "multipart/form-data; boundary=xx"}
    )
    assert r.status_code == 400 and "send it as the multipart field 'file'" in r.json()["detail"]


# size limit ----------------------------------------------------------------------------------
def test_over_the_limit_is_413_and_leaves_nothing(tiny_app, tmp_path):
    content = _raster(tmp_path, width=400, height=400)  # ~320 KB > 64 KiB
    before = snapshot(tiny_app)
    with TestClient(tiny_app) as c:
        r = upload(c, "big.tif", content)
    assert r.status_code == 413 and r.json()["code"] == "payload_too_large"
    assert "larger than the limit of 64.0 KiB" in r.json()["detail"]
    assert snapshot(tiny_app) == before


def test_over_the_limit_by_content_length_is_refused_unread(tiny_app):
    """A declared length beyond the limit (plus room for the form fields) is refused before
    a byte of the body is read."""
    read = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal read
        for _ in range(40):
            read += 64 * 1024
            yield bytes(64 * 1024)

    async def post() -> httpx.Response:
        transport = httpx.ASGITransport(app=tiny_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            headers = {
                "content-type": "multipart/form-data; boundary=b",
                "content-length": str(40 * 64 * 1024),
            }
            return await c.post("/datasets", content=body(), headers=headers)

    r = asyncio.run(post())
    assert r.status_code == 413 and read == 0


def test_over_the_limit_is_refused_while_streaming(tiny_app):
    """No Content-Length (chunked): refused once the file passes the limit, body not drained."""
    sent = 0

    async def endless_tiff() -> AsyncIterator[bytes]:
        nonlocal sent
        head = b'--b\r\nContent-Disposition: form-data; name="file"; filename="x.tif"\r\n\r\n'
        yield head + b"II*\x00"
        while sent < 512 * MiB:  # far more than anyone should read
            sent += 64 * 1024
            yield bytes(64 * 1024)

    async def post() -> httpx.Response:
        transport = httpx.ASGITransport(app=tiny_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            headers = {"content-type": "multipart/form-data; boundary=b"}
            return await c.post("/datasets", content=endless_tiff(), headers=headers)

    before = snapshot(tiny_app)
    r = asyncio.run(post())
    assert r.status_code == 413 and r.json()["code"] == "payload_too_large"
    assert sent <= 64 * 1024 + 2 * 64 * 1024, "stopped reading right after the limit"
    assert snapshot(tiny_app) == before


def test_wrong_type_is_refused_from_the_first_bytes(tiny_app):
    """A 415 does not wait for the rest of the body either."""
    sent = 0

    async def endless_text() -> AsyncIterator[bytes]:
        nonlocal sent
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="x.tif"\r\n\r\n'
        while sent < 512 * MiB:
            sent += 1024
            yield b"lorem ipsum " * 85 + b"....\n"

    async def post() -> httpx.Response:
        transport = httpx.ASGITransport(app=tiny_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            headers = {"content-type": "multipart/form-data; boundary=b"}
            return await c.post("/datasets", content=endless_text(), headers=headers)

    r = asyncio.run(post())
    assert r.status_code == 415 and sent <= 2048


# live server: streaming and disconnects --------------------------------------------------------
def _scratch_uploads(data: Path) -> list[Path]:
    return sorted((data / ".tmp").glob("upload-*")) if (data / ".tmp").exists() else []


def _files(data: Path) -> set[str]:
    return {
        p.relative_to(data).as_posix()
        for p in data.rglob("*")
        if p.is_file() and not p.name.startswith("catalog.db")
    }


def test_chunked_streaming_upload_on_a_real_server(server, tmp_path):
    url, _data = server
    src = tmp_path / "streamed.tif"
    write_raster(src, width=2048, height=2048, count=2)  # ~16 MiB, many network chunks

    def body() -> Iterator[bytes]:
        yield (
            b'--bnd\r\nContent-Disposition: form-data; name="title"\r\n\r\nStreamed\r\n'
            b'--bnd\r\nContent-Disposition: form-data; name="file"; filename="s.tif"\r\n'
            b"Content-Type: image/tiff\r\n\r\n"
        )
        with src.open("rb") as fh:
            while chunk := fh.read(300_000):
                yield chunk
        yield b"\r\n--bnd--\r\n"

    r = httpx.post(
        f"{url}/datasets",
        content=body(),
        headers={"content-type": "multipart/form-data; boundary=bnd"},
        timeout=120,
    )
    assert r.status_code == 201, r.text
    assert r.json()["title"] == "Streamed" and r.json()["width"] == 2048
    download = httpx.get(
        f"{url}/datasets/{r.json()['id']}/download", headers={"Range": "bytes=0-3"}
    )
    assert download.status_code == 206 and download.content == b"II*\x00"


def test_client_disconnect_mid_upload_leaves_nothing(server):
    url, data = server
    httpx.get(f"{url}/healthz")
    before_files = _files(data)
    before_ids = {d["id"] for d in httpx.get(f"{url}/datasets").json()["items"]}
    host, port = url.removeprefix("http://").split(":")
    preamble = (
        b'--cut\r\nContent-Disposition: form-data; name="file"; filename="big.tif"\r\n'
        b"Content-Type: image/tiff\r\n\r\nII*\x00"
    )
    headers = (
        f"POST /datasets HTTP/1.1\r\nHost: {host}\r\n"
        f"Content-Type: multipart/form-data; boundary=cut\r\nContent-Length: {200 * MiB}\r\n\r\n"
    ).encode()
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(headers + preamble + bytes(3 * MiB))
        deadline = time.time() + 20
        while time.time() < deadline:  # the partial file is on disk: the server is mid-upload
            partial = [p for d in _scratch_uploads(data) for p in d.iterdir()]
            if partial and partial[0].stat().st_size > 0:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the server never started writing the upload")
    deadline = time.time() + 20
    while _scratch_uploads(data) and time.time() < deadline:
        time.sleep(0.05)
    assert _scratch_uploads(data) == [], "the partial upload was removed"
    assert _files(data) == before_files
    assert {d["id"] for d in httpx.get(f"{url}/datasets").json()["items"]} == before_ids


# download ------------------------------------------------------------------------------------
def test_download_is_the_cog_with_ranges_and_a_title_filename(client, app, tmp_path):
    src = tmp_path / "x.tif"
    write_raster(src)
    body = upload(client, src.name, src.read_bytes(), title="Wuhan  Floods / 2024-07!").json()
    r = client.get(f"/datasets/{body['id']}/download")
    assert r.status_code == 200
    assert r.headers["content-disposition"] == 'attachment; filename="wuhan-floods-2024-07.tif"'
    assert r.headers["content-type"].startswith("image/tiff")
    assert r.content == (app.state.settings.data_dir / body["uri"]).read_bytes()
    part = client.get(f"/datasets/{body['id']}/download", headers={"Range": "bytes=4-11"})
    assert part.status_code == 206 and part.content == r.content[4:12]


def test_download_of_remote_and_unknown_datasets(client, app):
    record = DatasetRecord(
        id=new_id(),
        title="Remote",
        uri="s3://bucket/imagery/scene.tif",
        crs="EPSG:4326",
        bounds=(0, 0, 1, 1),
        footprint={"type": "Point", "coordinates": [0.5, 0.5]},
        band_names=["b1"],
        dtype="uint8",
        width=1,
        height=1,
        resolution=1,
        minzoom=0,
        maxzoom=1,
        created=utcnow(),
    )
    app.state.catalog.add_dataset(record)
    r = client.get(f"/datasets/{record.id}/download")
    assert r.status_code == 400
    assert r.json()["detail"] == (
        f"Dataset '{record.id}' is stored remotely; read it from its URI: "
        "s3://bucket/imagery/scene.tif"
    )
    assert client.get("/datasets/nope/download").status_code == 404
    assert client.get("/datasets/nope/thumbnail.png").status_code == 404


def test_demo_dataset_download_and_lazy_thumbnail(demo, settings):
    """Datasets registered before thumbnails existed get one rendered on first request."""
    with TestClient(create_app(settings)) as c:
        dataset_id = demo["scene-2024-05-12"]
        thumb = settings.data_dir / "thumbs" / f"{dataset_id}.png"
        thumb.unlink(missing_ok=True)
        r = c.get(f"/datasets/{dataset_id}/thumbnail.png")
        assert r.status_code == 200 and thumb.is_file()
        assert max(Image.open(io.BytesIO(r.content)).size) <= 256
        head = c.get(f"/datasets/{dataset_id}/download", headers={"Range": "bytes=0-1"})
        assert head.status_code == 206 and head.content in (b"II", b"MM")


# library pieces ------------------------------------------------------------------------------
def test_thumbnail_failure_does_not_fail_registration(tmp_path, monkeypatch, caplog):
    settings = Settings(data_dir=tmp_path / "data")
    settings.data_dir.mkdir()
    catalog = Catalog(settings.resolved_database_url)
    src = tmp_path / "a.tif"
    write_raster(src)

    def broken(*_args: object, **_kwargs: object) -> bytes:
        raise RuntimeError("renderer exploded")

    monkeypatch.setattr("tileserver.ingest.thumbnail.render_thumbnail", broken)
    record = register_raster(catalog, settings, src)
    assert catalog.get_dataset(record.id) == record
    assert not (settings.data_dir / "thumbs" / f"{record.id}.png").exists()
    assert "could not make the thumbnail" in caplog.text and "renderer exploded" in caplog.text


@pytest.mark.parametrize(
    ("head", "name", "kind", "fmt"),
    [
        (b"II*\x00rest", "a.tif", "raster", "GeoTIFF"),
        (b"MM\x00*rest", "renamed.dat", "raster", "GeoTIFF"),
        (b"II+\x00\x08\x00", "big.tif", "raster", "BigTIFF"),
        (b"EHFA_HEADER_TAG\x00", "a.img", "raster", "ERDAS Imagine"),
        (b"PK\x03\x04....", "roads.zip", "vector", "zipped shapefile"),
        (b"SQLite format 3\x00", "a.gpkg", "vector", "GeoPackage"),
        (b'\xef\xbb\xbf  {"type":', "a.json", "vector", "GeoJSON"),
    ],
)
def test_detect_format(head, name, kind, fmt):
    detected = detect_format(head, name)
    assert (detected.kind, detected.format) == (kind, fmt)


def test_detect_format_refusals():
    with pytest.raises(InvalidInput, match="empty"):
        detect_format(b"", "a.tif")
    with pytest.raises(UnsupportedMediaType, match="ZIP archive"):
        detect_format(b"PK\x03\x04", "a.docx")
    with pytest.raises(UnsupportedMediaType, match="named like a zipped shapefile"):
        detect_format(b"hello", "a.zip")
    with pytest.raises(UnsupportedMediaType, match="unrecognised binary data"):
        detect_format(bytes(range(256)), "a.bin")


def test_crs_resolution():
    wkt = CRS.from_epsg(4527).to_wkt()
    stripped = wkt.replace('AUTHORITY["EPSG","4527"]', "").replace(",]", "]")
    assert require_known_crs(CRS.from_wkt(stripped)) == 4527
    assert require_known_crs(CRS.from_epsg(4214)) == 4214
    with pytest.raises(InvalidRaster, match="Unknown coordinate system"):
        require_known_crs(CRS.from_user_input(CUSTOM_CRS))
