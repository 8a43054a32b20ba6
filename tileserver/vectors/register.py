"""Register a vector file: validate, store as FlatGeobuf + PMTiles, record in the catalog.

The dataset folder is built under a temporary name and renamed into place whole
(``storage.atomic_dir``); the catalog row is added only after that, and if adding it fails the
folder is removed again. So a failure at any step leaves neither files nor a row behind, and a
row never points at a half-written folder.

The folder's bytes count against the owner's storage quota: a caller's ``charge`` (an upload's
reservation) or, without one, a reservation for the owner taken here (a job's output), checked
before the folder is renamed into place, so an output over the quota is never published.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyogrio
import shapely

from tileserver.auth.quotas import owner_user, reserve_storage
from tileserver.catalog import Catalog, DatasetRecord
from tileserver.catalog.repository import new_id, utcnow
from tileserver.errors import InvalidInput
from tileserver.scratch import scratch_space
from tileserver.settings import Settings
from tileserver.storage import atomic_dir, dataset_folder
from tileserver.vectors.ingest import LoadedVector, layer_name, load_vector, source_format
from tileserver.vectors.pmtiles_build import write_pmtiles
from tileserver.vectors.store import FEATURES_FILE, KIND, TILES_FILE, features_uri, tiles_uri
from tileserver.vectors.zooms import choose_zooms

_OGR_TYPES = {
    "OFTInteger": "integer",
    "OFTInteger64": "integer",
    "OFTReal": "number",
    "OFTString": "string",
    "OFTDate": "date",
    "OFTTime": "time",
    "OFTDateTime": "datetime",
    "OFTBinary": "binary",
}


def _fields(info: dict[str, Any]) -> list[dict[str, str]]:
    """``[{"name", "type"}]`` as stored, in plain words (integer, number, string, boolean ...)."""
    out = []
    for name, ogr_type, subtype in zip(
        info["fields"], info["ogr_types"], info["ogr_subtypes"], strict=True
    ):
        kind = "boolean" if subtype == "OFSTBoolean" else _OGR_TYPES.get(ogr_type, "list")
        out.append({"name": str(name), "type": kind})
    return out


def _footprint(loaded: LoadedVector) -> dict[str, Any]:
    """Convex hull of every vertex, as a GeoJSON geometry (cheap even for huge layers).

    Reprojected straight edges come back as hundreds of nearly collinear hull vertices; the
    hull is simplified and then grown by the same tolerance, so it stays small in the catalog
    and still covers every feature.
    """
    coords = shapely.get_coordinates(np.asarray(loaded.frame.geometry.values, dtype=object))
    hull = shapely.multipoints(coords).convex_hull
    w, s, e, n = hull.bounds
    tolerance = 1e-4 * max(e - w, n - s)
    if hull.geom_type == "Polygon" and tolerance > 0:
        hull = shapely.simplify(hull, tolerance).buffer(tolerance, join_style="mitre").convex_hull
    footprint: dict[str, Any] = json.loads(shapely.to_geojson(hull))
    return footprint


def _geometry_type(info: dict[str, Any]) -> str:
    kind = str(info.get("geometry_type") or "Unknown")
    return "Geometry" if kind == "Unknown" else kind


def _write_dataset(
    loaded: LoadedVector, folder: Path, *, layer: str, minzoom: int, maxzoom: int, title: str
) -> dict[str, Any]:
    """Write features.fgb and tiles.pmtiles into ``folder``; the FlatGeobuf's layer info."""
    features = folder / FEATURES_FILE
    pyogrio.write_dataframe(loaded.frame, features, driver="FlatGeobuf", layer=layer)
    write_pmtiles(
        loaded.frame, folder / TILES_FILE, layer=layer, minzoom=minzoom, maxzoom=maxzoom, name=title
    )
    info: dict[str, Any] = pyogrio.read_info(features)
    return info


