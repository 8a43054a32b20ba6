"""Editing a vector dataset's features: get, update, create, delete, undo, history.

Every edit, under the dataset's edit lock (``history.edit_lock``, safe across API processes):

1. reads the FlatGeobuf whole (edited datasets are interactive-sized: thousands of polygons),
2. applies the change to one feature, checked first (valid polygon in WGS84, known fields),
3. writes a new FlatGeobuf, rebuilds the PMTiles archive with ``write_pmtiles`` (same
   layer, zooms and name as the dataset's record) and writes the new ``history.jsonl``, all
   in a scratch folder of its own (``<data>/.tmp/edit-…``: never counted in the owner's
   quota, removed by the sweep if the process dies),
4. renames the three into place (atomic each; nothing is renamed until all are written, so a
   full disk leaves the dataset as it was).

Readers never lock: they open either the old or the new file. The tile server's caches key
archives by file identity (``tiles.open_archive``) and the tile cache middleware checks the
archive's identity on every hit (``tileserver.http.freshness``), so no process keeps serving
tiles of a replaced archive. Browsers cache tiles for ``max-age``; clients that edit put the
dataset's ``version`` (its history length) in the tile URL (``?v=``).

Feature ids: before the first edit a feature's id is its FlatGeobuf feature id (what
``GET /vectors/{id}/features`` has always answered). FlatGeobuf orders features along its
spatial index, so those ids would move when the file is rewritten; the first edit therefore
stores them as an explicit ``fid`` attribute (a source column of that name is kept as
``fid_source``), and from then on the attribute is the id. New features get ids never used
before in the dataset, so undoing a delete brings the feature back under its old id.

The catalog record (bounds, footprint, ``feature_count``) is written once at registration and
is not changed by edits; ``GET /vectors/{id}/history`` gives the current feature count.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pydantic import BaseModel, Field
from pyproj import Geod
from shapely.geometry.base import BaseGeometry

from tileserver.catalog import DatasetRecord
from tileserver.errors import InvalidInput, NotFoundError, name_few
from tileserver.scratch import scratch_space
from tileserver.settings import Settings
from tileserver.vectors.features import Feature, FeatureCollection
from tileserver.vectors.history import (
    FeatureState,
    HistoryEntry,
    edit_lock,
    history_path,
    is_edited,
    new_entry,
    read_history,
    undoable,
    write_history_to,
)
from tileserver.vectors.pmtiles_build import write_pmtiles
from tileserver.vectors.store import FEATURES_FILE, TILES_FILE, features_path, tiles_path

STABLE_ID = "fid"
SOURCE_ID = "fid_source"
MAX_VERTICES = 100_000
MAX_LON_SPAN = 180.0
MEASURED = ("area_m2", "perimeter_m")
FAMILIES: dict[str, tuple[str, ...]] = {
    "polygon": ("Polygon", "MultiPolygon"),
    "line": ("LineString", "MultiLineString"),
    "point": ("Point", "MultiPoint"),
}
_GEOD = Geod(ellps="WGS84")


# --- request / response models -----------------------------------------------------------
class FeatureIn(BaseModel):
    """A new feature: a GeoJSON Feature in WGS84. Attributes must be the dataset's fields."""

    type: Literal["Feature"] = "Feature"
    geometry: dict[str, Any] = Field(description="GeoJSON geometry, WGS84 degrees.")
    properties: dict[str, Any] = Field(default_factory=dict)


class FeaturePatch(BaseModel):
    """A change to a feature: a new geometry, some attributes, or both (others are kept)."""

    type: Literal["Feature"] = "Feature"
    geometry: dict[str, Any] | None = Field(default=None, description="Replaces the geometry.")
    properties: dict[str, Any] | None = Field(
        default=None, description="Attributes to change; fields not named keep their values."
    )


class EditResult(BaseModel):
    feature: Feature | None = Field(description="The feature after the edit; None if deleted.")
    edit: HistoryEntry | None = Field(description="The history entry (None: nothing changed).")
    version: int = Field(description="The dataset's version: edits recorded so far.")


class EditHistory(BaseModel):
    dataset: str
    version: int = Field(description="Edits recorded so far (undos included); use as ?v=.")
    feature_count: int
    undoable: int | None = Field(description="seq of the edit POST /undo would revert.")
    edits: list[HistoryEntry] = Field(description="Newest first.")


# --- files ---------------------------------------------------------------------------------
def dataset_dir(settings: Settings, record: DatasetRecord) -> Path:
    """The vector dataset's folder (where features.fgb, tiles.pmtiles and the log live)."""
    return features_path(settings, record).parent


