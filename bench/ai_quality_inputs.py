"""Inputs of ``bench.ai_quality``: the reference data sets read as arrays, and the two ways
to run a built-in tool on them.

* In memory (``classes``): fit on the whole image, one forward pass, as the unit tests do;
  the input is what the engine would feed (reflectance 0..1 when the sensor's scale is
  known, else digital numbers x 1e-4).
* Through the sliding-window engine on a file (``engine_classes``), as the model processes
  do, with the spec's chip, overlap and scale.

The data sets live under ``COGSIGHT_REALDATA_DIR`` (default ``../shared/data``, see its
README.md); a reader raises ``Absent`` when its folder is missing.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
REALDATA = Path(os.environ.get("COGSIGHT_REALDATA_DIR", ROOT.parent / "shared" / "data"))
LANDSAT_STEM = "LC08_L2SP_008059_20191201_20200825_02_T1"
#: Landsat 8 OLI surface-reflectance files by band name
LANDSAT_BANDS = {
    "blue": "SR_B2", "green": "SR_B3", "red": "SR_B4",
    "nir": "SR_B5", "swir16": "SR_B6", "swir22": "SR_B7",
}  # fmt: skip
NAIP_BANDS = ["red", "green", "blue", "nir"]


class Absent(Exception):
    """A reference data set is not on this machine."""


class Refused(Exception):
    """The tool refused the input (a fit error or a band error); the message says why."""


def realdata(*parts: str) -> Path:
    path = REALDATA.joinpath(*parts)
    if not path.exists():
        raise Absent(f"{path} not present (set COGSIGHT_REALDATA_DIR)")
    return path


def seconds(started: float) -> str:
    return f"{time.perf_counter() - started:.1f} s"


def iou(predicted: np.ndarray, truth: np.ndarray) -> float:
    return float((predicted & truth).sum() / max((predicted | truth).sum(), 1))


def precision_recall(predicted: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    hits = float((predicted & truth).sum())
    return hits / max(float(predicted.sum()), 1.0), hits / max(float(truth.sum()), 1.0)


def normalized_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(np.abs(a + b) > 1e-9, (a - b) / (a + b), 0.0)


# -- running a tool ------------------------------------------------------------------------


def chosen_bands(name: str, available: Sequence[str]) -> list[str]:
    """The tool's first band set ``available`` covers (the spec's order), as the engine
    chooses it; ``Refused`` naming the sets when none fits."""
    from inference.models import MODELS

    spec = MODELS.get(name).spec
    for bands in spec.band_sets:
        if set(bands) <= set(available):
            return bands
    raise Refused(f"{name} needs {spec.band_sets_text}; the data has {', '.join(available)}")


def band_set(name: str, available: Sequence[str]) -> list[int]:
    """Indexes into ``available`` of ``chosen_bands``."""
    return [list(available).index(b) for b in chosen_bands(name, available)]


def class_map(name: str, probabilities: np.ndarray) -> np.ndarray:
    from inference.models import MODELS

    ids = np.array(MODELS.get(name).spec.class_ids)
    return ids[probabilities.argmax(axis=0)]


def forward(
    name: str,
    image: np.ndarray,
    valid: np.ndarray | None = None,
    bands: Sequence[str] | None = None,
) -> np.ndarray:
    """The tool's output for ``image`` (C, H, W): built for the band set ``bands`` (default:
    the spec's first), fitted on the whole image (its ``valid`` pixels) when the tool needs
    a fit, then one forward pass."""
    import torch

    from inference.models import MODELS, Fittable, ModelFitError, build

    image = np.ascontiguousarray(image, dtype=np.float32)
    model = build(name, bands)
    try:
        if MODELS.get(name).spec.needs_fit:
            assert isinstance(model, Fittable)
            mask = np.ones(image.shape[1:], dtype=bool) if valid is None else valid
            model.fit(image, mask)
        with torch.inference_mode():
            return model(torch.from_numpy(image)[None])[0].numpy()
    except (ModelFitError, ValueError) as exc:
        raise Refused(str(exc).splitlines()[0]) from exc


def classes(
    name: str,
    image: np.ndarray,
    valid: np.ndarray | None = None,
    bands: Sequence[str] | None = None,
) -> np.ndarray:
    """The class-id map of ``forward``."""
    return class_map(name, forward(name, image, valid, bands))


def engine_classes(
    name: str,
    sources: Sequence[Path],
    bands: Sequence[Sequence[int]],
    *,
    offset: float = 0.0,
    scale: float | None = None,
    chip: int | None = None,
    overlap: int | None = None,
) -> np.ndarray:
    """The class map the engine writes for ``sources`` (1-based ``bands`` per source), with
    the spec's chip, overlap and input scale unless given."""
    import rasterio

    from inference.engine import run_inference
    from inference.models import MODELS, ModelFitError

    spec = MODELS.get(name).spec
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "classes.tif"
        try:
            run_inference(
                MODELS.build(name), list(sources), out, bands=bands,
                scale=spec.input_scale if scale is None else scale, offset=offset,
                chip=spec.chip_size if chip is None else chip,
                overlap=spec.overlap if overlap is None else overlap,
                class_values=spec.class_ids,
            )  # fmt: skip
        except (ModelFitError, ValueError) as exc:
            raise Refused(str(exc).splitlines()[0]) from exc
        with rasterio.open(out) as src:
            return src.read(1)


