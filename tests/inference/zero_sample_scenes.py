"""Seeded synthetic scenes with known truth for the zero-sample tools (pv-plant, greenhouse,
dam, building): surface reflectance in five bands (red, green, blue, nir, swir16) from
typical library spectra, textured with noise, plus the truth mask of the target.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin
from scipy import ndimage

BANDS = ["red", "green", "blue", "nir", "swir16"]
# reflectance of red, green, blue, nir, swir16
GRASS = (0.05, 0.10, 0.04, 0.40, 0.20)
SOIL = (0.22, 0.17, 0.12, 0.28, 0.36)
WATER = (0.03, 0.05, 0.07, 0.02, 0.01)
PANEL = (0.05, 0.06, 0.09, 0.06, 0.05)
ASPHALT = (0.09, 0.09, 0.10, 0.11, 0.13)
ROOF = (0.50, 0.48, 0.45, 0.52, 0.50)
RED_ROOF = (0.35, 0.15, 0.10, 0.38, 0.42)
SHADOW = (0.02, 0.025, 0.03, 0.04, 0.03)
PLASTIC = (0.62, 0.64, 0.66, 0.60, 0.58)
CONCRETE = (0.48, 0.47, 0.45, 0.50, 0.52)
ROAD = (0.30, 0.29, 0.28, 0.32, 0.36)
SAND = (0.40, 0.36, 0.28, 0.42, 0.50)


class Scene:
    """A (5, size, size) reflectance image being painted, and its truth mask."""

    def __init__(self, size: int, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.size = size
        blobs = ndimage.gaussian_filter(self.rng.standard_normal((size, size)), 12)
        self.image = np.empty((5, size, size), dtype=np.float32)
        self.paint(np.ones((size, size), bool), SOIL)
        self.paint(blobs > 0.02, GRASS)
        self.truth = np.zeros((size, size), dtype=bool)

    def paint(self, mask: np.ndarray, spectrum: tuple[float, ...], noise: float = 0.04) -> None:
        for band, value in enumerate(spectrum):
            grain = 1.0 + noise * self.rng.standard_normal(int(mask.sum()))
            self.image[band][mask] = value * grain

    def rect(self, r0: int, c0: int, r1: int, c1: int) -> np.ndarray:
        mask = np.zeros((self.size, self.size), dtype=bool)
        mask[r0:r1, c0:c1] = True
        return mask

    def ellipse(self, r: float, c: float, a: float, b: float) -> np.ndarray:
        rows, cols = np.ogrid[: self.size, : self.size]
        return ((rows - r) / a) ** 2 + ((cols - c) / b) ** 2 <= 1.0


def pv_scene(seed: int = 1, size: int = 512) -> Scene:
    """A PV plant of panel rows (6 px panels, 3 px lit ground between) among a pond, a car
    park, a dark roof and fields. Truth: the plant's outline."""
    s = Scene(size, seed)
    plant = s.rect(60, 80, 260, 380)
    s.paint(plant, SOIL)
    rows = np.zeros_like(plant)
    for r in range(60, 260, 9):
        rows[r : r + 6, 80:380] = True
    s.paint(rows, PANEL, noise=0.03)
    s.truth |= plant
    s.paint(s.ellipse(400, 120, 50, 70), WATER, noise=0.02)
    s.paint(s.rect(330, 300, 460, 460), ASPHALT, noise=0.02)
    s.paint(s.rect(300, 40, 340, 90), SHADOW)
    return s


def greenhouse_scene(seed: int = 2, size: int = 512) -> Scene:
    """Three greenhouse blocks (plastic with ridge lines every 8 px) among fields, a road, a
    red-roofed farm and bright bare soil. Truth: the blocks."""
    s = Scene(size, seed)
    for r0, c0, r1, c1 in [(40, 40, 160, 220), (40, 260, 140, 470), (300, 60, 420, 200)]:
        block = s.rect(r0, c0, r1, c1)
        s.paint(block, PLASTIC, noise=0.02)
        ridges = block & (np.arange(size)[None, :] % 8 == 0)
        s.paint(ridges, tuple(v * 0.9 for v in PLASTIC), noise=0.02)
        s.truth |= block
    s.paint(s.rect(240, 0, 252, size), ROAD)
    s.paint(s.rect(320, 300, 360, 360), RED_ROOF)
    s.paint(s.ellipse(430, 400, 50, 80), SAND, noise=0.12)
    return s


def dam_scene(seed: int = 3, size: int = 640) -> Scene:
    """A reservoir closed by a concrete wall (10 x 160 px) across its outlet, a river below,
    a road and a building away from the water. Truth: the wall."""
    s = Scene(size, seed)
    reservoir = s.ellipse(200, 320, 150, 200) & (np.arange(size)[:, None] < 330)
    s.paint(reservoir, WATER, noise=0.02)
    s.paint(s.rect(340, 316, size, 326), WATER, noise=0.02)
    wall = s.rect(330, 240, 340, 400)
    s.paint(wall, CONCRETE, noise=0.03)
    s.truth |= wall
    s.paint(s.rect(520, 0, 530, 300), ROAD)
    s.paint(s.rect(450, 450, 490, 500), ROOF)
    return s


def building_scene(seed: int = 4, size: int = 512) -> Scene:
    """Bright roofs (14-40 px) with shadows on their south-east side, among trees, a road
    and fields. Truth: the roofs."""
    s = Scene(size, seed)
    s.paint(s.rect(250, 0, 262, size), ROAD)
    for _ in range(30):
        h, w = (int(v) for v in s.rng.integers(14, 40, 2))
        r, c = (int(v) for v in s.rng.integers(10, size - 60, 2))
        if s.truth[max(r - 8, 0) : r + h + 12, max(c - 8, 0) : c + w + 12].any() or (
            r - 8 < 262 and r + h + 8 > 250
        ):
            continue
        s.paint(s.rect(r + 4, c + 4, r + h + 6, c + w + 6), SHADOW)
        roof = s.rect(r, c, r + h, c + w)
        s.paint(roof, ROOF if s.rng.random() < 0.7 else RED_ROOF)
        s.truth |= roof
    return s


def write_scene(
    scene: Scene, path: Path, bands: int = 5, dtype: str = "uint16", pixel: float = 0.5
) -> Path:
    """The first ``bands`` bands as a GeoTIFF: uint16 reflectance x 10000 or uint8 x 255,
    band descriptions naming the bands (UTM 33N)."""
    factor = 10000.0 if dtype == "uint16" else 255.0
    limit = np.iinfo(dtype).max
    data = np.clip(np.rint(scene.image[:bands] * factor), 1, limit).astype(dtype)
    profile = dict(
        driver="GTiff", width=scene.size, height=scene.size, count=bands, dtype=dtype,
        crs="EPSG:32633", transform=from_origin(500000, 5000000, pixel, pixel), nodata=0,
        tiled=True, blockxsize=256, blockysize=256,
    )  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
        dst.descriptions = tuple(BANDS[:bands])
    return path


def iou(predicted: np.ndarray, truth: np.ndarray) -> float:
    union = (predicted | truth).sum()
    return float((predicted & truth).sum() / union) if union else 1.0