def _read_frame(settings: Settings, record: DatasetRecord) -> gpd.GeoDataFrame:
    """All features with a stable ``fid`` column (materialised from FlatGeobuf ids if new)."""
    folder = dataset_dir(settings, record)
    frame = pyogrio.read_dataframe(folder / FEATURES_FILE, fid_as_index=True)
    if is_edited(folder) and STABLE_ID in frame.columns:
        frame = frame.reset_index(drop=True)
        frame[STABLE_ID] = frame[STABLE_ID].astype("int64")
        return frame
    if STABLE_ID in frame.columns:
        frame = frame.rename(columns={STABLE_ID: SOURCE_ID})
    frame[STABLE_ID] = np.asarray(frame.index, dtype="int64")
    return frame.reset_index(drop=True)


def _geojson(geometry: BaseGeometry) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(shapely.to_geojson(geometry))
    return out


def _row_properties(frame: gpd.GeoDataFrame, position: int) -> dict[str, Any]:
    attributes = frame.drop(columns=frame.geometry.name).iloc[[position]]
    records: list[dict[str, Any]] = json.loads(
        attributes.to_json(orient="records", date_format="iso")
    )
    return records[0]


def _state(frame: gpd.GeoDataFrame, position: int) -> FeatureState:
    return FeatureState(
        geometry=_geojson(frame.geometry.iloc[position]),
        properties=_row_properties(frame, position),
    )


def _position(frame: gpd.GeoDataFrame, fid: int, record: DatasetRecord) -> int:
    hits = np.flatnonzero(frame[STABLE_ID].to_numpy() == fid)
    if len(hits) == 0:
        raise NotFoundError(f"Feature {fid} not found in dataset '{record.id}'.")
    return int(hits[0])


def _as_feature(fid: int, state: FeatureState) -> Feature:
    return Feature(id=fid, geometry=state.geometry, properties=state.properties)


def _check_schema(current: Path, written: Path) -> None:
    """The rewritten file keeps every field's type (a bug here would corrupt the dataset)."""
    before, after = pyogrio.read_info(current), pyogrio.read_info(written)
    old = dict(zip(before["fields"], before["dtypes"], strict=True))
    new = dict(zip(after["fields"], after["dtypes"], strict=True))
    if SOURCE_ID in new and SOURCE_ID not in old and STABLE_ID in old:
        old[SOURCE_ID] = old.pop(STABLE_ID)  # the first edit keeps a source 'fid' aside
    old.pop(STABLE_ID, None)
    changed = {k: (old[k], new.get(k)) for k in old if k in new and old[k] != new[k]}
    if changed:
        raise RuntimeError(f"an edit would change field types: {changed}")


def _write(
    settings: Settings,
    record: DatasetRecord,
    frame: gpd.GeoDataFrame,
    folder: Path,
    entries: list[HistoryEntry],
) -> None:
    """New FlatGeobuf, PMTiles and history in scratch, then renamed into place."""
    layer = str(record.properties.get("layer") or "features")
    with scratch_space(settings, "edit") as work:
        fgb_tmp, tiles_tmp, log_tmp = work / FEATURES_FILE, work / TILES_FILE, work / "history"
        frame = frame.reset_index(drop=True)
        pyogrio.write_dataframe(frame, fgb_tmp, driver="FlatGeobuf", layer=layer)
        _check_schema(folder / FEATURES_FILE, fgb_tmp)
        write_pmtiles(
            frame,
            tiles_tmp,
            layer=layer,
            minzoom=record.minzoom,
            maxzoom=record.maxzoom,
            name=record.title,
        )
        write_history_to(log_tmp, entries)
        os.replace(fgb_tmp, folder / FEATURES_FILE)
        os.replace(tiles_tmp, tiles_path(settings, record))
        os.replace(log_tmp, history_path(folder))


# --- validation ----------------------------------------------------------------------------
def _family(record: DatasetRecord) -> str:
    kind = str(record.properties.get("geometry_type") or "").lower()
    for family in FAMILIES:
        if family in kind:
            return family
    return "polygon"


