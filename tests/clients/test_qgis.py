"""QGIS 3.22 (Debian's python3-qgis, headless) adds each dataset as a user would, with no
render parameters: the WMTS layer ``…_default`` from the capabilities URL in ``links.wmts``,
an XYZ layer from ``links.tiles``, and the WMS layer ``{id}`` (``mosaic:{id}``) with the default
style from ``links.wms``. One QGIS process draws every layer; each test judges
one picture against the server's own tiles."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.clients.conftest import NAMES, pick
from tests.clients.served import (
    ARTIFACTS,
    SIZE,
    Dataset,
    assert_good,
    record,
    reference,
    rgba,
    verdict,
)

DEBIAN_PYTHON = "/usr/bin/python3"
SCRIPT = Path(__file__).with_name("qgis_render.py")
KINDS = ("wmts", "xyz", "wms")


def qgis_missing() -> str:
    """Why QGIS cannot run here ('' when it can)."""
    if not Path(DEBIAN_PYTHON).exists():
        return "no /usr/bin/python3"
    probe = subprocess.run(
        [DEBIAN_PYTHON, "-c", "import qgis.core"], capture_output=True, text=True, timeout=60
    )
    if probe.returncode:
        return "QGIS is not installed (make qgis: apt-get install python3-qgis qgis-providers)"
    return ""


def _params(kind: str, dataset: Dataset) -> dict[str, str]:
    if kind == "wmts":
        layer = dataset.wmts_layer
        return {
            "contextualWMSLegend": "0",
            "crs": "EPSG:3857",
            "dpiMode": "7",
            "format": "image/png",
            "layers": layer,
            "styles": layer,  # the capabilities' one style of the layer has the layer's name
            "tileMatrixSet": "WebMercatorQuad",
            "url": dataset.links["wmts"],
        }
    if kind == "wms":
        return {
            "contextualWMSLegend": "0",
            "crs": "EPSG:3857",
            "dpiMode": "7",
            "format": "image/png",
            "layers": dataset.wms_layer,
            "styles": "",
            "url": dataset.wms,
        }
    return {"type": "xyz", "url": dataset.links["tiles"]}


@pytest.fixture(scope="session")
def qgis_pictures(datasets: dict[str, Dataset]) -> dict[str, Any]:
    """Every dataset drawn by one QGIS process: name -> result (with the picture's path)."""
    missing = qgis_missing()
    if missing:
        pytest.skip(missing)
    out = ARTIFACTS / "qgis"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    jobs = [
        {
            "name": f"{kind}-{name}",
            "params": _params(kind, dataset),
            "extent": list(dataset.view.extent),
            "size": SIZE,
        }
        for name, dataset in datasets.items()
        for kind in KINDS
    ]
    (out / "jobs.json").write_text(json.dumps(jobs, indent=1))
    env = {"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin", "HOME": str(out)}
    done = subprocess.run(
        [DEBIAN_PYTHON, str(SCRIPT), str(out / "jobs.json"), str(out)],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results: dict[str, Any] = json.loads((out / "results.json").read_text())
    for name, result in results.items():
        result["picture"] = out / f"{name}.png"
    return results


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("kind", KINDS)
def test_qgis_draws_the_default_rendering(qgis_pictures, datasets, server_url, kind, name):
    dataset = pick(datasets, name)
    result = qgis_pictures[f"{kind}-{name}"]
    assert result["valid"], result["error"]
    image = rgba(result["picture"].read_bytes())
    assert image.shape == (SIZE, SIZE, 4)
    judged = verdict(dataset, image, reference(server_url, dataset))
    record(f"QGIS {kind.upper()}", dataset, judged)
    assert_good(judged, dataset, f"QGIS {kind}")
