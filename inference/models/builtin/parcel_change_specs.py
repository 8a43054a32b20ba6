"""Specs (torch-free) of the zero-sample field-parcel, building-change and cropland-change
tools: RGBN, else RGB, per date; the networks are in parcels.py and postclass.py.

Each description names the method and its measured accuracy (tests/inference/
test_parcels_change.py prints the figures it asserts)."""

from __future__ import annotations

from typing import Any

from inference.models.base import ClassInfo, ModelSpec, WeightsSpec
from inference.models.registry import Factory

BUILTIN = WeightsSpec(kind="builtin")
PKG = "inference.models.builtin"
RGBN = ["red", "green", "blue", "nir"]
RGB = RGBN[:3]
BANDS_TEXT = (
    " Bands: red, green, blue and nir when the image has it (NDVI), else red, green, blue "
    "(green leaf index); 8- or 16-bit digital numbers or reflectance."
)
NO_CHANGE = ClassInfo(name="no change", color="#9e9e9e")


def _change_classes(thing: str, color: str, gone: str) -> dict[int, ClassInfo]:
    return {
        0: NO_CHANGE,
        1: ClassInfo(name=f"new {thing}", color=color),
        2: ClassInfo(name=f"{thing} gone", color=gone),
    }


def _tool(**fields: Any) -> ModelSpec:
    """A fitted (per-image gain) built-in tool on RGBN, else RGB."""
    return ModelSpec(bands=RGBN, band_options=[RGB], weights=BUILTIN, needs_fit=True, **fields)


def parcel_change_models() -> list[tuple[ModelSpec, Factory]]:
    return [
        (
            _tool(
                name="field-parcel",
                title="Field parcels (homogeneous regions in a cropland mask)",
                task="segmentation",
                classes={
                    0: ClassInfo(name="background", color="#000000"),
                    1: ClassInfo(name="field", color="#e3c84b"),
                },
                chip_size=1024,
                overlap=128,
                resolution_range=(0.5, 30.0),
                description="Felzenszwalb graph segmentation into homogeneous regions; a "
                "region is a field when most of it is smooth green or bare land (not water, "
                "trees, roofs) and it has at least 100 px; one-pixel gaps between regions "
                "make one polygon per parcel. Measured on seeded synthetic farmland: field "
                "IoU 0.78 (RGBN 16-bit) / 0.76 (RGB 8-bit), 94-100 % of parcels found "
                "as one region with IoU > 0.5. No real parcel truth measured." + BANDS_TEXT,
            ),
            f"{PKG}.parcels:build_field_parcels",
        ),
        (
            _tool(
                name="building-change",
                title="Building change (post-classification comparison)",
                task="change",
                dates=2,
                classes=_change_classes("building", "#d0433a", "#7a3a3a"),
                chip_size=768,
                overlap=128,
                resolution_range=(0.3, 2.0),
                description="The zero-sample `building` tool (morphological building index) "
                "on each date, compared; change masks opened with a 5 x 5 square to "
                "tolerate misregistration of 2 px. Input: the bands of date 1, then of "
                "date 2. Measured: new-building IoU 0.98 on synthetic new bright roofs in "
                "farmland (no real building-change truth is at hand); otherwise as accurate "
                "as `building` on each date (see its description)." + BANDS_TEXT,
            ),
            f"{PKG}.postclass:build_building_change",
        ),
        (
            _tool(
                name="cropland-change",
                title="Cropland change (post-classification comparison)",
                task="change",
                dates=2,
                classes=_change_classes("cropland", "#e3c84b", "#8a6d1c"),
                chip_size=1024,
                overlap=64,
                resolution_range=(0.5, 30.0),
                description="Cropland by vegetation rules on each date (smooth green or bare "
                "land, not water, trees or roofs), compared; change masks opened with a "
                "5 x 5 square to tolerate misregistration of 2 px. Harvest or tillage is "
                "not a change (bare fields stay cropland). Measured on the NAIP North "
                "Dakota 2009/2020 pair (RGBN, lakes that grew): 84 % of the flooded cropland "
                "found as cropland gone, 55 % of what it flags lies on flooded land (the "
                "rest is mostly wetland vegetation turning rough); on RGB 20 % / 22 % (no "
                "water index without NIR). Synthetic fields built over or flooded, 1 px "
                "misregistration: IoU 0.86 (RGBN and RGB); 5.3 % flagged on the stable "
                "Sentinel-2 Austria June/September pair." + BANDS_TEXT,
            ),
            f"{PKG}.postclass:build_cropland_change",
        ),
    ]
