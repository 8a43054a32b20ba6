"""Small helpers shared by the WMS tests: decode images, read exception reports, build URLs."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from urllib.parse import urlencode

import numpy as np
from PIL import Image

CRS = "EPSG:32650"
SIZE = 256
PIXEL = 10.0
X0, Y0 = 240_000.0, 3_383_000.0
"""The synthetic rasters' grid: 2.56 km squares in UTM 50N, near Wuhan."""
RED_WEST, RED_EAST, GREEN, BLUE = 200, 120, 60, 20
CLASSES = {
    "1": {"name": "water", "color": "#1f6fd1"},
    "2": {"name": "forest", "color": "#2ca02c"},
}
OGC = "{http://www.opengis.net/ogc}"
NATIVE_BOUNDS = (X0, Y0 - SIZE * PIXEL, X0 + SIZE * PIXEL, Y0)
"""The synthetic rasters' bounds in their CRS (EPSG:32650)."""


def rgba(content: bytes) -> np.ndarray:
    """(rows, cols, 4) int16, alpha 255 where the format has none."""
    image = Image.open(io.BytesIO(content))
    image.load()
    return np.asarray(image.convert("RGBA")).astype("int16")


def report(response) -> tuple[str | None, str | None, str]:  # type: ignore[no-untyped-def]
    """(code, locator, message) of a ServiceExceptionReport, either version's dialect."""
    root = ET.fromstring(response.content)
    assert root.tag.endswith("ServiceExceptionReport"), response.text[:200]
    item = root.find(f"{OGC}ServiceException")
    if item is None:
        item = root.find("ServiceException")
    assert item is not None
    return item.get("code"), item.get("locator"), item.text or ""


def getmap(
    layers: str,
    bbox: tuple[float, float, float, float],
    crs: str = "EPSG:32650",
    version: str = "1.3.0",
    size: tuple[int, int] = (SIZE, SIZE),
    **extra: str,
) -> str:
    query = {
        "SERVICE": "WMS",
        "REQUEST": "GetMap",
        "VERSION": version,
        "LAYERS": layers,
        "STYLES": "",
        "CRS" if version == "1.3.0" else "SRS": crs,
        "BBOX": ",".join(repr(v) for v in bbox),
        "WIDTH": str(size[0]),
        "HEIGHT": str(size[1]),
        "FORMAT": "image/png",
        **extra,
    }
    return urlencode(query)
