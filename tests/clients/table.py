"""The dataset x client table of the last ``tests/clients`` run, as Markdown for the README:
``python -m tests.clients.table``. A cell is the filled share of the view, the mean RGB
difference from the server's own tiles (0-255) and the colour check (``RGB ✓``: the red, green
and blue quarters in their own channel; ``grey ✓``: one band in grey; ``✓``: a picture)."""

from __future__ import annotations

import json
from typing import Any

from tests.clients.served import DATASETS, RESULTS

CLIENTS = [
    "QGIS WMTS",
    "QGIS XYZ",
    "QGIS WMS",
    "GDAL WMTS",
    "GDAL XYZ (TMS)",
    "OWSLib WMTS",
    "OWSLib WMS 1.3.0",
    "OpenLayers WMTS",
    "Leaflet XYZ",
    "MapLibre TileJSON",
]
MARKS = {"rgb": "RGB ✓", "grey": "grey ✓", "picture": "✓"}


def cell(result: dict[str, Any] | None) -> str:
    if result is None:
        return "-"
    mark = "✗ " + result["colours"] if result["colours"] else MARKS[result["check"]]
    return f"{result['filled']:.0%} Δ{result['difference']:.0f} {mark}"


def table(rows: dict[str, dict[str, Any]]) -> str:
    clients = [c for c in CLIENTS if c in rows]
    names = [n for n in DATASETS if any(n in rows[c] for c in clients)]
    lines = [
        "| dataset | " + " | ".join(clients) + " |",
        "|---|" + "---|" * len(clients),
    ]
    for name in names:
        cells = [cell(rows[c].get(name)) for c in clients]
        lines.append(f"| {DATASETS[name][0]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(table(json.loads(RESULTS.read_text())))
