"""Job submission as one service: the same checks and answers without HTTP, over the API and
from ``cogsight run``; nothing refused becomes a job."""

from __future__ import annotations

from typing import Literal

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel
from typer.testing import CliRunner

from tests.jobs.conftest import write_scene
from tileserver.auth.schemas import Principal
from tileserver.auth.store import UserStore
from tileserver.cli import app as cli_app
from tileserver.errors import CogsightError, DatasetNotFound, InvalidInput
from tileserver.http.app import create_app
from tileserver.ingest import register_raster
from tileserver.jobs.store import JobStatus, JobStore
from tileserver.jobs.submission import COMMAND_LINE, JobRequest, check_job, submit_job
from tileserver.processing.base import DatasetId, ProcessNotFound, text_fields
from tileserver.processing.estimate import JobTooLarge

NDVI = {"index": "NDVI"}


@pytest.fixture
def people(world, tmp_path):
    """'ana' and 'bo', and bo's private raster beside the public one."""
    settings, catalog, dataset_id = world
    users = UserStore(catalog, settings)
    ana, bo = users.add("ana"), users.add("bo")
    scene = write_scene(tmp_path / "bo.tif", size=32)
    private = register_raster(
        catalog, settings, scene, band_names=["red", "nir"], owner=bo.id, visibility="private"
    )
    return settings, catalog, dataset_id, Principal(user=ana), private.id


def refusal(request: JobRequest, people, **limits) -> CogsightError:
    settings, catalog, _public, ana, _private = people
    with pytest.raises(CogsightError) as refused:
        submit_job(request, catalog, settings.model_copy(update=limits), ana)
    assert JobStore(catalog).recent() == []  # refused before any job exists
    return refused.value


def test_a_good_request_becomes_an_accepted_job_of_its_caller(people):
    settings, catalog, public, ana, _private = people
    job = submit_job(
        JobRequest(process="index", inputs={"dataset": public, **NDVI}), catalog, settings, ana
    )
    assert (job.status, job.owner, job.process) == (JobStatus.accepted, ana.id, "index")
    assert job.inputs == {"dataset": public, "index": "NDVI", "expression": None, "title": None}
    checked = check_job(
        JobRequest(process="index", inputs={"dataset": public, **NDVI}), catalog, settings, ana
    )
    assert checked.estimate.pixels == 64 * 64


def test_an_unknown_process_is_not_found(people):
    error = refusal(JobRequest(process="nope", inputs={}), people)
    assert isinstance(error, ProcessNotFound) and error.code == "process_not_found"
    assert str(error).startswith("Unknown process 'nope'. Known: ")
    assert "index" in str(error).split("Known: ")[1].split(", ")


def test_bad_inputs_are_invalid_naming_the_problem(people):
    _settings, _catalog, public, _ana, _private = people
    error = refusal(JobRequest(process="index", inputs={"dataset": public}), people)
    assert isinstance(error, InvalidInput)
    assert str(error) == (
        "Invalid inputs for 'index': inputs: Value error, give exactly one of 'index' or "
        "'expression'"
    )


@pytest.mark.parametrize("where", ["dataset", "title"])
def test_another_users_private_dataset_is_as_unknown_as_none(people, where):
    """A DatasetId input, or any other text input that is the id, answers as an unknown id."""
    _settings, _catalog, public, _ana, private = people
    inputs = (
        {"dataset": private, **NDVI}
        if where == "dataset"
        else {"dataset": public, **NDVI, "title": private}
    )
    error = refusal(JobRequest(process="index", inputs=inputs), people)
    assert isinstance(error, DatasetNotFound) and error.code == "dataset_not_found"
    assert str(error) == f"No dataset with id '{private}'."
    missing = refusal(JobRequest(process="index", inputs={"dataset": "0" * 12, **NDVI}), people)
    assert type(missing) is type(error) and str(missing) == f"No dataset with id '{'0' * 12}'."


