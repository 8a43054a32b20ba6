"""Request and response models of sample sets (plain pydantic: API, CLI and tests share them)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

SampleKind = Literal["polygon", "brush", "point"]


class SampleClass(BaseModel):
    """One class samples can carry: its value in the class raster, a name and a colour."""

    model_config = ConfigDict(extra="forbid")

    value: int = Field(ge=1, le=254, description="Class id (1..254; 0 is left unlabelled).")
    name: str = Field(min_length=1, max_length=64)
    color: str = Field(pattern=r"^#[0-9a-fA-F]{6}$", description="'#rrggbb'")


class Sample(BaseModel):
    """A drawn sample: a polygon, a brush stroke (a line and its width) or a point."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    geometry: dict[str, Any] = Field(
        description="GeoJSON in WGS84: a Polygon / MultiPolygon, a LineString (brush) or a Point."
    )
    class_value: int = Field(alias="class", description="The sample's class value.")
    kind: SampleKind | None = Field(
        default=None, description="How it was drawn (default: from the geometry type)."
    )
    width_m: float | None = Field(
        default=None, gt=0, le=1000, description="Brush width / point diameter in metres "
        "(default: 3 pixels of the image).",
    )  # fmt: skip


def _unique_classes(classes: list[SampleClass]) -> None:
    values = [c.value for c in classes]
    names = [c.name.strip().lower() for c in classes]
    if len(set(values)) != len(values):
        raise ValueError("class values must be distinct")
    if len(set(names)) != len(names):
        raise ValueError("class names must be distinct")


class SampleSetCreate(BaseModel):
    """A new sample set for an image (or a pair of dates for change), with its first samples."""

    model_config = ConfigDict(extra="forbid")

    image: str = Field(min_length=1, max_length=128, description="The image samples are for.")
    later_image: str | None = Field(
        default=None, max_length=128, description="The later date of a change pair."
    )
    title: str | None = Field(default=None, max_length=200)
    classes: list[SampleClass] = Field(min_length=1, max_length=64)
    samples: list[Sample] = Field(
        min_length=1, max_length=10_000, description="At least one sample."
    )
    visibility: Literal["public", "private"] | None = Field(
        default=None, description="Default: private for a user, public in single-user mode."
    )

    @model_validator(mode="after")
    def _classes(self) -> SampleSetCreate:
        _unique_classes(self.classes)
        return self


class SampleSetSave(BaseModel):
    """A save: the whole set of samples (and classes, if they changed); a new version."""

    model_config = ConfigDict(extra="forbid")

    samples: list[Sample] = Field(min_length=1, max_length=10_000)
    classes: list[SampleClass] | None = Field(default=None, min_length=1, max_length=64)

    @model_validator(mode="after")
    def _classes(self) -> SampleSetSave:
        if self.classes is not None:
            _unique_classes(self.classes)
        return self


class SampleVersion(BaseModel):
    version: int
    time: datetime
    user: str | None = None
    samples: int
    counts: dict[str, int] = Field(description="Samples per class value.")


class SampleSetInfo(BaseModel):
    """What a sample set is: its dataset id, image(s), classes and versions (newest last)."""

    id: str
    title: str
    task: Literal["segmentation", "change"]
    samples_for: list[str]
    classes: list[SampleClass]
    version: int
    samples: int
    counts: dict[str, int]
    versions: list[SampleVersion]
    owner: str | None = None
    visibility: str


class TrainFromSamples(BaseModel):
    """How to train from a sample set (everything else comes from the set)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9][a-z0-9-]{0,50}$",
        description="Model name; each training makes a new version '<name>-v<N>'.",
    )
    bands: list[str] | None = Field(
        default=None, min_length=1, max_length=64, description="Default: the image's bands."
    )
    time_budget_s: float = Field(default=60.0, gt=0, le=6 * 3600)
    max_epochs: int = Field(default=100, ge=1, le=10_000)
    method: str | None = Field(default=None, max_length=64, description="Training method.")
