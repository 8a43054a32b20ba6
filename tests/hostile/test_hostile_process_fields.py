"""Hostile process inputs by every field name, and hostile use of other users' models.

For EVERY registered process and EVERY input field that names a dataset (found from the inputs
model, as the API finds it), alice puts bob's private dataset id there: 404, worded as for an id
that does not exist, and no job queued. Every other string input carrying that id is refused
too (400 or 404), never queued. Bob's private model: absent from alice's and anonymous
``/processes``, 404 to describe and to run, and its name cannot be trained over.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any, get_args, get_origin

import pytest

from tests.auth.people import People, people, water_mask, water_polygons, water_scene
from tests.hostile.checks import assert_refused
from tileserver.jobs.execute import execute_job
from tileserver.jobs.store import JobStore
from tileserver.processing import PROCESSES, Process
from tileserver.processing.base import dataset_fields
from tileserver.processing.models import ModelProcess
from tileserver.processing.models.catalog import models_dir

HIDDEN = "{hidden}"
TOOL_INPUTS: dict[str, dict[str, Any]] = {
    "animation": {"datasets": ["{scene}", "{scene2}"]},
    "clip": {"dataset": "{scene}", "vector": "{vector}"},
    "composite": {"datasets": ["{scene}", "{scene2}"]},
    "index": {"dataset": "{scene}", "index": "NDVI"},
    "mosaic": {"datasets": ["{scene}", "{scene2}"]},
    "reproject": {"dataset": "{scene}", "crs": "EPSG:4326"},
    "resample": {"dataset": "{scene}", "resolution": 20},
    "train": {
        "name": "probe-model",
        "task": "change",
        "dataset": "{scene}",
        "datasets": ["{scene}", "{scene2}"],
        "labels": "{mask}",
    },
}
"""Valid inputs of each tool (a new tool needs a row: the coverage test says so)."""
MODEL_INPUTS: dict[str, dict[str, Any]] = {
    "segmentation": {"dataset": "{scene}", "reference": "{mask}"},
    "change": {"datasets": ["{scene}", "{scene2}"], "reference": "{mask}"},
    "enhancement": {"dataset": "{scene}"},
}


def valid_inputs(process: Process) -> dict[str, Any]:
    if isinstance(process, ModelProcess):
        return MODEL_INPUTS[process.spec.task]
    return TOOL_INPUTS[process.id]


def _built_in() -> list[Process]:
    return [p for p in PROCESSES if p.owner is None]


CASES = [(p.id, field) for p in _built_in() for field in dataset_fields(p.inputs)]


def _strings(process: Process) -> list[str]:
    """Inputs typed as (optional) strings that do not name datasets: titles, names, indices."""
    named = set(dataset_fields(process.inputs))
    out = []
    for name, info in process.inputs.model_fields.items():
        kinds = {info.annotation, *get_args(info.annotation)} - {type(None)}
        if name not in named and kinds == {str} and get_origin(info.annotation) is not list:
            out.append(name)
    return out


STRING_CASES = [(p.id, field) for p in _built_in() for field in _strings(p)]


def _fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**ids) if value.startswith("{") else value
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    return value


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[People]:
    files = tmp_path_factory.mktemp("hostile-fields-files")
    with people(tmp_path_factory.mktemp("hostile-fields")) as w:
        scene, mask = water_scene(files / "a.tif"), water_mask(files / "m.tif")
        w.ds = {
            "scene": w.raster("alice", "public", scene, "alice scene"),
            "scene2": w.raster("alice", "public", water_scene(files / "b.tif"), "alice 2"),
            "mask": w.raster("alice", "public", mask, "alice mask"),
            "vector": w.vector("alice", "public", water_polygons(files / "w.geojson"), "zones"),
            "hidden": w.raster("bob", "private", scene, "bobs secret scene"),
        }
        yield w
        shutil.rmtree(models_dir(w.settings), ignore_errors=True)
        PROCESSES._items.pop("bob-secret-model", None)


def test_every_process_has_valid_inputs_in_the_table() -> None:
    tools = {p.id for p in _built_in() if not isinstance(p, ModelProcess)}
    assert tools <= set(TOOL_INPUTS), sorted(tools - set(TOOL_INPUTS))
    assert all(dataset_fields(p.inputs) for p in _built_in())  # every process reads datasets


@pytest.mark.parametrize(("process_id", "field"), CASES)
def test_a_hidden_dataset_in_any_dataset_input_is_a_404(
    world: People, process_id: str, field: str
) -> None:
    ids: dict[str, str] = world.ds
    process = PROCESSES.get(process_id)
    inputs = {k: _fill(v, ids) for k, v in valid_inputs(process).items()}
    current = inputs.get(field)
    inputs[field] = [ids["hidden"], *current[1:]] if isinstance(current, list) else ids["hidden"]
    before = world.jobs()
    response = world.post("alice", f"/processes/{process_id}/execution", json={"inputs": inputs})
    assert_refused(response, 404, "dataset_not_found", hidden=("bobs secret scene",))
    assert response.json()["detail"] == f"No dataset with id '{ids['hidden']}'."
    assert world.jobs() == before, "no job was queued"


@pytest.mark.parametrize(("process_id", "field"), STRING_CASES)
def test_a_hidden_dataset_in_any_other_string_input_is_refused(
    world: People, process_id: str, field: str
) -> None:
    ids: dict[str, str] = world.ds
    process = PROCESSES.get(process_id)
    inputs = {k: _fill(v, ids) for k, v in valid_inputs(process).items()}
    inputs[field] = ids["hidden"]
    before = world.jobs()
    response = world.post("alice", f"/processes/{process_id}/execution", json={"inputs": inputs})
    assert_refused(response, (400, 404), hidden=("bobs secret scene",))
    assert world.jobs() == before, "no job was queued"


# --- model ownership ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def secret_model(world: People) -> str:
    """Bob's private model, trained (briefly) on his private scene."""
    ids = world.ds
    inputs = {
        "name": "bob-secret-model",
        "dataset": ids["hidden"],
        "labels": ids["mask"],
        "bands": ["green", "nir"],
        "classes": {"0": "land", "1": "water"},
        "time_budget_s": 1,
        "max_epochs": 1,
    }
    job = JobStore(world.catalog).create("train", inputs, owner=world.ids["bob"])
    assert execute_job(job.id, world.settings.model_dump(mode="json")) == "successful"
    return "bob-secret-model"


