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
    masks: list[str] = Field(
        default_factory=list,
        description="Quality bands of the sensor's scenes (QA_PIXEL, SCL): kept as bands, "
        "used to mask clouds and shadows in the others.",
    )
    collections: list[str] = Field(
        default_factory=list, description="STAC collection ids whose items are this sensor."
    )


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
            "scl": ["SCL"],
        },
        reflectance_scale=1e-4,
        reflectance_offset=0.0,
        masks=["scl"],
        collections=["sentinel-2-l2a", "sentinel-2-c1-l2a"],
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
            "qa_pixel": ["QA_PIXEL"],
            "lwir11": ["ST_B10", "B10", "lwir"],
        },
        reflectance_scale=2.75e-5,
        reflectance_offset=-0.2,
        masks=["qa_pixel"],
        collections=["landsat-c2-l2"],
    ),
)
SENSORS.register(
    "sentinel-1-grd",
    SensorPreset(
        name="sentinel-1-grd",
        title="Sentinel-1 C-band SAR GRD",
        aliases={"vv": ["VV"], "vh": ["VH"], "hh": ["HH"], "hv": ["HV"]},
        collections=["sentinel-1-grd"],
    ),
)
SENSORS.register(
    "sentinel-1-rtc",
    SensorPreset(
        name="sentinel-1-rtc",
        title="Sentinel-1 radiometrically terrain corrected backscatter",
        aliases={"vv": ["VV"], "vh": ["VH"], "hh": ["HH"], "hv": ["HV"]},
        collections=["sentinel-1-rtc"],
    ),
)


def preset_for_collection(collection: str | None) -> SensorPreset:
    """The preset of a STAC collection id (``landsat-c2-l2`` -> Landsat C2L2); ``generic``
    for collections no preset claims (their bands keep their ``eo:bands`` names)."""
    if collection:
        for preset in SENSORS:
            if collection.lower() in preset.collections:
                return preset
    return SENSORS.get("generic")