def write_array(data: np.ndarray, path: Path, dtype: str = "uint16", **profile: object) -> Path:
    """A (C, H, W) array as a plain GeoTIFF (UTM 33N, 1 m pixels unless ``profile`` says)."""
    import rasterio
    from rasterio.transform import from_origin

    meta: dict[str, object] = dict(
        driver="GTiff", width=data.shape[2], height=data.shape[1], count=data.shape[0],
        dtype=dtype, crs="EPSG:32633", transform=from_origin(500000, 5000000, 1.0, 1.0),
    )  # fmt: skip
    meta.update(profile)
    with rasterio.open(path, "w", **meta) as dst:
        dst.write(data.astype(dtype))
    return path


# -- reference data sets ---------------------------------------------------------------------


@cache
def landsat() -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Landsat 8 C2L2 Colombia: surface reflectance by band name (DN x 2.75e-5 - 0.2) and
    the QA_PIXEL flags (bit 0 fill, 1 dilated cloud, 2 cirrus, 3 cloud, 4 shadow, 7 water)."""
    import rasterio

    folder = realdata("landsat8-c2l2-colombia")
    bands = {}
    for name, suffix in LANDSAT_BANDS.items():
        with rasterio.open(folder / f"{LANDSAT_STEM}_{suffix}.TIF") as src:
            bands[name] = (src.read(1).astype(np.float32) * 2.75e-5 - 0.2).astype(np.float32)
    with rasterio.open(folder / f"{LANDSAT_STEM}_QA_PIXEL.TIF") as src:
        qa = src.read(1)
    return bands, qa


def landsat_stack(names: Sequence[str], out: Path) -> Path:
    """The Landsat DN files of ``names`` stacked into one GeoTIFF (nodata 0), for the engine."""
    import rasterio

    folder = realdata("landsat8-c2l2-colombia")
    planes = []
    for name in names:
        with rasterio.open(folder / f"{LANDSAT_STEM}_{LANDSAT_BANDS[name]}.TIF") as src:
            planes.append(src.read(1))
            profile = src.profile
    profile.update(count=len(planes), nodata=0, driver="GTiff")
    with rasterio.open(out, "w", **profile) as dst:
        dst.write(np.stack(planes))
    return out


@cache
def naip() -> tuple[np.ndarray, np.ndarray]:
    """NAIP North Dakota 2009 and 2020 (red, green, blue, nir), 8-bit DN x 1e-4 as the engine
    scales them, the 2020 image warped (bilinear) onto the 2009 grid."""
    import rasterio
    from rasterio.warp import Resampling, reproject

    first, second = sorted(realdata("naip-northdakota-2009-2020").glob("m_*.tif"))
    with rasterio.open(first) as a, rasterio.open(second) as b:
        old = a.read().astype(np.float32)
        new = np.zeros_like(old)
        reproject(
            b.read().astype(np.float32), new, src_transform=b.transform, src_crs=b.crs,
            dst_transform=a.transform, dst_crs=a.crs, resampling=Resampling.bilinear,
        )  # fmt: skip
    return old * 1e-4, new * 1e-4


@cache
def sentinel2() -> tuple[np.ndarray, np.ndarray]:
    """Sentinel-2 L2A Austria: (red, green, blue, nir) reflectance of 2021-06-17 and 2021-09-25."""
    import rasterio

    with rasterio.open(realdata("s2-l2a-austria-2date", "inference-img.tif")) as src:
        data = src.read().astype(np.float32) * 1e-4
    return data[:4], data[4:]


def spacenet() -> tuple[Path, np.ndarray]:
    """SpaceNet-4 Atlanta: the pan GeoTIFF and the footprint mask on its grid."""
    import rasterio

    folder = realdata("spacenet4-atlanta-buildings")
    with rasterio.open(folder / "sample_fp_mask_from_geojson.tif") as src:
        truth = src.read(1) > 0
    return folder / "sample_geotiff.tif", truth


def sentinel1_db(calibration: float) -> np.ndarray:
    """Sentinel-1 GRD India amplitude DN as sigma0 dB = 20 log10(DN / calibration) in its
    own (GCP) geometry, (1, H, W); DN 0 is nodata (-9999)."""
    import rasterio

    with rasterio.open(realdata("s1-grd-india-gcps", "cog_gcps.tif")) as src:
        dn = src.read(1).astype(np.float32)
    with np.errstate(divide="ignore"):
        db = 20.0 * np.log10(dn / calibration)
    return np.where(dn > 0, db, -9999.0).astype(np.float32)[None]


def tennessee(size: int) -> np.ndarray:
    """NOAA Tennessee RGB: the central ``size`` px window as (blue, green, red) 0..1."""
    import rasterio
    from rasterio.windows import Window

    path = realdata("noaa-eri-tennessee-2020", "20200307aC0853900w361030n.tif")
    with rasterio.open(path) as src:
        r0, c0 = (src.height - size) // 2, (src.width - size) // 2
        rgb = src.read(window=Window(c0, r0, size, size)).astype(np.float32) / 255.0
    return rgb[::-1].copy()


# -- synthetic truth on top of an image ------------------------------------------------------


def hazed(clear: np.ndarray, airlight: Sequence[float]) -> np.ndarray:
    """``clear`` (C, H, W) 0..1 under haze I = J t + A (1 - t) (He et al.), with a known
    transmission t from 0.25 at the west edge to about 0.9 at the east (a dense bank)."""
    h, w = clear.shape[1:]
    yy, xx = np.mgrid[0:h, 0:w] / h
    t = (0.25 + 0.65 * xx**0.7 + 0.03 * np.sin(6 * yy)).astype(np.float32)
    a = np.asarray(airlight, dtype=np.float32)[:, None, None]
    return (clear * t + a * (1 - t)).astype(np.float32)
