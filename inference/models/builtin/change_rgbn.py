"""Change vector analysis without SWIR: the RGBN and RGB feature spaces of `change-cva`.

CVA (Malila 1980; Johnson & Kasischke 1998) needs only a feature space in which the change
types point in different directions. Without SWIR there is no MNDWI or NDBI, so each date
gets the features its bands support:

* RGBN: f = (NDVI, NDWI, brightness). NDVI = (nir - red)/(nir + red) (Rouse et al. 1974),
  NDWI = (green - nir)/(green + nir) (McFeeters 1996), brightness = the visible maximum.
* RGB: f = (ExG, brightness, saturation). ExG = 2g - r - b on chromatic coordinates
  (Woebbecke et al. 1995), HSV saturation of the visible bands.

Brightness needs one scale for both dates and for any bit depth: per date, the 99th
percentile of the visible maximum becomes 1.0 (the gain of rgbn.py's fit), so 8-bit,
16-bit and reflectance input read the same and a brighter acquisition does not look like
change. Band ratios (NDVI, NDWI, ExG, saturation) do not depend on that gain.

Direction:
* water gain / loss: NDWI crosses 0 upwards / downwards (RGBN only) and NIR on the water
  date stays below the visible bright level (water absorbs NIR; bright roofs clipped at 255
  in 8-bit imagery have NDWI ~ 0 and would otherwise flicker into water). RGB has no credible
  water index (prairie ponds and shadows defeat the visible rules, see rgbn.py), so its
  water classes stay at probability 0 and a flooded field reads as vegetation loss or no
  change.
* greenness drop (dNDVI < -0.15, or dExG < -0.08 on RGB) to a brighter surface
  (d brightness > +0.03): vegetation loss, or new built-up where the date-2 surface is grey
  (saturation < 0.2: concrete, asphalt, grey roofs; bare soil is brown, ~0.3-0.4). Red tile
  roofs are saturated and read as vegetation loss.
* anything else (green-up, shadows, harvest to a darker surface) is no change of these types.

Band layout per date (see rgbn.py): red, green, blue, nir, or red, green, blue.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from inference.models.builtin.rgbn import Bands, sigmoid

SOFTNESS = 0.02
GREEN_LOSS_NDVI = -0.15
GREEN_LOSS_EXG = -0.08
BRIGHTER = 0.03
GREY_SATURATION = 0.2
WATER_LINE = 0.0
#: NIR above the visible bright level (1.0 after the gain) is no water
WATER_NIR = 1.0


def date_bands(date: np.ndarray, gain: float) -> Bands:
    """(C, H, W) of one date -> its bands on the image's brightness scale."""
    return Bands.of(date[:4] * gain)


def features(bands: Bands) -> np.ndarray:
    """(3, H, W): NDVI, NDWI, brightness with NIR; ExG, brightness, saturation without."""
    if bands.ndvi is not None and bands.ndwi is not None:
        return np.stack([bands.ndvi, bands.ndwi, bands.brightness])
    return np.stack([bands.excess_green, bands.brightness, bands.saturation])


def magnitude(before: Bands, after: Bands) -> np.ndarray:
    """|f2 - f1|, (H, W)."""
    return np.linalg.norm(features(after) - features(before), axis=0)


def change_types(before: Bands, after: Bands, changed: np.ndarray) -> np.ndarray:
    """(4, H, W) P(vegetation loss, new built-up, water gain, water loss), each already
    multiplied by P(changed)."""
    s = SOFTNESS
    zero = np.zeros_like(changed)
    if before.nir is not None and after.nir is not None:
        assert before.ndwi is not None and after.ndwi is not None
        w1, w2 = before.ndwi, after.ndwi
        dark1 = sigmoid(-before.nir, -WATER_NIR, s)
        dark2 = sigmoid(-after.nir, -WATER_NIR, s)
        gain = sigmoid(w2, WATER_LINE, s) * sigmoid(-w1, -WATER_LINE, s) * dark2
        loss = sigmoid(w1, WATER_LINE, s) * sigmoid(-w2, -WATER_LINE, s) * dark1
        assert before.ndvi is not None and after.ndvi is not None
        greener = after.ndvi - before.ndvi
        drop = sigmoid(-greener, -GREEN_LOSS_NDVI, s)
    else:
        gain, loss = zero, zero
        drop = sigmoid(-(after.excess_green - before.excess_green), -GREEN_LOSS_EXG, s)
    brighter = sigmoid(after.brightness - before.brightness, BRIGHTER, s)
    green_loss = drop * brighter * np.clip(1.0 - gain - loss, 0.0, None)
    grey = sigmoid(-after.saturation, -GREY_SATURATION, s)
    types = np.stack([green_loss * (1.0 - grey), green_loss * grey, gain, loss])
    return (types * changed[None]).astype(np.float32)


def forward_chips(x: Tensor, gains: Tensor, threshold: float) -> Tensor:
    """(B, 2C, H, W) date 1 then date 2 -> (B, 5, H, W) class probabilities."""
    chips = x.detach().to("cpu", torch.float32).numpy()
    per_date = chips.shape[1] // 2
    g1, g2 = (float(g) for g in gains)
    out = np.empty((chips.shape[0], 5, *chips.shape[2:]), dtype=np.float32)
    for i, chip in enumerate(chips):
        before = date_bands(chip[:per_date], g1)
        after = date_bands(chip[per_date:], g2)
        changed = sigmoid(magnitude(before, after), threshold, SOFTNESS)
        types = change_types(before, after, changed)
        out[i, 0] = np.clip(1.0 - types.sum(axis=0), 0.0, None)
        out[i, 1:] = types
    return torch.from_numpy(out).to(x.device)
