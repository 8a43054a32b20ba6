"""Endmember spectra and backscatter levels for the synthetic demo scenes.

Optical values are surface reflectance (0..1) at the band centres of a Sentinel-2-like sensor
(blue 490 nm, green 560, red 665, nir 842, swir16 1610), taken from typical library curves:
water absorbs in the NIR/SWIR, green leaves have the red edge (low red, high NIR), soils and
roofs rise towards the SWIR. Pixels are linear mixtures of endmembers (abundances sum to 1).

SAR values are C-band sigma0 in dB (VV, VH) typical of Sentinel-1 IW GRD over these covers.
"""

from __future__ import annotations

import numpy as np

from tileserver.demo import landscape as ls

BAND_NAMES = ["blue", "green", "red", "nir", "swir16"]
BAND_CENTRES_NM = (490, 560, 665, 842, 1610)
SAR_BAND_NAMES = ["VV", "VH"]

# Reflectance (0..1) at BAND_CENTRES_NM.
ENDMEMBERS: dict[str, tuple[float, float, float, float, float]] = {
    "clear_water": (0.055, 0.052, 0.030, 0.018, 0.008),
    "turbid_water": (0.075, 0.095, 0.085, 0.040, 0.012),
    "forest": (0.025, 0.050, 0.028, 0.360, 0.170),
    "grass": (0.040, 0.085, 0.050, 0.420, 0.250),
    "crop_green": (0.030, 0.070, 0.035, 0.460, 0.220),
    "crop_ripe": (0.070, 0.100, 0.130, 0.260, 0.330),
    "soil_dry": (0.120, 0.160, 0.200, 0.260, 0.330),
    "soil_wet": (0.060, 0.080, 0.100, 0.140, 0.190),
    "concrete": (0.150, 0.165, 0.175, 0.200, 0.260),
    "red_tile": (0.070, 0.085, 0.140, 0.190, 0.260),
    "blue_metal": (0.160, 0.170, 0.130, 0.160, 0.220),
    "dark_roof": (0.050, 0.055, 0.060, 0.075, 0.100),
    "asphalt": (0.065, 0.075, 0.085, 0.105, 0.140),
}
_NAMES = list(ENDMEMBERS)
_IDX = {name: i for i, name in enumerate(_NAMES)}
_MATRIX = np.array([ENDMEMBERS[n] for n in _NAMES], dtype=np.float32)  # (E, 5)
ROOF_ENDMEMBERS = ("concrete", "red_tile", "blue_metal", "dark_roof")

# Crop abundance templates per stage (landscape.FLOODED ... SENESCENT).
_CROP_TEMPLATES = (
    {"clear_water": 0.35, "turbid_water": 0.25, "soil_wet": 0.25, "crop_green": 0.15},
    {"soil_wet": 0.7, "soil_dry": 0.3},
    {"soil_wet": 0.35, "soil_dry": 0.2, "crop_green": 0.45},
    {"crop_green": 0.9, "soil_wet": 0.1},
    {"crop_ripe": 0.75, "soil_dry": 0.15, "crop_green": 0.1},
)

# Mean backscatter (VV dB, VH dB) per crop stage.
_CROP_SAR = ((-16.0, -24.0), (-10.5, -19.0), (-11.0, -18.0), (-9.0, -15.0), (-10.0, -17.0))


def _template_matrix(templates: tuple[dict[str, float], ...]) -> np.ndarray:
    out = np.zeros((len(templates), len(_NAMES)), dtype=np.float32)
    for i, template in enumerate(templates):
        for name, share in template.items():
            out[i, _IDX[name]] = share
    return out


def _put(ab: np.ndarray, name: str, mask: np.ndarray, value: np.ndarray | float) -> None:
    """Add abundance `value` of endmember `name` where mask is set."""
    plane = ab[_IDX[name]]
    plane[mask] += value[mask] if isinstance(value, np.ndarray) else value


