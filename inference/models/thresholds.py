"""Global thresholds for the physically based models: Otsu, a two-Gaussian fit, bimodality.

Everything here is plain numpy over a 1-D sample of index or backscatter values (a whole
image at reduced resolution), so a threshold is computed once per image and every chip of a
sliding-window run uses the same one -- per-chip thresholds would draw seams along chip edges.

Methods:

* Otsu (1979): the threshold maximising the between-class variance of the histogram.
* A two-Gaussian mixture fitted by EM on the histogram, started from the Otsu split. Otsu is
  biased towards the wider class when the two classes differ in spread (open water in SAR
  is narrow, land is broad), so the SAR model thresholds at the point between the two means
  where the weighted densities are equal (Bayes minimum error, like Kittler-Illingworth).
* Bimodality: Ashman's D = sqrt(2) |mu1 - mu2| / sqrt(s1^2 + s2^2) of the fitted components;
  D > 2 is the usual criterion for a clean separation (Ashman et al. 1994). It is computed on
  the fitted Gaussians, not on the two halves of the Otsu split: halves of a single Gaussian
  already give D ~ 2.6, so that variant cannot tell one mode from two.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MIN_SAMPLES = 64


def finite_values(values: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """1-D float64 array of the finite values of `values` where `valid` (same shape) is True."""
    values = np.asarray(values, dtype=np.float64)
    keep = np.isfinite(values)
    if valid is not None:
        keep &= np.asarray(valid, dtype=bool)
    return values[keep]


def histogram(
    values: np.ndarray, bins: int = 256, clip_percent: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """Counts and bin centres over [p, 100 - p] percentiles (outliers land in the end bins)."""
    lo, hi = np.percentile(values, [clip_percent, 100.0 - clip_percent])
    if not hi > lo:
        hi = lo + 1e-6
    counts, edges = np.histogram(np.clip(values, lo, hi), bins=bins, range=(lo, hi))
    return counts.astype(np.float64), 0.5 * (edges[:-1] + edges[1:])


def otsu_threshold(values: np.ndarray, bins: int = 256) -> float:
    """Otsu's threshold of a 1-D sample: maximises w0 w1 (mu0 - mu1)^2 over the histogram.

    Returned as the upper edge of the last bin of the lower class, so `x > t` is the upper class.
    """
    values = np.asarray(values, dtype=np.float64).ravel()
    if values.size < MIN_SAMPLES:
        raise ValueError(f"Otsu needs at least {MIN_SAMPLES} values, got {values.size}")
    counts, centres = histogram(values, bins)
    w0 = np.cumsum(counts)
    w1 = w0[-1] - w0
    m0 = np.cumsum(counts * centres)
    with np.errstate(divide="ignore", invalid="ignore"):
        mu0 = m0 / w0
        mu1 = (m0[-1] - m0) / w1
        between = w0 * w1 * (mu0 - mu1) ** 2
    between = np.nan_to_num(between[:-1], nan=-1.0)
    i = int(np.argmax(between))
    step = centres[1] - centres[0] if centres.size > 1 else 0.0
    return float(centres[i] + 0.5 * step)


def between_class_variance_ratio(values: np.ndarray, threshold: float) -> float:
    """eta = between-class / total variance of the split at `threshold` (2/pi for one Gaussian)."""
    values = np.asarray(values, dtype=np.float64).ravel()
    low = values <= threshold
    w = low.mean()
    if w in (0.0, 1.0) or values.var() == 0:
        return 0.0
    diff = values[low].mean() - values[~low].mean()
    return float(w * (1 - w) * diff**2 / values.var())


@dataclass(frozen=True)
class TwoGaussians:
    """A fitted two-component 1-D Gaussian mixture; component 0 has the lower mean."""

    weights: tuple[float, float]
    means: tuple[float, float]
    stds: tuple[float, float]

    @property
    def ashman_d(self) -> float:
        """Ashman's D: separation of the two modes in units of their pooled spread."""
        spread = math.sqrt(self.stds[0] ** 2 + self.stds[1] ** 2)
        return math.sqrt(2.0) * abs(self.means[1] - self.means[0]) / max(spread, 1e-12)

    @property
    def minor_weight(self) -> float:
        return min(self.weights)

    def density(self, x: np.ndarray, k: int) -> np.ndarray:
        """Weighted Gaussian density of component k at x."""
        s = self.stds[k]
        return (
            self.weights[k]
            / (s * math.sqrt(2 * math.pi))
            * np.exp(-0.5 * ((x - self.means[k]) / s) ** 2)
        )

    def bayes_threshold(self) -> float:
        """The point between the two means where both weighted densities are equal (the
        minimum-error threshold); the midpoint if they never cross there."""
        x = np.linspace(self.means[0], self.means[1], 4001)
        upper_wins = self.density(x, 1) >= self.density(x, 0)
        if not upper_wins.any() or upper_wins.all():
            return 0.5 * (self.means[0] + self.means[1])
        return float(x[int(np.argmax(upper_wins))])


