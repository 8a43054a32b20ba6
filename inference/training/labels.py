"""Training labels on the image grid, read window by window: from a class raster or a vector file.

A label source answers ``read(window)`` with a (rows, cols) uint8 array of class ids on the
*image's* pixel grid, ``IGNORE`` (255) where a pixel carries no label (the raster's nodata, a
value the value map leaves out, outside every polygon when there is no background class).
Label rasters on another grid are warped onto the image grid (nearest neighbour) as they are
read; vector files are reprojected to the image CRS once and rasterized per window.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import rasterio
from affine import Affine
from rasterio.enums import Resampling
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window
from rasterio.windows import transform as window_transform

from inference.models.errors import TrainingError, file_name, without_paths

IGNORE = 255
"""Label value of pixels that neither the loss nor the metrics count."""

VECTOR_SUFFIXES = {".geojson", ".json", ".gpkg", ".shp", ".fgb", ".parquet", ".kml", ".gml"}
LabelKind = Literal["auto", "raster", "vector"]


@dataclass(frozen=True)
class ImageGrid:
    """The pixel grid labels are put on: CRS, affine transform, size in pixels."""

    crs: Any
    transform: Affine
    width: int
    height: int

    @classmethod
    def of(cls, path: str | Path) -> ImageGrid:
        with rasterio.open(path) as ds:
            if ds.crs is None:
                raise TrainingError(
                    f"{file_name(path)} has no CRS: labels cannot be put on its grid"
                )
            return cls(ds.crs, ds.transform, ds.width, ds.height)


class LabelSource(Protocol):
    """What the sampler needs from labels."""

    description: str

    def read(self, window: Window) -> np.ndarray:
        """Class ids (uint8, IGNORE = unlabelled) for ``window`` of the image grid."""
        ...

    def close(self) -> None: ...


def _lookup(value_map: Mapping[int, int] | None) -> np.ndarray | None:
    """A 65536-entry table value -> class id (IGNORE for values the map leaves out)."""
    if value_map is None:
        return None
    table = np.full(65536, IGNORE, dtype=np.uint8)
    for value, class_id in value_map.items():
        if not 0 <= int(value) < 65536:
            raise TrainingError(f"value_map key {value} is outside 0..65535")
        table[int(value)] = _class_id(class_id)
    return table


def _class_id(value: Any) -> int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise TrainingError(f"class ids must be integers 0..254, got {value!r}") from None
    if not number.is_integer() or not 0 <= number < IGNORE:
        raise TrainingError(f"class ids must be integers 0..254, got {value!r}")
    return int(number)


class RasterLabels:
    """Class ids from band ``band`` of a raster (its nodata -> IGNORE).

    ``value_map`` maps raster values to class ids (values it omits become IGNORE); without it
    the raster values are the class ids and must lie in 0..254. A raster not on the image grid
    is warped onto it with nearest-neighbour resampling.
    """

    def __init__(
        self,
        path: str | Path,
        grid: ImageGrid,
        *,
        band: int = 1,
        value_map: Mapping[int, int] | None = None,
    ) -> None:
        self.path, self.band = str(path), band
        self.table = _lookup(value_map)
        self.description = f"class raster {Path(path).name} band {band}"
        self._ds = rasterio.open(self.path)
        self._src: Any = self._ds
        try:
            if not 1 <= band <= self._ds.count:
                raise TrainingError(f"{file_name(path)} has bands 1..{self._ds.count}, not {band}")
            if self._ds.dtypes[band - 1] not in ("uint8", "uint16", "int16", "int32", "int8"):
                raise TrainingError(f"{file_name(path)}: class rasters must hold integers")
            same = (
                self._ds.crs == grid.crs
                and (self._ds.width, self._ds.height) == (grid.width, grid.height)
                and self._ds.transform.almost_equals(grid.transform)
            )
            if not same:
                if self._ds.crs is None:
                    raise TrainingError(
                        f"{file_name(path)} has no CRS and is not on the image grid"
                    )
                self._src = WarpedVRT(
                    self._ds,
                    crs=grid.crs,
                    transform=grid.transform,
                    width=grid.width,
                    height=grid.height,
                    resampling=Resampling.nearest,
                    nodata=self._ds.nodata if self._ds.nodata is not None else IGNORE,
                )
                self.description += " (warped onto the image grid)"
        except Exception:
            self.close()
            raise

    def read(self, window: Window) -> np.ndarray:
        values = self._src.read(self.band, window=window)
        valid = self._src.read_masks(self.band, window=window) > 0
        if self.table is not None:
            ids = self.table[np.clip(values, 0, 65535).astype(np.int64)]
            ids[values < 0] = IGNORE
        else:
            bad = valid & ((values < 0) | (values >= IGNORE))
            if bad.any():
                raise TrainingError(
                    f"{file_name(self.path)} holds values outside 0..254; pass value_map to map "
                    "them to class ids"
                )
            ids = values.astype(np.uint8)
        ids[~valid] = IGNORE
        return ids

    def close(self) -> None:
        if self._src is not self._ds:
            self._src.close()
        self._ds.close()


class VectorLabels:
    """Polygons burnt onto the image grid, window by window.

    Each feature's class id is its ``class_field`` attribute (after ``value_map`` when given),
    or ``class_value`` for every feature. Pixels whose centre lies in no polygon get
    ``background`` (None: IGNORE, so only the polygons teach the model); where polygons overlap,
    the later feature wins. Features are reprojected to the image CRS (a file without a CRS is
    taken to be in it).
    """

    def __init__(
        self,
        path: str | Path,
        grid: ImageGrid,
        *,
        class_field: str | None = None,
        class_value: int = 1,
        background: int | None = 0,
        value_map: Mapping[int, int] | None = None,
        layer: str | None = None,
        all_touched: bool = False,
    ) -> None:
        import geopandas as gpd

        self.grid, self.all_touched = grid, all_touched
        self.background = IGNORE if background is None else _class_id(background)
        try:
            frame = gpd.read_file(path, layer=layer)
        except Exception as exc:
            reason = without_paths(str(exc), path)
            raise TrainingError(f"cannot read vector labels {file_name(path)}: {reason}") from exc
        frame = frame[frame.geometry.notna() & ~frame.geometry.is_empty]
        polygonal = frame.geometry.geom_type.isin(["Polygon", "MultiPolygon"])
        if not polygonal.all():
            warnings.warn(
                f"{file_name(path)}: {int((~polygonal).sum())} non-polygon features ignored",
                stacklevel=2,
            )
            frame = frame[polygonal]
        if frame.crs is None:
            frame = frame.set_crs(grid.crs)
        else:
            frame = frame.to_crs(grid.crs)
        if class_field is None:
            ids = np.full(len(frame), _class_id(class_value), dtype=np.int64)
        else:
            if class_field not in frame.columns:
                known = ", ".join(c for c in frame.columns if c != "geometry")
                raise TrainingError(
                    f"{file_name(path)} has no field {class_field!r} (fields: {known})"
                )
            raw = [_class_id(v) if value_map is None else v for v in frame[class_field]]
            if value_map is not None:
                mapped = {int(k): _class_id(v) for k, v in value_map.items()}
                raw = [mapped.get(_class_id(v), IGNORE) for v in raw]
            ids = np.asarray(raw, dtype=np.int64)
        self.geoms = frame.geometry.to_numpy()
        self.ids = ids
        self.sindex = frame.sindex
        field = f"field {class_field!r}" if class_field else f"class {class_value}"
        self.description = f"{len(frame)} polygons from {Path(path).name} ({field})"
        if not len(frame):
            raise TrainingError(f"{file_name(path)} holds no polygons")

    def read(self, window: Window) -> np.ndarray:
        import rasterio.features
        import shapely

        shape = (int(window.height), int(window.width))
        transform = window_transform(window, self.grid.transform)
        left, top = transform * (0, 0)
        right, bottom = transform * (shape[1], shape[0])
        box = shapely.box(min(left, right), min(top, bottom), max(left, right), max(top, bottom))
        hits = np.sort(self.sindex.query(box))
        out = np.full(shape, self.background, dtype=np.uint8)
        if len(hits):
            rasterio.features.rasterize(
                zip(self.geoms[hits], self.ids[hits], strict=True),
                out=out,
                transform=transform,
                all_touched=self.all_touched,
                dtype="uint8",
            )
        return out

    def close(self) -> None:
        pass


def open_labels(
    path: str | Path,
    grid: ImageGrid,
    *,
    kind: LabelKind = "auto",
    band: int = 1,
    value_map: Mapping[int, int] | None = None,
    class_field: str | None = None,
    class_value: int = 1,
    background: int | None = 0,
    layer: str | None = None,
) -> LabelSource:
    """A class raster or a vector file as labels on ``grid``; ``kind="auto"`` decides by the
    file suffix (GeoJSON, GeoPackage, Shapefile, FlatGeobuf, GeoParquet, KML: vector)."""
    if not Path(path).exists() and "://" not in str(path):
        raise TrainingError(f"labels not found: {file_name(path)}")
    if kind == "auto":
        kind = "vector" if Path(path).suffix.lower() in VECTOR_SUFFIXES else "raster"
    if kind == "vector":
        return VectorLabels(
            path,
            grid,
            class_field=class_field,
            class_value=class_value,
            background=background,
            value_map=value_map,
            layer=layer,
        )
    try:
        return RasterLabels(path, grid, band=band, value_map=value_map)
    except rasterio.errors.RasterioIOError as exc:
        reason = without_paths(str(exc), path)
        raise TrainingError(f"cannot read label raster {file_name(path)}: {reason}") from exc
