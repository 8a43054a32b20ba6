"""Sentinel-2 scenes split into per-band COGs (band math over band names, the 20 m SCL mask, a
mosaic of two dates), refused items (nothing left behind), private scenes, and the CLI."""

from __future__ import annotations

import copy
import datetime as dt
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import morecantile
import numpy as np
import pytest
from rio_tiler.io import Reader

from tests.archive.assets import S2_FILE, S2_SCL_CLOUD
from tests.archive.fixtures import *  # noqa: F403  (fixtures)
from tests.archive.items import landsat_item, sentinel2_item
from tests.auth.people import People, people
from tests.servers import ROOT

TMS = morecantile.tms.get("WebMercatorQuad")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, http_archive: Any) -> Any:
    data = tmp_path_factory.mktemp("scene-inputs")
    with people(data, allowed_prefixes=[f"{http_archive.url}/"]) as w:
        yield w


def _npy(response: Any) -> Any:  # a numpy masked array
    assert response.status_code == 200, response.text[:300]
    array = np.load(io.BytesIO(response.content))
    data, mask = array[:-1], array[-1]
    return np.ma.masked_array(data, mask=np.broadcast_to(mask <= 0, data.shape))


def _add(world: People, item: dict, who: str = "alice", **extra: Any) -> Any:
    body = {"item": item, **extra} if extra else item
    return world.post(who, "/datasets/items", json=body)


@pytest.fixture(scope="module")
def june(world: People, http_archive: Any, s2_files: dict[str, Path]) -> dict:
    response = _add(world, sentinel2_item(s2_files, http_archive.href))
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture(scope="module")
def september(world: People, http_archive: Any, s2_files_september: dict[str, Path]) -> dict:
    item = sentinel2_item(
        s2_files_september,
        http_archive.href,
        item_id="S2B_33UUP_20210925_0_L2A",
        when=dt.datetime(2021, 9, 25, 10, 10, 19, tzinfo=dt.UTC),
    )
    response = _add(world, item)
    assert response.status_code == 201, response.text
    return response.json()


def _tile(record: dict) -> morecantile.Tile:
    """The z14 tile over the middle of the cloud squares' edge (3/8 down, 1/2 across), which
    holds part of June's square, part of September's and clear ground around them."""
    import rasterio
    from pyproj import Transformer

    with rasterio.open(S2_FILE) as src:
        x, y = src.transform * (src.width / 2, src.height * 3 / 8)
        lon, lat = Transformer.from_crs(src.crs, "EPSG:4326", always_xy=True).transform(x, y)
    return TMS.tile(lon, lat, 14)


def _scl_cloud(files: dict[str, Path], tile: morecantile.Tile) -> np.ndarray:
    with Reader(str(files["scl"])) as src:
        return src.tile(tile.x, tile.y, tile.z, indexes=1).array.data[0] == S2_SCL_CLOUD


def test_band_math_over_band_names_on_the_10m_grid_with_the_20m_scl(
    june: dict, world: People, s2_files: dict[str, Path]
) -> None:
    assert june["band_names"] == ["red", "green", "blue", "nir", "scl"]
    assert (june["width"], june["height"], june["resolution"]) == (578, 379, 10.0)
    assert june["sensor"] == "sentinel-2-l2a"
    tile = _tile(june)
    base = f"/raster/{june['id']}/tiles/WebMercatorQuad/{tile.z}/{tile.x}/{tile.y}.npy"
    got = _npy(world.get(None, f"{base}?expression=(nir-red)/(nir%2Bred)"))
    with Reader(str(S2_FILE)) as src:  # bands 1 red, 4 nir of June (SOURCE.md)
        expected = src.tile(tile.x, tile.y, tile.z, expression="(b4-b1)/(b4+b1)").array
    cloud = _scl_cloud(s2_files, tile)
    valid = ~np.ma.getmaskarray(expected)[0] & ~cloud
    assert cloud.sum() > 100 and valid.sum() > 1000
    np.testing.assert_allclose(got.data[0][valid], expected.data[0][valid], rtol=1e-6)
    assert got.mask[0][cloud].all(), "SCL class 9 (cloud) is masked"
    scl = _npy(world.get(None, f"{base}?bidx=5"))
    assert set(np.unique(scl.data[0][~scl.mask[0]])) <= {4, 9}, "the SCL band itself is raw"


