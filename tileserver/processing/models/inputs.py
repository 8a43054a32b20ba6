"""What a model process takes: the image(s), an optional area, a reference, post-processing.

Flat fields (no nested objects) so the viewer can build a form from the JSON schema.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from tileserver.processing.base import DatasetId


class ModelRunOptions(BaseModel):
    """Shared by every model process."""

    aoi: dict[str, Any] | None = Field(
        default=None,
        description="GeoJSON Polygon/MultiPolygon in WGS84: run only inside this area.",
    )
    title: str | None = Field(default=None, description="Title of the result datasets.")
    device: str | None = Field(
        default=None, description="torch device ('cpu', 'cuda'); default: CUDA when present."
    )
    batch: int = Field(default=4, ge=1, le=64, description="Chips per forward pass.")


class ClassMapOptions(ModelRunOptions):
    """Segmentation and change models: a class raster, polygons, and accuracy when a
    reference is given."""

    reference: DatasetId | None = Field(
        default=None,
        description="Id of a reference dataset: a class raster (mask) or a vector whose "
        "polygons carry the class in 'reference_field' (class 1 where the field is absent).",
    )
    reference_field: str = Field(default="class", description="Class attribute of a vector.")
    vectorize: bool = Field(default=True, description="Also publish the classes as polygons.")
    classes: list[int] | None = Field(
        default=None,
        max_length=256,
        description="Class ids to keep as polygons; default: every class but a background 0.",
    )
    simplify_tolerance: float | None = Field(
        default=None,
        ge=0,
        description="Coverage simplification tolerance in CRS units (metres for UTM); "
        "default one pixel, 0 keeps the pixel outlines.",
    )
    smooth_iterations: int = Field(default=0, ge=0, le=5, description="Chaikin passes.")
    regularize: bool = Field(default=False, description="Square up outlines (buildings).")
    min_area_m2: float = Field(
        default=0.0, ge=0, description="Polygons smaller than this (m²) merge into a neighbour."
    )


class SegmentationInputs(ClassMapOptions):
    dataset: DatasetId = Field(description="Id of the raster dataset to classify.")


class ChangeInputs(ClassMapOptions):
    datasets: list[DatasetId] = Field(
        min_length=2,
        max_length=2,
        description="Ids of the earlier and the later image, in that order.",
    )


class EnhancementInputs(ModelRunOptions):
    dataset: DatasetId = Field(description="Id of the raster dataset to enhance.")
