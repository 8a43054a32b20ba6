"""Vector registration: formats, reprojection, repair, zooms, and nothing left behind on failure.

All data is generated here; the catalog and data folder are the session's, so assertions look
at the ids and folders each test creates rather than at global counts.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely

from tests.conftest import realdata
from tileserver.catalog import Catalog
from tileserver.catalog.schemas import DatasetQuery
from tileserver.errors import InvalidInput
from tileserver.settings import Settings
from tileserver.vectors import archive, register_vector, vector_geometry
from tileserver.vectors.archive import extract_shapefile
from tileserver.vectors.zooms import ZOOM_OUT_LEVELS, choose_zooms, tiles_across

UTM = "EPSG:32616"


def square_grid(cols: int = 40, rows: int = 25, size: float = 100.0) -> gpd.GeoDataFrame:
    """``cols*rows`` squares of ``size`` metres, 50 m apart, in UTM 16N (Atlanta)."""
    step = size + 50.0
    x, y = np.meshgrid(740_000 + np.arange(cols) * step, 3_735_000 + np.arange(rows) * step)
    x, y = x.ravel(), y.ravel()
    n = len(x)
    return gpd.GeoDataFrame(
        {
            "name": [f"sq{i}" for i in range(n)],
            "height": (np.arange(n) % 50).astype("float64"),
            "kind": np.arange(n) % 3,
            "label": ["café" if i % 2 else "bâtiment" for i in range(n)],
        },
        geometry=shapely.box(x, y, x + size, y + size),
        crs=UTM,
    )


def shapefile_zip(
    frame: gpd.GeoDataFrame,
    dst: Path,
    stem: str = "squares",
    skip: tuple[str, ...] = (),
    prefix: str = "",
) -> Path:
    """Zip ``frame`` as a shapefile; ``skip`` drops sidecars, ``prefix`` nests member names."""
    folder = dst.parent / f"{dst.stem}-parts"
    folder.mkdir(parents=True, exist_ok=True)
    pyogrio.write_dataframe(frame, folder / f"{stem}.shp", layer_options={"ENCODING": "UTF-8"})
    mode = "a" if dst.exists() else "w"
    with zipfile.ZipFile(dst, mode, zipfile.ZIP_DEFLATED) as zf:
        for part in sorted(folder.glob(f"{stem}.*")):
            if part.suffix not in skip:
                zf.write(part, prefix + part.name)
    return dst


def vector_ids(catalog: Catalog) -> set[str]:
    return {r.id for r in catalog.find_datasets(DatasetQuery(kind="vector", limit=10000))}


def folders(settings: Settings) -> set[str]:
    root = settings.data_dir / "vectors"
    return {p.name for p in root.iterdir()} if root.exists() else set()


def assert_refused(catalog: Catalog, settings: Settings, path: Path, match: str, **kw) -> None:
    """Registration raises InvalidInput and leaves no row, folder, partial or scratch file."""
    ids, dirs = vector_ids(catalog), folders(settings)
    with pytest.raises(InvalidInput, match=match):
        register_vector(catalog, settings, path, **kw)
    assert vector_ids(catalog) == ids, "no catalog row was added"
    assert folders(settings) == dirs, "no dataset folder (or .partial) was left"
    scratch = settings.data_dir / ".tmp"
    assert not list(scratch.glob("vector-*")), "the scratch folder was cleaned"


def area_m2(frame: gpd.GeoDataFrame) -> np.ndarray:
    return frame.to_crs(UTM).geometry.area.to_numpy()


# --- registration ------------------------------------------------------------------------
def test_zipped_utm_shapefile_is_reprojected_and_recorded(catalog, settings, tmp_path):
    grid = square_grid()
    record = register_vector(
        catalog, settings, shapefile_zip(grid, tmp_path / "squares.zip"), owner="ana"
    )
    props = record.properties
    assert record.kind == "vector" and record.crs == "EPSG:4326" and record.owner == "ana"
    assert record.uri == f"vectors/{record.id}/features.fgb"
    assert props["pmtiles"] == f"vectors/{record.id}/tiles.pmtiles"
    assert props["feature_count"] == 1000 and props["geometry_type"] == "Polygon"
    assert props["source_format"] == "shapefile" and props["source_crs"] == UTM
    assert props["layer"] == "squares"
    assert {f["name"]: f["type"] for f in props["fields"]} == {
        "name": "string",
        "height": "number",
        "kind": "integer",
        "label": "string",
    }
    assert (record.band_names, record.dtype, record.width, record.resolution) == (
        [],
        "vector",
        0,
        0,
    )
    assert catalog.get_dataset(record.id) == record

    folder = settings.data_dir / "vectors" / record.id
    assert sorted(p.name for p in folder.iterdir()) == ["features.fgb", "tiles.pmtiles"]
    stored = pyogrio.read_dataframe(folder / "features.fgb")
    assert stored.crs.to_epsg() == 4326 and len(stored) == 1000
    w, s, e, n = record.bounds
    assert -84.5 < w < e < -84.2 and 33.7 < s < n < 33.8
    assert np.allclose(record.bounds, stored.total_bounds)
    hull = shapely.geometry.shape(record.footprint)
    assert hull.covers(shapely.union_all(stored.geometry.values)), "footprint covers the data"

    # areas in metres, measured in the source's UTM zone before and after the WGS84 round trip
    before = dict(zip(grid["name"], grid.geometry.area, strict=True))
    after = dict(zip(stored["name"], area_m2(stored), strict=True))
    assert abs(after["sq517"] - before["sq517"]) / before["sq517"] < 1e-3
    assert after["sq517"] == pytest.approx(10_000.0, rel=1e-3)
    assert sum(after.values()) == pytest.approx(sum(before.values()), rel=1e-3)
    assert set(stored["label"]) == {"café", "bâtiment"}, "the .cpg encoding was honoured"
    # zooms: a few tiles at minzoom, detailed at maxzoom
    assert 14 <= record.maxzoom <= 16
    fits = record.minzoom + ZOOM_OUT_LEVELS
    assert tiles_across(record.bounds, fits) <= 4 < tiles_across(record.bounds, fits + 1)


def test_geojson_defaults_to_wgs84_and_json_suffix_works(catalog, settings, tmp_path):
    lines = gpd.GeoDataFrame(
        {"road": ["a", "b", "c"], "lanes": [1, 2, 4]},
        geometry=[
            shapely.LineString([(10.0, 45.0), (10.01, 45.01)]),
            shapely.LineString([(10.02, 45.0), (10.03, 45.02)]),
            shapely.LineString([(10.0, 45.02), (10.03, 45.03)]),
        ],
    )
    path = tmp_path / "roads.json"
    path.write_text(lines.to_json())  # no crs member: RFC 7946 WGS84
    record = register_vector(catalog, settings, path, title="Roads")
    assert record.title == "Roads" and record.properties["source_format"] == "geojson"
    assert record.properties["source_crs"] == "EPSG:4326"
    assert record.properties["feature_count"] == 3
    assert record.properties["geometry_type"] == "LineString"
    assert np.allclose(record.bounds, (10.0, 45.0, 10.03, 45.03))


def test_upload_temp_file_uses_the_client_filename(catalog, settings, tmp_path):
    points = gpd.GeoDataFrame(
        {"v": [1, 2]}, geometry=[shapely.Point(2.35, 48.85), shapely.Point(2.36, 48.86)]
    )
    upload = tmp_path / "upload-3f2a.bin"
    upload.write_text(points.to_json())
    record = register_vector(catalog, settings, upload, filename="Paris Sites.geojson")
    assert record.title == "Paris Sites"
    assert record.properties["layer"] == "paris_sites"
    assert record.properties["geometry_type"] == "Point"


def test_geopackage_uses_the_first_layer_and_records_it(catalog, settings, tmp_path):
    path = tmp_path / "two.gpkg"
    grid = square_grid(cols=5, rows=2)
    pyogrio.write_dataframe(grid.iloc[:4], path, layer="parcels")
    pyogrio.write_dataframe(grid.iloc[4:], path, layer="other", append=False)
    record = register_vector(catalog, settings, path)
    assert record.properties["source_layer"] == "parcels"
    assert record.properties["source_layers"] == ["parcels", "other"]
    assert record.properties["feature_count"] == 4 and record.properties["layer"] == "parcels"


def test_invalid_geometries_are_made_valid(catalog, settings, tmp_path):
    bowtie = shapely.Polygon([(0, 0), (0.01, 0.01), (0.01, 0), (0, 0.01), (0, 0)])
    frame = gpd.GeoDataFrame(
        {"n": [1, 2, 3]},
        geometry=[bowtie, shapely.box(0.02, 0, 0.03, 0.01), None],
        crs="EPSG:4326",
    )
    path = tmp_path / "bowtie.geojson"
    pyogrio.write_dataframe(frame, path, driver="GeoJSON")
    record = register_vector(catalog, settings, path)
    assert record.properties["repaired_geometries"] == 1
    assert record.properties["dropped_features"] == 1, "the feature without geometry"
    stored = pyogrio.read_dataframe(settings.data_dir / record.uri)
    assert shapely.is_valid(stored.geometry.values).all() and len(stored) == 2
    assert set(stored.geom_type) <= {"Polygon", "MultiPolygon"}
    union = vector_geometry(settings, record)
    assert union.area == pytest.approx(0.01 * 0.01 / 2 + 0.01 * 0.01, rel=1e-6)


def test_catalog_failure_removes_the_folder(catalog, settings, tmp_path, monkeypatch):
    dirs = folders(settings)

    def broken(record):
        raise RuntimeError("database went away")

    monkeypatch.setattr(catalog, "add_dataset", broken)
    path = shapefile_zip(square_grid(cols=3, rows=3), tmp_path / "s.zip")
    with pytest.raises(RuntimeError, match="went away"):
        register_vector(catalog, settings, path)
    assert folders(settings) == dirs


# --- refusals ----------------------------------------------------------------------------
def test_zip_without_prj_is_refused(catalog, settings, tmp_path):
    path = shapefile_zip(square_grid(5, 5), tmp_path / "noprj.zip", skip=(".prj",))
    assert_refused(catalog, settings, path, r"no \.prj \(coordinate system\)")


def test_zip_with_two_shapefiles_is_refused(catalog, settings, tmp_path):
    path = shapefile_zip(square_grid(5, 5), tmp_path / "two.zip", stem="a")
    shapefile_zip(square_grid(5, 5), path, stem="b", prefix="sub/")
    assert_refused(catalog, settings, path, "2 shapefiles")


@pytest.mark.parametrize("member", ["../../evil.shp", "/etc/evil.shp", "C:\\evil.shp"])
def test_zip_slip_member_names_are_refused(catalog, settings, tmp_path, member):
    path = shapefile_zip(square_grid(3, 3), tmp_path / "slip.zip")
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr(member, b"not really a shapefile")
    assert_refused(catalog, settings, path, "unsafe member path")
    assert not (tmp_path.parent / "evil.shp").exists()


def test_zip_bomb_is_refused(catalog, settings, tmp_path, monkeypatch):
    monkeypatch.setattr(archive, "MIN_LIMIT", 1024 * 1024)
    path = shapefile_zip(square_grid(3, 3), tmp_path / "bomb.zip")
    with (
        zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as zf,
        zf.open("padding.txt", "w") as member,
    ):
        for _ in range(40):
            member.write(b"\0" * 1024 * 1024)  # 40 MiB of zeros: ~40 KiB compressed
    assert path.stat().st_size < 1024 * 1024
    assert_refused(catalog, settings, path, "more than the allowed size")


def test_not_a_zip_is_refused(catalog, settings, tmp_path):
    path = tmp_path / "fake.zip"
    path.write_bytes(b"PK\x03\x04 this is not really a zip archive")
    assert_refused(catalog, settings, path, "not a valid zip")


def test_malformed_geojson_is_refused(catalog, settings, tmp_path):
    path = tmp_path / "broken.geojson"
    path.write_text('{"type": "FeatureCollection", "features": [ {"type": "Feat')
    assert_refused(catalog, settings, path, "could not be read|not a GeoJSON")
    detail = ""
    try:
        register_vector(catalog, settings, path)
    except InvalidInput as exc:
        detail = str(exc)
    assert str(tmp_path) not in detail, "server paths are not echoed"


def test_empty_feature_collection_is_refused(catalog, settings, tmp_path):
    path = tmp_path / "empty.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": []}))
    assert_refused(catalog, settings, path, "no features|no layer")


def test_geojson_that_is_another_format_is_refused(catalog, settings, tmp_path):
    """A .geojson holding an OGR VRT must not be followed to files on the server."""
    path = tmp_path / "sneaky.geojson"
    path.write_text(
        '<OGRVRTDataSource><OGRVRTLayer name="x"><SrcDataSource>/etc/passwd</SrcDataSource>'
        "</OGRVRTLayer></OGRVRTDataSource>"
    )
    assert_refused(catalog, settings, path, "not a GeoJSON")


def test_wrong_crs_is_refused(catalog, settings, tmp_path):
    frame = square_grid(3, 3).set_crs("EPSG:4326", allow_override=True)  # UTM metres as degrees
    assert_refused(
        catalog, settings, shapefile_zip(frame, tmp_path / "wrong.zip"), "outside the world"
    )


def test_unknown_suffix_is_refused(catalog, settings, tmp_path):
    path = tmp_path / "points.csv"
    path.write_text("x,y\n1,2\n")
    assert_refused(catalog, settings, path, "Unsupported vector file")


# --- pieces --------------------------------------------------------------------------------
def test_zip_junk_is_ignored_and_names_are_flattened(tmp_path):
    path = shapefile_zip(square_grid(2, 2), tmp_path / "nested.zip", prefix="data/2024/")
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr("__MACOSX/data/2024/._squares.shp", b"resource fork")
    shp = extract_shapefile(path, tmp_path / "out")
    assert shp == tmp_path / "out" / "squares.shp"
    assert sorted(p.suffix for p in (tmp_path / "out").iterdir()) == [
        ".cpg",
        ".dbf",
        ".prj",
        ".shp",
        ".shx",
    ]


def test_zooms_follow_feature_size_and_extent():
    small = square_grid(10, 10, size=20.0).to_crs(4326)  # 20 m buildings
    large = square_grid(10, 10, size=2000.0).to_crs(4326)  # 2 km fields
    assert choose_zooms(small)[1] == 16
    assert choose_zooms(large)[1] == 12
    world = gpd.GeoDataFrame(
        geometry=[shapely.box(-179, -80, 179, 80), shapely.box(-10, -10, 10, 10)], crs=4326
    )
    minzoom, maxzoom = choose_zooms(world)
    assert minzoom == 0 and tiles_across((-179, -80, 179, 80), maxzoom) <= 1 << 16


# --- real data -----------------------------------------------------------------------------
@pytest.mark.realdata
def test_spacenet_atlanta_buildings(catalog, settings):
    path = realdata("spacenet4-atlanta-buildings", "geotiff_labels.geojson")
    source = pyogrio.read_dataframe(path)
    record = register_vector(catalog, settings, path)
    assert record.properties["feature_count"] == 43
    stored = pyogrio.read_dataframe(settings.data_dir / record.uri)
    before = area_m2(source[source.geometry.notna()]).sum()
    after = area_m2(stored).sum()
    assert after == pytest.approx(before, rel=1e-3)
    assert 14 <= record.maxzoom <= 16 and record.properties["geometry_type"] in (
        "Polygon",
        "MultiPolygon",
    )
