"""GetLegendGraphic: a PNG that says what a rendering's colours mean.

Three kinds, decided from the rendering alone (so the capabilities can state each legend's size
without drawing it): class rasters get a swatch per class with its name (``classes`` in the
dataset's properties), a stretched single band or index gets its colour ramp with the values at
both ends, and a composite gets a note of which band is in which channel. WIDTH / HEIGHT, as in
SLD's GetLegendGraphic, size the symbol (the swatch, or the ramp's bar), not the whole image.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from rio_tiler.colormap import cmap as colormaps

from tileserver.catalog import DatasetRecord, MosaicRecord
from tileserver.rendering import Render

FONT_SIZE = 11
PAD = 4
ROW_GAP = 4
SWATCH = (16, 16)
BAR = (200, 14)
MAX_CLASSES = 64
CHANNELS = (("R", (220, 40, 40)), ("G", (40, 170, 60)), ("B", (50, 90, 220)))
RGBA = tuple[int, int, int, int]


@lru_cache(maxsize=1)
def _font() -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=FONT_SIZE)


@lru_cache(maxsize=4096)
def _text_width(text: str) -> int:
    return int(np.ceil(_font().getlength(text)))


@dataclass(frozen=True)
class LegendSpec:
    """What a legend shows: ``entries`` are (colour, label) rows, or a ramp's colours."""

    kind: Literal["classes", "ramp", "channels"]
    title: str
    entries: tuple[tuple[RGBA, str], ...] = ()
    colormap_name: str | None = None
    """A ramp's rio-tiler colormap (grey when None)."""
    low: float = 0.0
    high: float = 1.0


def _class_names(source: DatasetRecord | MosaicRecord | None) -> Mapping[str, Any]:
    properties = getattr(source, "properties", None) or {}
    classes = properties.get("classes")
    return classes if isinstance(classes, Mapping) else {}


def _band_label(source: DatasetRecord | MosaicRecord | None, band: int) -> str:
    names = list(getattr(source, "band_names", []) or [])
    return names[band - 1] if 1 <= band <= len(names) else f"band {band}"


def legend_spec(render: Render, source: DatasetRecord | MosaicRecord | None = None) -> LegendSpec:
    title = render.title or "Rendering"
    if render.colormap:
        names = _class_names(source)
        rows: list[tuple[RGBA, str]] = []
        for key, colour in sorted(render.colormap.items(), key=lambda kv: float(kv[0]))[
            :MAX_CLASSES
        ]:
            info = names.get(key) or names.get(str(int(float(key))))
            name = info.get("name") if isinstance(info, Mapping) else None
            rows.append((colour, f"{key} {name}" if name else str(key)))
        return LegendSpec("classes", title, entries=tuple(rows))
    bands = render.bidx or []
    expressions = [e for e in (render.expression or "").split(";") if e.strip()]
    if len(bands) >= 3 or len(expressions) >= 3:
        labels = [_band_label(source, b) for b in bands[:3]] or expressions[:3]
        entries = tuple(
            ((*rgb, 255), f"{channel}: {label}")
            for (channel, rgb), label in zip(CHANNELS, labels, strict=False)
        )
        return LegendSpec("channels", title, entries=entries)  # type: ignore[arg-type]
    low, high = render.rescale[0] if render.rescale else (0.0, 255.0)
    return LegendSpec(
        "ramp", title, colormap_name=render.colormap_name, low=float(low), high=float(high)
    )


def _ramp(name: str | None) -> np.ndarray:
    """(256, 4) uint8 colours of a rio-tiler colormap, or a grey ramp."""
    table = colormaps.get(name) if name else None
    if table:
        return np.array([list(table[i]) for i in range(256)], dtype=np.uint8)  # type: ignore[index]
    grey = np.arange(256, dtype=np.uint8)
    return np.stack([grey, grey, grey, np.full(256, 255, np.uint8)], axis=1)


def _label(value: float) -> str:
    return format(value, ".4g")


@lru_cache(maxsize=1024)
def legend_size(spec: LegendSpec, symbol: tuple[int, int] | None = None) -> tuple[int, int]:
    """The legend image's (width, height) for a symbol size (the default when None)."""
    line = FONT_SIZE + 3
    title_w = _text_width(spec.title)
    if spec.kind == "ramp":
        bar_w, bar_h = symbol or BAR
        labels = _text_width(_label(spec.low)) + _text_width(_label(spec.high)) + PAD
        width = max(title_w, bar_w, labels) + 2 * PAD
        return width, PAD + line + bar_h + 2 + line + PAD
    sw, sh = symbol or SWATCH
    rows = max(1, len(spec.entries))
    label_w = max((_text_width(label) for _, label in spec.entries), default=0)
    width = max(title_w, sw + PAD + label_w) + 2 * PAD
    return width, PAD + line + rows * (max(sh, line) + ROW_GAP) + PAD


def draw_legend(spec: LegendSpec, symbol: tuple[int, int] | None = None) -> bytes:
    """The legend as PNG bytes (white background, dark text)."""
    width, height = legend_size(spec, symbol)
    image = Image.new("RGBA", (width, height), (255, 255, 255, 255))
    draw = ImageDraw.Draw(image)
    font, ink, line = _font(), (20, 20, 20, 255), FONT_SIZE + 3
    draw.text((PAD, PAD), spec.title, fill=ink, font=font)
    top = PAD + line
    if spec.kind == "ramp":
        bar_w, bar_h = symbol or BAR
        colours = _ramp(spec.colormap_name)
        index = np.linspace(0, 255, bar_w).round().astype(int)
        bar = np.repeat(colours[index][None, :, :], bar_h, axis=0)
        image.paste(Image.fromarray(bar, "RGBA"), (PAD, top))
        draw.rectangle((PAD, top, PAD + bar_w - 1, top + bar_h - 1), outline=(90, 90, 90, 255))
        low, high = _label(spec.low), _label(spec.high)
        draw.text((PAD, top + bar_h + 2), low, fill=ink, font=font)
        draw.text((PAD + bar_w - _text_width(high), top + bar_h + 2), high, fill=ink, font=font)
    else:
        sw, sh = symbol or SWATCH
        row = max(sh, line) + ROW_GAP
        for n, (colour, label) in enumerate(spec.entries):
            y = top + n * row
            draw.rectangle(
                (PAD, y, PAD + sw - 1, y + sh - 1), fill=colour, outline=(90, 90, 90, 255)
            )
            draw.text((PAD + sw + PAD, y + max(0, (sh - line) // 2)), label, fill=ink, font=font)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