def test_a_mosaic_of_two_dates_fills_each_cloud_from_the_other(
    june: dict,
    september: dict,
    world: People,
    s2_files: dict[str, Path],
    s2_files_september: dict[str, Path],
) -> None:
    response = world.post("alice", "/mosaics", json={"ids": [june["id"], september["id"]]})
    assert response.status_code in (200, 201), response.text
    mosaic = response.json()
    tile = _tile(june)
    path = f"tiles/WebMercatorQuad/{tile.z}/{tile.x}/{tile.y}.npy?bidx=1"
    mixed = _npy(world.get("alice", f"/mosaics/{mosaic['id']}/{path}"))
    a = _npy(world.get(None, f"/raster/{june['id']}/{path}"))
    b = _npy(world.get(None, f"/raster/{september['id']}/{path}"))
    june_cloud, sept_cloud = _scl_cloud(s2_files, tile), _scl_cloud(s2_files_september, tile)
    only_june = june_cloud & ~sept_cloud & ~b.mask[0]
    only_sept = sept_cloud & ~june_cloud & ~a.mask[0]
    assert only_june.sum() > 100 and only_sept.sum() > 100
    np.testing.assert_array_equal(mixed.data[0][only_june], b.data[0][only_june])
    np.testing.assert_array_equal(mixed.data[0][only_sept], a.data[0][only_sept])


def _scenes_files(world: People) -> list[str]:
    folder = world.settings.data_dir / "scenes"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def _rows(world: People) -> int:
    return len(world.catalog.find_datasets())


def test_refused_items_answer_a_precise_4xx_and_leave_nothing(
    world: People, http_archive: Any, landsat_files: dict[str, Path], june: dict
) -> None:
    good = landsat_item(landsat_files, http_archive.href, item_id="refusal-base")
    before = (_rows(world), _scenes_files(world))

    no_assets = {k: v for k, v in good.items() if k != "assets"}
    cases: list[tuple[Any, int, str]] = [(no_assets, 400, "has no assets")]

    bad_geometry = copy.deepcopy(good)
    bad_geometry["bbox"] = [500, 0, 600, 10]
    cases.append((bad_geometry, 400, "bbox outside WGS84"))

    outside = copy.deepcopy(good)
    outside["assets"]["red"]["href"] = "https://elsewhere.example.com/LC08/SR_B4.TIF"
    cases.append((outside, 403, "allowed prefix"))

    local = copy.deepcopy(good)
    local["assets"]["red"]["href"] = str(landsat_files["red"])
    cases.append((local, 403, "local paths are accepted only from the command line"))

    only_metadata = copy.deepcopy(good)
    only_metadata["assets"] = {k: good["assets"][k] for k in ("thumbnail", "mtl.json")}
    cases.append((only_metadata, 400, "no raster band assets"))

    # without proj:shape / proj:transform the assets must be opened: 404 and 403 are named
    unopened = landsat_item(
        landsat_files, http_archive.href, item_id="needs-headers", with_proj=False
    )
    missing = copy.deepcopy(unopened)
    missing["assets"]["nir08"]["href"] = f"{http_archive.url}/gone/SR_B5.TIF"
    cases.append((missing, 400, "Asset 'nir08' answered HTTP 404"))
    forbidden = copy.deepcopy(unopened)
    forbidden["assets"]["swir16"]["href"] = f"{http_archive.url}/forbidden/SR_B6.TIF"
    cases.append((forbidden, 400, "Asset 'swir16' answered HTTP 403"))

    for body, status, reason in cases:
        response = _add(world, body)
        assert response.status_code == status, (reason, response.text)
        detail = response.json()["detail"]
        assert reason in detail, detail
        assert str(world.settings.data_dir) not in detail and "/vsicurl/" not in detail
    assert (_rows(world), _scenes_files(world)) == before, "no row, no VRT file"

    # the same item with its headers reachable is registered by opening them
    opened = _add(world, unopened)
    assert opened.status_code == 201, opened.text
    assert opened.json()["width"] == 512