def abundances(layers: ls.Layers) -> np.ndarray:
    """(E, H, W) endmember fractions per pixel from the land-cover layers (nodata: all 0)."""
    cls, tex = layers.classes, layers.texture
    ab = np.zeros((len(_NAMES), *cls.shape), dtype=np.float32)

    water = cls == ls.WATER
    _put(ab, "clear_water", water, 1.0 - layers.turbidity)
    _put(ab, "turbid_water", water, layers.turbidity)

    veg = cls == ls.VEGETATION
    soil = np.clip(0.04 + 0.03 * tex, 0.0, 0.12)
    _put(ab, "forest", veg, (1.0 - soil) * layers.forest)
    _put(ab, "grass", veg, (1.0 - soil) * (1.0 - layers.forest))
    _put(ab, "soil_dry", veg, soil)

    crop = cls == ls.CROPLAND
    stage = np.clip(layers.stage, 0, 4)
    ab += np.where(crop, np.moveaxis(_template_matrix(_CROP_TEMPLATES)[stage], -1, 0), 0.0)
    shift = np.clip(0.07 * layers.vigour, -1.0, 1.0)  # vigour trades soil for canopy
    shift = np.clip(shift, -ab[_IDX["crop_green"]], ab[_IDX["soil_wet"]]) * crop
    ab[_IDX["crop_green"]] += shift
    ab[_IDX["soil_wet"]] -= shift

    _built_abundances(ab, layers)

    bare = cls == ls.BARE
    _put(ab, "soil_wet", bare, layers.wetness)
    _put(ab, "soil_dry", bare, 1.0 - layers.wetness)
    return ab


def _built_abundances(ab: np.ndarray, layers: ls.Layers) -> None:
    """Roofs (one material per building), asphalt streets with some street trees, and open
    space inside blocks (paving with trees and lawns)."""
    tex = layers.texture
    street = layers.roof == ls.STREET
    _put(ab, "asphalt", street, 0.8)
    _put(ab, "concrete", street, 0.12)
    _put(ab, "forest", street, 0.08)
    for i, name in enumerate(ROOF_ENDMEMBERS):
        roof = layers.roof == i
        _put(ab, name, roof, 0.9)
        _put(ab, "concrete", roof, 0.1)
    open_space = layers.roof == ls.OPEN
    trees = np.clip(0.15 + 0.08 * tex, 0.02, 0.3)
    _put(ab, "forest", open_space, trees)
    _put(ab, "concrete", open_space, 0.65 * (1.0 - trees))
    _put(ab, "asphalt", open_space, 0.35 * (1.0 - trees))


def reflectance(layers: ls.Layers, date_noise: np.ndarray) -> np.ndarray:
    """(5, H, W) float32 surface reflectance: mixture x brightness texture (static, plus a
    little per-date noise); water gets weaker texture since it is smooth."""
    ab = abundances(layers)
    refl = np.tensordot(_MATRIX.T, ab, axes=1)
    gain = np.where(layers.classes == ls.WATER, 0.02, 0.06)
    refl *= 1.0 + gain * layers.texture + 0.015 * date_noise
    return refl.astype(np.float32)


def backscatter_db(layers: ls.Layers) -> np.ndarray:
    """(2, H, W) mean sigma0 in dB before speckle; nodata pixels get NaN."""
    cls, tex = layers.classes, layers.texture
    vv = np.full(cls.shape, np.nan, dtype=np.float32)
    vh = np.full(cls.shape, np.nan, dtype=np.float32)

    water = cls == ls.WATER
    vv[water] = (-21.0 + 1.5 * layers.wind)[water]  # wind roughening
    vh[water] = (-28.0 + 1.0 * layers.wind)[water]

    veg = cls == ls.VEGETATION
    vv[veg] = (-7.5 - 1.2 * (1.0 - layers.forest) + 0.4 * tex)[veg]
    vh[veg] = (-13.5 - 1.8 * (1.0 - layers.forest) + 0.4 * tex)[veg]

    crop = cls == ls.CROPLAND
    table = np.array(_CROP_SAR, dtype=np.float32)
    stage = np.clip(layers.stage, 0, 4)
    vv[crop] = (table[stage, 0] + 0.5 * layers.vigour)[crop]
    vh[crop] = (table[stage, 1] + 0.8 * layers.vigour)[crop]

    built = cls == ls.BUILT  # bright: double bounce and layover from nearby buildings
    vv[built] = (-4.0 + 3.0 * layers.double_bounce)[built]
    vh[built] = (-13.0 + 2.0 * layers.double_bounce)[built]
    roofs = built & (layers.roof >= 0) & (layers.roof < ls.N_ROOFS)
    vv[roofs] = (-2.0 + 8.0 * layers.double_bounce)[roofs]
    vh[roofs] = (-11.0 + 4.0 * layers.double_bounce)[roofs]
    street = layers.roof == ls.STREET
    vv[street] = -6.0
    vh[street] = -15.0

    bare = cls == ls.BARE
    vv[bare] = (-13.0 + 4.0 * layers.wetness)[bare]
    vh[bare] = (-21.0 + 3.0 * layers.wetness)[bare]
    return np.stack([vv, vh])
