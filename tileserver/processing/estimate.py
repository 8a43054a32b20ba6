"""What a job will make, known before it is queued, and the limits that refuse too much.

Every process answers ``estimate(params, catalog, settings)`` from its inputs and the catalog
(file headers at most, never pixels): output pixels, blocks, scratch and output bytes. The API
and ``cogsight run`` call ``check_work`` after validating the inputs and before a job row
exists, so a request that would plan half a million blocks or fill the disk is a 413 naming the
figures in milliseconds, not a job that dies after writing gigabytes of scratch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from tileserver.errors import InvalidInput, PayloadTooLarge

if TYPE_CHECKING:
    from tileserver.auth.schemas import User
    from tileserver.catalog import Catalog, DatasetRecord
    from tileserver.processing.base import Process
    from tileserver.settings import Settings


class JobTooLarge(PayloadTooLarge):
    """A job over ``COGSIGHT_MAX_JOB_PIXELS`` or ``COGSIGHT_MAX_JOB_SCRATCH_BYTES`` (413)."""

    code = "job_too_large"


@dataclass(frozen=True)
class WorkEstimate:
    """A run's size: ``pixels`` it writes (or reads, for models and training), the ``blocks``
    it fans out, the peak ``scratch_bytes`` it needs and the ``output_bytes`` it publishes.
    ``what`` says what was counted, for the refusal message."""

    pixels: int
    blocks: int
    scratch_bytes: int
    output_bytes: int
    what: str


NOTHING = WorkEstimate(0, 0, 0, 0, "no output")


def raster_record(catalog: Catalog, dataset_id: str) -> DatasetRecord:
    """The dataset, which must be a raster (as the run's ``JobContext.dataset`` says)."""
    record = catalog.get_dataset(dataset_id)
    if record.kind != "raster":
        raise InvalidInput(f"Dataset '{dataset_id}' is a {record.kind}; a raster is needed.")
    return record


def size_text(n: float) -> str:
    """Bytes for people: ``4.1 GB``."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000
    return f"{n:,.1f} PB"  # pragma: no cover


def raster_estimate(
    width: int, height: int, count: int, dtype: str, block_size: int, what: str = "raster"
) -> WorkEstimate:
    """A block-wise raster job on a ``width`` x ``height`` grid (see ``pixels_estimate``)."""
    width, height = max(0, int(width)), max(0, int(height))
    blocks = math.ceil(width / block_size) * math.ceil(height / block_size)
    return pixels_estimate(
        width * height, count, dtype, blocks, f"a {width:,} x {height:,} x {count} {dtype} {what}"
    )


def pixels_estimate(pixels: int, count: int, dtype: str, blocks: int, what: str) -> WorkEstimate:
    """Blocks are written uncompressed to scratch, then one COG with overviews (at most 4/3 of
    the pixels, counted uncompressed: an upper bound) is built beside them; the published
    output is about the uncompressed full-resolution size."""
    raw = pixels * count * np.dtype(dtype).itemsize
    return WorkEstimate(pixels, blocks, raw + raw * 4 // 3, raw, what)


def check_limits(estimate: WorkEstimate, settings: Settings, process_id: str) -> None:
    """Refuse a job over the server's limits, with the figures (413)."""
    plan = (
        f"'{process_id}' would write {estimate.what}: {estimate.pixels:,} pixels in "
        f"{estimate.blocks:,} blocks, needing up to {size_text(estimate.scratch_bytes)} of "
        "scratch space"
    )
    if estimate.pixels > settings.max_job_pixels:
        raise JobTooLarge(
            f"{plan}; the limit is {settings.max_job_pixels:,} pixels per job "
            "(COGSIGHT_MAX_JOB_PIXELS). Choose a coarser resolution or a smaller area."
        )
    if estimate.scratch_bytes > settings.max_job_scratch_bytes:
        raise JobTooLarge(
            f"{plan}; the limit is {size_text(settings.max_job_scratch_bytes)} per job "
            "(COGSIGHT_MAX_JOB_SCRATCH_BYTES). Choose a coarser resolution or a smaller area."
        )


def check_work(
    process: Process,
    inputs: dict[str, Any],
    catalog: Catalog,
    settings: Settings,
    user: User | None = None,
) -> WorkEstimate:
    """The one check before queueing (API and CLI): the server's limits (413), then the user's
    storage quota against the estimated output (403). ``inputs`` are already validated."""
    params = process.inputs.model_validate(inputs)
    estimate = process.estimate(params, catalog, settings)
    check_limits(estimate, settings, process.id)
    if user is not None:
        from tileserver.auth.quotas import check_storage

        # outputs are charged when published; what cannot fit at all is refused now
        check_storage(catalog, settings, user, estimate.output_bytes, "this job's output")
    return estimate
