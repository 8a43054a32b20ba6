"""The workspace around the data, in headless Debian chromium: the viewer opens on the data; a
project created in the Projects tab keeps its layers and renderings and reopens from the URL
after a reload; an administrator's base map (a local XYZ URL, COGSIGHT_BASEMAPS) is offered and
drawn; datasets are renamed, made private and deleted from the catalog panel.

The browser tests run their own server over a copy of the demo catalog (so renaming and deleting
touch nothing the other tests use) with a base map configured. Nothing leaves the server.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from tests.e2e.browser import screen, settle, shot, viewer_page
from tests.servers import uvicorn_server
from tileserver.http.app import create_app
from tileserver.settings import Basemap, Settings

ROOT = Path(__file__).resolve().parents[2]
NDVI = {"mode": "index", "index": "NDVI", "colormap": "rdylgn", "rescale": [[-1, 1]]}
FALSE_COLOUR = {"mode": "bands", "bands": [4, 3, 2], "rescale": [[0, 2500]]}


def local_basemap(dataset_id: str) -> dict[str, Any]:
    """A base map served by the app itself: a demo scene's tiles, its colormap given as {key}."""
    return {
        "id": "local",
        "title": "Demo scene (viridis)",
        "type": "xyz",
        "url": f"/raster/{dataset_id}/tiles/WebMercatorQuad/{{z}}/{{x}}/{{y}}.png"
        "?bidx=1&rescale=0,3000&colormap_name={key}",
        "attribution": "cogsight demo scene",
        "key": "viridis",
    }


# --- the configuration, in process ------------------------------------------------------------
def test_viewer_config_lists_the_configured_basemaps_with_the_key_in_the_url(tmp_path):
    settings = Settings(data_dir=tmp_path, basemaps=[Basemap(**local_basemap("abc"))])
    client = TestClient(create_app(settings))
    r = client.get("/viewer/config.json")
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-cache"
    assert r.json() == {
        "basemaps": [
            {
                "id": "local",
                "title": "Demo scene (viridis)",
                "type": "xyz",
                "url": "/raster/abc/tiles/WebMercatorQuad/{z}/{x}/{y}.png"
                "?bidx=1&rescale=0,3000&colormap_name=viridis",
                "attribution": "cogsight demo scene",
                "layer": None,
                "tileMatrixSet": None,
                "format": None,
            }
        ]
    }
    bare = TestClient(create_app(Settings(data_dir=tmp_path)))
    assert bare.get("/viewer/config.json").json() == {"basemaps": []}
    assert bare.get("/viewer/src/app.js").status_code == 200, "the viewer's files still served"


def test_basemaps_setting_reads_json_and_refuses_what_the_viewer_cannot_use(monkeypatch):
    wmts: dict[str, Any] = {
        "id": "ortho",
        "title": "Orthophotos",
        "type": "wmts",
        "url": "https://wmts.example.org/service",
        "layer": "ortho",
        "tileMatrixSet": "GoogleMapsCompatible",
        "format": "image/jpeg",
    }
    monkeypatch.setenv("COGSIGHT_BASEMAPS", json.dumps([local_basemap("abc"), wmts]))
    read = Settings().basemaps
    assert [b.id for b in read] == ["local", "ortho"] and read[1].layer == "ortho"
    assert read[0].resolved_url().endswith("colormap_name=viridis")
    monkeypatch.delenv("COGSIGHT_BASEMAPS")
    cases = [
        ({**wmts, "url": "javascript:alert(1)"}, "url must start with http://, https:// or /"),
        ({**wmts, "url": "//evil.example/{z}/{x}/{y}"}, "url must start with"),
        ({**wmts, "layer": None}, "a WMTS base map needs its layer"),
        ({**wmts, "type": "tms"}, "'xyz' or 'wmts'"),
        ({**wmts, "id": "a b"}, "should match pattern"),
        ({**wmts, "secret": "x"}, "Extra inputs are not permitted"),
    ]
    for entry, reason in cases:
        with pytest.raises(ValidationError, match=reason):
            Settings.model_validate({"basemaps": [entry]})
    with pytest.raises(ValidationError, match="ortho given twice"):
        Settings.model_validate({"basemaps": [wmts, wmts]})