def fit_two_gaussians(
    values: np.ndarray, init_threshold: float, iterations: int = 200, bins: int = 256
) -> TwoGaussians:
    """EM fit of two Gaussians to the histogram of `values`, started from the split at
    `init_threshold` (an Otsu threshold). Histogram-weighted, so it costs O(bins) per step."""
    counts, centres = histogram(np.asarray(values, dtype=np.float64).ravel(), bins)
    low = centres <= init_threshold
    if not low.any() or low.all():
        raise ValueError("the initial threshold does not split the sample")
    resp = np.stack([low, ~low]).astype(np.float64)
    min_var = (centres[1] - centres[0]) ** 2 / 4.0
    weights = means = variances = np.zeros(2)
    for step in range(iterations + 1):
        weighted = resp * counts
        n = weighted.sum(axis=1)
        weights = n / n.sum()
        means = (weighted * centres).sum(axis=1) / np.maximum(n, 1e-12)
        variances = (weighted * (centres - means[:, None]) ** 2).sum(axis=1) / np.maximum(n, 1e-12)
        variances = np.maximum(variances, min_var)
        if step == iterations:
            break
        log_pdf = (
            np.log(np.maximum(weights, 1e-300))[:, None]
            - 0.5 * np.log(2 * np.pi * variances)[:, None]
            - 0.5 * (centres[None] - means[:, None]) ** 2 / variances[:, None]
        )
        log_pdf -= log_pdf.max(axis=0, keepdims=True)
        pdf = np.exp(log_pdf)
        resp = pdf / pdf.sum(axis=0, keepdims=True)
    order = np.argsort(means)
    return TwoGaussians(
        weights=(float(weights[order[0]]), float(weights[order[1]])),
        means=(float(means[order[0]]), float(means[order[1]])),
        stds=(float(math.sqrt(variances[order[0]])), float(math.sqrt(variances[order[1]]))),
    )


class NotBimodal(ValueError):
    """The sample's histogram has no two distinct modes (or one mode is too small)."""


@dataclass(frozen=True)
class BimodalSplit:
    """The result of `bimodal_split`: the chosen threshold and the evidence behind it."""

    threshold: float
    otsu: float
    mixture: TwoGaussians
    variance_ratio: float

    def summary(self) -> dict[str, float]:
        """Plain floats for logs and job metadata."""
        return {
            "threshold": self.threshold,
            "otsu": self.otsu,
            "ashman_d": self.mixture.ashman_d,
            "low_mean": self.mixture.means[0],
            "high_mean": self.mixture.means[1],
            "low_weight": self.mixture.weights[0],
            "variance_ratio": self.variance_ratio,
        }


def bimodal_split(
    values: np.ndarray,
    *,
    method: str = "otsu",
    min_ashman_d: float = 2.0,
    min_weight: float = 0.02,
) -> BimodalSplit:
    """Threshold a 1-D sample into two classes, refusing when it is not bimodal.

    method "otsu" returns Otsu's threshold; "bayes" the equal-density point of the fitted
    two-Gaussian mixture. Raises NotBimodal when Ashman's D of the fit is below
    `min_ashman_d` or the smaller component holds less than `min_weight` of the sample.
    """
    values = np.asarray(values, dtype=np.float64).ravel()
    if values.size < MIN_SAMPLES:
        raise NotBimodal(f"only {values.size} valid values (need {MIN_SAMPLES})")
    if np.ptp(values) == 0:
        raise NotBimodal("the sample is constant")
    otsu = otsu_threshold(values)
    mixture = fit_two_gaussians(values, otsu)
    if mixture.ashman_d < min_ashman_d:
        raise NotBimodal(
            f"the histogram is not bimodal (Ashman's D {mixture.ashman_d:.2f} < {min_ashman_d:g})"
        )
    if mixture.minor_weight < min_weight:
        raise NotBimodal(
            f"the smaller mode holds {mixture.minor_weight:.1%} of the image "
            f"(need {min_weight:.0%})"
        )
    if method == "otsu":
        threshold = otsu
    elif method == "bayes":
        threshold = mixture.bayes_threshold()
    else:
        raise ValueError(f"unknown method {method!r}: 'otsu' or 'bayes'")
    return BimodalSplit(threshold, otsu, mixture, between_class_variance_ratio(values, otsu))
