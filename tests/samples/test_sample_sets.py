"""Sample sets as datasets, through the service functions (no HTTP): create, save versions,
read, export as GeoJSON / GeoPackage, and the clear refusals (one class at training, a sample
off the image, someone else's private image)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyogrio
import pytest
import rasterio
from pyproj import Transformer
from rasterio.transform import from_origin

from tileserver.auth.schemas import Principal, Quotas, User
from tileserver.catalog import Catalog
from tileserver.errors import InvalidInput, NotFoundError
from tileserver.ingest import register_raster
from tileserver.samples import (
    SampleSetCreate,
    SampleSetSave,
    TrainFromSamples,
    create_sample_set,
    export_samples,
    list_sample_sets,
    sample_features,
    sample_set,
    save_samples,
    train_inputs,
)
from tileserver.settings import Settings

X0, Y0, PIXEL, SIZE = 250_000.0, 3_385_000.0, 10.0, 64
TO_WGS84 = Transformer.from_crs("EPSG:32650", "EPSG:4326", always_xy=True)
LOCAL = Principal(single_user=True)
CLASSES = [
    {"value": 1, "name": "water", "color": "#1f6fd1"},
    {"value": 2, "name": "land", "color": "#2e8b3a"},
]


def lonlat(col: float, row: float) -> list[float]:
    """WGS84 of a pixel position of the test image."""
    x, y = TO_WGS84.transform(X0 + col * PIXEL, Y0 - row * PIXEL)
    return [x, y]


def square(c0: float, r0: float, c1: float, r1: float) -> dict:
    ring = [lonlat(c0, r0), lonlat(c1, r0), lonlat(c1, r1), lonlat(c0, r1), lonlat(c0, r0)]
    return {"type": "Polygon", "coordinates": [ring]}


def user(name: str) -> Principal:
    quotas = Quotas()
    return Principal(
        user=User(id=name, name=name, quotas=quotas, created=datetime.now(UTC)),
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> tuple[Catalog, Settings, str, str]:
    """Its own data folder: a public 4-band image and a private one of someone else."""
    root = tmp_path_factory.mktemp("samples")
    (root / "data").mkdir()
    settings = Settings(data_dir=root / "data")
    catalog = Catalog(settings.resolved_database_url)
    data = np.zeros((4, SIZE, SIZE), dtype="uint16")
    data[:, :, SIZE // 2 :] = 3000
    ids = []
    for name, owner, visibility in (("open", None, "public"), ("theirs", "alice", "private")):
        path = root / f"{name}.tif"
        profile = dict(
            driver="GTiff", width=SIZE, height=SIZE, count=4, dtype="uint16", crs="EPSG:32650",
            transform=from_origin(X0, Y0, PIXEL, PIXEL),
        )  # fmt: skip
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(data)
        record = register_raster(
            catalog, settings, path, band_names=["blue", "green", "red", "nir"],
            owner=owner, visibility=visibility, thumbnail=False,
        )  # fmt: skip
        ids.append(record.id)
    return catalog, settings, ids[0], ids[1]


def first_set(world, samples: list[dict], classes=CLASSES) -> str:
    catalog, settings, image, _ = world
    body = SampleSetCreate.model_validate(
        {"image": image, "title": "Lake shore", "classes": classes, "samples": samples}
    )
    return create_sample_set(catalog, settings, LOCAL, body).id


def test_create_save_versions_and_export(world):
    catalog, settings, image, _ = world
    brush = {"type": "LineString", "coordinates": [lonlat(40, 10), lonlat(60, 10)]}
    set_id = first_set(
        world,
        [
            {"geometry": square(4, 4, 20, 20), "class": 1},
            {"geometry": brush, "class": 2, "width_m": 30},
            {"geometry": {"type": "Point", "coordinates": lonlat(50, 50)}, "class": 2},
        ],
    )
    info = sample_set(catalog, settings, LOCAL, set_id)
    assert (info.version, info.samples, info.counts) == (1, 3, {"1": 1, "2": 2})
    assert info.samples_for == [image] and info.task == "segmentation"
    record = catalog.get_dataset(set_id)
    assert record.kind == "vector" and record.properties["sample_set"] is True
    assert record.properties["samples_for"] == [image]
    assert [c["name"] for c in record.properties["classes"]] == ["water", "land"]

    features = sample_features(catalog, settings, LOCAL, set_id)["features"]
    kinds = sorted((f["properties"]["kind"], f["properties"]["class"]) for f in features)
    assert kinds == [("brush", 2), ("point", 2), ("polygon", 1)]
    areas = {f["properties"]["kind"]: _area_m2(f["geometry"]) for f in features}
    assert areas["polygon"] == pytest.approx(160 * 160, rel=0.02)
    assert areas["brush"] == pytest.approx(200 * 30 + np.pi * 15**2, rel=0.05)  # round caps
    assert areas["point"] == pytest.approx(np.pi * 15**2, rel=0.1)  # 3 pixels wide

    saved = save_samples(
        catalog, settings, LOCAL, set_id,
        SampleSetSave.model_validate({"samples": [
            {"geometry": square(4, 4, 20, 20), "class": 1},
            {"geometry": square(40, 40, 60, 60), "class": 2},
        ]}),
    )  # fmt: skip
    assert (saved.version, saved.samples, [v.version for v in saved.versions]) == (2, 2, [1, 2])
    assert catalog.get_dataset(set_id).properties["sample_version"] == 2
    assert len(sample_features(catalog, settings, LOCAL, set_id, version=1)["features"]) == 3
    assert len(sample_features(catalog, settings, LOCAL, set_id)["features"]) == 2
    with pytest.raises(NotFoundError, match="no version 7"):
        sample_features(catalog, settings, LOCAL, set_id, version=7)

    for fmt, version, count in (("geojson", None, 2), ("gpkg", None, 2), ("gpkg", 1, 3)):
        exported = export_samples(catalog, settings, LOCAL, set_id, fmt, version=version)
        try:
            frame = pyogrio.read_dataframe(exported.path)
            assert len(frame) == count and set(frame["class"]) == {1, 2}, (fmt, version)
        finally:
            exported.cleanup()
    assert set_id in [s.id for s in list_sample_sets(catalog, settings, LOCAL, image=image)]


def _area_m2(geometry: dict) -> float:
    from pyproj import Geod
    from shapely.geometry import shape

    area, _ = Geod(ellps="WGS84").geometry_area_perimeter(shape(geometry))
    return abs(area)


def test_train_inputs_and_model_versions(world):
    catalog, settings, image, _ = world
    set_id = first_set(
        world,
        [
            {"geometry": square(2, 2, 30, 60), "class": 1},
            {"geometry": square(34, 2, 62, 60), "class": 2},
        ],
    )
    request = train_inputs(
        catalog, settings, LOCAL, set_id, TrainFromSamples(name="shore", time_budget_s=5)
    )
    inputs = request["inputs"]
    assert request["process"] == "train"
    assert inputs["name"] == "shore-v1" and inputs["labels"] == set_id
    assert inputs["dataset"] == image and inputs["class_field"] == "class"
    assert inputs["classes"] == {"1": "water", "2": "land"}
    assert inputs["bands"] == ["blue", "green", "red", "nir"]
    assert f"sample set '{set_id}' version 1" in inputs["description"]
    (Path(settings.data_dir) / "models" / "shore-v1").mkdir(parents=True)
    again = train_inputs(catalog, settings, LOCAL, set_id, TrainFromSamples(name="shore"))
    assert again["inputs"]["name"] == "shore-v2", "a new version; v1 keeps serving"


def test_one_class_is_refused_at_training(world):
    catalog, settings, _, _ = world
    set_id = first_set(world, [{"geometry": square(2, 2, 30, 60), "class": 1}])
    with pytest.raises(InvalidInput, match=r"1 class \(water\).*at least two classes"):
        train_inputs(catalog, settings, LOCAL, set_id, TrainFromSamples())


def test_sample_outside_the_image_is_refused(world):
    far = square(200, 200, 220, 220)  # 1.4 km beyond the image's corner
    with pytest.raises(InvalidInput, match="Sample 2 lies outside image"):
        first_set(
            world, [{"geometry": square(2, 2, 8, 8), "class": 1}, {"geometry": far, "class": 2}]
        )
    unknown = {"geometry": square(2, 2, 8, 8), "class": 9}
    with pytest.raises(InvalidInput, match="Sample 1 has class 9"):
        first_set(world, [unknown])
    catalog, settings, _, _ = world
    assert not list_sample_sets(catalog, settings, LOCAL, image="none")


def test_someone_elses_private_image_is_not_found(world):
    catalog, settings, _, theirs = world
    body = SampleSetCreate.model_validate(
        {
            "image": theirs,
            "classes": CLASSES,
            "samples": [{"geometry": square(2, 2, 8, 8), "class": 1}],
        }
    )
    with pytest.raises(NotFoundError) as caught:
        create_sample_set(catalog, settings, user("bob"), body)
    assert str(caught.value) == f"Dataset '{theirs}' not found.", "as if it did not exist"
    assert not list_sample_sets(catalog, settings, user("bob"), image=theirs)
