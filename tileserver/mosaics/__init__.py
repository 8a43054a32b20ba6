"""Mosaics: MosaicJSON documents built from catalog queries and served like one raster."""
