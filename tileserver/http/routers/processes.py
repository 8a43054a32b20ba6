"""OGC API - Processes: ``/processes``, ``/processes/{id}/execution``, ``/jobs``, ``/files``."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from tileserver.auth.access import Viewer, owns, require_writer
from tileserver.auth.principal import get_principal
from tileserver.auth.quotas import check_compute, check_task_pixels, is_ai_process
from tileserver.auth.schemas import Principal, User
from tileserver.catalog import Catalog
from tileserver.catalog.schemas import DatasetQuery
from tileserver.errors import AlreadyExists, DatasetNotFound, InvalidInput, NotFoundError
from tileserver.http.dependencies import get_catalog, get_settings
from tileserver.http.routers.bodies import bounded_route
from tileserver.jobs.execute import execute_job
from tileserver.jobs.runner import JobRunner
from tileserver.jobs.store import FINAL, JobNotFound, JobRecord, JobStatus, JobStore
from tileserver.processing import PROCESSES, Process
from tileserver.processing.base import ProcessNotFound, dataset_ids, other_strings
from tileserver.processing.estimate import check_work
from tileserver.processing.models import sync_model_processes
from tileserver.settings import Settings


class ProcessSummary(BaseModel):
    id: str
    title: str
    description: str
    version: str = "1.0.0"
    jobControlOptions: list[str]
    links: list[dict[str, str]]


class ProcessList(BaseModel):
    processes: list[ProcessSummary]
    links: list[dict[str, str]] = []


class ExecuteRequest(BaseModel):
    inputs: dict[str, Any] = Field(default_factory=dict)


class StatusInfo(BaseModel):
    jobID: str
    processID: str
    type: str = "process"
    status: JobStatus
    message: str
    progress: int
    created: str
    started: str | None
    finished: str | None
    updated: str | None
    links: list[dict[str, str]]


class JobList(BaseModel):
    jobs: list[StatusInfo]
    links: list[dict[str, str]] = []


class JobResults(BaseModel):
    datasets: list[str]
    values: dict[str, Any]
    links: list[dict[str, str]]


def get_runner(request: Request) -> JobRunner:
    return request.app.state.jobs


def status_info(job: JobRecord, request: Request) -> StatusInfo:
    base = str(request.base_url).rstrip("/")
    links = [{"rel": "self", "href": f"{base}/jobs/{job.id}", "type": "application/json"}]
    if job.status == JobStatus.successful:
        links.append(
            {
                "rel": "http://www.opengis.net/def/rel/ogc/1.0/results",
                "href": f"{base}/jobs/{job.id}/results",
                "type": "application/json",
            }
        )
    return StatusInfo(
        jobID=job.id,
        processID=job.process,
        status=job.status,
        message=job.message,
        progress=round(job.progress),
        created=job.created.isoformat(),
        started=job.started.isoformat() if job.started else None,
        finished=job.finished.isoformat() if job.finished else None,
        updated=(job.heartbeat or job.finished or job.created).isoformat(),
        links=links,
    )


def _visible(process: Process, viewer: Viewer) -> bool:
    """Tools and built-in models are everyone's; a trained model follows its visibility."""
    if process.owner is None and process.visibility == "public":
        return True
    return viewer.sees(process)


def _process(process_id: str, viewer: Viewer) -> Process:
    """The process if the caller may see it: another user's private model answers exactly as
    a name that does not exist, and the names listed as known are only those the caller sees."""
    if process_id in PROCESSES:
        process = PROCESSES.get(process_id)
        if _visible(process, viewer):
            return process
    known = ", ".join(n for n in PROCESSES.list() if _visible(PROCESSES.get(n), viewer)) or "none"
    raise ProcessNotFound(f"Unknown process '{process_id}'. Known: {known}.")


def _unknown_dataset(dataset_id: str) -> DatasetNotFound:
    return DatasetNotFound(f"No dataset with id '{dataset_id}'.")  # as the catalog says it


def _check_datasets(params: Any, catalog: Catalog, viewer: Viewer) -> None:
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


