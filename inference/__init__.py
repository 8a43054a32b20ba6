"""cogsight inference: models run over huge rasters, results written as vector tiles.

This package stays importable without the web app (and the web app never imports torch).
The model registry, sliding-window engine and vectorization arrive here; until then the
package only reserves the namespace.
"""
