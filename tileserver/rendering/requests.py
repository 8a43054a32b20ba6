"""When a tile, preview or image request gets a default or a named rendering.

Defaults apply to image requests that choose no bands (``bidx``, ``expression``, ``index``, a
titiler ``algorithm`` or a height ``encoding``): a GIS client's bare ``/tiles/…/{z}/{x}/{y}.png``.
A ``rescale`` or a colormap alone still gets the default's bands (one band under a colormap).
``?render=NAME`` picks a preset on any endpoint. Raw formats (GeoTIFF, npy, pngraw) keep their
data values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from tileserver.catalog import DatasetRecord
from tileserver.rendering.choose import Traits, default_render, presets
from tileserver.rendering.model import Render
from tileserver.rendering.records import DEFAULT, dataset_presets, dataset_render, find_render

RAW_FORMATS = frozenset({"tif", "npy", "pngraw"})
BAND_CHOICES = ("bidx", "expression", "index", "algorithm", "encoding")
COLORMAP_CHOICES = ("colormap", "colormap_name")
IMAGE_ROUTES = frozenset({"tile", "preview", "bbox_image", "feature_image"})
"""titiler's endpoints (by function name) that draw an image from the request's bands."""


def default_applies(
    query: Mapping[str, str], path: Mapping[str, str], route_name: str | None
) -> bool:
    return (
        route_name in IMAGE_ROUTES
        and path.get("format") not in RAW_FORMATS
        and not any(k in query for k in BAND_CHOICES)
    )


def pick(
    name: str | None, default: Callable[[], Render], renders: Callable[[], dict[str, Render]]
) -> Render:
    """The named preset (a 400 listing the choices if unknown), else the default."""
    return find_render(renders(), name) if name else default()


def mosaic_renders(
    band_names: list[str],
    sensor: str | None,
    reflectance_scale: float | None,
    scene: DatasetRecord | None,
) -> dict[str, Render]:
    """A mosaic draws like its first scene; without one, as decided from its band names."""
    if scene is not None:
        return dataset_presets(scene)
    traits = Traits(band_names=band_names, sensor=sensor, reflectance_scale=reflectance_scale)
    return {DEFAULT: default_render(traits), **presets(traits)}


def mosaic_default(
    band_names: list[str],
    sensor: str | None,
    reflectance_scale: float | None,
    scene: DatasetRecord | None,
) -> Render:
    if scene is not None:
        return dataset_render(scene)
    return default_render(
        Traits(band_names=band_names, sensor=sensor, reflectance_scale=reflectance_scale)
    )
