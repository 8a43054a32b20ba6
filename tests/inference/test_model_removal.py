"""Removing a model: the owner (or an admin) removes a trained or uploaded model with all its
versions, through the API and the CLI; it stops being a tool everywhere, stops counting in the
owner's storage, and leaves nothing behind even when the removal is killed half-way. Built-in
models and other users' models stay."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.auth.people import People, people
from tests.inference import byo_models as byo
from tests.inference.test_uploaded_models import LIMIT, cogsight, upload
from tileserver.auth.quotas import storage_used
from tileserver.processing import PROCESSES
from tileserver.processing.models import sync_model_processes
from tileserver.processing.models.catalog import models_dir
from tileserver.processing.models.upload import REMOVED_PREFIX, sweep_staging
from tileserver.settings import Settings

pytest.importorskip("torch")
pytest.importorskip("onnx")


@pytest.fixture(scope="module")
def onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return byo.save_onnx(byo.red_net(), tmp_path_factory.mktemp("rm-files") / "roofs.onnx")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[People]:
    with people(tmp_path_factory.mktemp("rm"), max_model_bytes=LIMIT) as w:
        yield w
        shutil.rmtree(models_dir(w.settings), ignore_errors=True)
        sync_model_processes(w.settings)


def used(w: People, who: str) -> int:
    return storage_used(w.catalog, w.settings, w.ids[who])


def test_the_owner_removes_every_version_and_the_tool_goes(world: People, onnx: Path) -> None:
    for _ in range(2):
        assert upload(world, "alice", onnx, byo.card("gone-roofs")).status_code == 201
    assert world.get("alice", "/models/gone-roofs").json()["versions"] == [1, 2]
    before = used(world, "alice")
    assert before > 2 * onnx.stat().st_size

    assert world.delete("alice", "/models/gone-roofs").status_code == 204
    assert world.get("alice", "/models/gone-roofs").status_code == 404
    assert world.get("alice", "/processes/gone-roofs").status_code == 404
    assert "gone-roofs" not in {m["name"] for m in world.get("alice", "/models").json()}
    assert "gone-roofs" not in PROCESSES
    assert not (models_dir(world.settings) / "gone-roofs").exists()
    assert not list(models_dir(world.settings).glob(f"{REMOVED_PREFIX}*"))
    assert used(world, "alice") <= before - 2 * onnx.stat().st_size
    assert world.delete("alice", "/models/gone-roofs").status_code == 404
    # the name is free again, as a new model at version 1
    again = upload(world, "alice", onnx, byo.card("gone-roofs"))
    assert again.status_code == 201 and again.json()["versions"] == [1]


def test_only_the_owner_or_an_admin_removes_a_model(world: People, onnx: Path) -> None:
    assert upload(world, "bob", onnx, byo.card("bob-private")).status_code == 201
    shared = upload(world, "bob", onnx, byo.card("bob-public"), visibility="public")
    assert shared.status_code == 201
    assert world.delete("alice", "/models/bob-private").status_code == 404  # not hers to see
    refused = world.delete("alice", "/models/bob-public")
    assert refused.status_code == 403 and "someone else" in refused.json()["detail"]
    assert world.delete(None, "/models/bob-public").status_code == 401
    assert world.get("alice", "/models/bob-public").status_code == 200, "still there"
    assert world.delete("root", "/models/bob-private").status_code == 204, "an admin may"
    assert world.delete("bob", "/models/bob-public").status_code == 204


@pytest.mark.parametrize("name", ["water-optical", "building", "reproject"])
def test_built_in_models_and_tools_stay(world: People, name: str) -> None:
    """A built-in model or slot is refused (403), a tool is not a model at all (404)."""
    answer = world.delete("root", f"/models/{name}")
    if name == "reproject":
        assert answer.status_code == 404
    else:
        assert answer.status_code == 403 and "built-in" in answer.json()["detail"]
    assert name in PROCESSES


def test_another_replica_removing_a_model_drops_its_process_here(world: People, onnx: Path) -> None:
    """Another replica removed the folder: this one forgets the tool at its next sync."""
    assert upload(world, "alice", onnx, byo.card("elsewhere")).status_code == 201
    assert "elsewhere" in PROCESSES
    shutil.rmtree(models_dir(world.settings) / "elsewhere")
    assert world.get("alice", "/processes/elsewhere").status_code == 404
    assert "elsewhere" not in PROCESSES


def test_a_removal_killed_half_way_is_swept_and_never_counted(world: People, onnx: Path) -> None:
    """Killed after the rename: the hidden folder serves nothing, counts nothing, and goes."""
    assert upload(world, "alice", onnx, byo.card("half-gone")).status_code == 201
    before = used(world, "alice")
    root = models_dir(world.settings)
    (root / "half-gone").rename(root / f"{REMOVED_PREFIX}half-gone-0123456789ab")
    assert world.get("alice", "/models/half-gone").status_code == 404
    assert used(world, "alice") < before
    assert sweep_staging(world.settings) == 1
    assert not list(root.glob(f"{REMOVED_PREFIX}*"))


def test_the_command_line_removes_a_model(tmp_path: Path, onnx: Path) -> None:
    card = byo.write_card(byo.card("cli-gone"), tmp_path / "card.json")
    try:
        added = cogsight(tmp_path, "model", "add", str(onnx), "--card", str(card))
        assert added.exit_code == 0, added.output
        removed = cogsight(tmp_path, "model", "rm", "cli-gone")
        assert removed.exit_code == 0 and "removed cli-gone" in removed.output
        assert "cli-gone" not in cogsight(tmp_path, "model", "list").output
        again = cogsight(tmp_path, "model", "rm", "cli-gone")
        assert again.exit_code == 1 and "not found" in again.output
        built_in = cogsight(tmp_path, "model", "rm", "water-optical")
        assert built_in.exit_code == 1 and "built-in" in built_in.output
    finally:
        shutil.rmtree(tmp_path / "models", ignore_errors=True)
        sync_model_processes(Settings(data_dir=tmp_path))


def test_a_job_queued_for_a_removed_model_fails_with_the_reason(world: People, onnx: Path) -> None:
    """Not 'Unknown process ... Known: <every process>': that list held other users' private
    model names."""
    from tileserver.jobs.execute import execute_job
    from tileserver.jobs.store import JobStore

    assert upload(world, "bob", onnx, byo.card("bobs-secret")).status_code == 201
    assert upload(world, "alice", onnx, byo.card("queued-roofs")).status_code == 201
    job = JobStore(world.catalog).create("queued-roofs", {"dataset": "x"}, world.ids["alice"])
    assert world.delete("alice", "/models/queued-roofs").status_code == 204
    assert execute_job(job.id, world.settings.model_dump(mode="json")) == "failed"
    message = world.get("alice", f"/jobs/{job.id}").json()["message"]
    assert message == "The process 'queued-roofs' is no longer available: its model was removed."
    assert "bobs-secret" not in message