def parse_geometry(geometry: dict[str, Any], record: DatasetRecord) -> BaseGeometry:
    """A GeoJSON geometry checked for this dataset, or ``InvalidInput`` (400) saying why.

    Checks: parses as GeoJSON, the dataset's geometry family (polygons for polygon layers),
    not empty, finite WGS84 degrees (lon -180..180, lat -90..90, at most 180° wide), at most
    ``MAX_VERTICES`` vertices, valid (OGC rules, with GEOS's reason), and polygons with area.
    """
    try:
        shape = shapely.from_geojson(json.dumps(geometry))
    except (shapely.errors.GEOSException, ValueError, TypeError) as exc:
        raise InvalidInput(f"The geometry is not valid GeoJSON: {exc}") from None
    if shape is None or shape.is_empty:
        raise InvalidInput("The geometry is empty.")
    family = _family(record)
    allowed = FAMILIES[family]
    if shape.geom_type not in allowed:
        raise InvalidInput(
            f"Dataset '{record.id}' holds {family}s; a {shape.geom_type} cannot be stored "
            f"(expected {' or '.join(allowed)})."
        )
    shape = shapely.force_2d(shape)
    coords = shapely.get_coordinates(shape)
    if len(coords) > MAX_VERTICES:
        raise InvalidInput(f"The geometry has {len(coords)} vertices; at most {MAX_VERTICES}.")
    if not np.isfinite(coords).all():
        raise InvalidInput("The geometry has coordinates that are not finite numbers.")
    w, s, e, n = shape.bounds
    if not (w >= -180 and e <= 180 and s >= -90 and n <= 90):
        raise InvalidInput(
            "The geometry lies outside WGS84 longitude -180..180 / latitude -90..90; "
            "coordinates must be in degrees, longitude first."
        )
    if e - w > MAX_LON_SPAN:
        raise InvalidInput(
            f"The geometry spans {e - w:.1f}° of longitude; features crossing the antimeridian "
            "must be split into parts on either side."
        )
    if not shape.is_valid:
        reason = shapely.is_valid_reason(shape)
        raise InvalidInput(f"The geometry is not valid: {reason}.")
    if family == "polygon" and not shape.area > 0:
        raise InvalidInput("The polygon has no area.")
    return shape


def _coerce(name: str, value: Any, dtype: Any) -> Any:
    """``value`` fit for a column of ``dtype``, or ``InvalidInput`` naming the field."""
    types = pd.api.types
    if value is not None and not isinstance(value, str | int | float | bool):
        raise InvalidInput(f"Field '{name}' takes a single value, not {type(value).__name__}.")
    number = (
        float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
    )
    if value is None:
        if types.is_bool_dtype(dtype) or types.is_integer_dtype(dtype):
            raise InvalidInput(f"Field '{name}' cannot be empty.")
        return None
    if types.is_bool_dtype(dtype):
        if not isinstance(value, bool):
            raise InvalidInput(f"Field '{name}' takes true or false.")
        return value
    if types.is_integer_dtype(dtype):
        if number is None or not math.isfinite(number) or number != int(number):
            raise InvalidInput(f"Field '{name}' takes a whole number.")
        return int(number)
    if types.is_float_dtype(dtype):
        if number is None:
            raise InvalidInput(f"Field '{name}' takes a number.")
        if not math.isfinite(number):
            raise InvalidInput(f"Field '{name}' takes a finite number.")
        return number
    if types.is_datetime64_any_dtype(dtype):
        try:
            return pd.Timestamp(value)
        except (ValueError, TypeError):
            raise InvalidInput(f"Field '{name}' takes a date and time (ISO 8601).") from None
    if not isinstance(value, str):
        raise InvalidInput(f"Field '{name}' takes text.")
    return value


def _attributes(
    frame: gpd.GeoDataFrame, properties: dict[str, Any], fid: int | None
) -> dict[str, Any]:
    """Checked attribute values: known fields only; ``fid`` may only repeat the feature's id."""
    out: dict[str, Any] = {}
    fields = [c for c in frame.columns if c not in (frame.geometry.name, STABLE_ID)]
    for name, value in properties.items():
        if name == STABLE_ID:
            if value is not None and value != fid:
                raise InvalidInput("'fid' is the feature's id and cannot be changed.")
            continue
        if name not in fields:
            known = ", ".join(fields) or "none"
            raise InvalidInput(f"Unknown field '{name_few([name])}' (fields: {known}).")
        out[name] = _coerce(name, value, frame[name].dtype)
    return out


def _require_whole_fields(frame: gpd.GeoDataFrame, attributes: dict[str, Any]) -> None:
    """Integer and boolean fields cannot be left empty (their column type has no null)."""
    types = pd.api.types
    for name in frame.columns:
        if name in (frame.geometry.name, STABLE_ID) or name in attributes or name in MEASURED:
            continue
        dtype = frame[name].dtype
        if types.is_bool_dtype(dtype) or types.is_integer_dtype(dtype):
            raise InvalidInput(f"Field '{name}' is required for a new feature.")


