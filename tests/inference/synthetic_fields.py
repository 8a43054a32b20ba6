"""A seeded synthetic farmland scene with parcel truth, for the zero-sample parcel and
cropland-change tools: Voronoi fields (green crop, ripening crop or bare soil, each with its
own tone and pixel noise, separated by narrow grass margins), a rough forest, a lake and a
village of bright roofs. Values are reflectance x 10000 (uint16) or 8-bit DN."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

#: red, green, blue, nir reflectance of each surface
CROPS = {
    "green": (0.04, 0.09, 0.03, 0.38),
    "ripening": (0.11, 0.11, 0.06, 0.27),
    "bare": (0.16, 0.13, 0.10, 0.22),
}
FOREST = (0.03, 0.06, 0.025, 0.30)
GRASS = (0.06, 0.10, 0.05, 0.30)
WATER = (0.03, 0.045, 0.05, 0.015)
ROOF = (0.30, 0.28, 0.26, 0.32)
ROAD = (0.12, 0.12, 0.12, 0.14)


def farmland(size: int = 512, seed: int = 0, fields: int = 36) -> tuple[np.ndarray, np.ndarray]:
    """(4, size, size) float32 reflectance (red, green, blue, nir) and (size, size) int32
    parcel ids (0: not a field; margins between fields are 0)."""
    rng = np.random.default_rng(seed)
    image = np.empty((4, size, size), dtype=np.float32)
    image[:] = np.array(GRASS, dtype=np.float32)[:, None, None]
    rows, cols = np.mgrid[0:size, 0:size]
    farm = cols < int(size * 0.72)
    seeds = np.column_stack([rng.uniform(0, size, fields), rng.uniform(0, size * 0.72, fields)])
    d = (rows[..., None] - seeds[:, 0]) ** 2 + (cols[..., None] - seeds[:, 1]) ** 2
    order = np.sort(d, axis=-1)
    owner = np.argmin(d, axis=-1)
    margin = np.sqrt(order[..., 1]) - np.sqrt(order[..., 0]) < 2.5  # ~2-3 px grass margins
    parcels = np.where(farm & ~margin, owner + 1, 0).astype(np.int32)
    names = list(CROPS)
    for pid in range(1, fields + 1):
        where = parcels == pid
        tone = np.array(CROPS[names[rng.integers(len(names))]], dtype=np.float32)
        tone = tone * rng.uniform(0.85, 1.15)
        image[:, where] = tone[:, None]
    # a rough forest (crowns and gaps), a lake, a village of roofs and a road
    forest = (cols >= int(size * 0.75)) & (rows < size // 2)
    crowns = ndimage.gaussian_filter(rng.normal(size=(size, size)), 1.5)
    crowns = (crowns - crowns.mean()) / crowns.std()
    image[:, forest] = (
        np.array(FOREST, dtype=np.float32)[:, None] * (1.0 + 0.45 * crowns[forest])[None]
    )
    lake = (rows - size * 0.7) ** 2 + (cols - size * 0.86) ** 2 < (size * 0.09) ** 2
    image[:, lake] = np.array(WATER, dtype=np.float32)[:, None]
    village = (cols >= int(size * 0.75)) & (rows > size * 0.82)
    for _ in range(30):
        r0 = int(rng.uniform(size * 0.82, size - 8))
        c0 = int(rng.uniform(size * 0.75, size - 8))
        h, w = rng.integers(5, 9, size=2)
        roof = np.zeros((size, size), dtype=bool)
        roof[r0 : r0 + h, c0 : c0 + w] = True
        image[:, roof & village] = np.array(ROOF, dtype=np.float32)[:, None]
    road = np.abs(cols - int(size * 0.735)) <= 2
    image[:, road] = np.array(ROAD, dtype=np.float32)[:, None]
    parcels[road] = 0
    image += rng.normal(0.0, 0.006, image.shape).astype(np.float32)
    return np.clip(image, 0.001, 1.0), parcels


def parcel_scores(field: np.ndarray, parcels: np.ndarray) -> tuple[float, float]:
    """Pixel IoU of the field mask, and the share of true parcels matched by one predicted
    region (connected field pixels) with IoU > 0.5."""
    truth = parcels > 0
    iou = float((field & truth).sum() / max(1, (field | truth).sum()))
    regions, _ = ndimage.label(field)
    matched = 0
    ids = [p for p in np.unique(parcels) if p > 0]
    for pid in ids:
        where = parcels == pid
        hits = np.bincount(regions[where], minlength=regions.max() + 1)
        hits[0] = 0
        best = int(hits.argmax())
        if best == 0:
            continue
        inter = hits[best]
        union = where.sum() + (regions == best).sum() - inter
        matched += inter / union > 0.5
    return iou, matched / max(1, len(ids))


def later_date(
    image: np.ndarray, parcels: np.ndarray, seed: int, floods: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Date 2 of ``farmland``: four fields built over (roofs in 6 px blocks between dark
    streets) or, with ``floods``, two of them flooded; shifted by 1 px (a misregistration).
    Returns it and the truth (cropland gone)."""
    rng = np.random.default_rng(seed)
    later = image.copy()
    gone = np.zeros(parcels.shape, dtype=bool)
    rows, cols = np.mgrid[0 : parcels.shape[0], 0 : parcels.shape[1]]
    blocks = ((rows // 6) + (cols // 6)) % 2 == 0
    street = np.array([0.05, 0.05, 0.05, 0.06], dtype=np.float32)
    for i, pid in enumerate(rng.choice(np.unique(parcels[parcels > 0]), 4, replace=False)):
        where = parcels == pid
        if floods and i % 2:
            later[:, where] = np.array(WATER, dtype=np.float32)[:, None]
        else:
            later[:, where & blocks] = np.array(ROOF, dtype=np.float32)[:, None]
            later[:, where & ~blocks] = street[:, None]
        gone |= where
    later += rng.normal(0.0, 0.004, later.shape).astype(np.float32)
    return np.roll(later, 1, axis=2), gone
