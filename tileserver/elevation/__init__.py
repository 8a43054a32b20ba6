"""Elevation rasters (DEMs): recognised at ingest, drawn as terrain, shaded, encoded for 3D.

``detect`` decides at registration whether a raster is elevation and records
``properties["elevation"]`` (``elevation_info`` reads it back); ``algorithms`` are the
hillshade / slope / aspect / contour / Terrain-RGB / terrarium post-processes tiles apply;
``fill`` closes nodata holes for meshing.
"""

from tileserver.elevation.detect import elevation_info, elevation_properties

__all__ = ["elevation_info", "elevation_properties"]
