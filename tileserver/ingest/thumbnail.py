"""A small PNG preview per raster dataset, made once at registration, stored beside the COGs.

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

from tileserver.catalog import DatasetRecord
from tileserver.settings import Settings
from tileserver.sources import gdal_path
from tileserver.storage import atomic_file

logger = logging.getLogger("cogsight.thumbnail")

MAX_SIDE = 256
STRETCH_PERCENTILES = (2.0, 98.0)


def thumbnail_path(settings: Settings, dataset_id: str) -> Path:
    return settings.data_dir / "thumbs" / f"{dataset_id}.png"


def preview_bands(band_names: list[str], count: int) -> list[int]:
    """1-based bands to show: red/green/blue by name, else the first three, else the first."""
    lowered = [n.lower() for n in band_names]
    if all(c in lowered for c in ("red", "green", "blue")):
        return [lowered.index(c) + 1 for c in ("red", "green", "blue")]
    return [1, 2, 3] if count >= 3 else [1]


def _stretch(band: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """2-98 % linear stretch of the valid pixels to 0..255 (uint8)."""
    values = band[valid]
    out = np.zeros(band.shape, dtype="uint8")
    if values.size == 0:
        return out
    lo, hi = np.percentile(values, STRETCH_PERCENTILES)
    if hi <= lo:
        out[valid] = 128
        return out
    scaled = (band.astype("float64") - lo) * (255.0 / (hi - lo))
    out[:] = np.clip(np.nan_to_num(scaled, nan=0.0), 0, 255).astype("uint8")
    return out


def render_thumbnail(path: str, band_names: list[str], max_side: int = MAX_SIDE) -> bytes:
    """PNG bytes of the raster at ``path``: at most ``max_side`` px, nodata transparent."""
    with rasterio.open(path) as src:
        scale = min(1.0, max_side / max(src.width, src.height))
        shape = (max(1, round(src.height * scale)), max(1, round(src.width * scale)))
        indexes = preview_bands(band_names, src.count)
        data = src.read(indexes, out_shape=(len(indexes), *shape), resampling=Resampling.average)
        mask = src.dataset_mask(out_shape=shape) > 0
    valid = mask & np.all(np.isfinite(data), axis=0) if data.dtype.kind == "f" else mask
    channels = [_stretch(band, valid) for band in data]
    alpha = np.where(valid, 255, 0).astype("uint8")
    # (h, w, 4) uint8 becomes RGBA and (h, w, 2) becomes LA (grey + alpha).
    image = Image.fromarray(np.dstack([*channels, alpha]))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def write_thumbnail(settings: Settings, record: DatasetRecord) -> Path:
    """Render and store the thumbnail of a raster dataset (atomically); return its path."""
    png = render_thumbnail(gdal_path(record.uri, settings), record.band_names)
    dst = thumbnail_path(settings, record.id)
    with atomic_file(dst) as tmp:
        tmp.write_bytes(png)
    return dst


def try_write_thumbnail(settings: Settings, record: DatasetRecord) -> Path | None:
    """``write_thumbnail`` that logs instead of raising: a preview is never worth a failure."""
    try:
        return write_thumbnail(settings, record)
    except Exception:
        logger.warning("could not make the thumbnail of dataset %s", record.id, exc_info=True)
        return None
