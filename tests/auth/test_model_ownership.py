"""Trained models belong to who trained them: private by default, invisible to others wherever
processes appear, replaced only by their owner or an admin; neither a model's description nor
a failed job names the server's folders or data the caller cannot see."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from tests.auth.people import People, people, water_mask, water_scene
from tileserver.jobs.execute import execute_job
from tileserver.jobs.store import JobStore
from tileserver.processing import PROCESSES
from tileserver.processing.context import JobContext
from tileserver.processing.models import sync_model_processes
from tileserver.processing.models.catalog import models_dir
from tileserver.processing.models.train import TrainInputs, TrainProcess

pytest.importorskip("torch")

QUICK = {"bands": ["green", "nir"], "time_budget_s": 1, "max_epochs": 1}
CLASSES = {"0": "land", "1": "water"}


def _run(world: People, who: str | None, process: str, inputs: dict[str, Any]) -> dict:
    """Run a job as ``who`` to its end in this process, as a worker would; its status JSON."""
    owner = world.ids[who] if who else None
    job = JobStore(world.catalog).create(process, inputs, owner=owner)
    execute_job(job.id, world.settings.model_dump(mode="json"))
    return world.get("root", f"/jobs/{job.id}").json()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[People]:
    files = tmp_path_factory.mktemp("ownership-files")
    with people(tmp_path_factory.mktemp("ownership")) as w:
        scene, mask = water_scene(files / "scene.tif"), water_mask(files / "mask.tif")
        w.ds = {
            "alice-scene": w.raster("alice", "public", scene, "alice scene"),
            "alice-mask": w.raster("alice", "private", mask, "alice mask"),
            "bob-scene": w.raster("bob", "private", scene, "bob scene"),
            "bob-mask": w.raster("bob", "private", mask, "bob mask"),
            "float-mask": w.raster(
                "alice", "private", water_mask(files / "f.tif", dtype="float32"), "float"
            ),
        }
        ds = w.ds
        trained = {
            "alice-water": _run(
                w,
                "alice",
                "train",
                {"name": "alice-water", "dataset": ds["alice-scene"], "labels": ds["alice-mask"]}
                | QUICK
                | {"classes": CLASSES},
            ),
            "bob-water": _run(
                w,
                "bob",
                "train",
                {
                    "name": "bob-water",
                    "dataset": ds["bob-scene"],
                    "labels": ds["bob-mask"],
                    "visibility": "public",
                    "title": "Bob's water",
                }
                | QUICK
                | {"classes": CLASSES},
            ),
        }
        for name, status in trained.items():
            assert status["status"] == "successful", (name, status["message"])
        yield w
        shutil.rmtree(models_dir(w.settings), ignore_errors=True)
        sync_model_processes(w.settings)  # the shared registries forget these models
        for name in ("alice-water", "bob-water", "broken-water"):
            PROCESSES._items.pop(name, None)


def _card(world: People, name: str) -> dict:
    return json.loads((models_dir(world.settings) / name / "card.json").read_text())


def _listed(world: People, who: str | None) -> set[str]:
    return {p["id"] for p in world.get(who, "/processes").json()["processes"]}


def test_a_users_model_is_private_to_them_by_default(world: People) -> None:
    card = _card(world, "alice-water")
    assert (card["owner"], card["visibility"]) == (world.ids["alice"], "private")
    assert card["dataset"]["images"] == [world.ds["alice-scene"]]
    assert card["dataset"]["labels"] == world.ds["alice-mask"]
    assert "alice-water" in _listed(world, "alice") and "alice-water" in _listed(world, "root")
    described = world.get("alice", "/processes/alice-water").json()
    assert described["model"]["visibility"] == "private"


@pytest.mark.parametrize("who", ["bob", None])
def test_a_private_model_is_invisible_to_others_everywhere(world: People, who: str | None) -> None:
    assert "alice-water" not in _listed(world, who)
    assert "bob-water" in _listed(world, who)  # public
    hidden = world.get(who, "/processes/alice-water")
    unknown = world.get(who, "/processes/nobodys-model")
    assert hidden.status_code == unknown.status_code == 404
    assert hidden.json()["detail"] == unknown.json()["detail"].replace(
        "nobodys-model", "alice-water"
    )
    assert "alice-water" not in hidden.text.split("Known:")[1]
    before = world.jobs()
    run = world.post(
        who,
        "/processes/alice-water/execution",
        json={"inputs": {"dataset": world.ds["alice-scene"]}},
    )
    assert run.status_code in ((404,) if who else (401,)), run.text
    assert world.jobs() == before
    # its owner reaches it (stopped here by a missing input, before anything is queued)
    mine = world.post("alice", "/processes/alice-water/execution", json={"inputs": {}})
    assert mine.status_code == 400 and "dataset" in mine.json()["detail"], mine.text


def test_only_the_owner_or_an_admin_trains_over_a_model(world: People) -> None:
    ds = world.ds
    before_card, before_jobs = _card(world, "bob-water"), world.jobs()

    def train(who: str, name: str, **more: Any) -> Any:
        inputs = {"name": name, "dataset": ds["alice-scene"], "labels": ds["alice-mask"]}
        if who == "bob":
            inputs |= {"dataset": ds["bob-scene"], "labels": ds["bob-mask"]}
        body = {"inputs": inputs | {"title": "Hijacked"} | more}
        return world.post(who, "/processes/train/execution", json=body)

    stolen = train("alice", "bob-water", overwrite=True)
    assert stolen.status_code == 403, stolen.text
    assert "someone else" in stolen.json()["detail"]
    again = train("alice", "bob-water")
    assert again.status_code == 409 and "exists already" in again.json()["detail"]
    # a private model's name is taken, answered as for a visible model without overwrite
    hidden = train("bob", "alice-water", overwrite=True)
    assert hidden.status_code == 409, hidden.text
    assert hidden.json()["detail"] == again.json()["detail"].replace("bob-water", "alice-water")
    assert world.jobs() == before_jobs
    # the owner and an admin pass the ownership check (stopped by a band the image lacks)
    for who, name in (("alice", "alice-water"), ("root", "bob-water")):
        allowed = train(who, name, overwrite=True, bands=["swir22"])
        assert allowed.status_code == 400 and "swir22" in allowed.json()["detail"], allowed.text
    assert world.jobs() == before_jobs
    # checked again where the job runs: a job queued for alice by any other way fails
    sneaked = _run(
        world,
        "alice",
        "train",
        {"name": "bob-water", "dataset": ds["alice-scene"], "labels": ds["alice-mask"]}
        | QUICK
        | {"overwrite": True, "title": "Hijacked"},
    )
    assert sneaked["status"] == "failed" and "someone else" in sneaked["message"]
    after = _card(world, "bob-water")
    assert after == before_card and after["title"] == "Bob's water"
    assert world.get("alice", "/processes/bob-water").json()["title"] == "Bob's water"


def test_trained_without_a_user_a_model_is_public(world: People) -> None:
    """Single-user mode and the CLI run jobs without an owner: what they train is public, as
    the datasets such jobs write."""
    params = TrainInputs.model_validate({"name": "solo-model", "dataset": "x", "labels": "y"})
    for owner, expected in ((None, (None, "public")), ("u1", ("u1", "private"))):
        ctx = JobContext(world.catalog, world.settings, owner=owner)
        try:
            assert TrainProcess()._ownership(params, ctx) == expected
        finally:
            ctx.cleanup()


def test_a_public_models_description_names_no_data_of_its_owner(world: People) -> None:
    described = world.get("alice", "/processes/bob-water")
    assert described.status_code == 200
    text = described.text
    for hidden in ("bob-scene", "bob-mask"):
        assert world.ds[hidden] not in text
    assert str(world.settings.data_dir) not in text
    assert "labelled pixels" in described.json()["description"]


def test_failed_model_and_training_jobs_name_no_server_paths(world: People) -> None:
    data = str(world.settings.data_dir.resolve())
    ds = world.ds
    bad_labels = _run(
        world,
        "alice",
        "train",
        {"name": "float-water", "dataset": ds["alice-scene"], "labels": ds["float-mask"]} | QUICK,
    )
    assert bad_labels["status"] == "failed"
    assert "class rasters must hold integers" in bad_labels["message"]
    assert ds["float-mask"] in bad_labels["message"]  # named by its id
    # a model whose weights changed on disk since training
    folder = models_dir(world.settings)
    shutil.copytree(folder / "alice-water", folder / "broken-water")
    card = _card(world, "broken-water") | {"name": "broken-water"}
    (folder / "broken-water" / "card.json").write_text(json.dumps(card))
    with (folder / "broken-water" / "model.pt").open("ab") as weights:
        weights.write(b"tampered")
    broken = _run(world, "alice", "broken-water", {"dataset": ds["alice-scene"]})
    assert broken["status"] == "failed" and "SHA-256" in broken["message"], broken["message"]
    assert "model.pt" in broken["message"]
    for status in (bad_labels, broken):
        job = world.get("alice", f"/jobs/{status['jobID']}").text
        assert data not in job and str(world.settings.data_dir) not in job, job
    described = world.get("alice", "/processes/broken-water").text
    assert data not in described
