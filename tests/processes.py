"""Running a processing tool or model in-process, as a worker runs a job's process: inputs
validated by the tool's own model, a JobContext of its own, its scratch removed afterwards."""

from __future__ import annotations

from typing import Any

from tileserver.catalog import Catalog
from tileserver.processing import PROCESSES, ProcessResult
from tileserver.processing.context import JobContext, ProgressFn
from tileserver.settings import Settings


def run_process(
    name: str,
    inputs: dict[str, Any],
    catalog: Catalog,
    settings: Settings,
    job_id: str,
    on_progress: ProgressFn | None = None,
) -> ProcessResult:
    process = PROCESSES.get(name)
    params = process.inputs.model_validate(inputs)
    ctx = JobContext(catalog, settings, job_id=job_id, on_progress=on_progress)
    try:
        return process.run(params, ctx)
    finally:
        ctx.cleanup()
