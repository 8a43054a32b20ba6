"""Archive scenes: STAC items whose bands are separate assets, served as one raster dataset.

``items`` (item → scene), ``vrt`` (the VRT stacking the assets in place), ``masks`` (QA_PIXEL /
SCL cloud and shadow masks, applied by every reader), ``register`` (``register_item`` /
``register_items``), ``signing`` (read-time href signing per source).
"""
