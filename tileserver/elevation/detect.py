"""Is this raster an elevation model? Decided once, at registration, from the file itself.

A DEM is one band of floats or 16/32-bit integers whose values are a plausible range of metres
on Earth. What makes it elevation rather than any other single-band measurement is a hint: a
band description, unit, GDAL metadata or file name saying dem / dsm / dtm / srtm / elevation /
height, a unit of metres, or a 1° tile name such as ``N30E114``. Without a hint an unnamed float
band spanning 20 m or more and reaching 20 m or higher is taken as elevation too (what a bare
DEM export looks like; SAR decibels, reflectances and scores are not; integer bands need a hint:
most are counts or digital numbers).
The uploader can force the answer either way (``elevation=true|false``).

The record keeps ``properties["elevation"] = {"units": "m", "vertical_datum": ..., "min",
"max"}``; a refused raster keeps ``False`` there, so its band names cannot make it one later.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import rasterio

from tileserver.catalog import DatasetRecord
from tileserver.errors import InvalidInput
from tileserver.rendering.statistics import band_statistics

ELEVATION_KEY = "elevation"
HINT_WORDS = frozenset(
    {"dem", "dsm", "dtm", "srtm", "elevation", "elev", "height", "altitude", "terrain", "gdem"}
)
ELEVATION_DTYPES = frozenset({"float32", "float64", "int16", "int32"})
METRE_UNITS = frozenset({"m", "metre", "metres", "meter", "meters"})
LOWEST_M, HIGHEST_M = -500.0, 9000.0
"""The Dead Sea shore is at -430 m, Everest at 8849 m: a range outside this is not metres."""
MIN_UNHINTED_SPAN_M = 20.0
DATUM_HINTS: tuple[tuple[str, str], ...] = (
    ("egm2008", "EGM2008"),
    ("egm08", "EGM2008"),
    ("egm96", "EGM96"),
    ("navd88", "NAVD88"),
    ("copernicus", "EGM2008"),
    ("glo30", "EGM2008"),
    ("srtm", "EGM96"),
    ("ellipsoid", "WGS84 ellipsoid"),
)
SRTM_TILE = re.compile(r"(^|[^a-z0-9])[ns]\d{2}[ew]\d{3}([^a-z0-9]|$)", re.IGNORECASE)
"""An SRTM / Copernicus style 1° tile name: ``N30E114.tif``, ``srtm_n30e114.hgt``."""
GENERIC_NAME = re.compile(r"^(b|band|layer)[ _-]?1$", re.IGNORECASE)
"""Names that say nothing (GDAL's, ERDAS Imagine's ``Layer_1``): an unnamed band."""
TRUE_WORDS = frozenset({"1", "true", "yes", "on", "elevation", "dem"})
FALSE_WORDS = frozenset({"0", "false", "no", "off", "image", "raster", "none"})


def parse_elevation_flag(value: str | None) -> bool | None:
    """An upload's ``elevation`` (or ``kind``) field: None to detect, True/False to force."""
    if value is None or not value.strip():
        return None
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise InvalidInput(
        f"elevation must be true or false (kind: elevation or image), got '{value[:20]}'."
    )


def _words(*texts: str | None) -> set[str]:
    return {w for t in texts if t for w in re.split(r"[^a-z0-9]+", t.lower()) if w}


def _vertical_datum(crs: Any, tags: Mapping[str, str], name: str) -> str:
    """The vertical datum the file states (a compound CRS, a tag), else one its name implies."""
    for key, value in tags.items():
        if "vertical" in key.lower() and value.strip():
            return value.strip()[:80]
    wkt = crs.to_wkt() if crs is not None else ""
    match = re.search(r'VERT_?CS\["([^"]+)"', wkt) or re.search(r'VERTCRS\["([^"]+)"', wkt)
    if match:
        return match.group(1)[:80]
    lowered = name.lower().replace("-", "").replace("_", "")
    for needle, datum in DATUM_HINTS:
        if needle in lowered:
            return datum
    return "unknown"


def _read_facts(path: str) -> tuple[list[str], dict[str, str], str | None, Any]:
    with rasterio.open(path) as src:
        texts = [src.descriptions[0] or "" if src.count else ""]
        tags = {**src.tags(), **(src.tags(1) if src.count else {})}
        units = src.units[0] if src.count and src.units else None
        return texts, tags, units, src.crs


def _plausible(stats: Mapping[str, float] | None) -> bool:
    return (
        stats is not None
        and stats["min"] >= LOWEST_M
        and stats["max"] <= HIGHEST_M
        and stats["max"] > stats["min"]
    )


def elevation_properties(
    path: str,
    band_names: Sequence[str],
    dtype: str,
    filename: str,
    forced: bool | None = None,
) -> dict[str, Any]:
    """``{"elevation": {...}}`` for a DEM being registered, ``{"elevation": False}`` when
    the caller refused it, else ``{}``. Reads one overview (milliseconds)."""
    if forced is False:
        return {ELEVATION_KEY: False}
    if len(band_names) != 1:
        if forced:
            raise InvalidInput(
                f"Only a single-band raster can be elevation; this one has {len(band_names)}."
            )
        return {}
    if forced is None and dtype.lower() not in ELEVATION_DTYPES:
        return {}
    stats = band_statistics(path)[0]
    if stats is None:
        if forced:
            raise InvalidInput("This raster has no valid pixels to use as elevation.")
        return {}
    descriptions, tags, units, crs = _read_facts(path)
    if forced is None:
        hints = _words(*descriptions, band_names[0], filename, *tags.keys(), *tags.values())
        metres = (units or "").strip().lower() in METRE_UNITS
        unnamed = all(GENERIC_NAME.match(n) for n in (band_names[0], descriptions[0]) if n)
        unnamed = unnamed and dtype.lower().startswith("float")
        tile_name = bool(SRTM_TILE.search(filename))
        hinted = bool(hints & HINT_WORDS) or metres or tile_name
        span = stats["max"] - stats["min"]
        wide = span >= MIN_UNHINTED_SPAN_M and stats["max"] >= MIN_UNHINTED_SPAN_M
        if not _plausible(stats) or not (hinted or (unnamed and wide)):
            return {}
    return {
        ELEVATION_KEY: {
            "units": "m",
            "vertical_datum": _vertical_datum(crs, tags, filename),
            "min": float(stats["min"]),
            "max": float(stats["max"]),
        }
    }


def elevation_info(record: DatasetRecord | Mapping[str, Any]) -> dict[str, Any] | None:
    """A dataset's elevation facts (``units``, ``vertical_datum``, ``min``, ``max``), or None
    when it is not a DEM. Takes a record or its properties."""
    properties = record.properties if isinstance(record, DatasetRecord) else record
    value = properties.get(ELEVATION_KEY) if isinstance(properties, Mapping) else None
    if isinstance(value, Mapping) and "min" in value and "max" in value:
        return dict(value)
    return None
