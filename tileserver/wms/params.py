"""WMS requests: case-insensitive parameter names, parsed and checked into pydantic models.

Names are case-insensitive (``bbox``, ``BBOX``, ``BBox``), values are not (layer names, style
names), except the few enumerations the specifications spell either way (``TRANSPARENT``,
``EXCEPTIONS``, ``REQUEST``). The first occurrence of a repeated parameter counts. Each check
raises a ``WMSError`` with the code and locator a WMS client expects, before any pixel is read.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict

from tileserver.tiling.limits import MAX_IMAGE_SIDE
from tileserver.wms.crs import BBox, MapCRS, axis_ordered, parse_crs
from tileserver.wms.errors import V111, V130, Version, WMSError, clip, invalid, missing

VERSIONS: tuple[Version, ...] = (V111, V130)
Exceptions = Literal["xml", "inimage", "blank"]

MAP_FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WEBP"}
"""GetMap formats and the GDAL driver that writes each."""
FORMAT_ALIASES = {"image/jpg": "image/jpeg", "png": "image/png", "jpeg": "image/jpeg"}
INFO_FORMATS = ("application/json", "text/plain", "text/html", "application/vnd.ogc.gml")
INFO_ALIASES = {"application/geo+json": "application/json", "text/xml": "application/vnd.ogc.gml"}
LEGEND_FORMATS = ("image/png",)
CAPABILITIES_FORMATS = {V111: "application/vnd.ogc.wms_xml", V130: "text/xml"}
MAX_LAYERS = 8
"""Layers one GetMap may stack (each is a full read of its area)."""
MAX_LEGEND_SIDE = 1024

OPERATIONS = {
    "getcapabilities": "GetCapabilities",
    "capabilities": "GetCapabilities",  # WMS 1.0 spelling, still sent by a few clients
    "getmap": "GetMap",
    "map": "GetMap",
    "getfeatureinfo": "GetFeatureInfo",
    "feature_info": "GetFeatureInfo",
    "getlegendgraphic": "GetLegendGraphic",
}
_EXCEPTIONS = {
    "xml": "xml",
    "application/vnd.ogc.se_xml": "xml",
    "inimage": "inimage",
    "application/vnd.ogc.se_inimage": "inimage",
    "blank": "blank",
    "application/vnd.ogc.se_blank": "blank",
}

Query = dict[str, str]


def lower_keys(pairs: Iterable[tuple[str, str]]) -> Query:
    """The query with lower-case names; the first value of a repeated name wins."""
    out: Query = {}
    for key, value in pairs:
        out.setdefault(key.lower(), value)
    return out


def operation(q: Query) -> str:
    """The REQUEST, in the specification's spelling."""
    name = q.get("request", "").strip()
    if not name:
        raise missing("request")
    found = OPERATIONS.get(name.lower())
    if found is None:
        raise WMSError(
            f"REQUEST '{clip(name)}' is not offered: GetCapabilities, GetMap, GetFeatureInfo, "
            "GetLegendGraphic.",
            "OperationNotSupported",
            "REQUEST",
        )
    return found


def check_service(q: Query, required: bool) -> None:
    service = q.get("service")
    if service is None:
        if required:
            raise missing("service")
        return
    if service.strip().upper() != "WMS":
        raise invalid("service", f"SERVICE '{clip(service)}' is not offered here: only WMS.")


def _as_version(text: str) -> tuple[int, ...] | None:
    try:
        return tuple(int(p) for p in text.strip().split("."))
    except ValueError:
        return None


def negotiated_version(q: Query) -> Version:
    """GetCapabilities' version negotiation: the highest version not above the one asked for,
    else the lowest; the highest when none is asked for."""
    asked = _as_version(q.get("version") or q.get("wmtver") or "")
    if asked is None:
        return V130
    below = [v for v in VERSIONS if (_as_version(v) or ()) <= asked]
    return below[-1] if below else V111


