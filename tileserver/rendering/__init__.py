"""How a raster is drawn when a request does not say: default renderings and named presets.

GIS clients (QGIS, GDAL's WMTS driver, OpenLayers, Leaflet) send no render parameters, so every
raster gets a rendering decided at registration (``properties["render"]``, from per-band
statistics in ``properties["band_stats"]``) and a list of presets its bands allow (true colour,
false colour, indices). ``http.dependencies`` applies them to every image endpoint.
"""

from tileserver.rendering.model import Render
from tileserver.rendering.records import (
    dataset_presets,
    dataset_render,
    find_render,
    ingest_render_properties,
    traits_of,
)

__all__ = [
    "Render",
    "dataset_presets",
    "dataset_render",
    "find_render",
    "ingest_render_properties",
    "traits_of",
]
