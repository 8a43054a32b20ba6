"""Register a raster: validate, convert to COG when needed, record its metadata."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import numpy as np
import rasterio
from rio_tiler.io import Reader

from inference.writer import translate_to_cog
from tileserver.catalog import Catalog, DatasetRecord
from tileserver.catalog.repository import new_id, utcnow
from tileserver.elevation.detect import elevation_properties
from tileserver.errors import InvalidInput, InvalidRaster
from tileserver.ingest.acquisition import detect_acquisition, read_tags
from tileserver.ingest.cogify import is_cog
from tileserver.ingest.crs_check import crs_label, require_known_crs
from tileserver.ingest.inspect import (
    geographic_bounds,
    inspect_raster,
    require_plausible_size,
    require_readable_pixels,
    valid_footprint,
)
from tileserver.ingest.thumbnail import try_write_thumbnail
from tileserver.objectstore import object_store
from tileserver.rendering import ingest_render_properties
from tileserver.scratch import (
    as_disk_full,
    conversion_need,
    require_free_space,
    scratch_space,
)
from tileserver.sensors import SENSORS
from tileserver.settings import Settings
from tileserver.sources import check_remote_allowed, gdal_path, is_remote

Progress = Callable[[str], None]


def _band_names(explicit: list[str] | None, descriptions: tuple[str | None, ...]) -> list[str]:
    count = len(descriptions)
    if explicit:
        if len(explicit) != count:
            raise InvalidInput(f"{len(explicit)} band names given for a {count}-band raster.")
        names = explicit
    elif all(descriptions) and len(set(descriptions)) == count:
        names = [str(d) for d in descriptions]
    else:
        names = [f"b{i}" for i in range(1, count + 1)]
    if len({n.lower() for n in names}) != len(names):
        raise InvalidInput(f"Band names must be unique: {names}.")
    return names


def _convert(
    read_path: str,
    dst: Path,
    has_gcps: bool,
    resampling: str,
    work: Path,
    uri_in: str,
    settings: Settings,
) -> None:
    try:
        # rio-cogeo's own temporary file goes beside ``dst``: in this conversion's folder
        translate_to_cog(
            read_path,
            dst,
            has_gcps=has_gcps,
            resampling=resampling,
            internal_mask=True,
            tmp_dir=work,
        )
    except rasterio.errors.RasterioError as exc:
        # A local header that inspect could read but pixels that are not: a truncated or
        # corrupt file, the sender's problem (400), not an unavailable source (503).
        if is_remote(uri_in) or as_disk_full(settings, exc) is not None:
            raise  # a remote source's failure (503), or a full disk (507), not a bad file
        raise InvalidRaster(
            "The raster's pixels could not be read: the file is truncated or corrupt."
        ) from exc


def register_raster(
    catalog: Catalog,
    settings: Settings,
    source: str | Path,
    *,
    title: str | None = None,
    sensor: str = "generic",
    datetime_: str | datetime | None = None,
    band_names: list[str] | None = None,
    cloud_cover: float | None = None,
    reflectance_scale: float | None = None,
    reflectance_offset: float | None = None,
    resampling: str = "average",
    owner: str | None = None,
    visibility: str = "public",
    properties: dict | None = None,
    progress: Progress | None = None,
    thumbnail: bool = True,
    untrusted: bool = False,
    charge: Callable[[int], None] | None = None,
    elevation: bool | None = None,
) -> DatasetRecord:
    """Validate ``source`` and add it to the catalog.

    Local files are always copied under the data root as COGs (the server reads nothing
    outside it). Remote COGs under an allowed prefix are served in place with range reads;
    remote non-COGs are converted into local COGs. Partial files are built in the scratch
    area and renamed into ``cogs/`` only when whole. With ``thumbnail`` a preview PNG is written
    at ``thumbs/{id}.png`` once the dataset is recorded; a failed preview is logged, never fatal.
    ``untrusted``: a client's upload, which must also have a known CRS, must not claim far
    more pixels than its bytes hold, and, if it is a COG stored as it is, must decode whole.
    ``charge(size)`` runs with the stored file's size before it is published and may raise
    (a storage quota) to refuse it; nothing is then stored. ``elevation`` forces (True) or
    refuses (False) recognising it as a DEM; None detects it (``tileserver.elevation.detect``).
    """
    say = progress or (lambda _msg: None)
    preset = SENSORS.get(sensor)
    uri_in = str(source)
    if is_remote(uri_in):
        check_remote_allowed(uri_in, settings)
        read_path = gdal_path(uri_in, settings)
    else:
        path = Path(uri_in).expanduser()
        if not path.is_file():
            raise InvalidInput(f"No such file: {path.name}")
        read_path = str(path.resolve())

    say("inspecting")
    facts = inspect_raster(read_path, settings.max_raster_pixels)
    if untrusted:
        require_plausible_size(facts, Path(read_path).stat().st_size)
        require_known_crs(facts.crs)
    names = _band_names(band_names, facts.descriptions)
    named = (properties or {}).get("source_filename") or Path(uri_in.rstrip("/")).name
    local = None if untrusted or is_remote(uri_in) else Path(read_path)
    acquired = detect_acquisition(datetime_, named, read_tags(read_path), sidecar_of=local)
    dataset_id = new_id()

    store = object_store(settings)
    if is_remote(uri_in) and not facts.has_gcps and is_cog(read_path):
        uri, serve_path = uri_in, read_path
    else:
        # built whole in this conversion's scratch folder, then published: renamed into the
        # data root, or uploaded; the folder goes either way (or with the sweep, if killed)
        with scratch_space(settings, "convert") as work:
            tmp = work / f"{dataset_id}.tif"
            if not facts.has_gcps and is_cog(read_path) and not is_remote(uri_in):
                if untrusted:
                    require_readable_pixels(read_path)
                need = Path(read_path).stat().st_size
                require_free_space(settings, need, "copying this COG")
                say("copying COG")
                shutil.copyfile(read_path, tmp)
            else:
                itemsize = np.dtype(facts.dtype).itemsize
                need = conversion_need(facts.width, facts.height, facts.count, itemsize)
                require_free_space(settings, need, "converting this raster to a COG")
                say("converting to COG")
                _convert(read_path, tmp, facts.has_gcps, resampling, work, uri_in, settings)
            size = tmp.stat().st_size
            if charge is not None:
                charge(size)
            say("storing")
            uri = store.publish(tmp, f"cogs/{dataset_id}.tif")
        properties = {**(properties or {}), "size_bytes": size}
        serve_path = gdal_path(uri, settings)

    try:
        say("recording metadata")
        with rasterio.open(serve_path) as src:
            crs = src.crs
            res = float(abs(src.transform.a))
            width, height = src.width, src.height
            nodata = src.nodata
        with Reader(serve_path) as reader:
            minzoom, maxzoom = reader.minzoom, reader.maxzoom
        say("band statistics")
        dem = elevation_properties(serve_path, names, facts.dtype, named, elevation)
        properties = {**(properties or {}), **dem}
        properties = {
            **acquired.properties,
            **(properties or {}),
            **({"acquisition_source": acquired.source} if acquired.source else {}),
            **ingest_render_properties(
                serve_path,
                names,
                facts.dtype,
                preset.name,
                reflectance_scale if reflectance_scale is not None else preset.reflectance_scale,
                properties or {},
            ),
        }
        record = DatasetRecord(
            id=dataset_id,
            title=title or Path(uri_in).stem,
            kind="raster",
            uri=uri,
            crs=crs_label(crs),
            bounds=geographic_bounds(serve_path),
            footprint=valid_footprint(serve_path),
            datetime=acquired.datetime,
            sensor=preset.name,
            band_names=names,
            dtype=facts.dtype,
            nodata=nodata,
            width=width,
            height=height,
            resolution=res,
            minzoom=minzoom,
            maxzoom=maxzoom,
            reflectance_scale=(
                reflectance_scale if reflectance_scale is not None else preset.reflectance_scale
            ),
            reflectance_offset=(
                reflectance_offset if reflectance_offset is not None else preset.reflectance_offset
            ),
            cloud_cover=cloud_cover,
            owner=owner,
            visibility=visibility,  # type: ignore[arg-type]
            properties=properties or {},
            created=utcnow(),
        )
        catalog.add_dataset(record)
    except Exception as exc:
        if uri != uri_in:
            store.delete(uri)
        if isinstance(exc, InvalidInput):
            raise
        if isinstance(exc, rasterio.errors.RasterioError):
            raise InvalidRaster("The converted raster could not be read back.") from exc
        raise
    if thumbnail:
        say("thumbnail")
        try_write_thumbnail(settings, record)
    say("done")
    return record
