"""Acquisition time at registration: the user's datetime, GDAL metadata, sidecars, product
names, TIFFTAG_DATETIME, a date in the name; unknown stays unknown (never the upload time).
Uploads go through ``POST /datasets`` on a real app; the real NAIP samples when present."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio
from fastapi.testclient import TestClient
from rasterio.transform import from_bounds

from tests.conftest import realdata
from tileserver.catalog import Catalog
from tileserver.errors import InvalidInput
from tileserver.http.app import create_app
from tileserver.ingest import register_raster
from tileserver.ingest.acquisition import detect_acquisition, parse_timestamp
from tileserver.settings import Settings

UTC = dt.UTC


def when(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


NAMES = {
    "S2A_MSIL2A_20200831T101031_N0214_R022_T32TPT_20200831T130019.tif": (
        when(2020, 8, 31, 10, 10, 31), "name:sentinel-2",
        {"platform": "sentinel-2a", "constellation": "sentinel-2", "instruments": ["msi"]},
    ),
    "S2B_32TPT_20200831_0_L2A_TCI.tif": (when(2020, 8, 31), "name:sentinel-2", {
        "platform": "sentinel-2b", "constellation": "sentinel-2", "instruments": ["msi"]}),
    "S1A_IW_GRDH_1SDV_20200831T101031_20200831T101056_034123_03F6A8_1234.tif": (
        when(2020, 8, 31, 10, 10, 31), "name:sentinel-1",
        {"platform": "sentinel-1a", "constellation": "sentinel-1", "instruments": ["c-sar"]},
    ),
    "s1b-iw-grd-vv-20200831t101031-20200831t101056-034123-03f6a8-001.tiff": (
        when(2020, 8, 31, 10, 10, 31), "name:sentinel-1",
        {"platform": "sentinel-1b", "constellation": "sentinel-1", "instruments": ["c-sar"]},
    ),
    "LC08_L2SP_009059_20200831_20200906_02_T1_SR_B4.TIF": (
        when(2020, 8, 31), "name:landsat", {"platform": "landsat-8", "instruments": ["oli", "tirs"]}
    ),
    "LT05_L1TP_009059_19900704_20200916_02_T1.tif": (
        when(1990, 7, 4), "name:landsat", {"platform": "landsat-5", "instruments": ["tm"]}
    ),
    "m_4609662_ne_14_060_20200831.tif": (when(2020, 8, 31), "name:naip", {}),
    "m_4709963_se_14_1_20090818.tif": (when(2009, 8, 18), "name:naip", {}),
    "flight_20200831.tif": (when(2020, 8, 31), "name:date", {}),
    "ortho 2020-08-31 final.tif": (when(2020, 8, 31), "name:date", {}),
    # not dates, or ambiguous: nothing is guessed
    "scene_20200831_20210101.tif": (None, None, {}),
    "2020.tif": (None, None, {}),
    "tile_1202008311.tif": (None, None, {}),
    "lot_20201399.tif": (None, None, {}),
    "upload.tif": (None, None, {}),
}  # fmt: skip


@pytest.mark.parametrize("name", list(NAMES))
def test_product_names_date_a_raster(name: str) -> None:
    expected, source, properties = NAMES[name]
    found = detect_acquisition(None, name, {})
    assert (found.datetime, found.source, found.properties) == (expected, source, properties)


def test_precedence_user_then_metadata_then_name_then_tiff_tag() -> None:
    naip = "m_4609662_ne_14_060_20200831.tif"
    tags = {"TIFFTAG_DATETIME": "2021:02:03 04:05:06"}
    assert detect_acquisition("2019-05-06T07:08:09Z", naip, tags).source == "user"
    acquired = {**tags, "ACQUISITIONDATETIME": "2020-08-30T18:00:00.5Z"}
    found = detect_acquisition(None, naip, acquired)
    assert (found.datetime, found.source) == (
        when(2020, 8, 30, 18, 0, 0, 500000),
        "metadata:ACQUISITIONDATETIME",
    )
    assert detect_acquisition(None, naip, tags).datetime == when(2020, 8, 31)
    found = detect_acquisition(None, "export.tif", tags)
    assert (found.datetime, found.source) == (
        when(2021, 2, 3, 4, 5, 6),
        "metadata:TIFFTAG_DATETIME",
    )
    landsat = {"DATE_ACQUIRED": "2019-12-01", "SCENE_CENTER_TIME": '"15:17:26.7234560Z"'}
    assert detect_acquisition(None, "b4.tif", landsat).datetime == when(
        2019, 12, 1, 15, 17, 26, 723456
    )
    # impossible metadata counts as unknown; a malformed user value is a 400
    assert detect_acquisition(None, "x.tif", {"ACQUISITIONDATETIME": "1500-01-01"}).datetime is None
    with pytest.raises(InvalidInput, match="Cannot parse datetime"):
        detect_acquisition("last tuesday", naip, {})
    with pytest.raises(InvalidInput, match="in the future"):
        detect_acquisition("2999-01-01", naip, {})


def test_timestamps_in_the_forms_metadata_uses() -> None:
    assert parse_timestamp("2020-08-31") == when(2020, 8, 31)
    assert parse_timestamp("2020:08:31 10:10:31") == when(2020, 8, 31, 10, 10, 31)
    assert parse_timestamp("2020-08-31T12:10:31+02:00") == when(2020, 8, 31, 10, 10, 31)
    assert parse_timestamp("2020-08-31 10:10:31 UTC") == when(2020, 8, 31, 10, 10, 31)
    assert parse_timestamp("2020-02-30") is None and parse_timestamp("soon") is None


@pytest.fixture
def env(tmp_path: Path) -> tuple[Settings, Catalog]:
    settings = Settings(data_dir=tmp_path / "data")
    settings.data_dir.mkdir()
    return settings, Catalog(settings.resolved_database_url)


def _raster(path: Path, tags: dict[str, str] | None = None, imagery: dict | None = None) -> Path:
    with rasterio.open(
        path, "w", driver="GTiff", width=16, height=16, count=1, dtype="uint8",
        crs="EPSG:4326", transform=from_bounds(10, 45, 10.01, 45.01, 16, 16),
    ) as dst:  # fmt: skip
        dst.write(np.full((1, 16, 16), 7, np.uint8))
        if tags:
            dst.update_tags(**tags)
        if imagery:
            dst.update_tags(ns="IMAGERY", **imagery)
    return path


def test_registration_reads_gdal_acquisition_metadata(env, tmp_path) -> None:
    settings, catalog = env
    src = _raster(
        tmp_path / "export.tif",
        tags={"TIFFTAG_DATETIME": "2024:01:01 00:00:00"},
        imagery={"ACQUISITIONDATETIME": "2020-08-31T10:10:31Z"},
    )
    record = register_raster(catalog, settings, src)
    assert record.datetime == when(2020, 8, 31, 10, 10, 31)
    assert record.properties["acquisition_source"] == "metadata:ACQUISITIONDATETIME"


def test_landsat_mtl_sidecar_beside_a_local_file(env, tmp_path) -> None:
    settings, catalog = env
    band = _raster(tmp_path / "LC08_L2SP_008059_20191201_20200825_02_T1_SR_B2.TIF")
    mtl = {"LANDSAT_METADATA_FILE": {"IMAGE_ATTRIBUTES": {
        "DATE_ACQUIRED": "2019-12-01", "SCENE_CENTER_TIME": "15:13:51.8610990Z"}}}  # fmt: skip
    (tmp_path / "LC08_L2SP_008059_20191201_20200825_02_T1_MTL.json").write_text(json.dumps(mtl))
    record = register_raster(catalog, settings, band)
    assert record.datetime == when(2019, 12, 1, 15, 13, 51, 861099)
    assert record.properties["acquisition_source"] == "sidecar:MTL"
    assert record.properties["platform"] == "landsat-8"


def test_real_landsat_mtl_sample(env, tmp_path) -> None:
    folder = realdata("landsat8-c2l2-colombia")
    settings, catalog = env
    band = folder / "LC08_L2SP_008059_20191201_20200825_02_T1_SR_B2.TIF"
    record = register_raster(catalog, settings, band)
    assert record.datetime is not None and record.datetime.date() == dt.date(2019, 12, 1)
    assert record.properties["acquisition_source"] == "sidecar:MTL"


@pytest.fixture
def client(tmp_path: Path):
    settings = Settings(data_dir=tmp_path / "app-data")
    settings.data_dir.mkdir()
    with TestClient(create_app(settings)) as c:
        yield c


def _upload(client: TestClient, path: Path, name: str, **fields: str) -> dict:
    with path.open("rb") as fh:
        response = client.post("/datasets", files={"file": (name, fh)}, data=fields)
    assert response.status_code == 201, response.text
    return response.json()


def test_upload_is_dated_by_the_name_the_user_gave(client, tmp_path) -> None:
    """The upload's temporary copy has another name: only the user's file name may date it;
    an upload with nothing to go by stays undated and is never given its upload time."""
    src = _raster(tmp_path / "anything.tif")
    naip = _upload(client, src, "m_4609662_ne_14_060_20200831.tif")
    assert naip["datetime"].startswith("2020-08-31T00:00:00")
    undated = _upload(client, src, "survey.tif")
    assert undated["datetime"] is None
    user = _upload(client, src, "m_4609662_ne_14_060_20200831.tif", datetime="2020-09-01")
    assert user["datetime"].startswith("2020-09-01T00:00:00")

    year = {"datetime": "2020-01-01T00:00:00Z/2020-12-31T23:59:59Z"}
    found = client.get("/stac/search", params=year).json()
    # a year's search lists what was acquired in it; the undated upload is found as undated
    assert {f["id"] for f in found["features"]} == {naip["id"], user["id"]}
    unknown = client.get("/stac/search", params={"filter": "datetime IS NULL"}).json()
    assert undated["id"] in {f["id"] for f in unknown["features"]}
    dated = client.get("/stac/search", params={**year, "filter": "datetime IS NOT NULL"}).json()
    assert {f["id"] for f in dated["features"]} == {naip["id"], user["id"]}
    before = client.get("/stac/search", params={"datetime": "../2019-12-31T00:00:00Z"}).json()
    assert {naip["id"], user["id"], undated["id"]}.isdisjoint(f["id"] for f in before["features"])
    item = client.get(f"/stac/collections/generic/items/{undated['id']}").json()
    assert item["properties"]["datetime"] is None
    assert item["properties"]["end_datetime"].startswith(undated["created"][:19])


def test_real_naip_upload_is_found_by_a_2020_search(client, tmp_path) -> None:
    folder = realdata("naip-northdakota-2009-2020")
    ids = {}
    for name in ("m_4709963_se_14_1_20090818.tif", "m_4709963_se_14_1_20200831.tif"):
        copy = shutil.copy(folder / name, tmp_path / "upload.bin")
        ids[name] = _upload(client, Path(copy), name)["id"]
    found = client.get(
        "/stac/search", params={"datetime": "2020-01-01T00:00:00Z/2020-12-31T23:59:59Z"}
    ).json()
    assert [f["id"] for f in found["features"]] == [ids["m_4709963_se_14_1_20200831.tif"]]
    item = found["features"][0]
    assert item["properties"]["datetime"] == "2020-08-31T00:00:00Z"
    assert item["properties"]["cogsight:acquisition_source"] == "name:naip"
    old = client.get(
        "/stac/search", params={"filter": "datetime < TIMESTAMP('2010-01-01T00:00:00Z')"}
    ).json()
    assert [f["id"] for f in old["features"]] == [ids["m_4709963_se_14_1_20090818.tif"]]


def test_vector_links_point_at_the_vector_endpoints(client) -> None:
    """A vector's links (upload answer, /datasets, /datasets/{id}, its STAC item) are the
    /vectors/{id}/... endpoints, and they answer."""
    geojson = json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {"n": 1},
        "geometry": {"type": "Point", "coordinates": [10.0, 45.0]}}]})  # fmt: skip
    response = client.post(
        "/datasets", files={"file": ("points.geojson", geojson, "application/geo+json")}
    )
    assert response.status_code == 201, response.text
    uploaded = response.json()
    vid = uploaded["id"]
    listed = next(d for d in client.get("/datasets").json()["items"] if d["id"] == vid)
    one = client.get(f"/datasets/{vid}").json()
    for links in (uploaded["links"], listed["links"], one["links"]):
        assert links["tiles"] == f"http://testserver/vectors/{vid}/tiles/{{z}}/{{x}}/{{y}}.mvt"
        assert links["tilejson"] == f"http://testserver/vectors/{vid}/tilejson.json"
        assert not any("/raster/" in href for href in links.values())
    for key in ("tilejson", "pmtiles", "features", "download"):
        assert client.get(one["links"][key]).status_code == 200, key
    item = client.get(f"/stac/collections/vectors/items/{vid}").json()
    hrefs = [link["href"] for link in item["links"]]
    assert f"http://testserver/vectors/{vid}/tilejson.json" in hrefs
    assert not any("/raster/" in href for href in hrefs)
