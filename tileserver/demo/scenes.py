"""Demo-dataset writer: SYNTHETIC optical/SAR scenes around Wuhan with ground-truth masks.

Grids are real (UTM 49N/50N, 10 m pixels); the pixel values are generated from the seeded
landscape model (landscape.py) and endmember spectra (spectra.py). Optical bands are surface
reflectance x 10000 (uint16, nodata 0); SAR bands are sigma0 in dB (float32, nodata -9999).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import rasterio
from affine import Affine
from pyproj import Transformer
from rasterio.crs import CRS
from rasterio.io import MemoryFile
from rio_cogeo.cogeo import cog_translate
from rio_cogeo.profiles import cog_profiles

from tileserver.demo import landscape as ls
from tileserver.demo import spectra

CLASSES = ls.CLASSES
CHANGE_CLASSES = ls.CHANGE_CLASSES

PIXEL_M = 10.0
SCENE_SIZE = 768
MOSAIC_SIZE = 512
MOSAIC_OVERLAP_M = 768.0  # ~15 % of a 5.12 km mosaic scene
SAR_NODATA = -9999.0
SAR_LOOKS = 4
_PSF = np.array([0.107, 0.786, 0.107], dtype=np.float32)  # Gaussian PSF, sigma 0.5 px

DATE_1 = "2024-05-12T03:00:00Z"
DATE_2 = "2024-09-20T03:00:00Z"
DATE_SAR = "2024-05-14T10:28:00Z"
DATE_MOSAIC = "2024-06-01T03:00:00Z"


@dataclass(frozen=True)
class DemoItem:
    """One generated raster of the demo dataset."""

    path: Path
    title: str
    sensor: str
    datetime: str
    kind: str
    group: str
    truth_path: Path | None


@dataclass(frozen=True)
class Grid:
    """A raster grid: CRS, affine transform and (rows, cols)."""

    crs: str
    transform: Affine
    shape: tuple[int, int]


Progress = Callable[[str], None]
OverviewResampling = Literal["nearest", "bilinear", "cubic", "average", "mode", "gauss", "rms"]


def _crs_wkt(crs: object) -> str:
    return CRS.from_user_input(crs).to_wkt()


def _utm_grid(epsg: int, lon: float, lat: float, size: int) -> Grid:
    """size x size grid at PIXEL_M centred on (lon, lat), origin snapped to whole pixels."""
    x, y = Transformer.from_crs(4326, epsg, always_xy=True).transform(lon, lat)
    half = size * PIXEL_M / 2
    west = round((x - half) / PIXEL_M) * PIXEL_M
    north = round((y + half) / PIXEL_M) * PIXEL_M
    transform = Affine(PIXEL_M, 0.0, west, 0.0, -PIXEL_M, north)
    return Grid(f"EPSG:{epsg}", transform, (size, size))


def scene_grid() -> Grid:
    """The East Lake scene grid: EPSG:32650, 768 x 768 px of 10 m."""
    return _utm_grid(32650, *ls.EAST_LAKE_SCENE_CENTRE, SCENE_SIZE)


def mosaic_grids() -> list[tuple[str, Grid]]:
    """2 x 2 overlapping scenes straddling 114 E; west column in UTM 49N, east in 50N.

    Scene centres are offset +/- (size - overlap) / 2 from the mosaic centre on the ground, so
    neighbours overlap by MOSAIC_OVERLAP_M minus the ~1.5 deg grid-convergence skew.
    """
    to_ll = Transformer.from_crs(ls.WORLD_CRS, 4326, always_xy=True)
    mx, my = ls.world_xy(*ls.MOSAIC_CENTRE)
    step = (MOSAIC_SIZE * PIXEL_M - MOSAIC_OVERLAP_M) / 2
    out = []
    for r, dy in enumerate((step, -step)):
        for c, (dx, zone) in enumerate(((-step, 49), (step, 50))):
            lon, lat = to_ll.transform(mx + dx, my + dy)
            out.append((f"mosaic-{zone}n-{r}{c}", _utm_grid(32600 + zone, lon, lat, MOSAIC_SIZE)))
    return out


def collar_mask(shape: tuple[int, int]) -> np.ndarray:
    """True on a thin slanted nodata wedge along the west edge (4 px at top, ~50 at bottom),
    like the edge of a satellite swath."""
    rows = np.arange(shape[0])[:, None]
    cols = np.arange(shape[1])[None, :]
    return cols < 4 + 0.06 * rows


def _grid_rng(seed: int, salt: int, date_variant: int, transform: Affine) -> np.random.Generator:
    """Per-grid noise stream: keyed by the grid origin too, so scenes of the same size (the
    mosaic tiles) do not share one noise pattern."""
    origin = (round(abs(transform.c)) & 0xFFFFFFFF, round(abs(transform.f)) & 0xFFFFFFFF)
    return np.random.default_rng([seed & 0xFFFFFFFF, salt, date_variant & 0xFFFF, *origin])


def _blur(image: np.ndarray) -> np.ndarray:
    """Separable 3-tap PSF along the last two axes (edge pixels replicated)."""
    pad = np.pad(image, [(0, 0)] * (image.ndim - 2) + [(1, 1), (1, 1)], mode="edge")
    rows = _PSF[0] * pad[..., :-2, :] + _PSF[1] * pad[..., 1:-1, :] + _PSF[2] * pad[..., 2:, :]
    return _PSF[0] * rows[..., :-2] + _PSF[1] * rows[..., 1:-1] + _PSF[2] * rows[..., 2:]


def make_optical_scene(
    shape: tuple[int, int],
    transform: Affine,
    crs: object,
    seed: int,
    date_variant: int = 0,
    *,
    collar: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic 5-band scene (blue, green, red, nir, swir16) on any grid.

    Returns reflectance x 10000 as uint16 (5, H, W) -- valid pixels >= 1, nodata 0 -- and the
    truth classes (H, W) uint8 (CLASSES). date_variant 0 is the baseline; >= 1 applies the
    known changes. collar=True blanks a thin slanted strip on the west edge (nodata).
    """
    shape, transform = (int(shape[0]), int(shape[1])), Affine(*transform[:6])
    layers = ls.evaluate(shape, transform, _crs_wkt(crs), seed, date_variant)
    rng = _grid_rng(seed, 101, date_variant, transform)
    refl = spectra.reflectance(layers, rng.standard_normal(shape, dtype=np.float32))
    refl += rng.normal(0.0, 0.002, refl.shape).astype(np.float32)  # sensor noise
    refl = _blur(refl)
    if date_variant >= 1:  # slightly hazier, lower-sun autumn acquisition
        refl *= np.array([1.03, 1.02, 1.01, 0.97, 0.98], dtype=np.float32)[:, None, None]
        refl += np.array([0.004, 0.003, 0.002, 0.0, 0.0], dtype=np.float32)[:, None, None]
    data = np.clip(np.rint(refl * 10000.0), 1, 65535).astype(np.uint16)
    classes = layers.classes
    if collar:
        mask = collar_mask(shape)
        data[:, mask] = 0
        classes = np.where(mask, ls.NODATA, classes).astype(np.uint8)
    return data, classes