# --- a server over a copy of the demo catalog ---------------------------------------------------
def copy_demo_catalog(source: Path, target: Path, keep: set[str]) -> None:
    """The demo's datasets and mosaic only (what earlier tests added is left out), no users,
    jobs or projects; the COGs hard-linked (copied where links cannot be made)."""
    src = sqlite3.connect(source / "catalog.db")
    with contextlib.closing(src), contextlib.closing(sqlite3.connect(target / "catalog.db")) as db:
        src.backup(db)
    with contextlib.closing(sqlite3.connect(target / "catalog.db")) as db, db:
        marks = ",".join("?" * len(keep))
        db.execute(f"DELETE FROM datasets WHERE id NOT IN ({marks})", sorted(keep))
        db.execute(f"DELETE FROM mosaics WHERE id NOT IN ({marks})", sorted(keep))
        for table in ("jobs", "projects", "tokens", "users", "storage_reservations", "downloads"):
            with contextlib.suppress(sqlite3.OperationalError):  # not in this schema
                db.execute(f"DELETE FROM {table}")
        uris = [u for (u,) in db.execute("SELECT uri FROM datasets")]
    for uri in uris:
        if Path(uri).is_absolute() or "://" in uri:
            continue
        (target / uri).parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source / uri, target / uri)
        except OSError:
            (target / uri).write_bytes((source / uri).read_bytes())


@pytest.fixture(scope="module")
def server(tmp_path_factory, data_dir: Path, demo: dict[str, str]) -> Iterator[str]:
    target = tmp_path_factory.mktemp("cogsight-projects")
    copy_demo_catalog(data_dir, target, set(demo.values()))
    basemaps = json.dumps([local_basemap(demo["scene-2024-05-12"])])
    with uvicorn_server(target, {"COGSIGHT_BASEMAPS": basemaps}) as url:
        yield url


