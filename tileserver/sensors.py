"""Sensor presets: how common band names (red, nir, swir16...) map to each sensor's band ids.

A dataset's own band names always win; a preset is the fallback that lets ``?index=NDVI`` work
on a Sentinel-2 file whose bands are called B04/B08, or a Landsat file with SR_B4/SR_B5.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from tileserver.registry import Registry


class SensorPreset(BaseModel):
    name: str
    title: str
    aliases: dict[str, list[str]] = Field(
        default_factory=dict, description="common band name -> the sensor's band ids"
    )
    reflectance_scale: float | None = Field(
        default=None, description="Multiply stored values by this to get reflectance (0-1)."
    )
    reflectance_offset: float | None = None


SENSORS: Registry[SensorPreset] = Registry("sensor")

SENSORS.register("generic", SensorPreset(name="generic", title="Any raster"))
SENSORS.register(
    "sentinel-2-l2a",
    SensorPreset(
        name="sentinel-2-l2a",
        title="Sentinel-2 MSI Level-2A",
        aliases={
            "coastal": ["B01", "B1"],
            "blue": ["B02", "B2"],
            "green": ["B03", "B3"],
            "red": ["B04", "B4"],
            "rededge1": ["B05", "B5"],
            "rededge2": ["B06", "B6"],
            "rededge3": ["B07", "B7"],
            "nir": ["B08", "B8"],
            "nir08": ["B8A"],
            "nir09": ["B09", "B9"],
            "swir16": ["B11"],
            "swir22": ["B12"],
        },
        reflectance_scale=1e-4,
        reflectance_offset=0.0,
    ),
)
SENSORS.register(
    "landsat-c2l2",
    SensorPreset(
        name="landsat-c2l2",
        title="Landsat 8-9 Collection 2 Level-2",
        aliases={
            "coastal": ["SR_B1", "B1"],
            "blue": ["SR_B2", "B2"],
            "green": ["SR_B3", "B3"],
            "red": ["SR_B4", "B4"],
            "nir": ["SR_B5", "B5", "nir08"],
            "swir16": ["SR_B6", "B6"],
            "swir22": ["SR_B7", "B7"],
        },
        reflectance_scale=2.75e-5,
        reflectance_offset=-0.2,
    ),
)
SENSORS.register(
    "sentinel-1-grd",
    SensorPreset(
        name="sentinel-1-grd",
        title="Sentinel-1 C-band SAR GRD",
        aliases={"vv": ["VV"], "vh": ["VH"], "hh": ["HH"], "hv": ["HV"]},
    ),
)