def test_a_private_scene_is_404_to_everyone_else(
    world: People, http_archive: Any, s2_files: dict[str, Path]
) -> None:
    item = sentinel2_item(s2_files, http_archive.href, item_id="S2B_private_scene")
    response = _add(world, item, who="bob", visibility="private")
    assert response.status_code == 201, response.text
    scene = response.json()
    assert scene["visibility"] == "private" and scene["owner"] == world.ids["bob"]
    tile = _tile(scene)
    tile_url = f"/raster/{scene['id']}/tiles/WebMercatorQuad/{tile.z}/{tile.x}/{tile.y}.png"
    for who in ("alice", None):
        assert world.get(who, f"/datasets/{scene['id']}").status_code == 404
        assert world.get(who, tile_url).status_code == 404
    assert world.get("bob", tile_url).status_code == 200
    assert world.post(None, "/datasets/items", json=item).status_code == 401


def _cli(args: list[str], data: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tileserver.cli", *args],
        cwd=ROOT,
        env={**os.environ, "COGSIGHT_DATA_DIR": str(data)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_add_item_registers_local_assets_and_is_idempotent(
    tmp_path: Path, landsat_files: dict[str, Path], s2_files: dict[str, Path]
) -> None:
    landsat = landsat_item(landsat_files, lambda p: str(p))
    s2 = sentinel2_item(s2_files, lambda p: str(p))
    ndjson = tmp_path / "items.ndjson"
    ndjson.write_text(json.dumps(landsat) + "\n" + json.dumps(s2) + "\n")
    first = _cli(["add-item", str(ndjson)], tmp_path / "data")
    assert first.returncode == 0, first.stderr
    outcomes = [json.loads(line) for line in first.stdout.splitlines()]
    assert [o["status"] for o in outcomes] == ["added", "added"]

    changed = copy.deepcopy(s2)
    changed["properties"]["eo:cloud_cover"] = 3.0
    broken = {"type": "Feature", "id": "broken", "assets": {}}
    ndjson.write_text("\n".join(json.dumps(i) for i in (landsat, changed, broken)) + "\n")
    second = _cli(["add-item", str(ndjson)], tmp_path / "data")
    assert second.returncode == 2
    again = [json.loads(line) for line in second.stdout.splitlines()]
    assert [o["status"] for o in again] == ["unchanged", "updated", "refused"]
    assert again[1]["dataset_id"] == outcomes[1]["dataset_id"], "updated in place"
    assert "refused broken: The STAC item has no assets." in second.stderr
    vrts = sorted((tmp_path / "data" / "scenes").glob("*.vrt"))
    assert len(vrts) == 2, "the replaced VRT of the updated scene is gone"


def test_a_changed_item_posted_again_updates_the_scene_at_once(
    world: People, http_archive: Any, s2_files: dict[str, Path]
) -> None:
    item = sentinel2_item(s2_files, http_archive.href, item_id="S2B_changing_scene")
    first = _add(world, item).json()
    tile = _tile(first)
    url = f"/raster/{first['id']}/tiles/WebMercatorQuad/{tile.z}/{tile.x}/{tile.y}.npy?bidx=1"
    before = _npy(world.get(None, url))  # the record (and its VRT path) is now cached
    changed = copy.deepcopy(item)
    changed["assets"]["red"]["href"] = item["assets"]["nir"]["href"]  # a corrected asset
    second = _add(world, changed)
    assert second.status_code == 201 and second.json()["id"] == first["id"]
    after = _npy(world.get(None, url))
    nir = _npy(world.get(None, url.replace("bidx=1", "bidx=4")))
    np.testing.assert_array_equal(after.filled(0), nir.filled(0))
    assert not np.array_equal(after.filled(0), before.filled(0))


def test_deleting_a_scene_removes_its_vrt_and_leaves_the_assets(
    world: People, http_archive: Any, s2_files: dict[str, Path]
) -> None:
    item = sentinel2_item(s2_files, http_archive.href, item_id="S2B_deleted_scene")
    scene = _add(world, item).json()
    vrt = world.settings.data_dir / scene["uri"]
    assert vrt.is_file()
    assert world.delete("alice", f"/datasets/{scene['id']}").status_code == 204
    assert not vrt.exists() and world.get("alice", f"/datasets/{scene['id']}").status_code == 404
    assert all(path.is_file() for path in s2_files.values()), "the archive's files stay"
