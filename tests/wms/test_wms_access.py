"""WMS follows the tiles' access rules: others' private data is absent from the capabilities and
``LayerNotDefined`` when named (the same answer as an unknown id), tokens work as
``?access_token=`` and travel in the capabilities' URLs (then ``private, no-store``), and
``COGSIGHT_ANONYMOUS_READ=false`` leaves anonymous callers nothing."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from fastapi.testclient import TestClient
from owslib.util import ServiceException
from owslib.wms import WebMapService
from PIL import Image

from tests.wms.helpers import NATIVE_BOUNDS, getmap, report
from tileserver.http.app import create_app
from tileserver.settings import Settings

XLINK = "{http://www.w3.org/1999/xlink}href"


@pytest.mark.parametrize("version", ["1.1.1", "1.3.0"])
def test_private_data_only_for_its_owner(server, world, version):
    private, public = world.ids["private"], world.ids["rgb"]
    bob = WebMapService(f"{server}/wms?access_token={world.tokens['bob']}", version=version)
    anonymous = WebMapService(f"{server}/wms", version=version)
    alice = WebMapService(f"{server}/wms?access_token={world.tokens['alice']}", version=version)
    for listed in (bob.contents, anonymous.contents):
        assert public in listed and not [name for name in listed if private in name]
    assert private in alice.contents and f"{private}:true-color" in alice.contents

    # alice draws it through the URLs her capabilities gave (they carry her token)
    img = alice.getmap(
        layers=[private],
        styles=[""],
        srs="EPSG:32650",
        bbox=(NATIVE_BOUNDS[0] + 2560, NATIVE_BOUNDS[1], NATIVE_BOUNDS[2] + 2560, NATIVE_BOUNDS[3]),
        size=(64, 64),
        format="image/png",
    )
    pixels = np.asarray(Image.open(io.BytesIO(img.read())).convert("RGB"))
    assert (pixels == 90).all()
    with pytest.raises(ServiceException, match=r"LayerNotDefined|not defined"):
        bob.getmap(layers=[private], styles=[""], srs="EPSG:4326", bbox=(114, 30, 115, 31),
                   size=(64, 64), format="image/png")  # fmt: skip


def test_private_and_unknown_answer_alike(client, world):
    private = world.ids["private"]
    as_bob = {"Authorization": f"Bearer {world.tokens['bob']}"}
    for query in (
        getmap(private, NATIVE_BOUNDS),
        "SERVICE=WMS&REQUEST=GetLegendGraphic&VERSION=1.3.0&FORMAT=image/png&LAYER=" + private,
    ):
        hidden = client.get(f"/wms?{query}", headers=as_bob)
        unknown = client.get(f"/wms?{query.replace(private, 'a0b1c2d3e4f5')}", headers=as_bob)
        assert hidden.status_code == unknown.status_code == 400
        assert report(hidden)[0] == "LayerNotDefined"
        assert hidden.text.replace(private, "ID") == unknown.text.replace("a0b1c2d3e4f5", "ID")
    for query in ("SERVICE=WMS&REQUEST=GetCapabilities", getmap(private, NATIVE_BOUNDS)):
        hidden = client.get(f"/raster/{private}/wms?{query}", headers=as_bob)
        unknown = client.get(f"/raster/a0b1c2d3e4f5/wms?{query}", headers=as_bob)
        assert hidden.status_code == unknown.status_code == 404
        assert hidden.text.replace(private, "ID") == unknown.text.replace("a0b1c2d3e4f5", "ID")
    owner = client.get(f"/raster/{private}/wms?SERVICE=WMS&REQUEST=GetCapabilities",
                       headers={"Authorization": f"Bearer {world.tokens['alice']}"})  # fmt: skip
    assert owner.status_code == 200 and f"<Name>{private}</Name>" in owner.text


def test_capabilities_urls_carry_the_token(client, world):
    token = world.tokens["alice"]
    r = client.get(f"/wms?SERVICE=WMS&REQUEST=GetCapabilities&VERSION=1.3.0&access_token={token}")
    assert r.status_code == 200 and r.headers["cache-control"] == "private, no-store"
    hrefs = [el.get(XLINK) or "" for el in ET.fromstring(r.content).iter() if el.get(XLINK)]
    operations = [h for h in hrefs if h.endswith("&") or h.endswith("?")]
    legends = [h for h in hrefs if "GetLegendGraphic" in h]
    assert operations and legends and all(f"access_token={token}" in h for h in hrefs)
    assert not [h for h in legends if "," in h or ":" in h.split("?", 1)[1]]  # encoded
    anonymous = client.get("/wms?SERVICE=WMS&REQUEST=GetCapabilities")
    assert anonymous.headers["cache-control"] == "public, no-cache"
    assert "access_token" not in anonymous.text
    with_header = client.get("/wms?SERVICE=WMS&REQUEST=GetCapabilities",
                             headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    assert with_header.headers["cache-control"] == "private, no-cache"
    assert token not in with_header.text


def test_images_cache_like_tiles(client, world):
    query = getmap(world.ids["rgb"], NATIVE_BOUNDS)
    public = client.get(f"/wms?{query}")
    assert public.headers["cache-control"].startswith("public, max-age=")
    mine = client.get(f"/wms?{query}&access_token={world.tokens['bob']}")
    assert mine.headers["cache-control"].startswith("private, max-age=")


def test_no_anonymous_read(world):
    settings = Settings(data_dir=world.settings.data_dir, anonymous_read=False, tile_cache_bytes=0)
    with TestClient(create_app(settings)) as closed:
        caps = closed.get("/wms?SERVICE=WMS&REQUEST=GetCapabilities")
        assert caps.status_code == 200 and "<Name>" + world.ids["rgb"] not in caps.text
        refused = closed.get(f"/wms?{getmap(world.ids['rgb'], NATIVE_BOUNDS)}")
        assert report(refused)[0] == "LayerNotDefined"
        token = f"&access_token={world.tokens['bob']}"
        allowed = closed.get(f"/wms?{getmap(world.ids['rgb'], NATIVE_BOUNDS)}{token}")
        assert allowed.status_code == 200 and allowed.headers["content-type"] == "image/png"
