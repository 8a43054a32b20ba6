"""Read-time access per STAC source: Planetary Computer SAS tokens only in GDAL's memory, never
in the stored VRT, a path or a response; requester-pays S3 scenes read through moto."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio

from tests.archive.fixtures import *  # noqa: F403  (fixtures)
from tests.archive.fixtures import s3_href
from tests.archive.items import landsat_item
from tileserver.catalog import Catalog
from tileserver.scenes import signing
from tileserver.scenes.register import register_item
from tileserver.settings import Settings, StacSource
from tileserver.sources import configure_gdal, gdal_path

BLOB = "https://landsateuwest.blob.core.windows.net/landsat-c2/level-2/"
SECRET = "sig=SECRET-SIGNATURE"


def test_planetary_computer_tokens_live_only_in_memory(
    tmp_path: Path, landsat_files: dict[str, Path]
) -> None:
    import planetary_computer
    from planetary_computer.sas import TOKEN_CACHE, SASToken

    expiry = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    se = expiry.strftime("%Y-%m-%dT%H:%M:%SZ")
    token_url = f"{planetary_computer.settings.Settings.get().sas_url}/landsateuwest/landsat-c2"
    token = {"token": f"st=2020&se={se}&sp=rl&{SECRET}", "msft:expiry": expiry}
    TOKEN_CACHE[token_url] = SASToken.model_validate(token)
    settings = Settings(
        data_dir=tmp_path,
        allowed_prefixes=[BLOB],
        stac_sources=[
            StacSource(id="pc", url="https://pc.example/api/stac/v1", signing="planetary-computer")
        ],
    )
    catalog = Catalog(settings.resolved_database_url)
    item = landsat_item(landsat_files, lambda p: BLOB + p.name)  # proj:* given: nothing opened
    record = register_item(catalog, settings, item, source="pc")
    stored = (tmp_path / record.uri).read_text()
    assert BLOB in stored and "sig=" not in stored, "the stored VRT names the assets unsigned"

    path = gdal_path(record.uri, settings)
    assert path.startswith("/vsimem/") and "SECRET" not in path
    signed, until = signing.sign_vrt(stored)
    assert signed.count(f"&amp;{SECRET}") == 7, "every band's href signed, XML-escaped"
    assert abs((until - expiry).total_seconds()) < 2, "kept until the token's own expiry"
    assert gdal_path(record.uri, settings) == path, "cached until then"
    assert "SECRET" not in record.model_dump_json()


def test_requester_pays_scene_reads_from_s3(
    tmp_path: Path,
    s3_archive: Any,
    archive_root: Path,
    landsat_files: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key, value in {
        "AWS_S3_ENDPOINT": s3_archive.endpoint,
        "AWS_HTTPS": "NO",
        "AWS_VIRTUAL_HOSTING": "FALSE",
    }.items():
        monkeypatch.setenv(key, value)
    settings = Settings(
        data_dir=tmp_path,
        allowed_prefixes=["s3://archive/"],
        s3_endpoint=s3_archive.endpoint,
        s3_https=False,
        stac_sources=[
            StacSource(
                id="usgs",
                url="https://landsatlook.usgs.gov/stac-server",
                signing="requester-pays",
                s3_access_key_id="test",
                s3_secret_access_key="test",
            )
        ],
    )
    configure_gdal(settings)
    catalog = Catalog(settings.resolved_database_url)
    item = landsat_item(
        landsat_files,
        lambda p: s3_href(s3_archive, archive_root, p),
        item_id="LC08_requester_pays",
    )
    record = register_item(catalog, settings, item, source="usgs")
    path = gdal_path(record.uri, settings)
    assert path == str(tmp_path / record.uri), "S3 options are per folder, the VRT is as stored"
    assert any(source == "usgs" for _, source in signing._path_options)
    with rasterio.open(path) as scene, rasterio.open(landsat_files["red"]) as band:
        np.testing.assert_array_equal(scene.read(3), band.read(1))
