"""``intersects_dataset``: the union geometry of an uploaded vector dataset, as a search area.

Kept to one small function on purpose: the vector feature may ship its own reader, and this is
the single place to swap it in.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pyogrio.raw
import shapely
from pyproj import CRS, Transformer
from shapely.geometry.base import BaseGeometry

from tileserver.auth.access import Viewer
from tileserver.catalog import Catalog
from tileserver.errors import InvalidInput, NotFoundError
from tileserver.settings import Settings
from tileserver.sources import gdal_path


def vector_dataset_geometry(
    catalog: Catalog, settings: Settings, dataset_id: str, viewer: Viewer | None = None
) -> BaseGeometry:
    """The union of every feature of vector dataset ``dataset_id``, in WGS84."""
    try:
        record = catalog.get_dataset(dataset_id)
    except NotFoundError:
        record = None
    if record is None or (viewer is not None and not viewer.sees(record)):
        raise InvalidInput(f"intersects_dataset: no dataset with id '{dataset_id}'.")
    if record.kind != "vector":
        raise InvalidInput(f"intersects_dataset: dataset '{dataset_id}' is not a vector dataset.")
    geometry = _union_of_file(gdal_path(record.uri, settings))
    if geometry.is_empty:
        raise InvalidInput(f"intersects_dataset: dataset '{dataset_id}' has no geometries.")
    return geometry


@lru_cache(maxsize=16)
def _union_of_file(path: str) -> BaseGeometry:
    """Read and union once per file: dataset ids (and so their files) are immutable."""
    meta, _fids, wkb, _fields = pyogrio.raw.read(path, read_geometry=True, columns=[])
    geometries = shapely.from_wkb([g for g in (wkb if wkb is not None else []) if g is not None])
    if not len(geometries):
        return shapely.GeometryCollection()
    union = shapely.union_all(shapely.make_valid(geometries))
    crs = meta.get("crs")
    if crs and not CRS.from_user_input(crs).equals(CRS.from_epsg(4326), ignore_axis_order=True):
        to_wgs84 = Transformer.from_crs(crs, 4326, always_xy=True)
        union = shapely.transform(union, lambda xy: np.column_stack(to_wgs84.transform(*xy.T)))
    shapely.prepare(union)
    return union
