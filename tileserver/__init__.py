"""cogsight tile server: catalog, dynamic COG tiles, spectral indices and mosaics."""

__version__ = "0.1.0"
