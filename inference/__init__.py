"""cogsight inference: models run over huge rasters, results written as vector tiles.

The model registry (``models/``), the sliding-window engine (``engine.py``), the one raster
writer (``writer.py``), vectorization (``vectorize.py``, ``polygons/``) and training
(``training/``). This package never imports the web app, and importing it costs no torch: the
modules that need torch import it themselves.
"""
