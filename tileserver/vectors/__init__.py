"""Vector datasets: shapefiles, GeoJSON and GeoPackages stored as FlatGeobuf plus PMTiles.

Registration (``register_vector``) validates and reprojects the upload to WGS84, writes
``vectors/{id}/features.fgb`` (the queryable copy, with a spatial index) and
``vectors/{id}/tiles.pmtiles`` (Mapbox Vector Tiles for maps), then records the dataset in the
catalog. Everything else here reads those two files: tiles, TileJSON, feature queries,
downloads and the dataset's geometry for spatial search.
"""

from tileserver.vectors.export import EXPORT_FORMATS, ExportedFile, export_vector
from tileserver.vectors.features import query_features, vector_geometry
from tileserver.vectors.register import register_vector
from tileserver.vectors.store import features_path, require_vector, tiles_path
from tileserver.vectors.tiles import read_tile, tilejson

__all__ = [
    "EXPORT_FORMATS",
    "ExportedFile",
    "export_vector",
    "features_path",
    "query_features",
    "read_tile",
    "register_vector",
    "require_vector",
    "tilejson",
    "tiles_path",
    "vector_geometry",
]
