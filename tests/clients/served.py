"""What the client tests serve and how they judge a picture.

One data folder gets the demo scenes (``cogsight demo``'s registration), a synthetic scene of
pure red, green and blue quarters (to tell true colour from a band swap), and the real samples
under ``COGSIGHT_REALDATA_DIR`` that are present, each registered through the ingest service
as a user's upload would be. Each client draws the same view of each dataset: a 256 px square at
a whole Web Mercator zoom, inside the middle 60 % of the data's bounds, so every pixel should be
filled. The server's own XYZ tiles over that view are the reference a client's picture is
compared with.
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import morecantile
import numpy as np
import rasterio
from rasterio.transform import from_origin

from tests.conftest import REALDATA
from tests.tiling.helpers import decode
from tileserver.catalog import Catalog
from tileserver.demo.register import ensure_demo
from tileserver.ingest.upload import ingest_file
from tileserver.settings import Settings

TMS = morecantile.tms.get("WebMercatorQuad")
SIZE = 256
WORLD = 2 * math.pi * 6378137.0
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "clients"
RESULTS = ARTIFACTS / "results.json"

# name: (table label, check) -- the order of the README's table
DATASETS: dict[str, tuple[str, str]] = {
    "patches": ("synthetic R/G/B quarters (4-band uint16)", "rgb"),
    "demo-optical": ("demo optical (5-band uint16)", "picture"),
    "demo-sar": ("demo SAR (2-band float32 dB)", "grey"),
    "demo-mosaic": ("demo mosaic (UTM 49N/50N)", "picture"),
    "naip": ("NAIP (4-band uint8 RGBN)", "picture"),
    "sentinel-2": ("Sentinel-2 L2A (8-band uint16)", "picture"),
    "noaa": ("NOAA (RGB uint8, JPEG COG)", "picture"),
    "sentinel-1": ("Sentinel-1 GRD (uint16, GCPs)", "grey"),
    "landsat": ("Landsat 8 C2L2 (SR_B4/3/2/5 stacked)", "picture"),
}
# real samples: name -> (folder, file, ingest options)
SAMPLES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "naip": ("naip-northdakota-2009-2020", "m_4709963_se_14_1_20200831.tif", {}),
    "sentinel-2": ("s2-l2a-austria-2date", "inference-img.tif", {}),
    "noaa": ("noaa-eri-tennessee-2020", "20200307aC0853900w361030n.tif", {}),
    "sentinel-1": ("s1-grd-india-gcps", "cog_gcps.tif", {"sensor": "sentinel-1-grd"}),
}
LANDSAT = "landsat8-c2l2-colombia"
LANDSAT_BANDS = ["SR_B4", "SR_B3", "SR_B2", "SR_B5"]


@dataclass(frozen=True)
class View:
    """A ``SIZE`` px square view in EPSG:3857 at a whole zoom (OpenLayers / Leaflet zoom)."""

    x: float
    y: float
    zoom: int

    @property
    def resolution(self) -> float:
        return WORLD / (SIZE * 2**self.zoom)

    @property
    def extent(self) -> tuple[float, float, float, float]:
        half = SIZE / 2 * self.resolution
        return self.x - half, self.y - half, self.x + half, self.y + half

    @property
    def lonlat(self) -> tuple[float, float]:
        return TMS.lnglat(self.x, self.y)

    @classmethod
    def inside(cls, bounds: list[float]) -> View:
        """The coarsest whole zoom whose square fits in the middle 60 % of ``bounds``."""
        (minx, miny), (maxx, maxy) = TMS.xy(bounds[0], bounds[1]), TMS.xy(bounds[2], bounds[3])
        side = 0.6 * min(maxx - minx, maxy - miny)
        zoom = math.ceil(math.log2(WORLD / side))
        return cls((minx + maxx) / 2, (miny + maxy) / 2, max(zoom, 0))


@dataclass
class Dataset:
    """One dataset as clients find it: its document's links and the view they draw."""

    name: str
    meta: dict[str, Any]
    mosaic: bool = False
    view: View = field(init=False)

    def __post_init__(self) -> None:
        self.view = View.inside(self.meta["bounds"])

    @property
    def label(self) -> str:
        return DATASETS[self.name][0]

    @property
    def check(self) -> str:
        return DATASETS[self.name][1]

    @property
    def links(self) -> dict[str, str]:
        return self.meta["links"]

    @property
    def wmts_layer(self) -> str:
        prefix = "cogsight_mosaic_" if self.mosaic else "cogsight_"
        return f"{prefix}{self.meta['id']}_WebMercatorQuad_default"

    @property
    def wms(self) -> str:
        """The WMS a user is given: ``links.wms`` of a dataset, ``/mosaics/{id}/wms``."""
        if "wms" in self.links:
            return self.links["wms"]
        return self.links["self"] + "/wms"

    @property
    def wms_layer(self) -> str:
        return f"mosaic:{self.meta['id']}" if self.mosaic else str(self.meta["id"])