@pytest.fixture(scope="module")
def api(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def page(server: str) -> Iterator[Any]:
    with viewer_page(server, 960, 600) as page:
        page.wait_for_selector("body[data-view='1']", timeout=60_000)
        yield page
        assert page.outside_requests == [], "nothing leaves the server"  # type: ignore[attr-defined]
        assert page.errors == [], page.errors  # type: ignore[attr-defined]


def errors_shown(page: Any) -> list[str]:
    return page.locator("[data-testid='error'] .msg-text").all_inner_texts()


def union(boxes: list[list[float]]) -> list[float]:
    return [
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    ]


# --- in the browser -----------------------------------------------------------------------------
@pytest.mark.browser
def test_the_viewer_opens_on_the_data(page, api):
    boxes = [d["bounds"] for d in api.get("/datasets").json()["items"]]
    boxes += [m["bounds"] for m in api.get("/mosaics").json()["items"]]
    data = union(boxes)
    w, s, e, n = page.evaluate("() => window.cogsight.viewRectangle()")
    assert w <= data[0] and s <= data[1] and e >= data[2] and n >= data[3], "all the data in view"
    assert e - w < 3 and n - s < 3, f"not a continent: {[w, s, e, n]} for the data {data}"
    assert e - w < 4 * (data[2] - data[0]) + 0.05, "and close around it"


@pytest.mark.browser
def test_a_project_keeps_its_layers_and_reopens_from_the_url(page, api, demo):
    rid, mosaic = demo["scene-2024-05-12"], demo["mosaic"]
    page.click("[data-testid='tab-projects']")
    page.fill("[data-testid='project-new-title']", "East Lake study")
    page.click("[data-testid='project-create']")
    page.wait_for_function("() => window.cogsight.projects.current !== null", timeout=20_000)
    pid = page.evaluate("() => window.cogsight.projects.current.id")
    assert page.evaluate("() => location.hash") == f"#project={pid}"
    assert page.locator(f"[data-testid='project-item-{pid}']").count() == 1

    # two layers; the first changes its rendering after it was added
    page.evaluate(
        """([rid, mosaic, ndvi, fc]) => (async () => {
            const c = window.cogsight;
            const scene = await c.addDataset(rid, {flyTo: false});
            await c.addDataset(mosaic, {source: 'mosaic', render: fc, flyTo: false});
            await c.setRender(scene, ndvi);
            await c.projects.flush();
        })()""",
        [rid, mosaic, NDVI, FALSE_COLOUR],
    )
    stored = api.get(f"/projects/{pid}").json()
    assert [(x["id"], x["kind"], x["render"]) for x in stored["layers"]] == [
        (rid, "dataset", NDVI),
        (mosaic, "mosaic", FALSE_COLOUR),
    ]

    # renamed in the panel
    page.click("[data-testid='project-rename']")
    page.fill("[data-testid='project-rename-input']", "East Lake NDVI study")
    page.click("[data-testid='project-rename-save']")
    page.wait_for_selector("[data-testid='project-title']:has-text('East Lake NDVI study')")
    page.evaluate("() => window.cogsight.projects.flush()")
    assert api.get(f"/projects/{pid}").json()["title"] == "East Lake NDVI study"
    assert page.inner_text("[data-testid='project-badge']") == "East Lake NDVI study"

    # a reload reopens it from the URL: both layers, their renderings, the camera on them
    page.evaluate(
        """() => window.cogsight.viewer.camera.setView(
            {destination: Cesium.Cartesian3.fromDegrees(0, 0, 2e7)})"""
    )
    page.reload()
    page.wait_for_selector("body[data-ready='1']", timeout=60_000)
    page.wait_for_selector("body[data-view='1']", timeout=60_000)
    layers = page.evaluate(
        "() => window.cogsight.layers.map(l => [l.datasetId, l.source, l.render])"
    )
    assert layers == [[rid, "raster", NDVI], [mosaic, "mosaic", FALSE_COLOUR]]
    assert page.evaluate("() => window.cogsight.projects.current.title") == "East Lake NDVI study"
    w, s, e, n = page.evaluate("() => window.cogsight.viewRectangle()")
    scene = api.get(f"/datasets/{rid}").json()["bounds"]
    seam = api.get(f"/mosaics/{mosaic}").json()["bounds"]
    both = union([scene, seam])
    assert w <= both[0] and s <= both[1] and e >= both[2] and n >= both[3]
    assert e - w < 3, "on the project's layers, not the globe"

    settle(page, 800)
    image = shot(page, "projects-reopened.png")
    x, y = screen(page, (scene[0] + scene[2]) / 2, (scene[1] + scene[3]) / 2)
    r = 40
    patch = image[:, int(y) - r : int(y) + r, int(x) - r : int(x) + r]
    green = (patch[1] > patch[0] + 30) & (patch[1] > patch[2] + 30)
    assert green.mean() > 0.05, "the scene is drawn in NDVI (rdylgn) where it is"
    mx, my = screen(page, (seam[0] + seam[2]) / 2, (seam[1] + seam[3]) / 2)
    page.evaluate("() => window.cogsight.layers[1].imageryLayer.show = false")
    settle(page, 800)
    hidden = shot(page, "projects-mosaic-hidden.png")
    page.evaluate("() => window.cogsight.layers[1].imageryLayer.show = true")
    diff = np.abs(
        image[:, int(my) - r : int(my) + r, int(mx) - r : int(mx) + r]
        - hidden[:, int(my) - r : int(my) + r, int(mx) - r : int(mx) + r]
    ).mean()
    assert diff > 10, "the mosaic is drawn where it is"
    assert errors_shown(page) == []


@pytest.mark.browser
def test_the_configured_base_map_is_offered_and_drawn(page, demo):
    rid = demo["scene-2024-05-12"]
    page.click("[data-testid='tab-layers']")
    options = page.eval_on_selector_all(
        "[data-testid='basemap-select'] option", "os => os.map(o => o.value)"
    )
    assert options == ["naturalearth", "local"]
    page.select_option("[data-testid='basemap-select']", "local")
    page.wait_for_function(
        f"""() => performance.getEntriesByType('resource').some(e =>
            e.name.includes('/raster/{rid}/tiles/') && e.name.includes('colormap_name=viridis'))""",
        timeout=30_000,
    )
    assert page.evaluate("() => window.cogsight.basemaps.current.id") == "local"
    assert "cogsight demo scene" in page.inner_text("[data-testid='basemap-attribution']")
    page.wait_for_function(
        "() => document.querySelector('.cesium-widget-credits').textContent"
        ".includes('cogsight demo scene')",
        timeout=10_000,
    )
    bottom = page.evaluate(
        """() => { const c = window.cogsight, layers = c.viewer.imageryLayers;
        return c.layers.map(h => layers.indexOf(h.imageryLayer)); }"""
    )
    assert bottom == [1, 2], "the base map stays under the data layers"
    page.select_option("[data-testid='basemap-select']", "naturalearth")
    assert page.evaluate("() => window.cogsight.basemaps.current.id") == "naturalearth"


def _route_exists(api: httpx.Client, method: str, path: str) -> bool:
    """A missing route answers 405 (GET exists at the path) rather than 404/4xx for the id."""
    return api.request(method, path, json={}).status_code != 405


@pytest.mark.browser
def test_a_dataset_is_renamed_described_and_made_private_from_the_catalog(page, api, demo):
    if not _route_exists(api, "PATCH", "/datasets/no-such-dataset"):
        pytest.skip("PATCH /datasets/{id} is not served yet: the catalog's edit UI is not run")
    sar = demo["sar-2024-05-14"]
    page.click("[data-testid='tab-data']")
    page.click(f"[data-testid='manage-{sar}']")
    page.fill(f"[data-testid='manage-title-{sar}']", "East Lake SAR, renamed")
    page.fill(f"[data-testid='manage-description-{sar}']", "VV/VH backscatter, May 2024")
    page.click(f"[data-testid='manage-save-{sar}']")
    page.wait_for_selector(f"[data-testid='catalog-title-{sar}']:has-text('SAR, renamed')")
    record = api.get(f"/datasets/{sar}").json()
    assert record["title"] == "East Lake SAR, renamed"
    assert record["properties"]["description"] == "VV/VH backscatter, May 2024"

    before = record["visibility"]
    page.click(f"[data-testid='visibility-{sar}']")
    after = "private" if before == "public" else "public"
    page.wait_for_selector(f"[data-testid='visibility-{sar}'][data-visibility='{after}']")
    assert api.get(f"/datasets/{sar}").json()["visibility"] == after
    assert errors_shown(page) == []


@pytest.mark.browser
def test_a_dataset_is_deleted_from_the_catalog_and_leaves_the_map(page, api, demo):
    if not _route_exists(api, "DELETE", "/datasets/no-such-dataset"):
        pytest.skip("DELETE /datasets/{id} is not served yet: the catalog's delete UI is not run")
    sar = demo["sar-2024-05-14"]
    member = api.get(f"/mosaics/{demo['mosaic']}").json()["dataset_ids"][0]
    page.click("[data-testid='tab-data']")

    # a scene of the demo mosaic is refused (409) with the server's reason, shown as it is
    refused = api.delete(f"/datasets/{member}")
    assert refused.status_code == 409, refused.text
    page.click(f"[data-testid='delete-{member}']")
    page.click(f"[data-testid='delete-confirm-{member}']")
    page.wait_for_selector(f"[data-testid='manage-error-{member}']")
    assert page.inner_text(f"[data-testid='manage-error-{member}']") == refused.json()["detail"]
    assert refused.json()["detail"] in " ".join(errors_shown(page))
    page.click("[data-testid='error-dismiss']")
    page.click(f"[data-testid='delete-cancel-{member}']")

    # one that nothing uses goes, and its layer leaves the map
    page.evaluate("id => window.cogsight.addDataset(id, {flyTo: false})", sar)
    page.click(f"[data-testid='delete-{sar}']")
    page.click(f"[data-testid='delete-confirm-{sar}']")
    page.wait_for_selector(f"[data-testid='catalog-item-{sar}']", state="detached")
    assert page.evaluate("id => window.cogsight.layers.some(l => l.datasetId === id)", sar) is False
    assert api.get(f"/datasets/{sar}").status_code == 404
    page.evaluate("() => window.cogsight.projects.flush()")
    pid = page.evaluate("() => window.cogsight.projects.current.id")
    assert sar not in [x["id"] for x in api.get(f"/projects/{pid}").json()["layers"]]
    assert errors_shown(page) == []
