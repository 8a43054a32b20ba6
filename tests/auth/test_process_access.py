"""Processes never reach another user's private data, whatever the input is called; jobs without
an owner are the admins'; a job's files are as private as the job."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field

from tests.auth.people import (
    People,
    people,
    recovered,
    water_mask,
    water_polygons,
    water_scene,
)
from tests.scaleout.pg import pg_bindir, pg_cluster
from tileserver.catalog import Catalog
from tileserver.catalog.engine import dispose_shared
from tileserver.http.app import create_app
from tileserver.jobs.store import JobStatus, JobStore
from tileserver.processing import PROCESSES, Process, ProcessResult
from tileserver.processing.base import DatasetId, dataset_fields, dataset_ids, other_strings
from tileserver.processing.context import JobContext
from tileserver.settings import Settings


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[People]:
    files = tmp_path_factory.mktemp("process-access-files")
    with people(tmp_path_factory.mktemp("process-access")) as w:
        scene, mask = water_scene(files / "scene.tif"), water_mask(files / "mask.tif")
        polygons = water_polygons(files / "water.geojson")
        w.ds = {
            "alice-scene": w.raster("alice", "public", scene, "alice scene"),
            "alice-mask": w.raster("alice", "private", mask, "alice mask"),
            "bob-scene": w.raster("bob", "private", water_scene(files / "b.tif", shift=8), "b1"),
            "bob-scene-2": w.raster("bob", "private", water_scene(files / "c.tif"), "b2"),
            "bob-truth": w.raster("bob", "private", mask, "bob truth"),
            "bob-vector": w.vector("bob", "private", polygons, "bob polygons"),
        }
        yield w


def _train(world: People, who: str, **inputs: Any) -> Any:
    body = {"name": "probe-model", "dataset": world.ds["alice-scene"], "bands": ["green", "nir"]}
    return world.post(who, "/processes/train/execution", json={"inputs": {**body, **inputs}})


@pytest.mark.parametrize("labels", ["bob-vector", "bob-truth"])
def test_train_refuses_labels_the_caller_cannot_see(world: People, labels: str) -> None:
    hidden = world.ds[labels]
    before = world.jobs()
    response = _train(world, "alice", labels=hidden)
    assert response.status_code == 404, response.text
    assert response.json()["detail"] == f"No dataset with id '{hidden}'."
    unknown = _train(world, "alice", labels="0123456789ab")
    assert unknown.json()["detail"] == "No dataset with id '0123456789ab'."  # the same answer
    assert world.jobs() == before
    # the owner passes the same check (and is stopped only by the band she asked for)
    own = _train(world, "bob", labels=hidden, dataset=world.ds["bob-scene"], bands=["swir22"])
    assert own.status_code == 400 and "swir22" in own.json()["detail"], own.text
    assert world.jobs() == before


def test_a_model_run_refuses_a_reference_the_caller_cannot_see(world: People) -> None:
    before = world.jobs()
    response = world.post(
        "alice",
        "/processes/water-optical/execution",
        json={"inputs": {"dataset": world.ds["alice-scene"], "reference": world.ds["bob-truth"]}},
    )
    assert response.status_code == 404, response.text
    assert world.ds["bob-truth"] in response.json()["detail"]
    assert world.jobs() == before


class Nested(BaseModel):
    scene: DatasetId
    note: str = ""


class ProbeInputs(BaseModel):
    """Dataset inputs under names and shapes no API code knows of."""

    base_scene: DatasetId
    extra_scenes: list[DatasetId] = Field(default_factory=list)
    maybe_scene: DatasetId | None = None
    nested: Nested | None = None
    comment: str | None = None  # a plain string: still refused when it is a hidden dataset's id


class ProbeProcess(Process):
    id = "access-probe"
    title = "probe"
    description = "Returns the ids it was given."
    inputs = ProbeInputs
    outputs: ClassVar[dict[str, str]] = {"values": "ids"}

    def run(self, params: ProbeInputs, ctx: JobContext) -> ProcessResult:
        return ProcessResult(values={"ids": dataset_ids(params)})


@pytest.fixture
def probe() -> Iterator[str]:
    """A process registered after the API was written, as a plug-in would be."""
    PROCESSES.register(ProbeProcess.id, ProbeProcess())
    try:
        yield ProbeProcess.id
    finally:
        PROCESSES._items.pop(ProbeProcess.id, None)


def test_dataset_inputs_are_found_from_the_inputs_model() -> None:
    assert dataset_fields(ProbeInputs) == ["base_scene", "extra_scenes", "maybe_scene", "nested"]
    params = ProbeInputs(
        base_scene="a",
        extra_scenes=["b", "c"],
        maybe_scene="d",
        nested={"scene": "e", "note": "n"},  # type: ignore[arg-type]
        comment="f",
    )
    assert dataset_ids(params) == ["a", "b", "c", "d", "e"]
    assert other_strings(params) == ["n", "f"]
    train = PROCESSES.get("train").inputs
    assert dataset_fields(train) == ["dataset", "datasets", "labels"]


@pytest.mark.parametrize(
    "field", ["base_scene", "extra_scenes", "maybe_scene", "nested", "comment"]
)
def test_every_input_naming_a_dataset_passes_the_visibility_rule(
    world: People, probe: str, field: str
) -> None:
    ds = world.ds
    hidden, mine = ds["bob-scene"], ds["alice-scene"]
    value: Any = {
        "extra_scenes": [mine, hidden],
        "nested": {"scene": hidden},
    }.get(field, hidden)
    url = f"/processes/{probe}/execution"
    before = world.jobs()
    response = world.post("alice", url, json={"inputs": {"base_scene": mine, field: value}})
    assert response.status_code == 404, (field, response.text)
    assert response.json()["detail"] == f"No dataset with id '{hidden}'."
    assert world.jobs() == before
    # the owner runs it (synchronously: the probe only echoes the ids)
    ran = world.post(
        "bob",
        url,
        json={"inputs": {"base_scene": hidden, field: value}},
        headers={"Prefer": "respond-sync"},
    )
    assert ran.status_code == 200, ran.text
    assert hidden in ran.json()["values"]["ids"] or field == "comment"


# --- jobs without an owner -------------------------------------------------------------------


def _ownerless_job(world: People) -> str:
    """A job as `cogsight run --submit` or single-user mode leaves it: no owner."""
    inputs = {"dataset": world.ds["alice-scene"], "index": "NDVI"}
    return JobStore(world.catalog).create("index", inputs, owner=None).id


def test_ownerless_jobs_are_the_admins_once_users_exist(world: People) -> None:
    job = _ownerless_job(world)
    for who in (None, "alice", "bob"):
        assert world.get(who, f"/jobs/{job}").status_code == 404, who
        assert world.get(who, f"/jobs/{job}/results").status_code == 404, who
        assert job not in {j["jobID"] for j in world.get(who, "/jobs").json()["jobs"]}
    anonymous = world.delete(None, f"/jobs/{job}")
    assert anonymous.status_code == 401, anonymous.text
    assert world.delete("bob", f"/jobs/{job}").status_code == 404
    assert JobStore(world.catalog).get(job).status == JobStatus.accepted  # nobody cancelled it
    assert world.get("root", f"/jobs/{job}").json()["status"] == "accepted"
    assert world.delete("root", f"/jobs/{job}").json()["status"] == "dismissed"


def test_single_user_mode_shows_and_cancels_ownerless_jobs(tmp_path: Path) -> None:
    """A deployment that never had users: every request is the local administrator's."""
    app = create_app(Settings(data_dir=tmp_path, tile_cache_bytes=0))
    with TestClient(app) as client:
        recovered()
        job = JobStore(app.state.catalog).create("index", {"dataset": "x"}, owner=None).id
        assert client.get(f"/jobs/{job}").json()["status"] == "accepted"
        assert client.delete(f"/jobs/{job}").json()["status"] == "dismissed"


