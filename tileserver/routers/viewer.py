"""The CesiumJS viewer's files: the page at ``/``, its modules, and Cesium's built assets."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

MISSING_ASSETS = """<!doctype html><title>cogsight</title>
<h1>cogsight viewer assets are missing</h1>
<p>Run <code>make viewer</code> (npm install + copy of Cesium's build) and reload.
The API is up: see <a href="/docs">/docs</a>.</p>"""


def mount_viewer(app: FastAPI, viewer_dir: Path) -> None:
    index = viewer_dir / "index.html"
    cesium = viewer_dir / "dist" / "cesium"

    @app.get("/", include_in_schema=False, response_model=None)
    def viewer_page() -> FileResponse | HTMLResponse:
        if not index.is_file() or not (cesium / "Cesium.js").is_file():
            return HTMLResponse(MISSING_ASSETS, status_code=503)
        return FileResponse(index, headers={"Cache-Control": "no-cache"})

    if cesium.is_dir():
        app.mount("/cesium", StaticFiles(directory=cesium), name="cesium")
    if viewer_dir.is_dir():
        app.mount("/viewer", StaticFiles(directory=viewer_dir), name="viewer")
