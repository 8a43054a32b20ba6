"""Default render parameters for a raster's tile links.

A bare ``.png`` tile of a 5-band uint16 scene cannot be encoded, so STAC ``xyz`` / ``tilejson``
/ ``wmts`` links carry a render that works out of the box. The choice mirrors the viewer's
``defaultRender`` (viewer/src/layers.js): natural colour when red/green/blue exist, else bands
1-3, else band 1; a fixed rescale by dtype and sensor.
"""

from __future__ import annotations

from urllib.parse import urlencode

from tileserver.catalog import DatasetRecord

SAR_SENSORS = ("sentinel-1-grd",)


def default_bands(record: DatasetRecord) -> list[int]:
    names = [n.lower() for n in record.band_names]
    if all(c in names for c in ("red", "green", "blue")):
        return [names.index(c) + 1 for c in ("red", "green", "blue")]
    return [1, 2, 3] if len(names) >= 3 else [1]


def default_rescale(record: DatasetRecord) -> tuple[float, float] | None:
    """None for 8-bit data (already display range)."""
    dtype = record.dtype.lower()
    if dtype == "uint8":
        return None
    if record.sensor in SAR_SENSORS:
        return (-25.0, 0.0)  # sigma0 in dB
    if record.sensor == "landsat-c2l2":
        return (7000.0, 16000.0)
    if dtype.startswith("float") and record.reflectance_scale is None:
        return (0.0, 1.0)
    return (0.0, 3000.0)


def default_render_query(record: DatasetRecord) -> str:
    """``bidx=3&bidx=2&bidx=1&rescale=0,3000`` style query for the record's tile URLs."""
    params: list[tuple[str, str]] = [("bidx", str(b)) for b in default_bands(record)]
    rescale = default_rescale(record)
    if rescale is not None:
        params.append(("rescale", f"{rescale[0]:g},{rescale[1]:g}"))
    return urlencode(params, safe=",")
