"""Turn any readable raster into a COG with overviews, atomically.

The output is written under a temporary name beside its destination and renamed into place
only when complete, so a crash or a bad file never leaves a half-written dataset behind.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import rasterio
from rasterio.enums import Resampling
from rasterio.vrt import WarpedVRT
from rio_cogeo.cogeo import cog_translate, cog_validate
from rio_cogeo.profiles import cog_profiles
from rio_cogeo.utils import has_alpha_band


def is_cog(path: str) -> bool:
    try:
        valid, _errors, _warnings = cog_validate(path, quiet=True)
    except Exception:
        return False
    return bool(valid)


@contextlib.contextmanager
def _source(path: str, has_gcps: bool) -> Iterator[object]:
    """Yield a dataset to translate; GCP-only rasters are warped through their GCPs first."""
    with rasterio.open(path) as src:
        if not has_gcps:
            yield src
            return
        _gcps, gcp_crs = src.gcps
        options: dict = {"crs": gcp_crs, "resampling": Resampling.bilinear}
        if src.nodata is not None:
            options.update(src_nodata=src.nodata, nodata=src.nodata)
        else:
            options.update(add_alpha=True)
        with WarpedVRT(src, **options) as vrt:
            yield vrt


def write_cog(
    src_path: str,
    dst: Path,
    *,
    has_gcps: bool = False,
    resampling: str = "average",
    internal_mask: bool = False,
    tmp_dir: Path | None = None,
) -> Path:
    """Write ``src_path`` as a deflate COG (512 px blocks, overviews) at ``dst``, atomically.

    ``internal_mask`` adds a GDAL internal mask band when the source has neither a nodata value
    nor an alpha band (those already say which pixels are valid, and a mask would replace the
    nodata value). ``tmp_dir`` (on the same filesystem as ``dst``) holds the partial output and
    rio-cogeo's intermediate file, so an interrupted conversion leaves nothing beside ``dst``.
    """
    dst.parent.mkdir(parents=True, exist_ok=True)
    work = tmp_dir or dst.parent
    work.mkdir(parents=True, exist_ok=True)
    tmp = work / f".{dst.name}.partial"
    profile = cog_profiles.get("deflate")
    profile.update(blockxsize=512, blockysize=512, predictor=2)
    try:
        with _source(src_path, has_gcps) as source:
            dtype = source.dtypes[0]  # type: ignore[attr-defined]
            if dtype.startswith("float"):
                profile["predictor"] = 3
            add_mask = (
                internal_mask
                and source.nodata is None  # type: ignore[attr-defined]
                and not has_alpha_band(source)  # type: ignore[arg-type]
            )
            cog_translate(
                source,  # type: ignore[arg-type]
                str(tmp),
                profile,
                add_mask=add_mask,
                overview_resampling=resampling,  # type: ignore[arg-type]
                in_memory=False,
                quiet=True,
                config={"GDAL_NUM_THREADS": "ALL_CPUS", "GDAL_TIFF_INTERNAL_MASK": True},
            )
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)
    return dst
