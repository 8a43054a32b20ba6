"""Which rendering a raster gets by default, and which presets its bands allow.

Pure decisions over a raster's traits (band names, data type, sensor, class colours, per-band
statistics), so ingest, tiles, thumbnails and links agree on one answer:

- class rasters (``colormap`` / ``classes`` in the properties) in their class colours;
- a single band named after a spectral index in that index's range and colours;
- SAR: the first polarisation in grey, sigma0 in dB at a fixed -25..0 dB;
- a single band that is elevation (recorded so at ingest, or named ``elevation``/``dem``/…) in a
  terrain colormap, with terrain / hillshade / slope / aspect / contours presets;
- red/green/blue (by name, sensor alias or colour interpretation; else bands 1-3): 8-bit as it
  is, anything else stretched 2-98 % per band;
- otherwise band 1 in grey, stretched 2-98 %: a 2-band raster never shows its second band (a
  score, a mask, VH) as a colour channel.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tileserver.errors import UnknownBand
from tileserver.expressions import resolve_band
from tileserver.indices import INDICES
from tileserver.rendering.elevation import elevation_presets
from tileserver.rendering.fallback import SAR_DB_RANGE, SAR_SENSORS, fixed_rescale
from tileserver.rendering.model import RGBA, Render

GREY = "gray"
TERRAIN = "terrain"
SAR_NAMES = frozenset({"vv", "vh", "hh", "hv"})
DEM_WORDS = ("elevation", "dem", "dsm", "dtm", "height", "altitude")
FIRST_INDICES = ("NDVI", "NDWI")
COMPOSITES: tuple[tuple[str, str, tuple[tuple[str, ...], ...]], ...] = (
    ("true-color", "True colour (red, green, blue)", (("red",), ("green",), ("blue",))),
    ("false-color", "False colour (NIR, red, green)", (("nir", "nir08"), ("red",), ("green",))),
    ("swir", "Short-wave infrared (SWIR, NIR, red)", (("swir22", "swir16"), ("nir",), ("red",))),
)


@dataclass(frozen=True)
class Traits:
    """What the choice depends on; ``stats`` (per band, or None) come from registration."""

    band_names: list[str]
    dtype: str | None = None
    sensor: str | None = None
    reflectance_scale: float | None = None
    properties: Mapping[str, Any] = field(default_factory=dict)
    stats: Sequence[Mapping[str, float] | None] | None = None
    colorinterp: Sequence[str] | None = None


def band_of(traits: Traits, *names: str) -> int | None:
    """1-based band for the first common name that resolves (own names, then sensor aliases)."""
    for name in names:
        try:
            return resolve_band(name, traits.band_names, traits.sensor)
        except UnknownBand:
            continue
    return None


def stretch(traits: Traits, band: int) -> tuple[float, float]:
    """The band's 2-98 % range from its statistics, else a fixed range for its type/sensor."""
    stats = traits.stats[band - 1] if traits.stats and band <= len(traits.stats) else None
    if stats:
        low, high = float(stats["p2"]), float(stats["p98"])
        if high <= low:  # a constant band: widen to its extremes, or one unit
            low, high = float(stats["min"]), float(stats["max"])
            if high <= low:
                high = low + 1.0
        return (low, high)
    fixed = fixed_rescale(traits.dtype, traits.sensor, traits.reflectance_scale)
    return fixed if fixed is not None else (0.0, 255.0)


def _is_8bit(traits: Traits) -> bool:
    return (traits.dtype or "").lower() == "uint8"


def class_colormap(properties: Mapping[str, Any]) -> dict[str, RGBA] | None:
    """Class value -> RGBA from ``colormap`` ({"1": [r, g, b, a]}) or ``classes``
    ({"1": {"color": "#rrggbb"}}) in a dataset's properties."""
    colormap = properties.get("colormap")
    if isinstance(colormap, Mapping) and colormap:
        try:
            return {str(k): _rgba(v) for k, v in colormap.items()}
        except (TypeError, ValueError):
            pass
    classes = properties.get("classes")
    if isinstance(classes, Mapping) and classes:
        try:
            return {str(k): _rgba(c.get("color")) for k, c in classes.items()}
        except (AttributeError, TypeError, ValueError):
            return None
    return None


def _rgba(value: Any) -> RGBA:
    if isinstance(value, str):
        text = value.lstrip("#")
        if len(text) != 6:
            raise ValueError(value)
        return (int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16), 255)
    parts = [int(v) for v in value]
    if len(parts) == 3:
        parts.append(255)
    if len(parts) != 4 or not all(0 <= p <= 255 for p in parts):
        raise ValueError(value)
    return (parts[0], parts[1], parts[2], parts[3])