def _check_inputs(
    process_id: str,
    inputs: dict[str, Any],
    catalog: Catalog,
    viewer: Viewer | None = None,
) -> dict[str, Any]:
    """Validate inputs and referenced ids before queueing, so mistakes are a 400, not a job;
    ids the caller may not see are as unknown as ids that do not exist (404)."""
    process = PROCESSES.get(process_id) if viewer is None else _process(process_id, viewer)
    try:
        params = process.inputs.model_validate(inputs)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'inputs'}: {e['msg']}" for e in exc.errors()
        )
        raise InvalidInput(f"Invalid inputs for '{process_id}': {problems}") from None
    if viewer is None:
        for dataset_id in dataset_ids(params):
            catalog.get_dataset(dataset_id)  # 404 names the unknown id
    else:
        _check_datasets(params, catalog, viewer)
        process.authorize(params, viewer.principal, viewer.anonymous_read)
    process.check(params, catalog)
    return params.model_dump(mode="json")


def _check_quotas(process_id: str, inputs: dict[str, Any], catalog: Catalog, user: User) -> None:
    """AI work checks the monthly compute quota and the largest-task quota before queueing."""
    if not is_ai_process(process_id):
        return
    check_compute(catalog, user)
    process = PROCESSES.get(process_id)
    pixels = getattr(process, "task_pixels", None)
    if pixels is not None:
        check_task_pixels(user, pixels(process.inputs.model_validate(inputs), catalog))


def _own_job(catalog: Catalog, job_id: str, principal: Principal) -> JobRecord:
    """The job if it is the caller's (or the caller is an admin); 404 otherwise, worded as for a
    job that does not exist. Ownerless jobs (single-user mode, ``cogsight run``) are the
    admins' once users exist; anonymous callers own none."""
    job = JobStore(catalog).get(job_id)
    if not owns(principal, job.owner):
        raise JobNotFound(f"No job with id '{job_id}'.")
    return job


def _results(job: JobRecord, request: Request) -> JobResults:
    if job.status in (JobStatus.failed, JobStatus.dismissed):
        raise AlreadyExists(f"Job {job.id} is {job.status.value}: {job.message}")
    if job.status != JobStatus.successful:
        raise NotFoundError(f"Job {job.id} is {job.status.value}; results are not ready.")
    base = str(request.base_url).rstrip("/")
    results = job.results or {}
    datasets = list(results.get("datasets", []))
    values = dict(results.get("values", {}))
    links = [{"rel": "item", "href": f"{base}/datasets/{d}"} for d in datasets]
    for key, value in list(values.items()):
        if isinstance(value, str) and value.startswith("/files/"):
            values[key] = f"{base}{value}"
            links.append({"rel": "enclosure", "href": values[key]})
    return JobResults(datasets=datasets, values=values, links=links)


