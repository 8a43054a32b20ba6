"""What a harvest asks a source for: the same options on the CLI and in ``POST /harvests``."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

DEFAULT_BATCH = 500


class HarvestOptions(BaseModel):
    """Search parameters (STAC API item search) and how to write the results."""

    model_config = ConfigDict(extra="forbid")

    collections: list[str] = Field(
        default_factory=list, max_length=100, description="Collection ids; empty: all offered."
    )
    bbox: list[float] | None = Field(default=None, description="west, south, east, north")
    intersects: dict[str, Any] | None = Field(default=None, description="A GeoJSON geometry.")
    datetime: str | None = Field(
        default=None, max_length=100, description="RFC 3339 instant or interval (a/b, ../b)."
    )
    filter: dict[str, Any] | None = Field(default=None, description="A CQL2-JSON filter.")
    max_items: int | None = Field(default=None, ge=1, description="Stop after this many items.")
    batch_size: int = Field(default=DEFAULT_BATCH, ge=1, le=5000)
    visibility: str = Field(default="public", pattern="^(public|private)$")

    @field_validator("bbox")
    @classmethod
    def _box(cls, value: list[float] | None) -> list[float] | None:
        if value is None:
            return None
        if len(value) != 4:
            raise ValueError("bbox is west,south,east,north (4 numbers)")
        west, south, east, north = value
        if not (-180 <= west <= 180 and -180 <= east <= 180 and -90 <= south <= north <= 90):
            raise ValueError("bbox is out of range (longitudes -180..180, south <= north)")
        return value

    @field_validator("intersects")
    @classmethod
    def _geometry(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None and not (
            isinstance(value.get("type"), str) and "coordinates" in value
        ):
            raise ValueError("intersects must be a GeoJSON geometry (type and coordinates)")
        return value

    def search_parameters(self) -> dict[str, Any]:
        """The parameters that choose items (the run's identity), without write options."""
        return self.model_dump(
            include={"collections", "bbox", "intersects", "datetime", "filter", "max_items"},
            exclude_none=True,
        )


def run_key(source: str, options: HarvestOptions) -> str:
    """The same source and search give the same key: re-running a command finds its run."""
    text = json.dumps([source, options.search_parameters()], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()
