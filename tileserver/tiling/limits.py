"""Bounds on what one image request may ask for, shared by the tilers' request checks and WMS."""

from __future__ import annotations

MAX_IMAGE_SIDE = 4096
MAX_TILE_MARGIN = 512
MAX_HISTOGRAM_BINS = 10_000
MAX_ZOOM = 30
"""Bounds on what one request may ask for: titiler takes any ``tilesize``, ``width``, ``height``
or ``max_size`` (a 10^6 px side allocates terabytes before a pixel is read), any zoom (morecantile
overflows past a few hundred) and any point (PROJ fails on a latitude past 90)."""
