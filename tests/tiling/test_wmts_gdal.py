"""A real WMTS client (GDAL's WMTS driver via rasterio) reads the same pixels as our tiles."""

from __future__ import annotations

import warnings
import xml.etree.ElementTree as ET

import httpx
import morecantile
import numpy as np
import pytest
import rasterio

from tests.tiling.helpers import decode

TMS = morecantile.tms.get("WebMercatorQuad")
QUERY = "bidx=3&bidx=2&bidx=1&rescale=0%2C2000"


@pytest.mark.parametrize("kind", ["raster", "mosaic"])
def test_gdal_wmts_reads_the_tile_pixels(live_server, demo, kind):
    if kind == "raster":
        ident = demo["scene-2024-05-12"]
        meta = httpx.get(f"{live_server}/datasets/{ident}").json()
        root, layer = f"raster/{ident}", f"cogsight_{ident}_WebMercatorQuad_default"
    else:
        ident = demo["mosaic"]
        meta = httpx.get(f"{live_server}/mosaics/{ident}").json()
        root, layer = f"mosaics/{ident}", f"cogsight_mosaic_{ident}_WebMercatorQuad_default"
    caps = f"{live_server}/{root}/WMTSCapabilities.xml?{QUERY}"
    z = meta["maxzoom"]
    w, s, e, n = meta["bounds"]
    tile = TMS.tile((w + e) / 2, (s + n) / 2, z)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with rasterio.open(f"WMTS:{caps},layer={layer}", ZOOM_LEVEL=z) as wmts:
            assert wmts.crs.to_epsg() == 3857 and wmts.count == 4
            via_gdal = wmts.read(window=wmts.window(*TMS.xy_bounds(tile)))
    direct = decode(
        httpx.get(
            f"{live_server}/{root}/tiles/WebMercatorQuad/{z}/{tile.x}/{tile.y}.png?{QUERY}"
        ).content
    )
    assert via_gdal.shape == direct.shape == (4, 256, 256)
    np.testing.assert_array_equal(via_gdal, direct)
    assert (direct[3] == 255).mean() > 0.5


def test_capabilities_document_suits_desktop_gis(live_server, demo):
    ident = demo["scene-2024-05-12"]
    text = httpx.get(
        f"{live_server}/raster/{ident}/WMTSCapabilities.xml?{QUERY}&use_epsg=true"
    ).text
    doc = ET.fromstring(text)  # well-formed: '&' in templates is escaped
    ns = {"w": "http://www.opengis.net/wmts/1.0", "ows": "http://www.opengis.net/ows/1.1"}
    titles = [t.text for t in doc.iterfind(".//w:Layer/ows:Title", ns)]
    assert titles and all('"' not in t for t in titles), "ArcMap rejects quoted titles"
    crs = [c.text for c in doc.iterfind(".//w:TileMatrixSet/ows:SupportedCRS", ns)]
    assert "EPSG:3857" in crs, "use_epsg gives ArcMap-style CRS codes"
    template = doc.find(".//w:Layer/w:ResourceURL", ns).attrib["template"]
    assert "{TileMatrix}/{TileCol}/{TileRow}" in template and "bidx=3" in template
    assert ident in template and "/etc" not in text and "cogs/" not in text