def _patches(path: Path) -> Path:
    """A 512 px scene in UTM 50N (10 m): red, green and blue quarters and a white one, bands
    named blue, green, red, nir in the file (as a sensor's export names them)."""
    rng = np.random.default_rng(7)
    bgr = {  # quarter: (blue, green, red, nir)
        (0, 0): (300, 300, 3000, 500),
        (0, 1): (300, 3000, 300, 2500),
        (1, 0): (3000, 300, 300, 400),
        (1, 1): (2500, 2500, 2500, 2500),
    }
    data = np.zeros((4, 512, 512), "uint16")
    for (row, col), values in bgr.items():
        for band, value in enumerate(values):
            block = value + rng.integers(-40, 40, (256, 256))
            data[band, row * 256 : (row + 1) * 256, col * 256 : (col + 1) * 256] = block
    profile = {
        "driver": "GTiff",
        "width": 512,
        "height": 512,
        "count": 4,
        "dtype": "uint16",
        "crs": "EPSG:32650",
        "transform": from_origin(240_000, 3_390_000, 10, 10),
        "nodata": 0,
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
        dst.descriptions = ("blue", "green", "red", "nir")
    return path


def _landsat(folder: Path, out: Path) -> Path | None:
    """SR_B4, SR_B3, SR_B2 and SR_B5 stacked into one GeoTIFF, as a user prepares a scene."""
    files = [folder / f"LC08_L2SP_008059_20191201_20200825_02_T1_{b}.TIF" for b in LANDSAT_BANDS]
    if not all(f.exists() for f in files):
        return None
    with rasterio.open(files[0]) as first:
        profile = {**first.profile, "count": len(files), "driver": "GTiff"}
    with rasterio.open(out, "w", **profile) as dst:
        for band, f in enumerate(files, start=1):
            with rasterio.open(f) as src:
                dst.write(src.read(1), band)
        dst.descriptions = tuple(LANDSAT_BANDS)
    return out


def populate(data_dir: Path, demo_source: Path, scratch: Path) -> dict[str, tuple[str, bool]]:
    """Register everything the clients draw; name -> (id, is a mosaic). Absent samples are
    left out (their tests skip)."""
    settings = Settings(data_dir=data_dir)
    catalog = Catalog(settings.resolved_database_url)
    shutil.copytree(demo_source, data_dir / "demo-source")
    ids: dict[str, tuple[str, bool]] = {}
    for kind, ident, title in ensure_demo(catalog, settings):
        if kind == "mosaic":
            ids["demo-mosaic"] = (ident, True)
        elif "optical, 2024-05-12" in title:
            ids["demo-optical"] = (ident, False)
        elif "SAR" in title:
            ids["demo-sar"] = (ident, False)
    ids["patches"] = (ingest_file(catalog, settings, _patches(scratch / "patches.tif")).id, False)
    for name, (folder, file, options) in SAMPLES.items():
        path = REALDATA / folder / file
        if path.exists():
            ids[name] = (ingest_file(catalog, settings, path, **options).id, False)
    stacked = _landsat(REALDATA / LANDSAT, scratch / "landsat-sr.tif")
    if stacked is not None:
        record = ingest_file(catalog, settings, stacked, sensor="landsat-c2l2")
        ids["landsat"] = (record.id, False)
    return ids


# judging a picture ----------------------------------------------------------------------------
def rgba(content: bytes | np.ndarray) -> np.ndarray:
    """(rows, cols, 4) uint8 from encoded bytes or a (bands, rows, cols) array; RGB gets alpha."""
    array = decode(content) if isinstance(content, bytes) else content
    bands = array.transpose(1, 2, 0)
    if bands.shape[2] == 3:
        bands = np.dstack([bands, np.full(bands.shape[:2], 255, bands.dtype)])
    return bands.astype(np.uint8)


_REFERENCES: dict[tuple[str, str], np.ndarray] = {}


def reference(base: str, dataset: Dataset) -> np.ndarray:
    """The server's own tiles over the view, cut to it: what every client should show."""
    key = (base, dataset.name)
    if key not in _REFERENCES:
        _REFERENCES[key] = _reference(dataset)
    return _REFERENCES[key]


def _reference(dataset: Dataset) -> np.ndarray:
    template = dataset.links["tiles"]
    with httpx.Client(timeout=60) as client:

        def fetch(z: int, x: int, y: int) -> bytes | None:
            answer = client.get(template.format(z=z, x=x, y=y))
            return answer.content if answer.status_code == 200 else None

        return assemble(dataset.view, fetch)


def assemble(view: View, fetch: Callable[[int, int, int], bytes | None]) -> np.ndarray:
    """The view cut from the tiles at its zoom that cover it; ``fetch(z, x, y)`` gives a tile's
    bytes (None: no tile there)."""
    minx, miny, maxx, maxy = view.extent
    first = TMS.tile(*TMS.lnglat(minx + 1e-6, maxy - 1e-6), view.zoom)
    last = TMS.tile(*TMS.lnglat(maxx - 1e-6, miny + 1e-6), view.zoom)
    columns, rows = last.x - first.x + 1, last.y - first.y + 1
    canvas = np.zeros((rows * SIZE, columns * SIZE, 4), np.uint8)
    for j in range(rows):
        for i in range(columns):
            content = fetch(view.zoom, first.x + i, first.y + j)
            if content is not None:
                canvas[j * SIZE : (j + 1) * SIZE, i * SIZE : (i + 1) * SIZE] = rgba(content)
    origin = TMS.xy_bounds(first)
    left = round((minx - origin.left) / view.resolution)
    top = round((origin.top - maxy) / view.resolution)
    return canvas[top : top + SIZE, left : left + SIZE]


def filled(image: np.ndarray) -> float:
    return float((image[..., 3] >= 128).mean())


def difference(image: np.ndarray, ref: np.ndarray) -> float:
    """Mean absolute RGB difference where both are filled (0-255)."""
    both = (image[..., 3] >= 128) & (ref[..., 3] >= 128)
    if not both.any():
        return 255.0
    return float(np.abs(image[both, :3].astype(int) - ref[both, :3].astype(int)).mean())


def sample(image: np.ndarray, extent: tuple[float, ...], x: float, y: float) -> np.ndarray:
    """Mean RGB of a 9 px box around the EPSG:3857 point (x, y) of an image of ``extent``."""
    minx, miny, maxx, maxy = extent
    rows, cols = image.shape[:2]
    col = int((x - minx) / (maxx - minx) * cols)
    row = int((maxy - y) / (maxy - miny) * rows)
    box = image[max(row - 4, 0) : row + 5, max(col - 4, 0) : col + 5, :3]
    return box.reshape(-1, 3).mean(axis=0)


QUARTERS = {"red": (-1, 1, 0), "green": (1, 1, 1), "blue": (-1, -1, 2)}
"""Quarter of the patches scene: (x side, y side, RGB channel that must dominate)."""


def colours_hold(image: np.ndarray, extent: tuple[float, ...], dataset: Dataset) -> str:
    """'' when the picture's colours are right for the dataset's check, else what is wrong."""
    view = dataset.view
    if dataset.check == "rgb":
        step = 0.25 * (view.extent[2] - view.extent[0])
        wrong = []
        for name, (sx, sy, channel) in QUARTERS.items():
            colour = sample(image, extent, view.x + sx * step, view.y + sy * step)
            others = [c for i, c in enumerate(colour) if i != channel]
            if not (colour[channel] > 150 and max(others) < 100):
                wrong.append(f"{name} quarter is {colour.round().tolist()}")
        return "; ".join(wrong)
    valid = image[..., 3] >= 128
    pixels = image[valid, :3].astype(int)
    if pixels.size == 0:
        return "nothing drawn"
    if pixels.std() < 8:
        return "a flat colour, not a picture"
    if dataset.check == "grey":
        spread = np.abs(pixels - pixels.mean(axis=1, keepdims=True)).max()
        if spread > 3:
            return f"not grey: channels differ by up to {spread}"
    return ""


def verdict(dataset: Dataset, image: np.ndarray, ref: np.ndarray) -> dict[str, Any]:
    """Filled share, difference from the server's tiles and the colour check, for the table."""
    return {
        "filled": filled(image),
        "reference_filled": filled(ref),
        "difference": difference(image, ref),
        "colours": colours_hold(image, dataset.view.extent, dataset),
    }


def assert_good(result: dict[str, Any], dataset: Dataset, client: str) -> None:
    """Filled like the server's tiles (at least 90 % where the data fills the view), close to
    them, and in the right colours."""
    need = min(0.9, result["reference_filled"] - 0.03)
    assert result["filled"] >= need, f"{client} filled {result['filled']:.0%} < {need:.0%}"
    assert result["difference"] <= 25, f"{client} differs by {result['difference']:.1f}"
    assert not result["colours"], f"{client}: {result['colours']}"


def record(client: str, dataset: Dataset, result: dict[str, Any]) -> None:
    """Keep a row of the client x dataset table (``python -m tests.clients.table``)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    rows = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    rows.setdefault(client, {})[dataset.name] = {**result, "check": dataset.check}
    RESULTS.write_text(json.dumps(rows, indent=1, sort_keys=True))
