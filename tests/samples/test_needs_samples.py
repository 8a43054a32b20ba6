"""A tool that cannot run on an image's bands opens the labelling loop: ``dam`` on RGB-only
imagery answers 422 ``needs_samples`` with a sample-set body for its classes before any job
exists, from the API and ``cogsight run`` alike; ``POST /samples`` takes that body as it is. An
image the caller may not see is still the plain 404, never a labelling hint."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin
from typer.testing import CliRunner

from inference.models import MODELS, ClassInfo, ModelSpec, WeightsSpec
from tests.auth.people import People, people
from tileserver.catalog import DatasetRecord
from tileserver.cli import app as cli_app
from tileserver.errors import NeedsSamples, UnknownBand
from tileserver.processing.models.labelling import needs_samples, refusal, sample_classes
from tileserver.samples.schemas import SampleSetCreate

X0, Y0, PIXEL, SIZE = 250000.0, 3385000.0, 10.0, 64


def rgb_scene(path: Path) -> Path:
    """A 64 x 64 uint8 red, green, blue GeoTIFF (no NIR) in UTM 50N."""
    data = np.random.default_rng(7).integers(20, 230, (3, SIZE, SIZE), dtype="uint8")
    profile = {"driver": "GTiff", "width": SIZE, "height": SIZE, "count": 3, "dtype": "uint8"}
    transform = from_origin(X0, Y0, PIXEL, PIXEL)
    with rasterio.open(path, "w", crs="EPSG:32650", transform=transform, **profile) as dst:
        dst.write(data)
        dst.descriptions = ("red", "green", "blue")
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[People]:
    files = tmp_path_factory.mktemp("needs-samples-files")
    with people(tmp_path_factory.mktemp("needs-samples")) as w:
        w.ds = {"bob-rgb": w.raster("bob", "private", rgb_scene(files / "rgb.tif"), "bob rgb")}
        yield w


def _dam(world: People, who: str) -> Any:
    inputs = {"dataset": world.ds["bob-rgb"]}
    return world.post(who, "/processes/dam/execution", json={"inputs": inputs})


def test_dam_on_rgb_answers_a_ready_labelling_body_and_queues_nothing(world: People) -> None:
    before = world.jobs()
    answer = _dam(world, "bob")
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert world.jobs() == before
    assert body["code"] == "needs_samples"
    assert "missing nir" in body["detail"] and "train a model" in body["detail"]
    assert (body["process"], body["dataset"]) == ("dam", world.ds["bob-rgb"])
    assert (body["dataset_bands"], body["missing_bands"]) == (["red", "green", "blue"], [["nir"]])
    spec = MODELS.get("dam").spec
    assert [(c.name, c.color) for c in spec.classes.values()] == [
        ("background", "#000000"),
        ("dam", "#7a5230"),
    ]
    assert body["labelling"] == {
        "image": world.ds["bob-rgb"],
        "title": "dam samples",
        "classes": [  # a set holds values 1..254: dam keeps the tool's 1, background is next
            {"value": 1, "name": "dam", "color": "#7a5230"},
            {"value": 2, "name": "background", "color": "#000000"},
        ],
        "train": {"method": "auto"},
    }
    text = answer.text
    assert str(world.settings.data_dir) not in text and ".tif" not in text

    # the body is directly usable: add a sample and it is a sample set
    labelling = body["labelling"]
    record = world.catalog.get_dataset(world.ds["bob-rgb"])
    w, s, e, n = record.bounds
    cx, cy, d = (w + e) / 2, (s + n) / 2, (e - w) / 10
    ring = [[cx, cy], [cx + d, cy], [cx + d, cy + d], [cx, cy + d], [cx, cy]]
    sample = {"geometry": {"type": "Polygon", "coordinates": [ring]}, "class": 1}
    create = {k: labelling[k] for k in ("image", "title", "classes")}
    created = world.post("bob", "/samples", json={**create, "samples": [sample]})
    assert created.status_code == 201, created.text
    info = created.json()
    assert info["classes"] == labelling["classes"] and info["samples_for"] == [record.id]
    assert info["title"] == "dam samples" and info["task"] == "segmentation"


def test_an_image_the_caller_cannot_see_is_a_plain_404(world: People) -> None:
    before = world.jobs()
    answer = _dam(world, "alice")
    assert answer.status_code == 404, answer.text
    hidden = world.ds["bob-rgb"]
    assert answer.json() == {
        "code": "dataset_not_found",
        "detail": f"No dataset with id '{hidden}'.",
    }
    assert world.jobs() == before


def test_cogsight_run_says_the_same_in_one_line(world: People) -> None:
    detail = _dam(world, "bob").json()["detail"]
    env = {"COGSIGHT_DATA_DIR": str(world.settings.data_dir)}
    args = ["run", "dam", "-i", f"dataset={world.ds['bob-rgb']}"]
    said = CliRunner().invoke(cli_app, args, env=env)
    assert said.exit_code == 2, said.output
    assert said.output.strip() == f"error: {detail}"  # one line, no traceback
    assert "missing nir" in said.output


# --- the body without HTTP: change pairs, tools without classes -----------------------------


def _record(ident: str, bands: list[str]) -> DatasetRecord:
    return DatasetRecord.model_construct(id=ident, band_names=bands, sensor="generic")


def test_a_change_tool_names_both_dates_and_its_classes_make_a_valid_set() -> None:
    spec = ModelSpec(
        name="probe-change",
        title="Probe change",
        task="change",
        dates=2,
        bands=["red", "nir"],
        weights=WeightsSpec(kind="builtin"),
        classes={
            0: ClassInfo(name="no change", color="#9e9e9e"),
            1: ClassInfo(name="loss", color="#c8843a"),
            3: ClassInfo(name="gain", color="#1f6fd1"),
        },
    )
    early, late = _record("early", ["red", "green", "blue"]), _record("late", ["red", "nir"])
    refusal = needs_samples(spec, [early, late], early)
    assert isinstance(refusal, NeedsSamples) and isinstance(refusal, UnknownBand)
    labelling = refusal.extra["labelling"]
    assert isinstance(labelling, dict)
    assert (labelling["image"], labelling["later_image"]) == ("early", "late")
    assert [(c["value"], c["name"]) for c in sample_classes(spec)] == [
        (1, "loss"),
        (3, "gain"),
        (4, "no change"),
    ]
    ring = [[0, 0], [1, 0], [1, 1], [0, 0]]
    sample = {"geometry": {"type": "Polygon", "coordinates": [ring]}, "class": 1}
    body = {k: v for k, v in labelling.items() if k != "train"}
    assert SampleSetCreate.model_validate({**body, "samples": [sample]}).later_image == "late"
    assert "on the two images" in str(refusal) and "loss, gain and no change" in str(refusal)


def test_a_tool_of_the_same_classes_that_runs_is_named_instead() -> None:
    """water-optical on SAR: water-sar is a credible zero-sample method, so a 400 naming it."""
    spec = MODELS.get("water-optical").spec
    sar = _record("sar", ["vv", "vh"])
    refused = refusal(spec, [sar], sar, UnknownBand("water-optical needs the bands ..."))
    assert type(refused) is UnknownBand and "water-sar (the same classes) runs" in str(refused)
    rgb = _record("rgb", ["red", "green", "blue"])
    assert isinstance(refusal(spec, [rgb], rgb, UnknownBand("no")), NeedsSamples)
