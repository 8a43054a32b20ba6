"""Registration: validation, COG conversion, metadata, and nothing left behind on failure."""

from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin
from rio_cogeo.cogeo import cog_validate

from tests.conftest import realdata
from tileserver.catalog import Catalog
from tileserver.errors import ForbiddenSource, InvalidInput, InvalidRaster
from tileserver.ingest import register_raster
from tileserver.settings import Settings


@pytest.fixture
def env(tmp_path: Path) -> tuple[Settings, Catalog]:
    settings = Settings(data_dir=tmp_path / "data", allowed_prefixes=["s3://open-bucket/"])
    settings.data_dir.mkdir()
    return settings, Catalog(settings.resolved_database_url)


def striped_tiff(
    path: Path,
    count: int = 3,
    dtype: str = "uint16",
    crs: str | None = "EPSG:32650",
    size: int = 700,
) -> Path:
    rng = np.random.default_rng(0)
    data = rng.integers(1, 3000, (count, size, size)).astype(dtype)
    profile = dict(
        driver="GTiff",
        width=size,
        height=size,
        count=count,
        dtype=dtype,
        transform=from_origin(300000, 3400000, 10, 10),
        nodata=0,
    )
    if crs:
        profile["crs"] = crs
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
        dst.descriptions = tuple(f"band{i}" for i in range(1, count + 1))
    return path


def test_non_cog_is_converted_and_recorded(env, tmp_path):
    settings, catalog = env
    src = striped_tiff(tmp_path / "plain.tif")
    record = register_raster(catalog, settings, src, title="Plain", datetime_="2024-05-01")
    cog = settings.data_dir / record.uri
    assert cog.is_file() and cog_validate(str(cog), quiet=True)[0]
    with rasterio.open(cog) as ds:
        assert ds.overviews(1), "overviews were built"
        np.testing.assert_array_equal(
            ds.read(2, window=((0, 5), (0, 5))), rasterio.open(src).read(2, window=((0, 5), (0, 5)))
        )
    assert record.band_names == ["band1", "band2", "band3"]
    assert record.crs == "EPSG:32650" and record.nodata == 0 and record.dtype == "uint16"
    w, s, e, n = record.bounds
    assert 114.9 < w < e < 115.1 and 30.6 < s < n < 30.8
    assert record.datetime.year == 2024
    assert catalog.get_dataset(record.id) == record
    assert not list(settings.data_dir.glob("cogs/.*partial"))


def test_explicit_band_names_must_match_count(env, tmp_path):
    settings, catalog = env
    with pytest.raises(InvalidInput, match="3-band"):
        register_raster(catalog, settings, striped_tiff(tmp_path / "a.tif"), band_names=["x"])


@pytest.mark.parametrize("content", [b"", b"not a tiff at all", b"II*\x00" + b"\x00" * 64])
def test_corrupt_files_are_refused_and_leave_nothing(env, tmp_path, content):
    settings, catalog = env
    bad = tmp_path / "bad.tif"
    bad.write_bytes(content)
    with pytest.raises(InvalidRaster):
        register_raster(catalog, settings, bad)
    assert catalog.find_datasets() == []
    assert (
        not any((settings.data_dir / "cogs").glob("*"))
        if (settings.data_dir / "cogs").exists()
        else True
    )


def test_truncated_tiff_is_refused(env, tmp_path):
    settings, catalog = env
    good = striped_tiff(tmp_path / "good.tif")
    truncated = tmp_path / "truncated.tif"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    with pytest.raises(InvalidRaster):
        register_raster(catalog, settings, truncated)
    assert catalog.find_datasets() == []


def test_not_georeferenced_is_refused(env, tmp_path):
    settings, catalog = env
    path = tmp_path / "nogeo.tif"
    with rasterio.open(
        path, "w", driver="GTiff", width=64, height=64, count=1, dtype="uint8"
    ) as dst:
        dst.write(np.ones((1, 64, 64), "uint8"))
    with pytest.raises(InvalidRaster, match="not georeferenced"):
        register_raster(catalog, settings, path)


def test_remote_uri_outside_allowed_prefixes_is_forbidden(env):
    settings, catalog = env
    for uri in [
        "s3://other-bucket/a.tif",
        "https://example.com/a.tif",
        "s3://open-bucket/../secret/a.tif",
    ]:
        with pytest.raises(ForbiddenSource):
            register_raster(catalog, settings, uri)


def test_missing_local_file(env, tmp_path):
    settings, catalog = env
    with pytest.raises(InvalidInput, match="No such file"):
        register_raster(catalog, settings, tmp_path / "nope.tif")


def test_real_sentinel2_with_sensor_band_ids(env):
    settings, catalog = env
    src = realdata("s2-l2a-austria-2date", "inference-img.tif")
    names = ["B04", "B03", "B02", "B08", "B04_t2", "B03_t2", "B02_t2", "B08_t2"]
    record = register_raster(
        catalog, settings, src, sensor="sentinel-2-l2a", band_names=names, datetime_="2021-06-17"
    )
    assert record.crs == "EPSG:32633" and record.reflectance_scale == 1e-4
    assert cog_validate(str(settings.data_dir / record.uri), quiet=True)[0]


def test_real_gcp_only_sentinel1_is_warped_through_gcps(env):
    settings, catalog = env
    record = register_raster(
        catalog, settings, realdata("s1-grd-india-gcps", "cog_gcps.tif"), sensor="sentinel-1-grd"
    )
    with rasterio.open(settings.data_dir / record.uri) as ds:
        assert ds.crs.to_epsg() == 4326 and not ds.gcps[0]
        assert ds.transform.a > 0
    w, s, e, n = record.bounds
    assert 75 < w < e < 79 and 9 < s < n < 12