def _model_requests(name: str, scene: str) -> dict[str, tuple[str, str, Any]]:
    return {
        "describe": ("GET", f"/processes/{name}", None),
        "describe-upper": ("GET", f"/processes/{name.upper()}", None),
        "run": ("POST", f"/processes/{name}/execution", {"inputs": {"dataset": scene}}),
        "run-sync": ("POST", f"/processes/{name}/execution", {"inputs": {"dataset": scene}}),
        "run-empty": ("POST", f"/processes/{name}/execution", {"inputs": {}}),
    }


MODEL_REQUESTS = list(_model_requests("x", "y"))


@pytest.mark.parametrize("who", ["alice", None])
@pytest.mark.parametrize("case", MODEL_REQUESTS)
def test_another_users_private_model_does_not_exist_for_them(
    world: People, secret_model: str, who: str | None, case: str
) -> None:
    method, url, body = _model_requests(secret_model, world.ds["scene"])[case]
    before = world.jobs()
    headers = {"Prefer": "respond-sync"} if case == "run-sync" else {}
    if method == "GET":
        response = world.get(who, url)
    else:
        response = world.post(who, url, json=body, headers=headers)
    expected = 401 if who is None and method == "POST" else 404  # anonymous: no writes at all
    assert_refused(response, expected, hidden=(world.ids["bob"], "bobs secret scene"))
    if expected == 404:
        known = response.json()["detail"].split("Known:")[1]
        assert secret_model not in known
    assert world.jobs() == before, "no job was queued"
    listed = world.get(who, "/processes")
    assert secret_model not in listed.text and secret_model in world.get("bob", "/processes").text


@pytest.mark.parametrize("overwrite", [True, False])
def test_another_users_private_model_cannot_be_trained_over(
    world: People, secret_model: str, overwrite: bool
) -> None:
    ids = world.ds
    card = (models_dir(world.settings) / secret_model / "card.json").read_bytes()
    before = world.jobs()
    inputs = {"name": secret_model, "dataset": ids["scene"], "labels": ids["mask"]}
    response = world.post(
        "alice",
        "/processes/train/execution",
        json={"inputs": inputs | {"overwrite": overwrite, "title": "mine now"}},
    )
    assert_refused(response, 409, hidden=(world.ids["bob"],))
    assert response.json()["detail"].startswith(f"A model named '{secret_model}' exists already")
    assert world.jobs() == before, "no job was queued"
    assert (models_dir(world.settings) / secret_model / "card.json").read_bytes() == card
