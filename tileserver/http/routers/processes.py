"""OGC API - Processes: ``/processes``, ``/processes/{id}/execution``, ``/jobs``, ``/files``.

Submitting is ``jobs.submission`` (the same checks as ``cogsight run``); this module maps it
to HTTP: the request body, where the job runs (``Prefer: respond-sync`` or the runner) and the
OGC status documents."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from tileserver.auth.access import Viewer, owns, require_writer
from tileserver.auth.principal import get_principal
from tileserver.auth.schemas import Principal
from tileserver.catalog import Catalog
from tileserver.errors import AlreadyExists, InvalidInput, NotFoundError
from tileserver.http.dependencies import get_catalog, get_settings
from tileserver.http.routers.bodies import bounded_route
from tileserver.jobs.execute import execute_job
from tileserver.jobs.runner import JobRunner
from tileserver.jobs.store import FINAL, JobNotFound, JobRecord, JobStatus, JobStore
from tileserver.jobs.submission import JobRequest, find_process, submit_job, visible_processes
from tileserver.processing import PROCESSES
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
                for p in visible_processes(viewer)
            ]
        )

    @router.get("/processes/{process_id}")
    def describe_process(
        process_id: str,
        settings: Settings = Depends(get_settings),
        principal: Principal = Depends(get_principal),
    ) -> dict[str, Any]:
        sync_model_processes(settings)
        return find_process(process_id, Viewer(principal, settings.anonymous_read)).describe()

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
        asked = JobRequest(process=process_id, inputs=body.inputs)
        job = await run_in_threadpool(submit_job, asked, catalog, settings, principal)
        store = JobStore(catalog)
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