def test_work_past_the_limit_is_job_too_large_with_its_figures(people):
    _settings, _catalog, public, _ana, _private = people
    request = JobRequest(process="index", inputs={"dataset": public, **NDVI})
    error = refusal(request, people, max_job_pixels=1000)
    assert isinstance(error, JobTooLarge) and error.code == "job_too_large"
    assert "4,096" in str(error) and "COGSIGHT_MAX_JOB_PIXELS" in str(error)


def test_anonymous_callers_submit_nothing(people):
    settings, catalog, public, _ana, _private = people
    with pytest.raises(CogsightError) as refused:
        submit_job(
            JobRequest(process="index", inputs={"dataset": public, **NDVI}),
            catalog,
            settings,
            Principal(),
        )
    assert refused.value.code == "unauthorized"
    assert JobStore(catalog).recent() == []


def test_the_command_line_and_the_api_answer_the_same(world):
    """Single-user mode: the API acts as the local administrator, as ``cogsight run`` does."""
    settings, catalog, public = world
    small = settings.model_copy(update={"max_job_pixels": 1000})
    env = {"COGSIGHT_DATA_DIR": str(settings.data_dir), "COGSIGHT_MAX_JOB_PIXELS": "1000"}
    cases = [
        ("nope", {"dataset": public, **NDVI}, 404, "process_not_found"),
        ("index", {"dataset": public}, 400, "invalid_input"),
        ("index", {"dataset": "0" * 12, **NDVI}, 404, "dataset_not_found"),
        ("index", {"dataset": public, **NDVI}, 413, "job_too_large"),
    ]
    with TestClient(create_app(small)) as client:
        for process, inputs, status, code in cases:
            answer = client.post(f"/processes/{process}/execution", json={"inputs": inputs})
            assert (answer.status_code, answer.json()["code"]) == (status, code), answer.text
            args = ["run", process]
            for key, value in inputs.items():
                args += ["-p", f"{key}={value}"]
            said = CliRunner().invoke(cli_app, args, env=env)
            assert said.exit_code == 2, said.output
            assert said.output.strip() == f"error: {answer.json()['detail']}"
    assert JobStore(catalog).recent() == []
    assert COMMAND_LINE.is_admin and COMMAND_LINE.id is None


@pytest.mark.parametrize("flag", ["-i", "-p"])
def test_an_id_of_digits_only_stays_text_on_the_command_line(world, flag):
    """Ids are hex, so about one in 280 is all digits (or digits around an 'e'): read as JSON
    it became a number and the CLI answered 'Input should be a valid string' where the API
    answered 404. Text inputs keep what was typed; JSON inputs are still read as JSON."""
    settings, _catalog, _public = world
    env = {"COGSIGHT_DATA_DIR": str(settings.data_dir)}
    for digits in ("123456789012", "123456e78901"):
        args = ["run", "index", flag, f"dataset={digits}", "-p", "index=NDVI", "-p", "title=2024"]
        said = CliRunner().invoke(cli_app, args, env=env)
        assert said.exit_code == 2, said.output
        assert said.output.strip() == f"error: No dataset with id '{digits}'."


def test_text_fields_are_the_inputs_that_take_only_text():
    class Inputs(BaseModel):
        dataset: DatasetId
        title: str | None = None
        mode: Literal["a", "b"] = "a"
        datasets: list[DatasetId] = []
        size: int | str = 1
        scale: float = 1.0

    assert text_fields(Inputs) == {"dataset", "title", "mode"}


def test_the_process_registry_names_no_processes_when_one_is_missing():
    """Only find_process lists names, those the caller sees: the registry's own answer holds
    none, whichever code path lets it through (other users' private models are processes)."""
    from tileserver.processing import PROCESSES

    with pytest.raises(ProcessNotFound) as missing:
        PROCESSES.get("no-such-process")
    assert str(missing.value) == "Unknown process 'no-such-process'."
