"""SpaceNet-4 Atlanta (0.5 m pan, CC BY-SA 4.0): a pixel classifier learnt from 25 footprints
of the northern half plus background strokes there, run over the tile by the engine, scored
on the unseen southern half (protocol in bench/spacenet_curve.py). Fixed seed and 40 trees.

Measured: building IoU 0.07-0.08 on the unseen half (the U-Net: see the bench table). This
pan tile's southern half is mostly forest with a few dark roofs under canopy and off-nadir
footprints; the test guards the figure, it does not claim the 0.6 target.
"""

from __future__ import annotations

import pytest

pytest.importorskip("sklearn")

from bench.spacenet_curve import SPACENET, spacenet_point

MEASURED = 0.075
MARGIN = 0.03


@pytest.mark.skipif(not SPACENET.is_dir(), reason="SpaceNet-4 sample not present")
def test_pixel_classifier_on_unseen_ground() -> None:
    point = spacenet_point("pixel-classifier", 25, trees=40)
    print(point)
    assert point.iou_post >= MEASURED - MARGIN
