"""Publish a tool's output COG as a new catalog dataset that remembers where it came from.

The output counts against its owner's storage quota: its size is reserved (under the per-user
lock, beside other uploads and outputs in progress) before it is stored, and a job whose
output does not fit fails with the quota's message, publishing nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tileserver.auth.quotas import owner_user, reserve_storage
from tileserver.catalog import DatasetRecord
from tileserver.ingest.raster import register_raster
from tileserver.processing.context import JobContext


def publish_raster(
    ctx: JobContext,
    cog: Path,
    *,
    process: str,
    params: dict[str, Any],
    title: str,
    band_names: list[str] | None = None,
    sensor: str = "generic",
    reflectance_scale: float | None = None,
    reflectance_offset: float | None = None,
    datetime: Any = None,
    properties: dict[str, Any] | None = None,
    resampling: str = "average",
) -> DatasetRecord:
    """Register ``cog`` (copied into the data root atomically) with lineage in its properties;
    ``QuotaExceeded`` when it does not fit the owner's storage quota (nothing is stored)."""
    lineage = {"process": process, "inputs": params, "job": ctx.job_id}
    ctx.progress(96.0, "registering the output")
    user = owner_user(ctx.catalog, ctx.settings, ctx.owner)
    what = f"output of job {ctx.job_id}"
    with reserve_storage(ctx.catalog, ctx.settings, user, what, noun="this output") as held:
        return register_raster(
            ctx.catalog,
            ctx.settings,
            cog,
            title=title,
            sensor=sensor,
            band_names=band_names,
            datetime_=datetime,
            reflectance_scale=reflectance_scale,
            reflectance_offset=reflectance_offset,
            properties={**(properties or {}), "lineage": lineage},
            resampling=resampling,
            owner=ctx.owner,
            visibility=ctx.visibility,
            charge=held.settle,
        )
