"""Getting data in: validate rasters, convert them to COGs and record them in the catalog."""

from tileserver.ingest.raster import register_raster

__all__ = ["register_raster"]
