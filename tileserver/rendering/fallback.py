"""Rescale by data type and sensor, for datasets registered without band statistics.

Datasets registered before renderings were stored have no statistics; their rendering is
decided from the record alone: natural colour when red/green/blue exist, else bands 1-3, else
band 1, with a fixed range per data type and sensor.
"""

from __future__ import annotations

from tileserver.catalog import DatasetRecord

SAR_SENSORS = ("sentinel-1-grd", "sentinel-1-rtc")
SAR_DB_RANGE = (-25.0, 0.0)  # sigma0 in dB


def fixed_rescale(
    dtype: str | None, sensor: str | None, reflectance_scale: float | None = None
) -> tuple[float, float] | None:
    """A display range that needs no statistics; None for 8-bit data (already display range)."""
    dtype = (dtype or "").lower()
    if dtype == "uint8":
        return None
    if sensor in SAR_SENSORS:
        return SAR_DB_RANGE
    if sensor == "landsat-c2l2":
        return (7000.0, 16000.0)
    if dtype.startswith("float") and reflectance_scale is None:
        return (0.0, 1.0)
    return (0.0, 3000.0)


def default_bands(record: DatasetRecord) -> list[int]:
    names = [n.lower() for n in record.band_names]
    if all(c in names for c in ("red", "green", "blue")):
        return [names.index(c) + 1 for c in ("red", "green", "blue")]
    return [1, 2, 3] if len(names) >= 3 else [1]


def default_rescale(record: DatasetRecord) -> tuple[float, float] | None:
    """None for 8-bit data (already display range)."""
    return fixed_rescale(record.dtype, record.sensor, record.reflectance_scale)


def default_render_query(record: DatasetRecord) -> str:
    """``bidx=3&bidx=2&bidx=1&rescale=0%2C3000`` style query, commas encoded."""
    from tileserver.rendering.model import Render

    rescale = default_rescale(record)
    return Render(bidx=default_bands(record), rescale=[rescale] if rescale else None).query_string()
