"""Submitting a job: the one path from "run process P on these inputs" to a job record.

The API (``POST /processes/{id}/execution``) and the command line (``cogsight run``,
``cogsight train``) both call ``submit_job``, so the same bad input gets the same answer from
either: an unknown (or invisible) process or dataset is a 404, invalid inputs a 400, work past
the server's limits a 413 (``job_too_large``), past the caller's quotas a 403. Only what passes
every check becomes a job; running it (here, on Dask, or detached) is the caller's choice.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, ValidationError

from tileserver.auth.access import Viewer, require_writer
from tileserver.auth.quotas import check_compute, check_task_pixels, is_ai_process
from tileserver.auth.schemas import Principal, User
from tileserver.catalog import Catalog
from tileserver.catalog.schemas import DatasetQuery
from tileserver.errors import DatasetNotFound, InvalidInput
from tileserver.jobs.store import JobRecord, JobStore
from tileserver.processing import PROCESSES, Process
from tileserver.processing.base import ProcessNotFound, dataset_ids, other_strings
from tileserver.processing.estimate import WorkEstimate, check_work
from tileserver.settings import Settings

COMMAND_LINE = Principal(single_user=True)
"""Who ``cogsight run`` acts for: the local administrator (sees everything, owns nothing)."""


class JobRequest(BaseModel):
    """What a caller asks for: a process and its inputs, as given (not yet validated)."""

    process: str
    inputs: dict[str, Any] = Field(default_factory=dict)


class CheckedJob(BaseModel):
    """A request that passed every check: validated inputs and the work it was estimated at."""

    process: str
    inputs: dict[str, Any]
    estimate: WorkEstimate


def is_visible(process: Process, viewer: Viewer) -> bool:
    """Tools and built-in models are everyone's; a trained model follows its visibility."""
    if process.owner is None and process.visibility == "public":
        return True
    return viewer.sees(process)


def visible_processes(viewer: Viewer) -> list[Process]:
    return [p for p in PROCESSES if is_visible(p, viewer)]


def find_process(process_id: str, viewer: Viewer) -> Process:
    """The process if the caller may see it: another user's private model answers exactly as
    a name that does not exist, and the names listed as known are only those the caller sees."""
    if process_id in PROCESSES:
        process = PROCESSES.get(process_id)
        if is_visible(process, viewer):
            return process
    known = ", ".join(n for n in PROCESSES.list() if is_visible(PROCESSES.get(n), viewer))
    raise ProcessNotFound(f"Unknown process '{process_id}'. Known: {known or 'none'}.")


def _unknown_dataset(dataset_id: str) -> DatasetNotFound:
    return DatasetNotFound(f"No dataset with id '{dataset_id}'.")  # as the catalog says it


def check_datasets(params: Any, catalog: Catalog, viewer: Viewer) -> None:
    """Every dataset an input names passes the one visibility rule. ``DatasetId`` inputs, found
    from the inputs model whatever they are called, must exist and be visible. Any other
    string that is the id of a dataset the caller may not see is refused the same way, so an
    input someone forgot to type ``DatasetId`` cannot reach another user's data either."""
    for dataset_id in dataset_ids(params):
        if not viewer.sees(catalog.get_dataset(dataset_id)):  # unknown: the same 404
            raise _unknown_dataset(dataset_id)
    strings = [t for t in other_strings(params) if 0 < len(t) <= 128]
    for start in range(0, len(strings), 500):
        chunk = strings[start : start + 500]
        for record in catalog.find_datasets(DatasetQuery(ids=chunk, limit=len(chunk))):
            if not viewer.sees(record):
                raise _unknown_dataset(record.id)


def check_inputs(
    process_id: str, inputs: dict[str, Any], catalog: Catalog, viewer: Viewer
) -> dict[str, Any]:
    """Validate inputs and referenced ids before queueing, so mistakes are a 400, not a job;
    ids the caller may not see are as unknown as ids that do not exist (404)."""
    process = find_process(process_id, viewer)
    try:
        params = process.inputs.model_validate(inputs)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'inputs'}: {e['msg']}" for e in exc.errors()
        )
        raise InvalidInput(f"Invalid inputs for '{process_id}': {problems}") from None
    check_datasets(params, catalog, viewer)
    process.authorize(params, viewer.principal, viewer.anonymous_read)
    process.check(params, catalog)
    return params.model_dump(mode="json")


def check_quotas(process_id: str, inputs: dict[str, Any], catalog: Catalog, user: User) -> None:
    """AI work checks the monthly compute quota and the largest-task quota before queueing."""
    if not is_ai_process(process_id):
        return
    check_compute(catalog, user)
    process = PROCESSES.get(process_id)
    pixels = getattr(process, "task_pixels", None)
    if pixels is not None:
        check_task_pixels(user, pixels(process.inputs.model_validate(inputs), catalog))


def check_job(
    request: JobRequest, catalog: Catalog, settings: Settings, principal: Principal
) -> CheckedJob:
    """Every check a job passes before it exists, in the order the API has always answered:
    writer, process and inputs (404/400), the user's AI quotas (403), the server's work
    limits and the storage quota against the estimated output (413/403)."""
    require_writer(principal)
    viewer = Viewer(principal, settings.anonymous_read)
    inputs = check_inputs(request.process, request.inputs, catalog, viewer)
    if principal.user is not None:
        check_quotas(request.process, inputs, catalog, principal.user)
    process = PROCESSES.get(request.process)
    estimate = check_work(process, inputs, catalog, settings, principal.user)
    return CheckedJob(process=request.process, inputs=inputs, estimate=estimate)


def submit_job(
    request: JobRequest, catalog: Catalog, settings: Settings, principal: Principal
) -> JobRecord:
    """Check ``request`` and record it as an accepted job owned by ``principal``; the caller
    then runs it (in-process, on the runner, or detached)."""
    checked = check_job(request, catalog, settings, principal)
    return JobStore(catalog).create(checked.process, checked.inputs, owner=principal.id)