def build_processes_router() -> APIRouter:
    router = APIRouter(tags=["Processes"], route_class=bounded_route("max_json_body_bytes"))

    @router.get("/processes", response_model=ProcessList)
    def list_processes(
        request: Request,
        settings: Settings = Depends(get_settings),
        principal: Principal = Depends(get_principal),
    ) -> ProcessList:
        sync_model_processes(settings)
        viewer = Viewer(principal, settings.anonymous_read)
        base = str(request.base_url).rstrip("/")
        return ProcessList(
            processes=[
                ProcessSummary(
                    **{
                        k: v
                        for k, v in p.describe().items()
                        if k in ("id", "title", "description", "jobControlOptions")
                    },
                    links=[{"rel": "self", "href": f"{base}/processes/{p.id}"}],
                )
                for p in PROCESSES
                if _visible(p, viewer)
            ]
        )

    @router.get("/processes/{process_id}")
    def describe_process(
        process_id: str,
        settings: Settings = Depends(get_settings),
        principal: Principal = Depends(get_principal),
    ) -> dict[str, Any]:
        sync_model_processes(settings)
        return _process(process_id, Viewer(principal, settings.anonymous_read)).describe()

    @router.post("/processes/{process_id}/execution", status_code=201, response_model=None)
    async def execute(
        process_id: str,
        body: ExecuteRequest,
        request: Request,
        response: Response,
        prefer: str | None = Header(default=None),
        catalog: Catalog = Depends(get_catalog),
        settings: Settings = Depends(get_settings),
        runner: JobRunner = Depends(get_runner),
        principal: Principal = Depends(get_principal),
    ) -> StatusInfo | JobResults:
        require_writer(principal)
        await run_in_threadpool(sync_model_processes, settings)
        viewer = Viewer(principal, settings.anonymous_read)
        inputs = await run_in_threadpool(_check_inputs, process_id, body.inputs, catalog, viewer)
        if principal.user is not None:
            await run_in_threadpool(_check_quotas, process_id, inputs, catalog, principal.user)
        # size limits, then the storage quota against the estimated output: 413 / 403 now
        process = PROCESSES.get(process_id)
        await run_in_threadpool(check_work, process, inputs, catalog, settings, principal.user)
        store = JobStore(catalog)
        job = store.create(process_id, inputs, owner=principal.id)
        if prefer and "respond-sync" in prefer and PROCESSES.get(process_id).sync_ok:
            await run_in_threadpool(execute_job, job.id, settings.model_dump(mode="json"))
            job = store.get(job.id)
            response.status_code = 200
            response.headers["Preference-Applied"] = "respond-sync"
            response.headers["Location"] = f"/jobs/{job.id}"
            if job.status != JobStatus.successful:
                raise InvalidInput(f"The job failed: {job.message}")
            return _results(job, request)
        await run_in_threadpool(runner.submit, job.id)
        response.headers["Location"] = f"/jobs/{job.id}"
        return status_info(job, request)

    @router.get("/jobs", response_model=JobList)
    def list_jobs(
        request: Request,
        limit: int = Query(100, ge=1, le=1000),
        process: str | None = None,
        catalog: Catalog = Depends(get_catalog),
        principal: Principal = Depends(get_principal),
    ) -> JobList:
        owner = None if principal.is_admin else (principal.id or "")
        jobs = JobStore(catalog).recent(limit=limit, process=process, owner=owner)
        return JobList(jobs=[status_info(j, request) for j in jobs])

    @router.get("/jobs/{job_id}", response_model=StatusInfo)
    def get_job(
        job_id: str,
        request: Request,
        catalog: Catalog = Depends(get_catalog),
        principal: Principal = Depends(get_principal),
    ) -> StatusInfo:
        return status_info(_own_job(catalog, job_id, principal), request)

    @router.get("/jobs/{job_id}/results", response_model=JobResults)
    def job_results(
        job_id: str,
        request: Request,
        catalog: Catalog = Depends(get_catalog),
        principal: Principal = Depends(get_principal),
    ) -> JobResults:
        return _results(_own_job(catalog, job_id, principal), request)

    @router.delete("/jobs/{job_id}", response_model=StatusInfo)
    def dismiss_job(
        job_id: str,
        request: Request,
        catalog: Catalog = Depends(get_catalog),
        runner: JobRunner = Depends(get_runner),
        principal: Principal = Depends(get_principal),
    ) -> StatusInfo:
        require_writer(principal)  # anonymous callers never cancel, ownerless jobs included
        job = _own_job(catalog, job_id, principal)
        if job.status not in FINAL:
            runner.cancel(job_id)
        return status_info(JobStore(catalog).get(job_id), request)

    @router.get("/files/{key}/{name}", include_in_schema=False)
    def job_file(
        key: str,
        name: str,
        settings: Settings = Depends(get_settings),
        catalog: Catalog = Depends(get_catalog),
        principal: Principal = Depends(get_principal),
    ) -> FileResponse:
        """A job's file (an animation), for whoever may see the job that made it."""
        if not re.fullmatch(r"[0-9a-f]{16}", key) or name not in FILE_TYPES:
            raise NotFoundError("No such file.")
        job = JobStore(catalog).owning_file(key)
        if job is None or not owns(principal, job.owner):
            raise NotFoundError("No such file.")
        path = settings.data_dir / "files" / key / name
        if not path.is_file():
            raise NotFoundError("No such file.")
        response = FileResponse(path, media_type=FILE_TYPES[name], filename=name)
        shared = job.owner is None and principal.single_user
        response.headers["Cache-Control"] = f"{'public' if shared else 'private'}, max-age=3600"
        return response

    return router


FILE_TYPES = {"animation.gif": "image/gif", "animation.mp4": "video/mp4"}