# --- job files --------------------------------------------------------------------------------


def test_job_files_are_as_private_as_their_job(world: People) -> None:
    ds = world.ds
    response = world.post(
        "bob",
        "/processes/animation/execution",
        json={
            "inputs": {
                "datasets": [ds["bob-scene"], ds["bob-scene-2"]],
                "formats": ["gif"],
                "size": 64,
                "bands": ["red", "green", "blue"],
                "rescale": [0, 3000],
            }
        },
        headers={"Prefer": "respond-sync"},
    )
    assert response.status_code == 200, response.text
    url = response.json()["values"]["gif"]
    path = url[url.index("/files/") :]
    mine = world.get("bob", path)
    assert mine.status_code == 200 and mine.content[:6] == b"GIF89a", mine.text[:200]
    for who in ("alice", None):
        other = world.get(who, path)
        assert other.status_code == 404, (who, other.status_code)
        assert other.content != mine.content
    assert mine.headers["cache-control"].startswith("private")
    assert world.get("root", path).status_code == 200
    # a file no job links to is nobody's (not even its finder's)
    key = path.split("/")[2]
    stray = world.settings.data_dir / "files" / ("0" * 16)
    stray.mkdir(parents=True)
    (stray / "animation.gif").write_bytes(mine.content)
    assert world.get("bob", f"/files/{'0' * 16}/animation.gif").status_code == 404
    assert key != "0" * 16


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_job_owning_a_file_is_found_on_both_backends(tmp_path: Path, backend: str) -> None:
    if backend == "sqlite":
        _owning_file_checks(f"sqlite:///{tmp_path / 'catalog.db'}")
        return
    if pg_bindir() is None:
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) not installed")
    with pg_cluster() as cluster:
        url = cluster.database()
        try:
            _owning_file_checks(url)
        finally:
            dispose_shared(url)


def _owning_file_checks(url: str) -> None:
    store = JobStore(Catalog(url))
    key, other = "0123456789abcdef", "fedcba9876543210"
    made = store.create("animation", {"datasets": ["a", "b"]}, owner="bob")
    store.start(made.id)
    store.succeed(made.id, {"datasets": [], "values": {"gif": f"/files/{key}/animation.gif"}})
    mention = store.create("index", {"title": f"/files/{other}/x"}, owner="eve")  # not a result
    store.start(mention.id)
    store.succeed(mention.id, {"datasets": [], "values": {"note": f"see /files/{other}/"}})
    found = store.owning_file(key)
    assert found is not None and (found.id, found.owner) == (made.id, "bob")
    assert store.owning_file(other) is None
