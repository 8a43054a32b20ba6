"""The CesiumJS viewer's files: the page at ``/``, its modules, and Cesium's built assets.

``/viewer/`` serves the viewer's own files (``src/``: ES modules and CSS) with
``Cache-Control: no-cache``, so a browser revalidates them (a cheap 304) and never runs modules
of an older release; ``node_modules``, tests and build scripts are not served. ``/cesium/`` is
Cesium's versioned build (``viewer/dist/cesium``), left to the browser's cache.
``/viewer/config.json`` tells the viewer what an administrator configured: the base maps of
``COGSIGHT_BASEMAPS`` (the bundled offline Natural Earth II is always offered first, by the
viewer itself, so the page works with no configuration and no internet).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from starlette.responses import Response
from starlette.types import Scope

from tileserver.settings import Settings

MISSING_ASSETS = """<!doctype html><title>cogsight</title>
<h1>cogsight viewer assets are missing</h1>
<p>Run <code>make viewer</code> (npm install + copy of Cesium's build) and reload.
The API is up: see <a href="/docs">/docs</a>.</p>"""

SERVED_FOLDERS = ("src",)


class BasemapOut(BaseModel):
    """A configured base map as the viewer uses it: ``{key}`` already replaced in ``url``."""

    id: str
    title: str
    type: Literal["xyz", "wmts"]
    url: str
    attribution: str
    layer: str | None = None
    tileMatrixSet: str | None = None
    format: str | None = None


class ViewerConfig(BaseModel):
    basemaps: list[BasemapOut]


def viewer_config(settings: Settings) -> ViewerConfig:
    return ViewerConfig(
        basemaps=[
            BasemapOut(
                id=b.id,
                title=b.title,
                type=b.type,
                url=b.resolved_url(),
                attribution=b.attribution,
                layer=b.layer,
                tileMatrixSet=b.tileMatrixSet,
                format=b.format,
            )
            for b in settings.basemaps
        ]
    )


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

    # registered before the /viewer mount, which would otherwise answer 404 for it
    @app.get("/viewer/config.json", response_model=ViewerConfig, tags=["Viewer"])
    def config(request: Request, response: Response) -> ViewerConfig:
        """What the viewer offers beyond its defaults: the administrator's base maps."""
        response.headers["Cache-Control"] = "no-cache"
        return viewer_config(request.app.state.settings)

    if cesium.is_dir():
        app.mount("/cesium", StaticFiles(directory=cesium), name="cesium")
    if viewer_dir.is_dir():
        app.mount("/viewer", ViewerFiles(directory=viewer_dir), name="viewer")
