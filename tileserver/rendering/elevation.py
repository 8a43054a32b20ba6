"""The renderings of an elevation model: terrain colours, hillshade, slope, aspect, contours.

Hillshade, slope, aspect and contours are post-processes (``tileserver.elevation.algorithms``)
named by ``algorithm``; slope and aspect are then coloured by ``rescale`` and a colormap.
"""

from __future__ import annotations

import math

from tileserver.rendering.model import Render

TERRAIN_COLORMAP = "terrain"
ELEVATION_RENDERS = frozenset({"terrain", "hillshade", "slope", "aspect", "contours"})
CONTOUR_LINES = 15
"""About this many contour lines over the DEM's 2-98 % range."""


def contour_interval(low: float, high: float) -> float:
    """A round interval (1, 2, 2.5 or 5 times a power of ten) giving about CONTOUR_LINES."""
    span = max(high - low, 1.0)
    raw = span / CONTOUR_LINES
    power = 10 ** math.floor(math.log10(raw))
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        if raw <= step * power:
            return step * power
    return 10 * power


def terrain_render(low: float, high: float) -> Render:
    return Render(
        title="Elevation in terrain colours, 2-98 % stretch",
        bidx=[1],
        rescale=[(low, high)],
        colormap_name=TERRAIN_COLORMAP,
    )


def elevation_presets(stretch: tuple[float, float]) -> dict[str, Render]:
    """``terrain``, ``hillshade``, ``slope``, ``aspect``, ``contours`` for a DEM whose
    2-98 % range is ``stretch`` (it sets the contour interval)."""
    low, high = stretch
    step = contour_interval(low, high)
    return {
        "terrain": terrain_render(low, high),
        "hillshade": Render(
            title="Hillshade, sun from the north-west at 45°", bidx=[1], algorithm="hillshade"
        ),
        "slope": Render(
            title="Slope in degrees, 0-60°",
            bidx=[1],
            algorithm="slope",
            rescale=[(0.0, 60.0)],
            colormap_name="ylorrd",
        ),
        "aspect": Render(
            title="Aspect: the compass direction a slope faces, 0-360° (flat is clear)",
            bidx=[1],
            algorithm="aspect",
            rescale=[(0.0, 360.0)],
            colormap_name="hsv",
        ),
        "contours": Render(
            title=f"Contour lines every {step:g} m",
            bidx=[1],
            algorithm="contours",
            algorithm_params={"interval": step},
        ),
    }
