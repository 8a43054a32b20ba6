"""Bring your own model: an ONNX or TorchScript file with its card, through the API, the CLI and
a real server; checked on zeros, versioned, a tool at once, refused precisely when it does not
fit its card, with nothing half-registered and the previous version still serving."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import rasterio
from typer.testing import CliRunner

from tests.auth.people import People, people
from tests.inference import byo_models as byo
from tests.polling import wait_for_job
from tests.servers import ROOT, uvicorn_server
from tileserver.catalog import Catalog
from tileserver.jobs.execute import execute_job
from tileserver.jobs.store import JobStore
from tileserver.processing.models import sync_model_processes
from tileserver.processing.models.catalog import models_dir
from tileserver.settings import Settings
from tileserver.sources import local_path

pytest.importorskip("torch")
pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

LIMIT = 64 * 1024  # COGSIGHT_MAX_MODEL_BYTES of the test deployment; the networks are ~2-6 KiB


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("byo-files")
    net = byo.red_net()
    out = {
        "onnx": byo.save_onnx(net, folder / "roofs.onnx"),
        "torchscript": byo.save_torchscript(net, folder / "roofs.pt"),
        "state_dict": byo.save_state_dict(net, folder / "weights.pt"),
        "scene": byo.red_scene(folder / "scene.tif"),
        "garbage": folder / "model.onnx",
        "onnx_like_garbage": folder / "broken.onnx",
        "huge": folder / "huge.onnx",
    }
    rng = np.random.default_rng(13)
    out["garbage"].write_bytes(b"GIF89a" + rng.bytes(3000))
    out["onnx_like_garbage"].write_bytes(b"\x08\x07" + rng.bytes(3000))
    out["huge"].write_bytes(b"\x08\x07" + bytes(LIMIT))
    assert out["onnx"].stat().st_size < LIMIT and out["torchscript"].stat().st_size < LIMIT
    return out


def upload(w: People, who: str | None, path: Path, card: dict[str, Any], **fields: str) -> Any:
    return w.post(
        who,
        "/models",
        files={"file": (path.name, path.read_bytes(), "application/octet-stream")},
        data={"card": json.dumps(card), **fields},
    )


def classes_of(catalog: Catalog, settings: Settings, dataset_id: str) -> np.ndarray:
    record = catalog.get_dataset(dataset_id)
    with rasterio.open(local_path(record.uri, settings)) as src:
        return src.read(1)


def run_tool(w: People, who: str, name: str, dataset: str) -> dict[str, Any]:
    """Run the model ``name`` as ``who`` to its end in this process, as a worker would."""
    job = JobStore(w.catalog).create(name, {"dataset": dataset, "vectorize": False}, w.ids[who])
    execute_job(job.id, w.settings.model_dump(mode="json"))
    status = w.get("root", f"/jobs/{job.id}").json()
    assert status["status"] == "successful", status["message"]
    return w.get("root", f"/jobs/{job.id}/results").json()["values"]


def stored(settings: Settings) -> set[str]:
    """Every file under the models folder, relative (locks aside)."""
    root = models_dir(settings)
    return {str(p.relative_to(root)) for p in root.rglob("*") if not p.name.endswith(".lock")}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, files: dict[str, Path]) -> Iterator[People]:
    with people(tmp_path_factory.mktemp("byo"), max_model_bytes=LIMIT) as w:
        w.ds = {
            "alice-scene": w.raster("alice", "private", files["scene"], "alice scene"),
            "bob-scene": w.raster("bob", "private", files["scene"], "bob scene"),
        }
        yield w
        shutil.rmtree(models_dir(w.settings), ignore_errors=True)
        sync_model_processes(w.settings)  # the shared registries forget these models


# --- the API ---------------------------------------------------------------------------------
def test_an_uploaded_onnx_model_is_a_tool_at_once(world: People, files: dict[str, Path]) -> None:
    response = upload(world, "alice", files["onnx"], byo.card("roofs"))
    assert response.status_code == 201, response.text
    model = response.json()
    assert (model["name"], model["version"], model["versions"]) == ("roofs", 1, [1])
    assert (model["kind"], model["source"], model["visibility"]) == ("onnx", "uploaded", "private")
    assert model["owner"] == world.ids["alice"] and model["bands"] == ["red", "green", "blue"]
    listed = {p["id"] for p in world.get("alice", "/processes").json()["processes"]}
    assert "roofs" in listed
    described = world.get("alice", "/processes/roofs").json()
    assert described["model"]["classes"]["1"]["name"] == "red roof"

    values = run_tool(world, "alice", "roofs", world.ds["alice-scene"])
    got = classes_of(world.catalog, world.settings, values["raster"])
    np.testing.assert_array_equal(got, byo.expected_classes(1))


def test_a_torchscript_upload_is_the_next_version(world: People, files: dict[str, Path]) -> None:
    card = byo.card("roofs", classes={0: "other", 5: "red roof"})
    response = upload(world, "alice", files["torchscript"], card)
    assert response.status_code == 201, response.text
    model = response.json()
    assert (model["version"], model["versions"], model["kind"]) == (2, [1, 2], "torchscript")
    assert model["visibility"] == "private", "a new version keeps the model's visibility"

    values = run_tool(world, "alice", "roofs", world.ds["alice-scene"])
    got = classes_of(world.catalog, world.settings, values["raster"])
    np.testing.assert_array_equal(got, byo.expected_classes(5))  # channel 1 is class id 5


REFUSALS = [
    # (case, file, card changes, status, words of the reason)
    (
        "more classes than outputs",
        "torchscript",
        {"classes": {str(k): {"name": f"c{k}", "color": "#123456"} for k in (0, 1, 2)}},
        400,
        "returns 2 channels but the card has 3 classes",
    ),
    (
        "a band too many (ONNX)",
        "onnx",
        {"bands": ["red", "green", "blue", "nir"]},
        400,
        "takes 3 input bands but the card names 4",
    ),
    (
        "a band too many (TorchScript)",
        "torchscript",
        {"bands": ["red", "green", "blue", "nir"]},
        400,
        "to have 3 channels, but got 4",
    ),
    ("garbage", "garbage", {}, 415, "neither an ONNX model nor a TorchScript archive"),
    ("garbage that starts like ONNX", "onnx_like_garbage", {}, 400, "not a loadable ONNX model"),
    ("a pickled state dict", "state_dict", {}, 415, "pickled PyTorch file"),
    ("over the size limit", "huge", {}, 413, "COGSIGHT_MAX_MODEL_BYTES"),
    ("a card without classes", "onnx", {"classes": {}}, 400, "classes"),
    ("a chip too small for the card", "onnx", {"chip_size": 8}, 400, "chip_size"),
]


@pytest.mark.parametrize(("case", "file", "change", "status", "words"), REFUSALS)
def test_a_model_that_does_not_fit_is_refused_and_nothing_changes(
    world: People,
    files: dict[str, Path],
    case: str,
    file: str,
    change: dict[str, Any],
    status: int,
    words: str,
) -> None:
    before = stored(world.settings)
    card = byo.card("roofs", classes={0: "other", 5: "red roof"}) | change
    response = upload(world, "alice", files[file], card)
    assert response.status_code == status, (case, response.text)
    detail = response.json()["detail"]
    assert words in detail, (case, detail)
    assert str(world.settings.data_dir) not in detail and "/tmp" not in detail
    assert stored(world.settings) == before, "nothing stored, no staging left behind"
    assert world.get("alice", "/models/roofs").json()["version"] == 2

    fresh = upload(world, "alice", files[file], {**card, "name": f"ghost-{file.replace('_', '-')}"})
    assert fresh.status_code == status
    assert world.get("alice", f"/models/ghost-{file.replace('_', '-')}").status_code == 404
    assert stored(world.settings) == before


def test_the_previous_version_keeps_serving_after_refusals(world: People) -> None:
    values = run_tool(world, "alice", "roofs", world.ds["alice-scene"])
    got = classes_of(world.catalog, world.settings, values["raster"])
    np.testing.assert_array_equal(got, byo.expected_classes(5))


def test_another_users_private_model_is_not_found(world: People, files: dict[str, Path]) -> None:
    assert world.get("bob", "/models/roofs").status_code == 404
    assert world.get("bob", "/processes/roofs").status_code == 404
    assert "roofs" not in {m["name"] for m in world.get("bob", "/models").json()}
    run = world.post(
        "bob", "/processes/roofs/execution", json={"inputs": {"dataset": world.ds["bob-scene"]}}
    )
    assert run.status_code == 404
    taken = upload(world, "bob", files["onnx"], byo.card("roofs"))
    assert taken.status_code == 409 and "exists already" in taken.json()["detail"]
    assert world.get("root", "/models/roofs").json()["version"] == 2, "admins see every model"
    assert upload(world, None, files["onnx"], byo.card("anon")).status_code == 401


def test_public_models_are_shared_but_only_their_owner_adds_versions(
    world: People, files: dict[str, Path]
) -> None:
    shared = upload(world, "bob", files["onnx"], byo.card("bob-roofs"), visibility="public")
    assert shared.status_code == 201 and shared.json()["visibility"] == "public"
    assert world.get("alice", "/models/bob-roofs").json()["owner"] == world.ids["bob"]
    values = run_tool(world, "alice", "bob-roofs", world.ds["alice-scene"])
    got = classes_of(world.catalog, world.settings, values["raster"])
    np.testing.assert_array_equal(got, byo.expected_classes(1))
    other = upload(world, "alice", files["onnx"], byo.card("bob-roofs"))
    assert other.status_code == 403
    built_in = upload(world, "alice", files["onnx"], byo.card("water-optical"))
    assert built_in.status_code == 409 and "built-in" in built_in.json()["detail"]
    tool = upload(world, "alice", files["onnx"], byo.card("reproject"))
    assert tool.status_code == 409 and "tool" in tool.json()["detail"]


# --- the command line ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cli_data(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    data = tmp_path_factory.mktemp("byo-cli")
    yield data
    shutil.rmtree(data / "models", ignore_errors=True)
    sync_model_processes(Settings(data_dir=data))


def cogsight(data: Path, *args: str) -> Any:
    from tileserver.cli import app

    return CliRunner().invoke(app, list(args), env={"COGSIGHT_DATA_DIR": str(data)})


def test_cli_adds_a_model_from_a_card_or_flags_and_runs_it(
    cli_data: Path, files: dict[str, Path], tmp_path: Path
) -> None:
    card = byo.write_card(byo.card("cli-roofs"), tmp_path / "card.json")
    first = cogsight(cli_data, "model", "add", str(files["onnx"]), "--card", str(card))
    assert first.exit_code == 0, first.output
    assert "cli-roofs version 1 (onnx)" in first.output
    flags = [
        "--name", "cli-roofs", "--bands", "red,green,blue", "--classes",
        "0=other:#000000,7=red roof:#ff0000", "--scale", str(1 / 255), "--chip", "64", "--logits",
    ]  # fmt: skip
    second = cogsight(cli_data, "model", "add", str(files["torchscript"]), *flags)
    assert second.exit_code == 0, second.output
    assert "cli-roofs version 2 (torchscript)" in second.output
    pickled = cogsight(cli_data, "model", "add", str(files["state_dict"]), "--card", str(card))
    assert pickled.exit_code == 1 and "pickled PyTorch file" in pickled.output
    listed = cogsight(cli_data, "model", "list")
    assert any(
        line.split()[:3] == ["cli-roofs", "uploaded", "v2"] for line in listed.output.splitlines()
    )

    added = cogsight(cli_data, "add", str(files["scene"]), "--title", "red scene")
    assert added.exit_code == 0, added.output
    settings = Settings(data_dir=cli_data)
    catalog = Catalog(settings.resolved_database_url)
    scene = next(r for r in catalog.find_datasets() if r.title == "red scene")
    ran = cogsight(cli_data, "run", "cli-roofs", "--input", f"dataset={scene.id}")
    assert ran.exit_code == 0, ran.output
    result = next(
        r
        for r in catalog.find_datasets()
        if r.kind == "raster" and r.properties.get("model") == "cli-roofs"
    )
    got = classes_of(catalog, settings, result.id)
    np.testing.assert_array_equal(got, byo.expected_classes(7))


def test_a_killed_upload_leaves_nothing_registered(
    cli_data: Path, files: dict[str, Path], tmp_path: Path
) -> None:
    """SIGKILL while the new version is being checked: the model still serves version 2."""
    settings = Settings(data_dir=cli_data)
    root = models_dir(settings)
    card = byo.write_card(byo.card("cli-roofs"), tmp_path / "card.json")
    env = {**os.environ, "COGSIGHT_DATA_DIR": str(cli_data)}
    command = [sys.executable, "-m", "tileserver.cli", "model", "add", str(files["onnx"])]
    proc = subprocess.Popen(
        [*command, "--card", str(card)], cwd=ROOT, env=env, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 120
        while not list(root.glob(".upload-cli-roofs-*/card.json")):
            assert proc.poll() is None and time.monotonic() < deadline, "no staging seen"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert json.loads((root / "cli-roofs" / "card.json").read_text())["version"] == 2
    listed = cogsight(cli_data, "model", "list")
    assert any(
        line.split()[:3] == ["cli-roofs", "uploaded", "v2"] for line in listed.output.splitlines()
    )
    assert sorted(p.name for p in (root / "cli-roofs").iterdir() if p.is_dir()) == ["v1", "v2"]


# --- a real server on loopback -----------------------------------------------------------------
def test_upload_and_run_on_a_real_server(tmp_path: Path, files: dict[str, Path]) -> None:
    env = {"COGSIGHT_DASK_WORKERS": "1", "COGSIGHT_TILE_CACHE_BYTES": "0"}
    with uvicorn_server(tmp_path, env=env) as url, httpx.Client(base_url=url, timeout=120) as http:
        scene = http.post(
            "/datasets",
            files={"file": ("scene.tif", files["scene"].read_bytes(), "image/tiff")},
            data={"bands": "red,green,blue"},
        )
        assert scene.status_code == 201, scene.text
        model = http.post(
            "/models",
            files={"file": ("roofs.onnx", files["onnx"].read_bytes())},
            data={"card": json.dumps(byo.card("live-roofs"))},
        )
        assert model.status_code == 201, model.text
        assert model.json()["visibility"] == "public", "single-user mode shares what it makes"
        assert any(m["name"] == "live-roofs" for m in http.get("/models").json())
        job = http.post(
            "/processes/live-roofs/execution",
            json={"inputs": {"dataset": scene.json()["id"], "vectorize": False}},
        )
        assert job.status_code == 201, job.text
        status = wait_for_job(http, job.headers["Location"], timeout=240)
        assert status["status"] == "successful", status["message"]
        raster = http.get(f"{job.headers['Location']}/results").json()["values"]["raster"]
        settings = Settings(data_dir=tmp_path)
        got = classes_of(Catalog(settings.resolved_database_url), settings, raster)
        np.testing.assert_array_equal(got, byo.expected_classes(1))
    shutil.rmtree(tmp_path / "models", ignore_errors=True)
    sync_model_processes(Settings(data_dir=tmp_path))
