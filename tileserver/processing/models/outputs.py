"""A model run's results as catalog datasets: the class raster (COG) and its polygons.

Both remember the model and its classes (names and colours) in their properties, so the
viewer and GIS clients can style them; the raster also gets a ready ``colormap`` for
``/raster/{id}/tiles?colormap=``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import geopandas as gpd
import pyogrio
import shapely

from inference.models import ModelSpec
from tileserver.catalog import DatasetRecord
from tileserver.processing.context import JobContext
from tileserver.processing.publish import publish_raster
from tileserver.vectors.register import register_vector


def class_properties(spec: ModelSpec) -> dict[str, Any]:
    classes = {str(k): {"name": c.name, "color": c.color} for k, c in spec.classes.items()}
    colormap = {str(k): _rgba(c.color) for k, c in spec.classes.items()}
    return {"model": spec.name, "classes": classes, "colormap": colormap}


def _rgba(color: str) -> list[int]:
    return [int(color[i : i + 2], 16) for i in (1, 3, 5)] + [255]


def publish_class_raster(
    ctx: JobContext, cog: Path, spec: ModelSpec, params: dict[str, Any], title: str, when: Any
) -> DatasetRecord:
    return publish_raster(
        ctx,
        cog,
        process=spec.name,
        params=params,
        title=title,
        band_names=["class", "score"],
        datetime=when,
        properties=class_properties(spec),
        resampling="mode",
    )


def publish_polygons(
    ctx: JobContext,
    frame: gpd.GeoDataFrame,
    spec: ModelSpec,
    params: dict[str, Any],
    title: str,
    pixel_size_m: float,
    source_id: str,
) -> DatasetRecord | None:
    """The polygons as a vector dataset (FlatGeobuf + PMTiles); None when there are none."""
    frame = frame[~frame.geometry.is_empty & frame.geometry.notna()]
    if frame.empty:
        return None
    path = ctx.scratch("polygons.gpkg")
    pyogrio.write_dataframe(frame, path, driver="GPKG", layer=_layer(spec.name))
    properties = {
        **class_properties(spec),
        "source": source_id,
        "lineage": {"process": spec.name, "inputs": params, "job": ctx.job_id},
    }
    return register_vector(
        ctx.catalog,
        ctx.settings,
        path,
        title=title,
        properties=properties,
        pixel_size_m=pixel_size_m,
        owner=ctx.owner,
        visibility="private" if ctx.owner else "public",
    )


def _layer(name: str) -> str:
    return name.replace("-", "_")


def clip_to(frame: gpd.GeoDataFrame, area: shapely.Geometry | None) -> gpd.GeoDataFrame:
    """Polygons cut to ``area`` (same CRS), areas and perimeters measured again."""
    if area is None or frame.empty:
        return frame
    clipped = frame.clip(area, keep_geom_type=True).explode(index_parts=False)
    clipped = clipped[clipped.geometry.geom_type == "Polygon"].reset_index(drop=True)
    from inference.vectorize import measure

    geoms = clipped.geometry.to_numpy()
    area_m2, perimeter_m = measure(geoms, clipped.crs)
    clipped["area_m2"], clipped["perimeter_m"] = area_m2, perimeter_m
    return clipped


def pixel_metres(transform: Any, crs: Any) -> float:
    """Pixel size in metres (degrees converted at the equator for geographic CRSs)."""
    size = math.sqrt(abs(transform.a * transform.e))
    if crs is not None and crs.is_geographic:
        return size * 111_320.0
    return size
