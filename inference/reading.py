"""Reading model inputs: band stacks from one or more rasters, by window, with mirrored edges.

A ``RasterStack`` opens the sources once, checks they share one grid, and reads any window of
the stacked bands, also windows reaching past the image (mirrored, as ``numpy.pad(mode=
"reflect")``), plus a validity mask (False where any source is nodata). For change detection,
``align_second_date`` puts a second date on the first date's grid without copying pixels.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import rasterio
from rasterio.enums import ColorInterp, MaskFlags, Resampling
from rasterio.shutil import copy
from rasterio.vrt import WarpedVRT
from rasterio.warp import transform_bounds
from rasterio.windows import Window

from inference.windows import reflect_index, runs


class NoOverlapError(ValueError):
    """Two rasters that should be compared do not overlap at all."""


@dataclass(frozen=True)
class StackSpec:
    """What to read (picklable, so Dask workers can open the same stack).

    ``sources``: GDAL paths; ``bands``: 1-based band indexes per source, stacked in order;
    ``scale``: multiplies the values before the model sees them (e.g. 1e-4 for reflectance);
    ``offset`` is added after scaling (Landsat C2L2: x 2.75e-5 - 0.2).
    """

    sources: tuple[str, ...]
    bands: tuple[tuple[int, ...], ...]
    scale: float | None = None
    offset: float = 0.0

    @classmethod
    def of(
        cls,
        sources: Sequence[str | Path],
        bands: Sequence[Sequence[int]],
        scale: float | None,
        offset: float = 0.0,
    ) -> StackSpec:
        if not sources:
            raise ValueError("at least one source raster is needed")
        if len(bands) != len(sources):
            raise ValueError(f"{len(sources)} sources but band lists for {len(bands)}")
        if any(not b for b in bands):
            raise ValueError("every source needs at least one band")
        return cls(
            tuple(str(s) for s in sources),
            tuple(tuple(int(i) for i in b) for b in bands),
            scale,
            float(offset) if scale is not None else 0.0,
        )

    @property
    def channels(self) -> int:
        return sum(len(b) for b in self.bands)


def _same_grid(a: Any, b: Any) -> bool:
    tolerance = 1e-6 * max(abs(a.transform.a), abs(a.transform.e))
    return (
        a.crs == b.crs
        and (a.width, a.height) == (b.width, b.height)
        and a.transform.almost_equals(b.transform, precision=tolerance)
    )


class RasterStack:
    """Open sources read as one ``(channels, rows, cols)`` stack. Use as a context manager."""

    def __init__(self, spec: StackSpec) -> None:
        self.spec = spec
        self._datasets = [rasterio.open(path) for path in spec.sources]
        try:
            first = self._datasets[0]
            for path, ds, bands in zip(spec.sources, self._datasets, spec.bands, strict=True):
                if not _same_grid(first, ds):
                    raise ValueError(
                        f"{path} is not on the grid of {spec.sources[0]} (CRS, transform or size "
                        "differ); put it there first with align_second_date()"
                    )
                if any(not 1 <= b <= ds.count for b in bands):
                    raise ValueError(f"{path} has bands 1..{ds.count}; asked for {list(bands)}")
        except Exception:
            self.close()
            raise
        self.height, self.width = first.height, first.width
        self.crs, self.transform = first.crs, first.transform
        self.dtype = np.result_type(*(ds.dtypes[0] for ds in self._datasets))

    def __enter__(self) -> RasterStack:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        for ds in self._datasets:
            ds.close()

    @property
    def channels(self) -> int:
        return self.spec.channels

    def read(self, top: int, bottom: int, left: int, right: int) -> np.ndarray:
        """Stacked bands for rows ``[top, bottom)`` and columns ``[left, right)`` (pixels, may
        reach past the image: mirrored), in the sources' common dtype.

        The part inside the image is read straight into the result and the mirrored margins are
        copied from it, so a strip costs one buffer, not two (when a mirrored pixel lies outside
        the part read, as for images smaller than a chip, the bounding window is read instead).
        """
        rows = reflect_index(np.arange(top, bottom), self.height)
        cols = reflect_index(np.arange(left, right), self.width)
        out = np.empty((self.channels, bottom - top, right - left), dtype=self.dtype)
        inner_rows = (max(top, 0), min(bottom, self.height))
        inner_cols = (max(left, 0), min(right, self.width))
        in_place = (
            inner_rows[0] <= rows.min() and rows.max() < inner_rows[1]
            and inner_cols[0] <= cols.min() and cols.max() < inner_cols[1]
        )  # fmt: skip
        if in_place:  # indexes relative to `out`: mirror margins from the part read into it
            r0, r1, c0, c1 = inner_rows[0], inner_rows[1], inner_cols[0], inner_cols[1]
            row_runs, col_runs = runs(rows - top), runs(cols - left)
        else:  # indexes relative to the bounding window of every pixel needed
            r0, r1 = int(rows.min()), int(rows.max()) + 1
            c0, c1 = int(cols.min()), int(cols.max()) + 1
            row_runs, col_runs = runs(rows - r0), runs(cols - c0)
        window = Window(c0, r0, c1 - c0, r1 - r0)  # type: ignore[call-arg]
        channel = 0
        for ds, bands in zip(self._datasets, self.spec.bands, strict=True):
            part = out[channel : channel + len(bands)]
            channel += len(bands)
            if in_place:
                inner = part[:, r0 - top : r1 - top, c0 - left : c1 - left]
                if ds.dtypes[0] == out.dtype:
                    ds.read(list(bands), window=window, out=inner)
                else:
                    inner[...] = ds.read(list(bands), window=window)
                source = part
            else:
                source = ds.read(list(bands), window=window)
            for dst_r, src_r in row_runs:
                for dst_c, src_c in col_runs:
                    if source is part and (dst_r, dst_c) == (src_r, src_c):
                        continue  # the part read in place
                    part[:, dst_r, dst_c] = source[:, src_r, src_c]
        return out

    def valid(self, data: np.ndarray, row0: int, row1: int, y: int, x: int) -> np.ndarray:
        """Where image rows ``[row0, row1)`` (all columns) hold data in every source (bool).

        ``data`` is a ``read()`` result whose element ``[:, y, x]`` is pixel ``(row0, 0)``.
        """
        valid = np.ones((row1 - row0, self.width), dtype=bool)
        window = Window(0, row0, self.width, row1 - row0)  # type: ignore[call-arg]
        channel = 0
        for ds, bands in zip(self._datasets, self.spec.bands, strict=True):
            part = data[channel : channel + len(bands), y : y + row1 - row0, x : x + self.width]
            channel += len(bands)
            valid &= source_valid(ds, bands, part, window=window)
        return valid

    def sample(self, max_side: int = 1024) -> tuple[np.ndarray, np.ndarray]:
        """The whole stack decimated to at most ``max_side`` px on its longest side (nearest
        neighbour; GDAL uses overviews when present): ``(float32 scaled (C, h, w), valid (h, w))``.
        """
        factor = max(1.0, max(self.height, self.width) / max_side)
        shape = (max(1, round(self.height / factor)), max(1, round(self.width / factor)))
        planes = []
        valid = np.ones(shape, dtype=bool)
        for ds, bands in zip(self._datasets, self.spec.bands, strict=True):
            data = ds.read(
                list(bands), out_shape=(len(bands), *shape), resampling=Resampling.nearest
            )
            valid &= source_valid(ds, bands, data, out_shape=shape)
            planes.append(data.astype(np.float32))
        sample = np.concatenate(planes)
        if self.spec.scale is not None:
            sample *= np.float32(self.spec.scale)
            if self.spec.offset:
                sample += np.float32(self.spec.offset)
        valid &= np.isfinite(sample).all(axis=0)
        return sample, valid


def source_valid(
    ds: Any,
    bands: Sequence[int],
    values: np.ndarray,
    *,
    window: Window | None = None,
    out_shape: tuple[int, int] | None = None,
) -> np.ndarray:
    """``_source_valid``, less the clouds and shadows an archive scene's QA band flags
    (``tileserver.scenes.masks``: the same rule the tile server applies)."""
    valid = _source_valid(ds, bands, values, window=window, out_shape=out_shape)
    try:
        from tileserver.scenes.masks import scene_valid
    except ImportError:  # the inference package without the server
        return valid
    read: dict[str, Any] = {"window": window}
    if out_shape is not None:
        read.update(out_shape=out_shape, resampling=Resampling.nearest)
    ground = scene_valid(ds, **read)
    return valid if ground is None else valid & ground


def _source_valid(
    ds: Any,
    bands: Sequence[int],
    values: np.ndarray,
    *,
    window: Window | None = None,
    out_shape: tuple[int, int] | None = None,
) -> np.ndarray:
    """Where one source has data, for ``values`` (its bands, read at ``window`` or decimated to
    ``out_shape``): an alpha band if it has one; else pixels whose bands all equal its nodata
    value (or are all NaN) are missing; else its mask band. GDAL reports an alpha band as a
    mask only for 2- and 4-band images, hence the explicit look-up."""
    read: dict[str, Any] = {"window": window}
    if out_shape is not None:
        read.update(out_shape=out_shape, resampling=Resampling.nearest)
    alpha = next((i for i, c in enumerate(ds.colorinterp, 1) if c == ColorInterp.alpha), None)
    if alpha is not None:
        return np.asarray(ds.read(alpha, **read) > 0)
    flags = [ds.mask_flag_enums[b - 1] for b in bands]
    if all(MaskFlags.all_valid in f for f in flags):
        if values.dtype.kind != "f":
            return np.ones(values.shape[1:], dtype=bool)
        missing = np.isnan(values[0])
        for band in values[1:]:
            missing &= np.isnan(band)
        return np.asarray(~missing)
    if any(MaskFlags.nodata in f for f in flags) and ds.nodata is not None:
        same = np.isnan if np.isnan(ds.nodata) else (lambda v: v == ds.nodata)
        missing = same(values[0])
        for band in values[1:]:  # band by band: one plane of temporaries, not one per band
            missing &= same(band)
        return np.asarray(~missing)
    return np.asarray(ds.read_masks(bands[0], **read) > 0)


def align_second_date(
    first_path: str | Path,
    second_path: str | Path,
    *,
    workdir: str | Path | None = None,
    resampling: str = "bilinear",
) -> str:
    """The second date on the first date's grid, as a path for ``run_inference``.

    Same grid (CRS, transform, size): ``second_path`` itself. Overlapping but different grid: a
    warped VRT (``.vrt`` file written in ``workdir``, default: beside the first image) that
    reprojects the second date onto the first grid as it is read; no pixels are copied. Pixels
    outside the second date are nodata (its own nodata value, or an added alpha band). No
    overlap: ``NoOverlapError``.
    """
    second_name = Path(second_path)
    # The VRT names its source by path: make local paths absolute so it works from anywhere.
    second_src = str(second_name.resolve()) if second_name.exists() else str(second_path)
    with rasterio.open(first_path) as first, rasterio.open(second_src) as second:
        if _same_grid(first, second):
            return str(second_path)
        left, bottom, right, top = transform_bounds(second.crs, first.crs, *second.bounds)
        a = first.bounds
        if min(right, a.right) <= max(left, a.left) or min(top, a.top) <= max(bottom, a.bottom):
            raise NoOverlapError(
                f"{second_name.name} does not overlap {Path(first_path).name}: change "
                "detection needs two images of the same area"
            )
        folder = Path(workdir) if workdir is not None else Path(first_path).resolve().parent
        folder.mkdir(parents=True, exist_ok=True)
        tag = uuid.uuid4().hex[:8]
        vrt_path = folder / f"{second_name.stem}.on-{Path(first_path).stem}.{tag}.vrt"
        options: dict[str, Any] = {
            "crs": first.crs,
            "transform": first.transform,
            "width": first.width,
            "height": first.height,
            "resampling": Resampling[resampling],
        }
        if second.nodata is not None:
            options.update(src_nodata=second.nodata, nodata=second.nodata)
        else:
            options.update(add_alpha=True)
        with WarpedVRT(second, **options) as vrt:
            copy(vrt, str(vrt_path), driver="VRT")
        if second.nodata is None:
            _mark_alpha(vrt_path, second.count + 1)
    return str(vrt_path)


def _mark_alpha(vrt_path: Path, band: int) -> None:
    """Say in the VRT that ``band`` is alpha (GDAL writes the warp's alpha band without its
    colour interpretation, and read back it would be an ordinary band: no mask)."""
    import xml.etree.ElementTree as ET

    tree = ET.parse(vrt_path)
    for element in tree.getroot().iter("VRTRasterBand"):
        if element.get("band") == str(band):
            interp = element.find("ColorInterp")
            if interp is None:
                interp = ET.SubElement(element, "ColorInterp")
            interp.text = "Alpha"
    tree.write(vrt_path, encoding="unicode")
