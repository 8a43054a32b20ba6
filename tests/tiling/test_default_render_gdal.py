"""GDAL's WMTS driver (via rasterio), given a bare capabilities URL, reads drawn pixels: the
default layer and the preset layers need no render parameters from the client."""

from __future__ import annotations

import warnings

import httpx
import morecantile
import numpy as np
import rasterio

TMS = morecantile.tms.get("WebMercatorQuad")


def _read_centre(connection: str, meta: dict) -> np.ndarray:
    z = meta["maxzoom"] - 1
    w, s, e, n = meta["bounds"]
    tile = TMS.tile((w + e) / 2, (s + n) / 2, z)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with rasterio.open(connection, ZOOM_LEVEL=z) as wmts:
            assert wmts.crs.to_epsg() == 3857
            return wmts.read(window=wmts.window(*TMS.xy_bounds(tile)))


def test_gdal_reads_the_five_band_scene_with_no_parameters(live_server, demo):
    ident = demo["scene-2024-05-12"]
    meta = httpx.get(f"{live_server}/datasets/{ident}").json()
    caps = meta["links"]["wmts"]
    assert "?" not in caps and "," not in caps
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with rasterio.open(f"WMTS:{caps}") as listing:  # several layers: GDAL lists them
            subdatasets = listing.subdatasets
    layers = {s.rsplit("layer=", 1)[-1]: s for s in subdatasets}
    default = f"cogsight_{ident}_WebMercatorQuad_default"
    assert default in layers and f"cogsight_{ident}_WebMercatorQuad_false-color" in layers
    assert meta["renders"]["default"]["wmts_layer"] == default

    pixels = _read_centre(layers[default], meta)
    assert pixels.shape == (4, 256, 256)
    valid = pixels[3] == 255
    assert valid.mean() > 0.9, "non-empty blocks"
    assert pixels[:3, valid].std() > 15, "a picture, not a flat colour"

    false_colour = _read_centre(layers[f"cogsight_{ident}_WebMercatorQuad_false-color"], meta)
    assert false_colour.shape == (4, 256, 256) and (false_colour[3] == 255).mean() > 0.9
    assert not np.array_equal(false_colour, pixels)


def test_gdal_reads_the_mosaic_with_no_parameters(live_server, demo):
    ident = demo["mosaic"]
    meta = httpx.get(f"{live_server}/mosaics/{ident}").json()
    layer = f"cogsight_mosaic_{ident}_WebMercatorQuad_default"
    connection = f"WMTS:{meta['links']['wmts']},layer={layer}"
    pixels = _read_centre(connection, meta)
    assert pixels.shape == (4, 256, 256) and (pixels[3] == 255).mean() > 0.9
    assert pixels[:3, pixels[3] == 255].std() > 15
