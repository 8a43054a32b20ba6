"""OGC WMS 1.1.1 and 1.3.0 over the catalog: one dataset, one mosaic, or all a caller may see.

GIS clients that speak only WMS (older QGIS projects, ArcGIS, GDAL's WMS driver, OWSLib, web
maps with a WMS source) get the same pictures the tile endpoints draw: each raster's stored
default rendering and its presets, read with ``CatalogReader.part`` and the same access rule.

``service.handle`` is the plain entry point (query pairs in, bytes out); ``params`` parses and
checks requests, ``crs`` handles CRS codes and axis order, ``layers`` maps layer names to catalog
records, ``capabilities`` writes the XML, ``render`` / ``featureinfo`` / ``legend`` answer
GetMap, GetFeatureInfo and GetLegendGraphic, ``errors`` writes ServiceExceptionReports.
"""
