"""GetMap: read each layer's area with ``part()``, draw it as its rendering says, stack, encode.

Reading goes through ``CatalogReader.part`` (datasets) and the catalog mosaic backend (mosaics),
which read only the part of the area the data covers; an area that misses the data is a
transparent layer, not an error (a WMS map may show any area). The rendering is the stored
default or the style's preset, applied as the tile endpoints apply it (band choice through
``resolve_layer``, then ``rescale``, then the colormap). Layers are stacked in request order,
the first at the bottom; ``TRANSPARENT=FALSE`` (the WMS default) flattens onto ``BGCOLOR``.
"""

from __future__ import annotations

import io
import textwrap
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from rasterio.dtypes import dtype_ranges
from rio_tiler.colormap import apply_cmap
from rio_tiler.colormap import cmap as colormaps
from rio_tiler.errors import EmptyMosaicError, NoAssetFoundError, TileOutsideBounds
from rio_tiler.models import ImageData
from rio_tiler.profiles import img_profiles
from rio_tiler.utils import linear_rescale
from rio_tiler.utils import render as encode_array

from tileserver.catalog import DatasetRecord
from tileserver.elevation.algorithms import smooth_heights
from tileserver.elevation.process import render_algorithm
from tileserver.mosaics.backend import open_mosaic
from tileserver.rendering import Render
from tileserver.settings import Settings
from tileserver.sources import gdal_path
from tileserver.tiling.layers import LayerQuery, resolve_layer
from tileserver.tiling.reader import CatalogReader
from tileserver.tiling.records import RecordCache
from tileserver.wms.layers import Layer
from tileserver.wms.params import MAP_FORMATS, MapQuery

OUTSIDE = (TileOutsideBounds, NoAssetFoundError, EmptyMosaicError)
"""What the readers raise for an area with no data in it: drawn as a transparent layer."""


@dataclass(frozen=True)
class Sources:
    """Where layers' pixels come from (the app's settings and record cache)."""

    settings: Settings
    records: RecordCache


def read_layer(layer: Layer, render: Render, query: MapQuery, sources: Sources) -> ImageData | None:
    """The layer's bands for the map area and size, or None where it has no data."""
    bands = resolve_layer(LayerQuery(), layer.source, render)
    algorithm = render_algorithm(render)  # a DEM preset's hillshade, slope ...
    options = dict(
        dst_crs=query.crs.crs,
        bounds_crs=query.crs.crs,
        width=query.width,
        height=query.height,
        indexes=bands.indexes,
        expression=bands.expression,
        **({"reproject_method": "bilinear"} if smooth_heights(algorithm) else {}),
    )
    try:
        if isinstance(layer.source, DatasetRecord):
            with CatalogReader(gdal_path(layer.source.uri, sources.settings)) as src:
                image = src.part(query.bbox, **options)
        else:
            with open_mosaic(layer.source, sources.records, sources.settings) as mosaic:
                image, _ = mosaic.part(query.bbox, **options)
    except OUTSIDE:
        return None
    return algorithm(image) if algorithm is not None else image


def _colormap(render: Render) -> Any:
    table = render.colormap_value()
    if table:
        return table
    return colormaps.get(render.colormap_name) if render.colormap_name else None


def to_rgba(image: ImageData, render: Render) -> np.ndarray:
    """(4, rows, cols) uint8: the rendering's colours and the data's mask as alpha."""
    if render.rescale:
        image.rescale(in_range=render.rescale)
    data = np.asarray(image.array.data)
    mask = image.mask.astype("uint8")
    colormap = _colormap(render)
    if colormap:
        data, alpha = apply_cmap(data[:1], colormap)
        mask = np.where(mask > 0, alpha, 0).astype("uint8")
    elif data.dtype != np.uint8:  # as titiler: the type's range to 0-255
        low, high = dtype_ranges[str(data.dtype)]
        data = linear_rescale(data.astype("float64"), in_range=(low, high), out_range=(0, 255))
    rgb = data[:3] if data.shape[0] >= 3 else np.repeat(data[:1], 3, axis=0)
    if rgb.dtype != np.uint8:
        rgb = np.clip(rgb, 0, 255).astype("uint8")
    return np.concatenate([rgb, mask[None]])


def stack(layers: list[np.ndarray | None], height: int, width: int) -> np.ndarray:
    """Layers over each other, the first at the bottom (alpha compositing; only pixels whose
    alpha is neither 0 nor 255 need arithmetic, and a single layer none at all)."""
    present = [layer for layer in layers if layer is not None]
    if not present:
        return np.zeros((4, height, width), dtype="uint8")
    out = present[0].copy()
    for top in present[1:]:
        alpha = top[3]
        opaque = alpha == 255
        out[:, opaque] = top[:, opaque]
        partial = (alpha > 0) & ~opaque
        if not partial.any():
            continue
        a_top = top[3, partial].astype("float32") / 255.0
        a_out = out[3, partial].astype("float32") / 255.0
        a_new = a_top + a_out * (1 - a_top)
        for band in range(3):
            mixed = top[band, partial] * a_top + out[band, partial] * a_out * (1 - a_top)
            out[band, partial] = np.rint(mixed / np.where(a_new > 0, a_new, 1)).astype("uint8")
        out[3, partial] = np.rint(a_new * 255).astype("uint8")
    return out


def encode(
    rgba: np.ndarray, media_type: str, transparent: bool, bgcolor: tuple[int, int, int]
) -> bytes:
    """PNG, JPEG or WebP bytes: with alpha when transparency is asked for and the format has it,
    else flattened onto the background colour."""
    driver = MAP_FORMATS[media_type]
    profile = dict(img_profiles.get(driver.lower()) or {})
    if transparent and driver != "JPEG":
        return encode_array(rgba[:3], mask=rgba[3], img_format=driver, **profile)
    rgb, alpha = rgba[:3].copy(), rgba[3]
    rgb[:, alpha == 0] = np.array(bgcolor, dtype="uint8")[:, None]
    partial = (alpha > 0) & (alpha < 255)
    if partial.any():
        share = alpha[partial].astype("float32") / 255.0
        for band in range(3):
            mixed = rgb[band, partial] * share + bgcolor[band] * (1 - share)
            rgb[band, partial] = np.rint(mixed).astype("uint8")
    return encode_array(rgb, img_format=driver, **profile)


def draw_map(layers: list[tuple[Layer, Render]], query: MapQuery, sources: Sources) -> bytes:
    pictures = []
    for layer, render in layers:
        image = read_layer(layer, render, query, sources)
        pictures.append(None if image is None else to_rgba(image, render))
    rgba = stack(pictures, query.height, query.width)
    return encode(rgba, query.format, query.transparent, query.bgcolor)


def message_image(
    message: str | None,
    width: int,
    height: int,
    media_type: str,
    transparent: bool,
    bgcolor: tuple[int, int, int],
) -> bytes:
    """``EXCEPTIONS=INIMAGE`` (the message drawn on the map) or ``BLANK`` (``message`` None)."""
    image = Image.new("RGBA", (width, height), (*bgcolor, 0 if transparent else 255))
    if message:
        draw = ImageDraw.Draw(image)
        font = ImageFont.load_default(size=12)
        lines = textwrap.wrap(message, width=max(10, width // 7))
        draw.multiline_text(
            (4, 4), "\n".join(lines[: max(1, height // 14)]), fill=(200, 0, 0, 255), font=font
        )
    if not transparent or MAP_FORMATS[media_type] == "JPEG":
        image = image.convert("RGB")
    out = io.BytesIO()
    image.save(out, format=MAP_FORMATS[media_type])
    return out.getvalue()