def _measure(frame: gpd.GeoDataFrame, position: int) -> None:
    """Recompute ``area_m2`` / ``perimeter_m`` (geodesic, WGS84) where the dataset has them."""
    present = [c for c in MEASURED if c in frame.columns]
    if not present:
        return
    area, perimeter = _GEOD.geometry_area_perimeter(frame.geometry.iloc[position])
    column = frame.columns.get_loc
    if "area_m2" in present:
        frame.iat[position, column("area_m2")] = round(abs(area), 2)
    if "perimeter_m" in present:
        frame.iat[position, column("perimeter_m")] = round(perimeter, 2)


def _set_row(
    frame: gpd.GeoDataFrame,
    position: int,
    geometry: BaseGeometry | None,
    attributes: dict[str, Any],
) -> None:
    for name, value in attributes.items():
        frame.iat[position, frame.columns.get_loc(name)] = value
    if geometry is not None:
        frame.iat[position, frame.columns.get_loc(frame.geometry.name)] = geometry
        _measure(frame, position)


def _cell(name: str, value: Any, dtype: Any) -> pd.Series:
    """One value as a column of ``dtype`` (empty floats are NaN), so appending a row never
    changes a field's type (an object column would be written back as text)."""
    if value is None and pd.api.types.is_float_dtype(dtype):
        value = np.nan
    try:
        return pd.Series([value], dtype=dtype)
    except (TypeError, ValueError):
        raise InvalidInput(f"Field '{name}': {value!r} does not fit its type ({dtype}).") from None


def _append_row(
    frame: gpd.GeoDataFrame, fid: int, geometry: BaseGeometry, attributes: dict[str, Any]
) -> gpd.GeoDataFrame:
    values = {**attributes, STABLE_ID: fid}
    geometry_name = frame.geometry.name
    columns = {
        name: _cell(name, values.get(name), frame[name].dtype)
        for name in frame.columns
        if name != geometry_name
    }
    extra = gpd.GeoDataFrame(
        columns, geometry=gpd.GeoSeries([geometry], crs=frame.crs, name=geometry_name)
    )[list(frame.columns)]
    out = gpd.GeoDataFrame(
        pd.concat([frame, extra], ignore_index=True), geometry=geometry_name, crs=frame.crs
    )
    _measure(out, len(out) - 1)
    return out


def _new_fid(frame: gpd.GeoDataFrame, entries: list[HistoryEntry]) -> int:
    """An id never used in this dataset (deleted features keep theirs for undo)."""
    used = [int(frame[STABLE_ID].max())] if len(frame) else []
    used += [e.fid for e in entries]
    return max(used, default=-1) + 1


def _restore(state: FeatureState) -> tuple[BaseGeometry, dict[str, Any]]:
    geometry = shapely.from_geojson(json.dumps(state.geometry))
    attributes = {k: v for k, v in state.properties.items() if k != STABLE_ID}
    return geometry, attributes


# --- operations ----------------------------------------------------------------------------
def get_feature(settings: Settings, record: DatasetRecord, fid: int) -> Feature:
    frame = _read_frame(settings, record)
    return _as_feature(fid, _state(frame, _position(frame, fid, record)))


def stable_ids(settings: Settings, record: DatasetRecord, page: FeatureCollection) -> None:
    """Give a page of features their stable ids (the ``fid`` attribute, once edited)."""
    if not is_edited(dataset_dir(settings, record)):
        return
    for feature in page.features:
        value = feature.properties.get(STABLE_ID)
        if isinstance(value, int | float) and not isinstance(value, bool):
            feature.id = int(value)


def _commit(
    settings: Settings,
    record: DatasetRecord,
    folder: Path,
    frame: gpd.GeoDataFrame,
    entries: list[HistoryEntry],
    entry: HistoryEntry,
) -> None:
    _write(settings, record, frame, folder, [*entries, entry])


