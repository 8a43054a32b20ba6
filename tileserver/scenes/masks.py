"""Quality masks of archive scenes: which pixels a scene's QA band says are not ground.

- Landsat Collection 2 Level-2 ``QA_PIXEL``: bit 0 fill, 1 dilated cloud, 2 cirrus, 3 cloud,
  4 cloud shadow — any of them set masks the pixel.
- Sentinel-2 L2A ``SCL``: classes 0 (no data), 3 (cloud shadow), 8 / 9 (cloud, medium / high
  probability) and 10 (thin cirrus) are masked.

A scene VRT names its mask band in its metadata (``COGSIGHT_SCENE_MASK = kind:band``), so any
reader that opens it knows without a catalog look-up. ``invalid`` is the one rule; the tile
reader (``tiling/reader.py``: tiles, points, statistics, previews, WMS, mosaics), the
processing block reads (``read_masked``) and the models' validity (``scene_valid``) apply it.
The mask band itself is never masked: ``?bands=qa_pixel`` shows the raw flags.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import attr
import numpy as np
from rasterio.io import DatasetReaderBase

from tileserver.scenes.vrt import SCENE_MASK_TAG

LANDSAT_QA = "landsat-qa-pixel"
SENTINEL2_SCL = "sentinel-2-scl"
LANDSAT_MASKED_BITS = 0b11111  # fill, dilated cloud, cirrus, cloud, cloud shadow
SCL_MASKED_CLASSES = (0, 3, 8, 9, 10)


def invalid(kind: str, values: np.ndarray) -> np.ndarray:
    """True where the QA ``values`` of a ``kind`` mask say cloud, shadow, cirrus or fill."""
    data = np.asarray(values)
    if kind == LANDSAT_QA:
        return np.asarray((data.astype(np.uint32) & LANDSAT_MASKED_BITS) != 0)
    if kind == SENTINEL2_SCL:
        return np.isin(data, SCL_MASKED_CLASSES)
    raise ValueError(f"unknown scene mask {kind!r}")


def scene_mask(dataset: Any) -> tuple[str, int] | None:
    """``(kind, 1-based band)`` of an open scene VRT's mask band, or None for other rasters."""
    if not isinstance(dataset, DatasetReaderBase) or dataset.driver != "VRT":
        return None
    value = dataset.tags().get(SCENE_MASK_TAG)
    if not value or ":" not in value:
        return None
    kind, _, band = value.rpartition(":")
    if not band.isdigit() or not 1 <= int(band) <= dataset.count:
        return None
    return kind, int(band)


def _mask_planes(array: np.ma.MaskedArray, read: Sequence[int], kind: str, band: int) -> None:
    """Mask, in place, every plane of ``array`` (bands ``read``) but the mask band itself."""
    bad = invalid(kind, np.ma.getdata(array)[list(read).index(band)])
    if not bad.any():
        return
    mask = np.ma.getmaskarray(array).copy()
    for i, b in enumerate(read):
        if b != band:
            mask[i] |= bad
    array.mask = mask


def read_masked(
    dataset: Any, indexes: Sequence[int] | None, *, scene: Any = None, **read: Any
) -> np.ma.MaskedArray:
    """``dataset.read(indexes, masked=True, **read)`` with the scene's QA mask applied (for
    the processing tools' block reads); a plain masked read for other rasters. ``scene``: the
    opened scene VRT when ``dataset`` is a WarpedVRT over it (which has no tags of its own)."""
    spec = scene_mask(scene if scene is not None else dataset)
    if spec is None:
        return dataset.read(list(indexes) if indexes else None, masked=True, **read)
    kind, band = spec
    wanted = list(indexes) if indexes else list(range(1, dataset.count + 1))
    extra = [band] if band not in wanted else []
    data = dataset.read(wanted + extra, masked=True, **read)
    _mask_planes(data, wanted + extra, kind, band)
    return data[: len(wanted)]


def scene_valid(dataset: Any, **read: Any) -> np.ndarray | None:
    """Where a scene's QA band says ground (bool), for ``read`` (window / out_shape); None for
    rasters without a scene mask."""
    spec = scene_mask(dataset)
    if spec is None:
        return None
    kind, band = spec
    return ~invalid(kind, dataset.read(band, **read))


def _trim(result: Any, count: int) -> Any:
    """An ImageData / PointData with only its first ``count`` bands."""
    changes: dict[str, Any] = {"array": result.array[:count]}
    for name in ("band_names", "band_descriptions", "scales", "offsets"):
        value = getattr(result, name, None)
        if isinstance(value, list):
            changes[name] = value[:count]
    stats = getattr(result, "dataset_statistics", None)
    if isinstance(stats, list | tuple):
        changes["dataset_statistics"] = list(stats)[:count]
    return attr.evolve(result, **changes)


def masked_call(
    dataset: Any,
    call: Callable[..., Any],
    indexes: Any = None,
    expression: str | None = None,
    **kwargs: Any,
) -> Any:
    """Run a rio-tiler read (``tile`` / ``part`` / ``read`` / ``point``) with the scene's QA
    mask applied: the mask band is read alongside, the other bands masked where it flags,
    then dropped again before the expression (``?index=NDVI``) is evaluated."""
    spec = scene_mask(dataset)
    if spec is None:
        return call(indexes=indexes, expression=expression, **kwargs)
    from rio_tiler.expression import parse_expression

    kind, band = spec
    if expression:
        wanted = list(parse_expression(expression))
    elif indexes is None:
        wanted = list(range(1, dataset.count + 1))
    else:
        wanted = [indexes] if isinstance(indexes, int) else list(indexes)
    extra = [band] if band not in wanted else []
    result = call(indexes=wanted + extra, expression=None, **kwargs)
    _mask_planes(result.array, wanted + extra, kind, band)
    if extra:
        result = _trim(result, len(wanted))
    if expression:
        result = result.apply_expression(expression)
    return result