def rgb_bands(traits: Traits) -> list[int] | None:
    """Red, green and blue by name or sensor alias, else by colour interpretation."""
    bands = [band_of(traits, c) for c in ("red", "green", "blue")]
    if all(bands):
        return [b for b in bands if b]
    interp = [c.lower() for c in traits.colorinterp or []]
    if all(c in interp for c in ("red", "green", "blue")):
        return [interp.index(c) + 1 for c in ("red", "green", "blue")]
    return None


def _composite(traits: Traits, title: str, bands: list[int]) -> Render:
    if _is_8bit(traits):
        return Render(title=title, bidx=bands)
    return Render(
        title=f"{title}, 2-98 % stretch per band",
        bidx=bands,
        rescale=[stretch(traits, b) for b in bands],
    )


def _grey(traits: Traits, band: int, title: str) -> Render:
    return Render(
        title=f"{title} in grey, 2-98 % stretch",
        bidx=[band],
        rescale=[stretch(traits, band)],
        colormap_name=GREY,
    )


def _is_sar(traits: Traits) -> bool:
    names = {n.lower() for n in traits.band_names}
    return traits.sensor in SAR_SENSORS or (bool(names) and names <= SAR_NAMES)


def _looks_like_db(traits: Traits) -> bool:
    """Float sigma0 in dB: land and water are negative (linear power never is)."""
    if not (traits.dtype or "").lower().startswith("float"):
        return False
    stats = traits.stats[0] if traits.stats else None
    return stats is None or (float(stats["p2"]) < 0 and float(stats["p98"]) <= 10)


def _looks_like_dem(traits: Traits) -> bool:
    """Recorded as elevation at registration (``properties["elevation"]``: facts, or False
    when refused), else a single band named like one (records from before that)."""
    recorded = traits.properties.get("elevation")
    if recorded is not None:
        return bool(recorded)
    if len(traits.band_names) != 1 or _is_8bit(traits):
        return False
    words = f"{traits.band_names[0]} {traits.sensor or ''}".lower()
    return any(w in words.replace("-", " ").replace("_", " ").split() for w in DEM_WORDS)


def _index_render(name: str) -> Render:
    spectral = INDICES.get(name)
    return Render(
        title=spectral.title,
        index=spectral.name,
        rescale=[spectral.range],
        colormap_name=spectral.colormap,
    )


def default_render(traits: Traits) -> Render:
    """The one rendering a request with no render parameters gets (see the module doc)."""
    names = traits.band_names
    colormap = class_colormap(traits.properties)
    if colormap:
        band = band_of(traits, "class") or 1
        return Render(title="Classes in their colours", bidx=[band], colormap=colormap)
    if len(names) == 1 and names[0].upper() in INDICES:
        spectral = INDICES.get(names[0].upper())
        return Render(
            title=spectral.title,
            bidx=[1],
            rescale=[spectral.range],
            colormap_name=spectral.colormap,
        )
    if _is_sar(traits):
        if _looks_like_db(traits):
            return Render(
                title=f"{names[0]} in grey, {SAR_DB_RANGE[0]:g}..{SAR_DB_RANGE[1]:g} dB",
                bidx=[1],
                rescale=[SAR_DB_RANGE],
                colormap_name=GREY,
            )
        return _grey(traits, 1, names[0])
    if _looks_like_dem(traits):
        return Render(
            title="Elevation in terrain colours, 2-98 % stretch",
            bidx=[1],
            rescale=[stretch(traits, 1)],
            colormap_name=TERRAIN,
        )
    rgb = rgb_bands(traits)
    if rgb:
        return _composite(traits, "True colour (red, green, blue)", rgb)
    if len(names) >= 3:
        return _composite(traits, "Bands 1, 2, 3", [1, 2, 3])
    return _grey(traits, 1, names[0] if names else "Band 1")


def presets(traits: Traits) -> dict[str, Render]:
    """Named renderings the bands allow: composites by common band name, then every index
    whose bands exist, then class colours; keyed by a URL-safe lower-case name."""
    out: dict[str, Render] = {}
    colormap = class_colormap(traits.properties)
    if colormap:
        out["classes"] = default_render(traits)
    for name, title, wanted in COMPOSITES:
        found = [band_of(traits, *alternatives) for alternatives in wanted]
        bands = [b for b in found if b]
        if name == "true-color" and len(bands) < 3:
            bands = rgb_bands(traits) or []
        if len(bands) == 3:
            out[name] = _composite(traits, title, bands)
    for spectral in sorted(INDICES, key=lambda s: s.name not in FIRST_INDICES):
        if all(band_of(traits, b) for b in spectral.bands):
            out[spectral.name.lower()] = _index_render(spectral.name)
    if _looks_like_dem(traits):
        out.update(elevation_presets(stretch(traits, 1)))
    return out
