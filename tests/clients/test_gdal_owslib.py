"""GDAL (through rasterio) and OWSLib read each dataset with no render parameters: GDAL's WMTS
driver on ``links.wmts`` (layer ``…_default``), GDAL's WMS driver with the TMS minidriver on
``links.tiles`` (XYZ), OWSLib's ``WebMapTileService(...).gettile`` and OWSLib's
``WebMapService(links.wms, version="1.3.0").getmap`` (layer ``{id}``, default style)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import rasterio
from owslib.wms import WebMapService
from owslib.wmts import WebMapTileService
from rasterio.enums import Resampling
from rasterio.windows import from_bounds

from tests.clients.conftest import NAMES, pick
from tests.clients.served import (
    ARTIFACTS,
    SIZE,
    Dataset,
    assemble,
    assert_good,
    record,
    reference,
    rgba,
    verdict,
)

HALF_WORLD = 20037508.342789244


def _xyz_connection(tiles: str) -> str:
    """A GDAL WMS description of an XYZ template (what ``gdal_translate`` docs show for TMS)."""
    server = tiles.replace("{z}", "${z}").replace("{x}", "${x}").replace("{y}", "${y}")
    return (
        "<GDAL_WMS><Service name='TMS'>"
        f"<ServerUrl>{server.replace('&', '&amp;')}</ServerUrl></Service>"
        f"<DataWindow><UpperLeftX>{-HALF_WORLD}</UpperLeftX><UpperLeftY>{HALF_WORLD}</UpperLeftY>"
        f"<LowerRightX>{HALF_WORLD}</LowerRightX><LowerRightY>{-HALF_WORLD}</LowerRightY>"
        "<TileLevel>22</TileLevel><TileCountX>1</TileCountX><TileCountY>1</TileCountY>"
        "<YOrigin>top</YOrigin></DataWindow><Projection>EPSG:3857</Projection>"
        "<BlockSizeX>256</BlockSizeX><BlockSizeY>256</BlockSizeY><BandsCount>4</BandsCount>"
        "</GDAL_WMS>"
    )


def _read_view(connection: str, dataset: Dataset) -> np.ndarray:
    """The view, read at its own resolution (GDAL picks the matching zoom's overview)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with rasterio.open(connection) as src:
            assert src.crs.to_epsg() == 3857
            window = from_bounds(*dataset.view.extent, transform=src.transform)
            pixels = src.read(
                out_shape=(src.count, SIZE, SIZE), window=window, resampling=Resampling.nearest
            )
    return rgba(pixels)


def _save(name: str, image: np.ndarray) -> None:
    from PIL import Image

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(ARTIFACTS / f"{name}.png")


@pytest.mark.parametrize("name", NAMES)
def test_gdal_wmts(datasets, server_url, name):
    dataset = pick(datasets, name)
    image = _read_view(f"WMTS:{dataset.links['wmts']},layer={dataset.wmts_layer}", dataset)
    _save(f"gdal-wmts-{name}", image)
    judged = verdict(dataset, image, reference(server_url, dataset))
    record("GDAL WMTS", dataset, judged)
    assert_good(judged, dataset, "GDAL WMTS")


@pytest.mark.parametrize("name", NAMES)
def test_gdal_xyz(datasets, server_url, name):
    dataset = pick(datasets, name)
    image = _read_view(_xyz_connection(dataset.links["tiles"]), dataset)
    _save(f"gdal-xyz-{name}", image)
    judged = verdict(dataset, image, reference(server_url, dataset))
    record("GDAL XYZ (TMS)", dataset, judged)
    assert_good(judged, dataset, "GDAL XYZ")


@pytest.mark.parametrize("name", NAMES)
def test_owslib_gettile(datasets, server_url, name):
    """The view from the tiles OWSLib gets through the capabilities' resource URL."""
    dataset = pick(datasets, name)
    wmts = WebMapTileService(dataset.links["wmts"])
    assert dataset.wmts_layer in wmts.contents

    def fetch(z: int, x: int, y: int) -> bytes:
        answer = wmts.gettile(
            layer=dataset.wmts_layer,
            tilematrixset="WebMercatorQuad",
            tilematrix=str(z),
            row=y,
            column=x,
            format="image/png",
        )
        return bytes(answer.read())

    image = assemble(dataset.view, fetch)
    _save(f"owslib-{name}", image)
    judged = verdict(dataset, image, reference(server_url, dataset))
    record("OWSLib WMTS", dataset, judged)
    assert_good(judged, dataset, "OWSLib")


@pytest.mark.parametrize("name", NAMES)
def test_owslib_wms_130_getmap(datasets, server_url, name):
    dataset = pick(datasets, name)
    wms = WebMapService(dataset.wms, version="1.3.0")
    assert dataset.wms_layer in wms.contents
    answer = wms.getmap(
        layers=[dataset.wms_layer],
        styles=[""],
        srs="EPSG:3857",
        bbox=dataset.view.extent,
        size=(SIZE, SIZE),
        format="image/png",
        transparent=True,
    )
    image = rgba(bytes(answer.read()))
    _save(f"owslib-wms-{name}", image)
    judged = verdict(dataset, image, reference(server_url, dataset))
    record("OWSLib WMS 1.3.0", dataset, judged)
    assert_good(judged, dataset, "OWSLib WMS")