def register_vector(
    catalog: Catalog,
    settings: Settings,
    path: Path,
    *,
    title: str | None = None,
    owner: str | None = None,
    visibility: Literal["public", "private"] = "public",
    properties: dict[str, Any] | None = None,
    filename: str | None = None,
    pixel_size_m: float | None = None,
    charge: Callable[[int], None] | None = None,
) -> DatasetRecord:
    """Validate the vector file at ``path`` and add it to the catalog as a ``vector`` dataset.

    ``path`` may be a ``.zip`` holding one shapefile (with .prj), a ``.shp`` beside its
    sidecars, GeoJSON (``.geojson``/``.json``) or a GeoPackage (its first layer with
    geometries). ``filename`` is the client's name for the file when ``path`` is a temporary
    upload; its suffix picks the format and its stem the default title. Caller ``properties``
    are stored with the record; the keys this function sets (``feature_count``, ``layer``,
    ``pmtiles`` ...) take precedence so a caller cannot point the record at other files.
    ``pixel_size_m``: polygons traced from a raster of that pixel size (sets the max zoom).
    ``charge(size)`` runs with the written folder's size before it is published and may raise
    to refuse it; without it the ``owner``'s storage quota is charged here.

    Raises ``InvalidInput`` (400) for anything that cannot be served, ``QuotaExceeded`` (403)
    for an owner's full storage; leaves nothing behind.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise InvalidInput(f"No such file: {path.name}")
    name = filename or path.name
    source_format(name)  # refuse an unknown format before any work
    title = (title or Path(name).stem)[:512]
    dataset_id = new_id()
    if charge is None:
        user = owner_user(catalog, settings, owner)
        what = f"vector {dataset_id}"
        with reserve_storage(catalog, settings, user, what, noun="this output") as reservation:
            return _register(
                catalog, settings, path, dataset_id, title, owner, visibility, properties,
                filename, pixel_size_m, reservation.settle,
            )  # fmt: skip
    return _register(
        catalog, settings, path, dataset_id, title, owner, visibility, properties, filename,
        pixel_size_m, charge,
    )  # fmt: skip


def _register(
    catalog: Catalog,
    settings: Settings,
    path: Path,
    dataset_id: str,
    title: str,
    owner: str | None,
    visibility: Literal["public", "private"],
    properties: dict[str, Any] | None,
    filename: str | None,
    pixel_size_m: float | None,
    charge: Callable[[int], None],
) -> DatasetRecord:
    folder = dataset_folder(settings, KIND, dataset_id)
    with scratch_space(settings, "vector") as work:
        loaded = load_vector(
            path, Path(work), filename=filename, max_fields=settings.max_vector_fields
        )
        layer = layer_name(loaded.source_layer)
        minzoom, maxzoom = choose_zooms(loaded.frame, pixel_size_m)
        with atomic_dir(folder, settings) as tmp:
            info = _write_dataset(
                loaded, tmp, layer=layer, minzoom=minzoom, maxzoom=maxzoom, title=title
            )
            charge(sum(f.stat().st_size for f in tmp.iterdir() if f.is_file()))

    try:
        w, s, e, n = (float(v) for v in loaded.frame.total_bounds)
        system = {
            "feature_count": int(info["features"]),
            "geometry_type": _geometry_type(info),
            "fields": _fields(info),
            "layer": layer,
            "pmtiles": tiles_uri(dataset_id),
            "source_format": loaded.source_format,
            "source_crs": loaded.source_crs,
            "source_layer": loaded.source_layer,
            "source_layers": loaded.layers,
            "repaired_geometries": loaded.repaired,
            "dropped_features": loaded.dropped,
        }
        record = DatasetRecord(
            id=dataset_id,
            title=title,
            kind="vector",
            uri=features_uri(dataset_id),
            crs="EPSG:4326",
            bounds=(w, s, e, n),
            footprint=_footprint(loaded),
            datetime=None,
            sensor="generic",
            band_names=[],
            dtype="vector",
            nodata=None,
            width=0,
            height=0,
            resolution=0.0,
            minzoom=minzoom,
            maxzoom=maxzoom,
            owner=owner,
            visibility=visibility,
            properties={**(properties or {}), **system},
            created=utcnow(),
        )
        catalog.add_dataset(record)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return record
