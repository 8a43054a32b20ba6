"""CRS codes in WMS requests and capabilities, and the axis order 1.3.0 imposes.

WMS 1.3.0 gives ``BBOX`` in the CRS's own axis order: EPSG:4326 is latitude first
(``miny,minx,maxy,maxx`` in x/y terms), as is any CRS whose first axis points north (EPSG:4258,
EPSG:3035 …); ``CRS:84`` is longitude first. WMS 1.1.1 is always x (east), y (north). Codes are
EPSG numbers (``EPSG:n``, ``urn:ogc:def:crs:EPSG::n``, the ``opengis.net/def`` URI) or ``CRS:84``;
free PROJ strings and WKT are refused, and so is any CRS GDAL cannot draw a flat map in
(geocentric, 3D, engineering).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

from pyproj import CRS as PROJ_CRS
from pyproj.exceptions import CRSError
from rasterio.crs import CRS
from rasterio.warp import transform_bounds

from tileserver.wms.errors import V130, WMSError, clip, crs_code

CRS84 = "CRS:84"
WGS84 = "EPSG:4326"
WEB_MERCATOR = "EPSG:3857"
MERCATOR_LAT = 85.0511287798066
MAX_UTM_ZONES = 3
"""A dataset wider than this many UTM zones gets none advertised (UTM is no map for it)."""

_EPSG = re.compile(
    r"(?:EPSG:|URN:OGC:DEF:CRS:EPSG:[0-9.]*:|HTTPS?://WWW\.OPENGIS\.NET/DEF/CRS/EPSG/[0-9.]+/)"
    r"(\d{1,6})"
)
_CRS84 = {"CRS:84", "OGC:CRS84", "URN:OGC:DEF:CRS:OGC:1.3:CRS84", "URN:OGC:DEF:CRS:OGC::CRS84"}
BBox = tuple[float, float, float, float]


@dataclass(frozen=True)
class MapCRS:
    """A request's CRS: the ``code`` it gave (normalised), the CRS GDAL warps to, and whether a
    1.3.0 ``BBOX`` in it is north-first (to be swapped into x/y order)."""

    code: str
    crs: CRS
    north_first: bool


@lru_cache(maxsize=512)
def _epsg(number: int) -> tuple[CRS, bool] | None:
    """The rasterio CRS of an EPSG code and whether its first axis is northing/latitude; None
    when PROJ does not know it or it is no 2D geographic or projected CRS."""
    try:
        proj = PROJ_CRS.from_epsg(number)
    except CRSError:
        return None
    if not (proj.is_geographic or proj.is_projected) or len(proj.axis_info) != 2:
        return None
    try:
        crs = CRS.from_epsg(number)
    except Exception:  # rasterio's CRSError: GDAL's database disagrees with PROJ's
        return None
    return crs, proj.axis_info[0].direction.lower() in ("north", "south")


def parse_crs(value: str, version: str) -> MapCRS:
    """The CRS a ``CRS`` / ``SRS`` value names; ``InvalidCRS`` / ``InvalidSRS`` otherwise."""
    text = value.strip().upper()
    if text in _CRS84:
        return MapCRS(CRS84, CRS.from_epsg(4326), north_first=False)
    match = _EPSG.fullmatch(text)
    found = _epsg(int(match.group(1))) if match else None
    if found is None:
        name = "SRS" if version != V130 else "CRS"
        raise WMSError(
            f"{name} '{clip(value)}' is not supported: give an EPSG code (EPSG:4326, "
            "EPSG:3857, a UTM zone …) of a 2D geographic or projected CRS, or CRS:84.",
            crs_code(version),
            name,
        )
    crs, north_first = found
    code = f"EPSG:{int(match.group(1))}" if match else text
    return MapCRS(code, crs, north_first=north_first and version == V130)


def axis_ordered(bbox: BBox, crs: MapCRS) -> BBox:
    """A request's BBOX in x/y order (swapping the axes of a north-first 1.3.0 CRS)."""
    a, b, c, d = bbox
    return (b, a, d, c) if crs.north_first else bbox


def wgs84_bounds_in(code: str, bounds: BBox, version: str) -> BBox | None:
    """WGS84 bounds as a capabilities ``BoundingBox`` in ``code``: in that CRS's units and, for
    1.3.0, its axis order; None when they do not transform to finite values."""
    target = parse_crs(code, version)
    west, south, east, north = bounds
    if target.code == WEB_MERCATOR:
        south, north = max(south, -MERCATOR_LAT), min(north, MERCATOR_LAT)
        if south >= north:
            return None
    if target.code in (CRS84, WGS84):
        box: BBox = (west, south, east, north)
    else:
        try:
            box = transform_bounds("EPSG:4326", target.crs, west, south, east, north, 21)
        except Exception:  # outside the CRS's area (PROJ errors come in several types)
            return None
    if not all(math.isfinite(v) for v in box):
        return None
    return axis_ordered(box, target)


def native_code(crs_text: str) -> str | None:
    """``EPSG:n`` for a dataset's CRS, when it has one."""
    try:
        epsg = CRS.from_user_input(crs_text).to_epsg()
    except Exception:  # a CRS rasterio cannot read: advertise none for it
        return None
    return f"EPSG:{epsg}" if epsg else None


def utm_codes(bounds: BBox) -> list[str]:
    """The WGS84 UTM zones (north and/or south) a dataset's WGS84 bounds fall in."""
    west, south, east, north = bounds
    if east < west or not (south >= -80 and north <= 84):
        return []
    first = int((west + 180) // 6) + 1
    last = int((min(east, 179.999999) + 180) // 6) + 1
    if last - first + 1 > MAX_UTM_ZONES:
        return []
    zones = range(max(first, 1), min(last, 60) + 1)
    codes = []
    if north > 0:
        codes += [f"EPSG:{32600 + z}" for z in zones]
    if south < 0:
        codes += [f"EPSG:{32700 + z}" for z in zones]
    return codes


def layer_codes(crs_text: str, bounds: BBox) -> list[str]:
    """What a dataset's layers add to the service-wide CRS list: its own CRS and UTM zones."""
    codes = [native_code(crs_text), *utm_codes(bounds)]
    return list(dict.fromkeys(c for c in codes if c and c not in SERVICE_CODES))


SERVICE_CODES = (CRS84, WGS84, WEB_MERCATOR)
"""Advertised on the root layer (so inherited by every layer): 1.1.1 lists EPSG:4326 and
EPSG:3857 only, CRS:84 being a 1.3.0 name (requests in it are accepted all the same)."""
