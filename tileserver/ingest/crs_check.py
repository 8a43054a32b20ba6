"""Accept a raster's coordinate system only when it is a known EPSG one.

Tiles, mosaics and footprints all reproject from the dataset's CRS; a home-made projection
(or a mangled WKT) reprojects silently wrong, so uploads refuse what cannot be tied to an EPSG
definition. Known means: rasterio identifies an EPSG code, or pyproj matches the WKT to one with
confidence >= 70, or (for WKT written by tools that drop the top-level authority, such as
ERDAS Imagine's CGCS2000) an EPSG candidate that pyproj says is the *same* CRS, axis order aside.
"""

from __future__ import annotations

import functools

import pyproj
from pyproj.exceptions import CRSError
from rasterio.crs import CRS

from tileserver.errors import InvalidRaster

MIN_CONFIDENCE = 70
_MAX_EQUIVALENCE_CANDIDATES = 20


@functools.lru_cache(maxsize=256)
def _resolve_wkt(wkt: str) -> int | None:
    try:
        crs = pyproj.CRS.from_wkt(wkt)
    except CRSError:
        return None
    matches = crs.list_authority(auth_name="EPSG", min_confidence=MIN_CONFIDENCE)
    if matches:
        return int(matches[0].code)
    candidates = crs.list_authority(auth_name="EPSG", min_confidence=1)
    for match in candidates[:_MAX_EQUIVALENCE_CANDIDATES]:
        try:
            if pyproj.CRS.from_epsg(int(match.code)).equals(crs, ignore_axis_order=True):
                return int(match.code)
        except CRSError:
            continue
    return None


def resolve_epsg(crs: CRS | None) -> int | None:
    """The EPSG code of ``crs``, or None when it cannot be tied to one with confidence."""
    if crs is None:
        return None
    code = crs.to_epsg(confidence_threshold=MIN_CONFIDENCE)
    if code is not None:
        return int(code)
    return _resolve_wkt(crs.to_wkt())


def crs_label(crs: CRS) -> str:
    """``EPSG:nnnn`` when known, else the CRS's own string (what the catalog records)."""
    code = resolve_epsg(crs)
    return f"EPSG:{code}" if code is not None else crs.to_string()


def require_known_crs(crs: CRS | None) -> int:
    """The EPSG code of ``crs``; raises ``InvalidRaster`` (400) for an unknown one."""
    code = resolve_epsg(crs)
    if code is None:
        name = _name(crs)
        raise InvalidRaster(
            f"Unknown coordinate system{f' ({name})' if name else ''}: it matches no EPSG "
            "definition. Reproject the raster to an EPSG coordinate system (for example "
            "EPSG:4326, CGCS2000 EPSG:4490, a UTM or Gauss-Krüger zone) and upload it again."
        )
    return code


def _name(crs: CRS | None) -> str:
    if crs is None:
        return ""
    try:
        return str(pyproj.CRS.from_wkt(crs.to_wkt()).name)
    except CRSError:
        return ""
