"""The CesiumJS viewer's files: the page at ``/``, its modules, and Cesium's built assets.

``/viewer/`` serves the viewer's own files (``src/``: ES modules and CSS) with
``Cache-Control: no-cache``, so a browser revalidates them (a cheap 304) and never runs modules
of an older release; ``node_modules``, tests and build scripts are not served. ``/cesium/`` is
Cesium's versioned build (``viewer/dist/cesium``), left to the browser's cache.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response
from starlette.types import Scope

MISSING_ASSETS = """<!doctype html><title>cogsight</title>
<h1>cogsight viewer assets are missing</h1>
<p>Run <code>make viewer</code> (npm install + copy of Cesium's build) and reload.
The API is up: see <a href="/docs">/docs</a>.</p>"""

SERVED_FOLDERS = ("src",)


class ViewerFiles(StaticFiles):
    """The viewer's source files only, always revalidated by the browser."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        if path.replace("\\", "/").split("/", 1)[0] not in SERVED_FOLDERS:
            return Response(status_code=404)
        response = await super().get_response(path, scope)
        response.headers["Cache-Control"] = "no-cache"
        return response


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
        app.mount("/viewer", ViewerFiles(directory=viewer_dir), name="viewer")
