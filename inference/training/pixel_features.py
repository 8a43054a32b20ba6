"""Per-pixel multi-scale filter features, the feature set ilastik made standard for pixel
classification: at each scale, on each band, Gaussian smoothing, gradient magnitude,
Laplacian of Gaussian, difference of Gaussians, Hessian eigenvalues structure-tensor
eigenvalues, optionally the local standard deviation (scipy.ndimage and scikit-image filters).

Features of a block are only exact away from its edges: ``halo`` is how many pixels of
context a block needs on each side so that its inner pixels match those of the whole image
(a Gaussian truncated at 4 sigma, the structure tensor's outer window included).
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from scipy import ndimage

from inference.cores import available_cores

FeatureName = Literal["gaussian", "gradient", "log", "dog", "hessian", "structure", "std"]
ALL_FEATURES: tuple[FeatureName, ...] = (
    "gaussian",
    "gradient",
    "log",
    "dog",
    "hessian",
    "structure",
)
TRUNCATE = 4.0
"""Gaussian kernels are cut at this many sigmas (scipy's default)."""


class FeatureSet(BaseModel):
    """Which filters at which scales (sigmas in pixels). Each feature gives one value per band
    and sigma, except 'hessian' and 'structure' (two eigenvalues each)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sigmas: tuple[float, ...] = Field(default=(0.7, 1.0, 1.6, 3.5, 5.0, 10.0), min_length=1)
    features: tuple[FeatureName, ...] = ALL_FEATURES
    raw: bool = Field(default=True, description="also the band values themselves")

    @property
    def per_sigma(self) -> int:
        """Features per band and scale."""
        return sum(2 if f in ("hessian", "structure") else 1 for f in self.features)

    def count(self, bands: int) -> int:
        """Features per pixel for ``bands`` bands."""
        return bands * (len(self.sigmas) * self.per_sigma + int(self.raw))

    @property
    def halo(self) -> int:
        """Context pixels a block needs on each side for exact features at its inner pixels."""
        widest = max(self.sigmas)
        reach = widest * (1.6 if "dog" in self.features else 1.0)
        if "structure" in self.features:
            reach = max(reach, widest / 2 + widest)  # inner gradient, then outer window
        return math.ceil(TRUNCATE * reach)


def pixel_features(
    image: np.ndarray, features: FeatureSet, threads: int | None = None
) -> np.ndarray:
    """(F, H, W) float32 features of a (C, H, W) image (F = features.count(C)). Edges are
    mirrored; read the block with ``features.halo`` pixels of context to avoid them.

    Each band's scales are computed in ``threads`` threads (default: the cores): scipy's
    filters release the GIL, so two cores compute a block about 1.7x as fast."""
    if image.ndim != 3:
        raise ValueError(f"expected a (bands, rows, cols) array, got shape {image.shape}")
    bands, rows, cols = image.shape
    per_band, per_sigma = features.count(1), features.per_sigma
    out = np.empty((features.count(bands), rows, cols), dtype=np.float32)
    planes = [image[b].astype(np.float32, copy=False) for b in range(bands)]
    if features.raw:
        for band, plane in enumerate(planes):
            out[band * per_band] = plane

    def fill(task: tuple[int, int]) -> None:
        band, scale = task
        first = band * per_band + int(features.raw) + scale * per_sigma
        for k, values in enumerate(_scale_features(planes[band], features.sigmas[scale], features)):
            out[first + k] = values

    tasks = [(b, s) for b in range(bands) for s in range(len(features.sigmas))]
    workers = max(1, min(len(tasks), threads or available_cores()))
    if workers == 1:
        for task in tasks:
            fill(task)
    else:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(fill, tasks))
    return out


def _scale_features(band: np.ndarray, sigma: float, fs: FeatureSet) -> list[np.ndarray]:
    """The features of one band at one scale, in ``fs.features`` order."""
    planes: list[np.ndarray] = []
    mode = "mirror"
    want = set(fs.features)
    smooth = ndimage.gaussian_filter(band, sigma, mode=mode) if want & {"gaussian", "dog"} else None
    if "gaussian" in want and smooth is not None:
        planes.append(smooth)
    if "gradient" in want:
        planes.append(ndimage.gaussian_gradient_magnitude(band, sigma, mode=mode))
    if "log" in want:
        planes.append(ndimage.gaussian_laplace(band, sigma, mode=mode))
    if "dog" in want and smooth is not None:
        planes.append(smooth - ndimage.gaussian_filter(band, 1.6 * sigma, mode=mode))
    if "hessian" in want:
        planes.extend(_hessian_eigenvalues(band, sigma))
    if "structure" in want:
        planes.extend(_structure_eigenvalues(band, sigma))
    if "std" in want:  # local standard deviation: smooth roofs against textured canopy
        mean = ndimage.gaussian_filter(band, sigma, mode=mode)
        square = ndimage.gaussian_filter(band * band, sigma, mode=mode)
        planes.append(np.sqrt(np.maximum(square - mean * mean, 0.0)))
    return planes


def _hessian_eigenvalues(band: np.ndarray, sigma: float) -> list[np.ndarray]:
    from skimage.feature import hessian_matrix, hessian_matrix_eigvals

    matrix = hessian_matrix(
        band, sigma=sigma, mode="mirror", order="rc", use_gaussian_derivatives=True
    )
    big, small = hessian_matrix_eigvals(matrix)
    return [big.astype(np.float32), small.astype(np.float32)]


def _structure_eigenvalues(band: np.ndarray, sigma: float) -> list[np.ndarray]:
    """Structure tensor with gradients at sigma / 2 averaged over a window of sigma."""
    from skimage.feature import structure_tensor_eigenvalues

    inner = max(sigma / 2, 0.3)
    rows = ndimage.gaussian_filter(band, inner, order=(1, 0), mode="mirror")
    cols = ndimage.gaussian_filter(band, inner, order=(0, 1), mode="mirror")
    tensor = [
        ndimage.gaussian_filter(rows * rows, sigma, mode="mirror"),
        ndimage.gaussian_filter(rows * cols, sigma, mode="mirror"),
        ndimage.gaussian_filter(cols * cols, sigma, mode="mirror"),
    ]
    big, small = structure_tensor_eigenvalues(tensor)
    return [big.astype(np.float32), small.astype(np.float32)]
