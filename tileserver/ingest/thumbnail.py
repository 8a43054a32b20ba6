"""A small PNG preview per raster dataset, made once at registration, stored beside the COGs.

It draws the dataset's default rendering (``tileserver.rendering``), so the preview looks like
the tiles a GIS client gets with no parameters.

Catalog listings show many datasets at once; rendering each preview from the COG on every page
view would cost a read per item, so the preview is a file (``thumbs/{id}.png``) written
atomically. It reads the COG's overviews, so even a 2 GiB raster thumbnails in milliseconds.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

import numpy as np
import rasterio
from PIL import Image
from rasterio.enums import Resampling
from rio_tiler.colormap import apply_cmap, cmap

from tileserver.catalog import DatasetRecord
from tileserver.rendering import Render, dataset_render
from tileserver.rendering.choose import GREY
from tileserver.settings import Settings
from tileserver.sources import gdal_path
from tileserver.storage import atomic_file

logger = logging.getLogger("cogsight.thumbnail")

MAX_SIDE = 256
STRETCH_PERCENTILES = (2.0, 98.0)


def thumbnail_path(settings: Settings, dataset_id: str) -> Path:
    return settings.data_dir / "thumbs" / f"{dataset_id}.png"


def _stretch(band: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """2-98 % linear stretch of the valid pixels to 0..255 (uint8), for a render without a
    range (non-8-bit data)."""
    values = band[valid]
    if values.size == 0:
        return np.zeros(band.shape, dtype="uint8")
    low, high = np.percentile(values, STRETCH_PERCENTILES)
    return _rescale(band, (float(low), float(high)))


def _rescale(band: np.ndarray, limits: tuple[float, float]) -> np.ndarray:
    """``limits`` linearly to 0..255, as rio-tiler's ``rescale`` does for tiles."""
    low, high = limits
    if high <= low:
        return np.full(band.shape, 128, dtype="uint8")
    scaled = (band.astype("float64") - low) * (255.0 / (high - low))
    return np.clip(np.nan_to_num(scaled, nan=0.0), 0, 255).astype("uint8")


def _channels(data: np.ndarray, valid: np.ndarray, render: Render) -> list[np.ndarray]:
    if render.rescale:
        limits = [render.rescale[min(i, len(render.rescale) - 1)] for i in range(len(data))]
        return [_rescale(band, lim) for band, lim in zip(data, limits, strict=True)]
    if data.dtype == np.uint8:
        return list(data)
    return [_stretch(band, valid) for band in data]


def render_thumbnail(path: str, render: Render, max_side: int = MAX_SIDE) -> bytes:
    """PNG bytes of the raster at ``path`` drawn with ``render`` (the dataset's default
    rendering, as its tiles are): at most ``max_side`` px, nodata transparent."""
    classes = render.colormap_value()
    with rasterio.open(path) as src:
        scale = min(1.0, max_side / max(src.width, src.height))
        shape = (max(1, round(src.height * scale)), max(1, round(src.width * scale)))
        indexes = [b for b in render.bidx or [1] if 1 <= b <= src.count] or [1]
        # class values must not be averaged into values that are no class
        resampling = Resampling.nearest if classes else Resampling.average
        data = src.read(indexes, out_shape=(len(indexes), *shape), resampling=resampling)
        mask = src.dataset_mask(out_shape=shape) > 0
    valid = mask & np.all(np.isfinite(data), axis=0) if data.dtype.kind == "f" else mask
    alpha = np.where(valid, 255, 0).astype("uint8")
    channels = [data[0]] if classes else _channels(data, valid, render)
    colormap = classes or (
        cmap.get(render.colormap_name)
        if render.colormap_name and render.colormap_name != GREY
        else None
    )
    if colormap is not None:
        rgb, cmap_alpha = apply_cmap(np.asarray(channels[:1]), colormap)
        channels = list(rgb[:3].astype("uint8"))
        alpha = np.where(valid, cmap_alpha, 0).astype("uint8")
    # (h, w, 4) uint8 becomes RGBA and (h, w, 2) becomes LA (grey + alpha).
    image = Image.fromarray(np.dstack([*channels, alpha]))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def write_thumbnail(settings: Settings, record: DatasetRecord) -> Path:
    """Render and store the thumbnail of a raster dataset (atomically); return its path."""
    png = render_thumbnail(gdal_path(record.uri, settings), dataset_render(record))
    dst = thumbnail_path(settings, record.id)
    with atomic_file(dst, settings) as tmp:
        tmp.write_bytes(png)
    return dst


def try_write_thumbnail(settings: Settings, record: DatasetRecord) -> Path | None:
    """``write_thumbnail`` that logs instead of raising: a preview is never worth a failure."""
    try:
        return write_thumbnail(settings, record)
    except Exception:
        logger.warning("could not make the thumbnail of dataset %s", record.id, exc_info=True)
        return None