def update_feature(
    settings: Settings,
    record: DatasetRecord,
    fid: int,
    patch: FeaturePatch,
    *,
    user: str | None = None,
) -> EditResult:
    """Replace the geometry and/or some attributes of feature ``fid``."""
    if patch.geometry is None and not patch.properties:
        raise InvalidInput("Nothing to change: send a geometry, properties, or both.")
    geometry = parse_geometry(patch.geometry, record) if patch.geometry is not None else None
    folder = dataset_dir(settings, record)
    with edit_lock(folder):
        entries = read_history(folder)
        frame = _read_frame(settings, record)
        position = _position(frame, fid, record)
        attributes = _attributes(frame, patch.properties or {}, fid)
        before = _state(frame, position)
        _set_row(frame, position, geometry, attributes)
        after = _state(frame, position)
        if after == before:
            return EditResult(feature=_as_feature(fid, after), edit=None, version=len(entries))
        entry = new_entry(entries, "update", fid, before, after, user=user)
        _commit(settings, record, folder, frame, entries, entry)
    return EditResult(feature=_as_feature(fid, after), edit=entry, version=entry.seq)


def create_feature(
    settings: Settings, record: DatasetRecord, feature: FeatureIn, *, user: str | None = None
) -> EditResult:
    """Add a feature; it gets a new id, answered in the result."""
    geometry = parse_geometry(feature.geometry, record)
    folder = dataset_dir(settings, record)
    with edit_lock(folder):
        entries = read_history(folder)
        frame = _read_frame(settings, record)
        attributes = _attributes(frame, feature.properties, None)
        _require_whole_fields(frame, attributes)
        fid = _new_fid(frame, entries)
        frame = _append_row(frame, fid, geometry, attributes)
        after = _state(frame, len(frame) - 1)
        entry = new_entry(entries, "create", fid, None, after, user=user)
        _commit(settings, record, folder, frame, entries, entry)
    return EditResult(feature=_as_feature(fid, after), edit=entry, version=entry.seq)


def delete_feature(
    settings: Settings, record: DatasetRecord, fid: int, *, user: str | None = None
) -> EditResult:
    """Remove feature ``fid`` (a dataset keeps at least one feature)."""
    folder = dataset_dir(settings, record)
    with edit_lock(folder):
        entries = read_history(folder)
        frame = _read_frame(settings, record)
        position = _position(frame, fid, record)
        if len(frame) == 1:
            raise InvalidInput("This is the dataset's last feature; delete the dataset instead.")
        before = _state(frame, position)
        frame = frame.drop(index=frame.index[position]).reset_index(drop=True)
        entry = new_entry(entries, "delete", fid, before, None, user=user)
        _commit(settings, record, folder, frame, entries, entry)
    return EditResult(feature=None, edit=entry, version=entry.seq)


def undo_last(settings: Settings, record: DatasetRecord, *, user: str | None = None) -> EditResult:
    """Revert the most recent edit not yet undone; the feature as restored (None if the
    reverted edit created it)."""
    folder = dataset_dir(settings, record)
    with edit_lock(folder):
        entries = read_history(folder)
        target = undoable(entries)
        if target is None:
            raise InvalidInput(f"Dataset '{record.id}' has no edit to undo.")
        frame = _read_frame(settings, record)
        fid = target.fid
        if target.op == "create":
            position = _position(frame, fid, record)
            current: FeatureState | None = _state(frame, position)
            frame = frame.drop(index=frame.index[position]).reset_index(drop=True)
            restored: FeatureState | None = None
        elif target.op == "delete":
            assert target.before is not None
            current = None
            geometry, attributes = _restore(target.before)
            frame = _append_row(frame, fid, geometry, attributes)
            _set_row(frame, len(frame) - 1, None, attributes)  # measures as they were
            restored = _state(frame, len(frame) - 1)
        else:
            assert target.before is not None
            position = _position(frame, fid, record)
            current = _state(frame, position)
            geometry, attributes = _restore(target.before)
            frame.iat[position, frame.columns.get_loc(frame.geometry.name)] = geometry
            _set_row(frame, position, None, attributes)
            restored = _state(frame, position)
        entry = new_entry(entries, "undo", fid, current, restored, user=user, undoes=target.seq)
        _commit(settings, record, folder, frame, entries, entry)
    feature = _as_feature(fid, restored) if restored is not None else None
    return EditResult(feature=feature, edit=entry, version=entry.seq)


def edit_history(settings: Settings, record: DatasetRecord, *, limit: int = 100) -> EditHistory:
    folder = dataset_dir(settings, record)
    entries = read_history(folder)
    target = undoable(entries)
    count = int(pyogrio.read_info(folder / FEATURES_FILE)["features"])
    return EditHistory(
        dataset=record.id,
        version=len(entries),
        feature_count=count,
        undoable=target.seq if target else None,
        edits=list(reversed(entries))[:limit],
    )
