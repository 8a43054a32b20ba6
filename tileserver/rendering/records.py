"""Renderings of catalog datasets: stored at registration, computed for older records."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import rasterio
from pydantic import ValidationError

from tileserver.catalog import DatasetRecord
from tileserver.errors import InvalidInput
from tileserver.rendering.choose import Traits, default_render, presets
from tileserver.rendering.elevation import ELEVATION_RENDERS
from tileserver.rendering.model import Render
from tileserver.rendering.saved import saved_renders
from tileserver.rendering.statistics import band_statistics

DEFAULT = "default"
RENDER_KEY = "render"
STATS_KEY = "band_stats"


def traits_of(record: DatasetRecord) -> Traits:
    stats = record.properties.get(STATS_KEY)
    return Traits(
        band_names=list(record.band_names),
        dtype=record.dtype,
        sensor=record.sensor,
        reflectance_scale=record.reflectance_scale,
        properties=record.properties,
        stats=stats if isinstance(stats, list) and len(stats) == len(record.band_names) else None,
    )


def _stored(properties: Mapping[str, Any]) -> Render | None:
    value = properties.get(RENDER_KEY)
    if not isinstance(value, Mapping):
        return None
    try:
        return Render.model_validate(value)
    except ValidationError:
        return None


def dataset_render(record: DatasetRecord) -> Render:
    """The dataset's default rendering: one its owner saved as ``default``, else the one
    stored at registration, else decided now from the record (datasets registered before
    renderings were stored)."""
    saved = saved_renders(record.properties).get(DEFAULT)
    return saved or _stored(record.properties) or default_render(traits_of(record))


def dataset_presets(record: DatasetRecord) -> dict[str, Render]:
    """``default`` first, then the presets its bands allow, then those its owner saved (a
    saved preset of a computed preset's name replaces it)."""
    saved = {k: v for k, v in saved_renders(record.properties).items() if k != DEFAULT}
    return {DEFAULT: dataset_render(record), **presets(traits_of(record)), **saved}


def find_render(renders: Mapping[str, Render], name: str) -> Render:
    """A preset by name (case-insensitive); a 400 naming the choices otherwise."""
    wanted = name.strip().lower()
    for key, render in renders.items():
        if key == wanted:
            return render
    if wanted in ELEVATION_RENDERS:
        raise InvalidInput(
            f"Render '{wanted}' draws elevation models (single-band DEMs); this data is not "
            f"one. It has: {', '.join(renders)}."
        )
    raise InvalidInput(f"Unknown render '{name[:40]}'; this data has: {', '.join(renders)}.")


def ingest_render_properties(
    path: str,
    band_names: list[str],
    dtype: str,
    sensor: str,
    reflectance_scale: float | None,
    properties: Mapping[str, Any],
) -> dict[str, Any]:
    """``band_stats`` and ``render`` for a raster being registered (a ``render`` the caller
    already gave is kept). Reads one overview of the file: milliseconds."""
    stats = band_statistics(path)
    with rasterio.open(path) as src:
        colorinterp = [c.name for c in src.colorinterp]
    traits = Traits(
        band_names=band_names,
        dtype=dtype,
        sensor=sensor,
        reflectance_scale=reflectance_scale,
        properties=properties,
        stats=stats,
        colorinterp=colorinterp,
    )
    render = _stored(properties) or default_render(traits)
    return {STATS_KEY: stats, RENDER_KEY: render.model_dump(mode="json", exclude_none=True)}
