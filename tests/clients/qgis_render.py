"""Draw layers with QGIS, headless: run by Debian's python3 (where python3-qgis lives), not the
project's venv. ``qgis_render.py jobs.json out_dir``: each job is ``{"name", "uri", "extent":
[minx, miny, maxx, maxy] (EPSG:3857), "size"}``; each picture is written to ``out_dir/NAME.png``
and ``out_dir/results.json`` says, per job, whether the layer was valid, its error, the
renderer's errors and the seconds it took.

The layers are made as QGIS's own dialogs make them: a ``wms`` provider URI with
``QgsDataSourceUri`` parameters (WMTS: layer, style and tile matrix set from the capabilities;
XYZ: ``type=xyz`` and the tile URL), drawn by ``QgsMapRendererParallelJob``.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from qgis.core import (
    QgsApplication,
    QgsCoordinateReferenceSystem,
    QgsDataSourceUri,
    QgsMapRendererParallelJob,
    QgsMapSettings,
    QgsRasterLayer,
    QgsRectangle,
)
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor


def layer_uri(params: dict[str, str]) -> str:
    uri = QgsDataSourceUri()
    for key, value in params.items():
        uri.setParam(key, value)
    return bytes(uri.encodedUri()).decode()


def render(job: dict, out: Path) -> dict:
    start = time.monotonic()
    layer = QgsRasterLayer(layer_uri(job["params"]), job["name"], "wms")
    result: dict = {"valid": layer.isValid(), "error": layer.error().message()}
    if layer.isValid():
        settings = QgsMapSettings()
        settings.setLayers([layer])
        settings.setDestinationCrs(QgsCoordinateReferenceSystem("EPSG:3857"))
        settings.setExtent(QgsRectangle(*job["extent"]))
        settings.setOutputSize(QSize(job["size"], job["size"]))
        settings.setBackgroundColor(QColor(0, 0, 0, 0))
        renderer = QgsMapRendererParallelJob(settings)
        renderer.start()
        renderer.waitForFinished()
        renderer.renderedImage().save(str(out / f"{job['name']}.png"), "PNG")
        result["render_errors"] = [e.message for e in renderer.errors()]
    result["seconds"] = round(time.monotonic() - start, 2)
    return result


def main() -> None:
    jobs = json.loads(Path(sys.argv[1]).read_text())
    out = Path(sys.argv[2])
    profile = tempfile.mkdtemp(prefix="qgis-profile-")  # no user profile, no disk cache reuse
    app = QgsApplication([], False, profile)
    app.initQgis()
    results = {job["name"]: render(job, out) for job in jobs}
    (out / "results.json").write_text(json.dumps(results, indent=1))
    app.exitQgis()


if __name__ == "__main__":
    main()