def request_version(q: Query) -> Version:
    """The version a map, info or legend request is read in: 1.3.0, or 1.1.1 for 1.0 and 1.1
    requests (x/y axes, SRS); without VERSION, 1.1.1 when it gives SRS rather than CRS."""
    text = (q.get("version") or q.get("wmtver") or "").strip()
    if not text:
        return V111 if "srs" in q and "crs" not in q else V130
    asked = _as_version(text)
    if asked is not None and asked[:2] == (1, 3):
        return V130
    if asked is not None and asked[:1] == (1,) and asked[:2] <= (1, 1):
        return V111
    raise invalid("version", f"VERSION '{clip(text)}' is not offered: 1.1.1 or 1.3.0.")


def report_version(q: Query) -> Version:
    """The dialect of an exception report: the request's version when it can be read."""
    try:
        return request_version(q)
    except WMSError:
        return V130


def exceptions_mode(q: Query) -> Exceptions:
    text = (q.get("exceptions") or "xml").strip().lower()
    return _EXCEPTIONS.get(text, "xml")  # type: ignore[return-value]


class MapQuery(BaseModel):
    """A checked GetMap (also the map part of GetFeatureInfo); ``bbox`` in x/y order."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    version: Version
    layers: list[str]
    styles: list[str]
    crs: MapCRS
    bbox: BBox
    width: int
    height: int
    format: str
    transparent: bool
    bgcolor: tuple[int, int, int]


class FeatureInfoQuery(BaseModel):
    """A checked GetFeatureInfo: the map it is about, and the pixel (``i`` column, ``j`` row)."""

    model_config = ConfigDict(frozen=True)

    map: MapQuery
    query_layers: list[str]
    info_format: str
    i: int
    j: int
    feature_count: int


class LegendQuery(BaseModel):
    model_config = ConfigDict(frozen=True)

    version: Version
    layer: str
    style: str
    format: str
    width: int | None
    height: int | None


def _names(q: Query, key: str) -> list[str]:
    text = q.get(key)
    if text is None:
        raise missing(key)
    names = [n.strip() for n in text.split(",")]
    if not text.strip() or not all(names):
        raise invalid(key, f"{key.upper()} must name one or more layers, comma-separated.")
    if len(names) > MAX_LAYERS:
        raise invalid(key, f"{key.upper()} may name at most {MAX_LAYERS} layers.")
    return names


def _styles(q: Query, count: int) -> list[str]:
    text = q.get("styles", "")
    if not text.strip():
        return [""] * count
    styles = [s.strip() for s in text.split(",")]
    if len(styles) != count:
        raise WMSError(
            f"STYLES lists {len(styles)} style(s) for {count} layer(s): give one per layer "
            "(empty for the default) or leave STYLES empty.",
            "StyleNotDefined",
            "STYLES",
        )
    return styles


def _side(q: Query, key: str, limit: int = MAX_IMAGE_SIDE) -> int:
    text = q.get(key)
    if text is None:
        raise missing(key)
    try:
        value = int(text.strip())
    except ValueError:
        raise invalid(key, f"{key.upper()} must be a whole number of pixels.") from None
    if not 1 <= value <= limit:
        raise invalid(key, f"{key.upper()} must be within 1-{limit} pixels, got {clip(text, 20)}.")
    return value


def _bbox(q: Query, crs: MapCRS) -> BBox:
    text = q.get("bbox")
    if text is None:
        raise missing("bbox")
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) not in (4, 5) or not all(math.isfinite(v) for v in values[:4]):
        raise invalid("bbox", "BBOX must be four numbers: minx,miny,maxx,maxy.")
    a, b, c, d = values[:4]
    if not (a < c and b < d):
        raise invalid("bbox", "BBOX must have minx < maxx and miny < maxy.")
    return axis_ordered((a, b, c, d), crs)


def _format(q: Query, key: str, choices: Iterable[str], aliases: dict[str, str]) -> str:
    text = q.get(key)
    if text is None:
        raise missing(key)
    value = text.strip().lower()
    value = aliases.get(value, value)
    if value not in choices:
        raise WMSError(
            f"{key.upper()} '{clip(text)}' is not offered: {', '.join(choices)}.",
            "InvalidFormat",
            key.upper(),
        )
    return value


def _transparent(q: Query) -> bool:
    text = q.get("transparent", "false").strip().lower()
    if text not in ("true", "false", "1", "0", ""):
        raise invalid("transparent", "TRANSPARENT must be TRUE or FALSE.")
    return text in ("true", "1")


def _bgcolor(q: Query) -> tuple[int, int, int]:
    text = q.get("bgcolor", "0xFFFFFF").strip()
    digits = text[2:] if text[:2].lower() == "0x" else text.lstrip("#")
    try:
        if len(digits) != 6:
            raise ValueError(text)
        value = int(digits, 16)
    except ValueError:
        raise invalid("bgcolor", "BGCOLOR must be a hexadecimal RGB colour, 0xRRGGBB.") from None
    return (value >> 16 & 255, value >> 8 & 255, value & 255)


def parse_map(q: Query, version: Version, need_format: bool = True) -> MapQuery:
    """GetMap's parameters (GetFeatureInfo's map part needs no FORMAT)."""
    layers = _names(q, "layers")
    styles = _styles(q, len(layers))
    key = "crs" if version == V130 else "srs"
    text = q.get(key) or q.get("srs" if key == "crs" else "crs")  # the other spelling, leniently
    if text is None:
        raise missing(key)
    crs = parse_crs(text, version)
    bbox = _bbox(q, crs)
    width, height = _side(q, "width"), _side(q, "height")
    fmt = _format(q, "format", MAP_FORMATS, FORMAT_ALIASES) if need_format or "format" in q else ""
    return MapQuery(
        version=version,
        layers=layers,
        styles=styles,
        crs=crs,
        bbox=bbox,
        width=width,
        height=height,
        format=fmt if fmt in MAP_FORMATS else "image/png",
        transparent=_transparent(q),
        bgcolor=_bgcolor(q),
    )


def _pixel(q: Query, names: tuple[str, str], limit: int) -> int:
    name = next((n for n in names if n in q), None)
    if name is None:
        raise missing(names[0])
    try:
        value = int(float(q[name].strip()))
    except ValueError:
        raise WMSError(
            f"{name.upper()} must be a pixel number.", "InvalidPoint", name.upper()
        ) from None
    if not 0 <= value < limit:
        raise WMSError(
            f"{name.upper()} = {value} is outside the map (0-{limit - 1}).",
            "InvalidPoint",
            name.upper(),
        )
    return value


def parse_feature_info(q: Query, version: Version) -> FeatureInfoQuery:
    map_query = parse_map(q, version, need_format=False)
    query_layers = _names(q, "query_layers")
    for name in query_layers:
        if name not in map_query.layers:
            raise WMSError(
                f"QUERY_LAYERS names '{clip(name)}', which LAYERS does not.",
                "LayerNotDefined",
                "QUERY_LAYERS",
            )
    info_format = (
        _format(q, "info_format", INFO_FORMATS, INFO_ALIASES)
        if "info_format" in q
        else "text/plain"
    )
    # 1.3.0 names the pixel I/J, 1.1.1 X/Y; either is accepted in both
    columns, rows = (("i", "x"), ("j", "y")) if version == V130 else (("x", "i"), ("y", "j"))
    try:
        count = int(q.get("feature_count", "1"))
    except ValueError:
        raise invalid("feature_count", "FEATURE_COUNT must be a whole number.") from None
    return FeatureInfoQuery(
        map=map_query,
        query_layers=query_layers,
        info_format=info_format,
        i=_pixel(q, columns, map_query.width),
        j=_pixel(q, rows, map_query.height),
        feature_count=max(1, count),
    )


def parse_legend(q: Query, version: Version) -> LegendQuery:
    layer = q.get("layer", "").strip()
    if not layer:
        raise missing("layer")
    fmt = _format(q, "format", LEGEND_FORMATS, FORMAT_ALIASES) if "format" in q else "image/png"
    width = _side(q, "width", MAX_LEGEND_SIDE) if "width" in q else None
    height = _side(q, "height", MAX_LEGEND_SIDE) if "height" in q else None
    return LegendQuery(
        version=version,
        layer=layer,
        style=q.get("style", "").strip(),
        format=fmt,
        width=width,
        height=height,
    )
