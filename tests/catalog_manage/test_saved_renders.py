"""Renderings a user saves on a dataset: listed beside the computed presets, drawn by
``?render=NAME`` and WMTS, and a saved ``default`` is what a client with no parameters gets."""

from __future__ import annotations

import io
from collections.abc import Iterator

import numpy as np
import pytest
from PIL import Image

from tests.catalog_manage.world import World, world


@pytest.fixture(scope="module")
def w(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with world(tmp_path_factory.mktemp("saved-renders")) as made:
        yield made


def _pixels(response) -> np.ndarray:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.text
    return np.asarray(Image.open(io.BytesIO(response.content)).convert("RGBA"))


def test_a_saved_render_is_listed_and_drawn(w: World) -> None:
    record = w.upload_raster("alice", title="saved")
    body = {"renders": {"nir-grey": {"title": "NIR", "bidx": [4], "colormap_name": "gray"}}}
    out = w.patch("alice", f"/datasets/{record['id']}", json=body)
    assert out.status_code == 200, out.text
    renders = out.json()["renders"]
    assert "nir-grey" in renders and "true-color" in renders and next(iter(renders)) == "default"
    tile = w.tile_url(record)
    grey = _pixels(w.get("alice", tile.replace(".png", ".png?render=nir-grey")))
    seen = grey[..., 3] > 0
    assert seen.sum() > 1000
    assert (grey[..., 0][seen] == grey[..., 2][seen]).all()  # one band in grey
    wmts = w.get("alice", f"/raster/{record['id']}/WMTSCapabilities.xml").text
    assert "nir-grey" in wmts
    # removing it takes it away again
    gone = w.patch("alice", f"/datasets/{record['id']}", json={"renders": {"nir-grey": None}})
    assert "nir-grey" not in gone.json()["renders"]
    r = w.get("alice", tile.replace(".png", ".png?render=nir-grey"))
    assert r.status_code == 400 and "nir-grey" in r.json()["detail"]


def test_a_saved_default_is_what_clients_get_with_no_parameters(w: World) -> None:
    record = w.upload_raster("alice", title="default", seed=2)
    tile = w.tile_url(record)
    before = _pixels(w.get("alice", tile))
    assert not (before[..., 0] == before[..., 2]).all()  # true colour: channels differ
    body = {"renders": {"default": {"bidx": [4], "colormap_name": "gray"}}}
    assert w.patch("alice", f"/datasets/{record['id']}", json=body).status_code == 200
    after = _pixels(w.get("alice", tile))  # same URL: the cached tile was dropped
    seen = after[..., 3] > 0
    assert seen.sum() > 1000 and (after[..., 0][seen] == after[..., 2][seen]).all()


@pytest.mark.parametrize(
    ("renders", "needle"),
    [
        ({"x": {"bidx": [9]}}, "within 1-4"),
        ({"x": {"index": "NOPE"}}, "unknown index"),
        ({"x": {"expression": "nosuchband * 2"}}, "Render 'x'"),
        ({"x": {"colormap_name": "nope"}}, "unknown colormap"),
        ({"x": {"bidx": [1], "index": "NDVI"}}, "one of bidx"),
        ({"Bad Name": {"bidx": [1]}}, "renders"),
        ({"x": {"bidx": [1], "url": "file:///etc/passwd"}}, "renders"),
        ({f"r{i}": {"bidx": [1]} for i in range(33)}, "renders"),
    ],
)
def test_a_render_that_cannot_draw_is_refused(w: World, renders: dict, needle: str) -> None:
    record = w.upload_raster("alice", title="refused", seed=3)
    r = w.patch("alice", f"/datasets/{record['id']}", json={"renders": renders})
    assert r.status_code in (400, 422), r.text
    assert needle in r.json()["detail"]
    assert (
        w.get("alice", f"/datasets/{record['id']}").json()["properties"].get("saved_renders")
        is None
    )


def test_only_the_owner_saves_renders_and_not_on_vectors_or_mosaics(w: World) -> None:
    public = w.upload_raster("alice", title="hers", seed=4)
    body = {"renders": {"mine": {"bidx": [1]}}}
    assert w.patch("bob", f"/datasets/{public['id']}", json=body).status_code == 403
    vector = w.upload_vector("alice")
    r = w.patch("alice", f"/datasets/{vector['id']}", json=body)
    assert r.status_code == 400 and "rasters" in r.json()["detail"]