def make_sar_scene(
    shape: tuple[int, int],
    transform: Affine,
    crs: object,
    seed: int,
    date_variant: int = 0,
    *,
    collar: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic Sentinel-1-like (VV, VH) scene in dB, float32 (2, H, W), nodata -9999.

    Speckle is multiplicative Gamma noise (SAR_LOOKS looks, unit mean) applied to linear
    power before conversion to dB. Returns the data and truth classes.
    """
    shape, transform = (int(shape[0]), int(shape[1])), Affine(*transform[:6])
    layers = ls.evaluate(shape, transform, _crs_wkt(crs), seed, date_variant)
    power = 10.0 ** (spectra.backscatter_db(layers) / 10.0)
    rng = _grid_rng(seed, 202, date_variant, transform)
    power *= rng.gamma(SAR_LOOKS, 1.0 / SAR_LOOKS, power.shape).astype(np.float32)
    data = (10.0 * np.log10(np.maximum(power, 1e-6))).astype(np.float32)
    classes = layers.classes
    invalid = classes == ls.NODATA
    if collar:
        invalid = invalid | collar_mask(shape)
        classes = np.where(invalid, ls.NODATA, classes).astype(np.uint8)
    data[:, invalid | np.isnan(data).any(axis=0)] = SAR_NODATA
    return data, classes


def _overview_levels(shape: tuple[int, int], min_size: int = 128) -> int:
    levels = 0
    while min(shape) / 2 ** (levels + 1) >= min_size:
        levels += 1
    return max(levels, 1)


def write_cog(
    path: Path,
    array: np.ndarray,
    transform: Affine,
    crs: object,
    nodata: float | None,
    band_names: Sequence[str],
    *,
    overview_resampling: OverviewResampling | None = None,
) -> None:
    """Write a deflate COG (512 px blocks, internal overviews, band descriptions) atomically:
    a temporary file in the same directory is renamed over `path` only when complete.

    Overviews use 'mode' for uint8 class masks and 'average' otherwise unless overridden.
    """
    path = Path(path)
    data = array[None] if array.ndim == 2 else array
    if len(band_names) != data.shape[0]:
        raise ValueError(f"{len(band_names)} band names for {data.shape[0]} bands")
    if overview_resampling is None:
        overview_resampling = "mode" if data.dtype == np.uint8 else "average"
    profile = {
        "driver": "GTiff",
        "dtype": data.dtype.name,
        "count": data.shape[0],
        "height": data.shape[1],
        "width": data.shape[2],
        "crs": CRS.from_user_input(crs),
        "transform": transform,
        "nodata": nodata,
    }
    cog = cog_profiles.get("deflate")
    cog.update(
        blockxsize=512, blockysize=512, predictor=3 if np.issubdtype(data.dtype, np.floating) else 2
    )
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with MemoryFile() as mem:
            with mem.open(**profile) as dst:
                dst.write(data)
                for i, name in enumerate(band_names, start=1):
                    dst.set_band_description(i, name)
            with mem.open() as src:
                cog_translate(
                    src,
                    tmp,
                    cog,
                    overview_level=_overview_levels(data.shape[1:]),
                    overview_resampling=overview_resampling,
                    in_memory=True,
                    quiet=True,
                )
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _complete(path: Path, shape: tuple[int, int], count: int) -> bool:
    """An existing file is reusable when it opens with the expected size and band count."""
    if not path.is_file():
        return False
    try:
        with rasterio.open(path) as ds:
            return (ds.height, ds.width) == shape and ds.count == count
    except rasterio.errors.RasterioError:
        return False


@dataclass(frozen=True)
class _Output:
    path: Path
    count: int
    nodata: float
    bands: list[str]


def _write_missing(
    outputs: Sequence[_Output], grid: Grid, build: Callable[[], list[np.ndarray]], report: Progress
) -> None:
    """Build the arrays only if some output is missing, then write just the missing ones."""
    todo = [not _complete(o.path, grid.shape, o.count) for o in outputs]
    if not any(todo):
        report(f"reusing {', '.join(o.path.name for o in outputs)}")
        return
    arrays = build()
    for output, array, needed in zip(outputs, arrays, todo, strict=True):
        if needed:
            report(f"writing {output.path.name}")
            write_cog(output.path, array, grid.transform, grid.crs, output.nodata, output.bands)


def _optical(path: Path) -> _Output:
    return _Output(path, 5, 0, spectra.BAND_NAMES)


def _truth(path: Path, nodata: int = ls.NODATA, name: str = "class") -> _Output:
    return _Output(path, 1, nodata, [name])


def _east_lake_scenes(out: Path, seed: int, report: Progress) -> list[DemoItem]:
    grid = scene_grid()
    names = ("scene-2024-05-12", "scene-2024-09-20")
    change = out / "change-2024-05-12_2024-09-20.truth.tif"
    outputs = [
        _optical(out / f"{names[0]}.tif"),
        _truth(out / f"{names[0]}.truth.tif"),
        _optical(out / f"{names[1]}.tif"),
        _truth(out / f"{names[1]}.truth.tif"),
        _truth(change, ls.CHANGE_NODATA, "change"),
    ]

    def build() -> list[np.ndarray]:
        args = (grid.shape, grid.transform, grid.crs, seed)
        data1, cls1 = make_optical_scene(*args, date_variant=0, collar=True)
        data2, cls2 = make_optical_scene(*args, date_variant=1, collar=True)
        return [data1, cls1, data2, cls2, ls.change_mask(cls1, cls2)]

    _write_missing(outputs, grid, build, report)
    return [
        DemoItem(
            outputs[0].path,
            "Wuhan East Lake, optical, 2024-05-12 (synthetic)",
            "generic",
            DATE_1,
            "optical",
            "scene",
            outputs[1].path,
        ),
        DemoItem(
            outputs[2].path,
            "Wuhan East Lake, optical, 2024-09-20 (synthetic)",
            "generic",
            DATE_2,
            "optical",
            "scene",
            outputs[3].path,
        ),
    ]


def _sar_scene(out: Path, seed: int, report: Progress) -> DemoItem:
    grid = scene_grid()
    outputs = [
        _Output(out / "sar-2024-05-14.tif", 2, SAR_NODATA, spectra.SAR_BAND_NAMES),
        _truth(out / "sar-2024-05-14.truth.tif"),
    ]

    def build() -> list[np.ndarray]:
        return list(make_sar_scene(grid.shape, grid.transform, grid.crs, seed, collar=True))

    _write_missing(outputs, grid, build, report)
    return DemoItem(
        outputs[0].path,
        "Wuhan East Lake, SAR VV/VH, 2024-05-14 (synthetic)",
        "sentinel-1-grd",
        DATE_SAR,
        "sar",
        "scene",
        outputs[1].path,
    )


def _mosaic_scenes(out: Path, seed: int, report: Progress) -> list[DemoItem]:
    items = []
    for name, grid in mosaic_grids():
        outputs = [_optical(out / f"{name}.tif"), _truth(out / f"{name}.truth.tif")]

        def build(grid: Grid = grid) -> list[np.ndarray]:
            return list(make_optical_scene(grid.shape, grid.transform, grid.crs, seed))

        _write_missing(outputs, grid, build, report)
        zone = name.split("-")[1].upper()
        items.append(
            DemoItem(
                outputs[0].path,
                f"Wuhan 114E seam mosaic, {name[-2:]} (UTM {zone}), 2024-06-01 (synthetic)",
                "generic",
                DATE_MOSAIC,
                "optical",
                "mosaic",
                outputs[1].path,
            )
        )
    return items


def _readme(seed: int, items: Sequence[DemoItem]) -> str:
    """README text: what is synthetic, what each file is, classes and the known changes."""
    lines = [
        "# cogsight demo dataset (SYNTHETIC)",
        "",
        f"Generated by `cogsight` (`tileserver.demo.generate_demo`, seed {seed}).",
        "All pixel values are SYNTHETIC: the grids are real (UTM, 10 m pixels) and the layout",
        "loosely follows Wuhan, China (East Lake; the UTM 49N/50N seam at 114 E), but land",
        "cover, reflectance and backscatter come from a seeded model, not from any satellite.",
        "",
        "Optical: bands blue (490 nm), green (560), red (665), nir (842), swir16 (1610);",
        "uint16 surface reflectance x 10000, nodata 0. SAR: VV, VH sigma0 in dB, float32,",
        f"nodata {SAR_NODATA:g}, {SAR_LOOKS}-look gamma speckle. Truth masks: uint8, nodata 0",
        f"(change mask: nodata {ls.CHANGE_NODATA}).",
        "",
        "| file | kind | date | CRS | truth |",
        "|---|---|---|---|---|",
    ]
    for item in items:
        with rasterio.open(item.path) as ds:
            crs = f"EPSG:{ds.crs.to_epsg()}"
        truth = item.truth_path.name if item.truth_path else "-"
        lines.append(
            f"| {item.path.name} | {item.kind} ({item.group}) | {item.datetime} | {crs} | {truth} |"
        )
    lines += [
        "| change-2024-05-12_2024-09-20.truth.tif | change mask | - | EPSG:32650 | - |",
        "",
        "## Classes",
        "",
        "| id | class |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in CLASSES.items()),
        "",
        "## Change classes (2024-05-12 -> 2024-09-20)",
        "",
        "| id | change |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in CHANGE_CLASSES.items()),
        "",
        "Known changes between the two East Lake dates:",
        "",
        "- new built-up: a ~0.9 x 0.7 km woodland block south-east of the lake is cleared and",
        "  built over (vegetation -> built-up);",
        "- vegetation loss: a ~0.8 x 0.65 km woodland patch in the south-west is cleared to",
        "  bare soil (vegetation -> bare);",
        "- water gain: the lake level rises along the south-east shore, flooding fields and",
        "  woodland (-> water);",
        "- water loss: the north-west shore recedes, exposing mudflats (water -> bare);",
        "- NOT change: crop parcels are at a different phenological stage (May: flooded paddies,",
        "  tilling, harvest; September: full canopy or ripening) but stay cropland.",
        "",
        "The mosaic scenes are a 2 x 2 layout of 512 x 512 px scenes overlapping by ~15 %",
        "across 114 E: the west column is gridded in UTM 49N, the east column in UTM 50N. Land",
        "cover comes from one continuous ground model, so overlaps agree.",
        "",
    ]
    return "\n".join(lines)


def generate_demo(
    out_dir: Path, seed: int = 42, progress: Progress | None = None
) -> list[DemoItem]:
    """Write every demo file under out_dir (creating it); idempotent: existing complete files
    are reused. Returns the items in a stable order (East Lake scenes, SAR, mosaic)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = progress or (lambda _msg: None)
    items = _east_lake_scenes(out, seed, report)
    items.append(_sar_scene(out, seed, report))
    items += _mosaic_scenes(out, seed, report)
    _write_text(out / "README.md", _readme(seed, items))
    report(f"demo dataset ready: {len(items)} items in {out}")
    return items


def _write_text(path: Path, text: str) -> None:
    """Atomic text write, skipped when the content is unchanged."""
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
