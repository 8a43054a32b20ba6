"""Building a dataset's PMTiles archive (Mapbox Vector Tiles) with GDAL's PMTiles driver.

GDAL was chosen on measurements against the pure-Python route (``mapbox-vector-tile`` per tile
plus the ``pmtiles`` writer): 20,164 polygons at zooms 11-16 took 4.5 s with GDAL and 19.5 s
in Python, and GDAL also clips with a buffer, simplifies per zoom, caps oversized tiles and
writes the ``vector_layers`` / ``tilestats`` metadata that clients read. Tiles are stored
gzip-compressed (the PMTiles convention for MVT); the tile endpoint decompresses them.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pyogrio

from tileserver.vectors.tiles import PMTilesArchive


def write_pmtiles(
    frame: gpd.GeoDataFrame,
    dst: Path,
    *,
    layer: str,
    minzoom: int,
    maxzoom: int,
    name: str,
) -> int:
    """Write ``frame`` (WGS84) as one MVT layer into a new archive at ``dst``; the tile count."""
    pyogrio.write_dataframe(
        frame,
        dst,
        driver="PMTiles",
        layer=layer,
        dataset_options={
            "MINZOOM": str(minzoom),
            "MAXZOOM": str(maxzoom),
            "NAME": name,
            "TYPE": "overlay",
        },
    )
    archive = PMTilesArchive(dst)
    try:
        count = int(archive.header["addressed_tiles_count"])
    finally:
        archive.close()
    if count == 0:
        raise RuntimeError("GDAL wrote a PMTiles archive without tiles.")
    return count
