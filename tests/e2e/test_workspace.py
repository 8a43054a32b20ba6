"""The viewer as an analyst workspace, driven like a person in headless Debian chromium.

One scenario, step by step, with real mouse events on the globe: draw a search box, search
(dates, sensor) and add the optical demo scene from the results; switch it to NDVI with a
colormap in the render picker; run ``water-optical`` from the Tools panel; its polygons appear
as vector tiles in the water class colour over the lake; clicking one shows its attributes;
in edit mode a vertex is dragged (saved on the server at once) and the edit is undone.
A second test covers upload by drag-and-drop, swipe compare, the 2D view and the time series
with its animation export. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import base64
import json

import httpx
import numpy as np
import pytest
import shapely
import shapely.geometry

from tests.e2e.browser import save, screen, settle, shot, viewer_page

pytestmark = pytest.mark.browser
WATER = np.array([0x1F, 0x6F, 0xD1])  # the water class colour of the water models


@pytest.fixture(scope="module")
def ws(live_server):
    with viewer_page(live_server, 1360, 860) as page:
        yield page


def look_at(page, bounds: list[float]) -> None:
    """Point the camera straight down at ``bounds`` (w, s, e, n)."""
    page.evaluate(
        """b => { const camera = window.cogsight.viewer.camera; camera.cancelFlight();
        camera.setView({destination: Cesium.Rectangle.fromDegrees(b[0], b[1], b[2], b[3])}); }""",
        bounds,
    )


def no_errors_shown(page) -> None:
    errors = page.locator("[data-testid='error'] .msg-text").all_inner_texts()
    assert errors == [], errors


def patch_mean(image: np.ndarray, x: float, y: float, r: int = 3) -> np.ndarray:
    x, y = int(x), int(y)
    return image[:, y - r : y + r + 1, x - r : x + r + 1].reshape(3, -1).mean(axis=1)


# --- the scenario ----------------------------------------------------------------------------
def test_search_ndvi_water_model_vector_tiles_and_editing(ws, demo, live_server):
    page = ws
    api = httpx.Client(base_url=live_server, timeout=60)
    rid = demo["scene-2024-05-12"]
    later = demo["scene-2024-09-20"]
    sar = demo["sar-2024-05-14"]
    w, s, e, n = api.get(f"/datasets/{rid}").json()["bounds"]
    look_at(page, [w - 0.02, s - 0.02, e + 0.02, n + 0.02])
    settle(page, 300)

    # 1. search: draw a box over the scene with the mouse, May 2024, optical only
    page.click("[data-testid='search-draw-box']")
    x0, y0 = screen(page, w + 0.3 * (e - w), n - 0.3 * (n - s))
    x1, y1 = screen(page, e - 0.3 * (e - w), s + 0.3 * (n - s))
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, steps=4)
    page.mouse.move(x1, y1, steps=4)
    page.mouse.up()
    area = page.evaluate("() => window.cogsight.search.area")
    assert area["kind"] == "bbox"
    bw, bs, be, bn = area["bbox"]
    assert w < bw < be < e and s < bs < bn < n, "the box drawn is where the mouse went"
    page.fill("[data-testid='search-from']", "2024-05-01")
    page.fill("[data-testid='search-to']", "2024-05-31")
    page.uncheck("[data-testid='search-collection-sentinel-1-grd']")
    page.click("[data-testid='search-run']")
    page.wait_for_selector(f"[data-testid='search-result-{rid}']", timeout=30_000)
    found = page.evaluate("() => window.cogsight.search.results.map(f => f.id)")
    assert rid in found and later not in found and sar not in found
    page.wait_for_function(
        f"""() => {{ const img = document.querySelector(
            "[data-testid='search-result-{rid}'] img.thumb");
            return img && img.naturalWidth > 0; }}""",
        timeout=30_000,
    )
    href = page.get_attribute(f"[data-testid='search-download-{rid}']", "href")
    assert href.endswith(f"/datasets/{rid}/download")
    page.click(f"[data-testid='search-info-{rid}']")
    assert "EPSG:32650" in page.inner_text(f"[data-testid='search-details-{rid}']")
    settle(page, 500)
    save(page, "workspace-1-search.png")

    page.click(f"[data-testid='search-add-{rid}']")
    page.wait_for_function(
        f"() => window.cogsight.layers.some(l => l.datasetId === '{rid}')", timeout=60_000
    )

    # 2. NDVI with a colormap, through the render picker
    page.click("[data-testid='tab-layers']")
    page.select_option("[data-testid='mode-select']", "index")
    page.wait_for_selector("[data-testid='index-select']")
    page.select_option("[data-testid='index-select']", "NDVI")
    page.select_option("[data-testid='colormap-select']", "rdylgn")
    page.wait_for_function(
        f"""() => window.cogsight.layers.some(l => l.datasetId === '{rid}'
            && l.render.mode === 'index' && l.render.index === 'NDVI'
            && l.render.colormap === 'rdylgn')""",
        timeout=30_000,
    )
    assert page.locator("[data-testid='legend']").is_visible()
    settle(page)
    ndvi = shot(page, "workspace-2-ndvi.png")
    green = (ndvi[1] > ndvi[0] + 30) & (ndvi[1] > ndvi[2] + 30)
    assert green.mean() > 0.01, "vegetation renders green with rdylgn"

    # 3. water-optical from the Tools panel; results are added to the map
    page.click("[data-testid='tab-tools']")
    page.wait_for_selector(
        "[data-testid='tools-process'] option[value='water-optical']", state="attached"
    )
    page.select_option("[data-testid='tools-process']", "water-optical")
    page.wait_for_selector("[data-testid='tool-field-dataset']")
    assert page.input_value("[data-testid='tool-field-dataset']") == rid, "the selected layer"
    page.click("[data-testid='tools-run']")
    page.wait_for_function(
        "() => window.cogsight.jobs.jobs.some(j => j.processID === 'water-optical')", timeout=30_000
    )
    job = page.evaluate(
        "() => window.cogsight.jobs.jobs.find(j => j.processID === 'water-optical').jobID"
    )
    page.wait_for_selector(f"[data-testid='job-{job}'][data-status='successful']", timeout=180_000)
    results = api.get(f"/jobs/{job}/results").json()
    raster_id, vector_id = results["values"]["raster"], results["values"]["vector"]
    assert results["datasets"] == [raster_id, vector_id]
    assert results["values"]["classes"]["1"]["color"].lower() == "#1f6fd1"
    page.wait_for_function(
        f"""() => window.cogsight.vectorLayers.some(h => h.datasetId === '{vector_id}')
            && window.cogsight.layers.some(l => l.datasetId === '{raster_id}')""",
        timeout=60_000,
    )
    vid = f"vector-{vector_id}"

    # 4. the vector tiles show the water class colour where the lake is
    features = api.get(f"/vectors/{vector_id}/features?limit=1000").json()["features"]
    lake = max(features, key=lambda f: f["properties"]["area_m2"])
    shape = shapely.geometry.shape(lake["geometry"])
    inside = shape.buffer(-0.002).representative_point() if shape.buffer(-0.002).area else None
    centre = inside or shape.representative_point()
    lw, ls, le, ln = shape.bounds
    look_at(page, [lw - 0.01, ls - 0.01, le + 0.01, ln + 0.01])
    page.click("[data-testid='tab-layers']")
    page.uncheck(f"[data-testid='visible-{raster_id}']")  # the class raster is blue there too
    page.eval_on_selector(
        f"[data-testid='opacity-{vid}']",
        "el => { el.value = '1'; el.dispatchEvent(new Event('input', {bubbles: true})); }",
    )
    settle(page, 2000)
    with_vectors = shot(page, "workspace-3-water-vectors.png")
    cx, cy = screen(page, centre.x, centre.y)
    colour = patch_mean(with_vectors, cx, cy)
    assert np.abs(colour - WATER).max() < 20, f"water class colour over the lake, got {colour}"
    blue = (np.abs(with_vectors - WATER[:, None, None]).max(axis=0) < 20).mean()
    page.uncheck(f"[data-testid='visible-{vid}']")
    settle(page, 1000)
    # A layer draped on terrain (the demo has a DEM) leaves once the globe re-bakes its tiles:
    # give it a few frames more than a flat one needs.
    for _ in range(20):
        without = shot(page, "workspace-3b-vectors-hidden.png")
        if np.abs(patch_mean(without, cx, cy) - WATER).max() > 40:
            break
        page.wait_for_timeout(500)
    assert np.abs(patch_mean(without, cx, cy) - WATER).max() > 40, "the colour came from the tiles"
    assert blue > 3 * (np.abs(without - WATER[:, None, None]).max(axis=0) < 20).mean()
    page.check(f"[data-testid='visible-{vid}']")
    page.wait_for_timeout(500)  # its tiles are still loaded: shown again on the next frame

    # 5. click the lake: its attributes
    page.mouse.click(cx, cy)
    page.wait_for_selector("[data-testid='feature-popup']:visible", timeout=30_000)
    page.wait_for_selector("[data-testid='feature-attr-id']", timeout=30_000)
    assert page.inner_text("[data-testid='feature-attr-class_name']") == "water"
    assert page.inner_text("[data-testid='feature-attr-id']") == str(lake["id"])
    assert "m²" in page.inner_text("[data-testid='feature-attr-area_m2']")
    save(page, "workspace-4-attributes.png")

    # 6. edit: drag a vertex; the server has the new geometry at once
    page.click("[data-testid='feature-popup-edit']")
    page.wait_for_function(
        "id => window.cogsight.editing.feature && window.cogsight.editing.feature.id === id",
        arg=lake["id"],
        timeout=30_000,
    )
    before = api.get(f"/vectors/{vector_id}/features/{lake['id']}").json()
    top = max(before["geometry"]["coordinates"][0], key=lambda p: p[1])
    look_at(page, [top[0] - 0.0015, top[1] - 0.0012, top[0] + 0.0015, top[1] + 0.0006])
    settle(page, 500)
    handles = page.evaluate("() => window.cogsight.editing.handles()")
    box = page.evaluate(
        "() => { const r = window.cogsight.viewer.canvas.getBoundingClientRect();"
        " return [r.left, r.top, r.right, r.bottom]; }"
    )
    middle = np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])
    points = np.array([[h["x"], h["y"]] for h in handles])

    card = page.locator("[data-testid='feature-popup']").bounding_box()

    def isolated(h: dict) -> bool:
        d = np.hypot(*(points - [h["x"], h["y"]]).T)
        on_screen = box[0] + 80 < h["x"] < box[2] - 80 and box[1] + 150 < h["y"] < box[3] - 80
        under_card = card is not None and (
            card["x"] - 20 < h["x"] < card["x"] + card["width"] + 20
            and card["y"] - 20 < h["y"] < card["y"] + card["height"] + 20
        )
        return on_screen and not under_card and np.sort(d)[1] > 12

    vertices = [
        h
        for h in handles
        if h["handle"] == "vertex" and h["part"] == 0 and h["ring"] == 0 and isolated(h)
    ]
    assert vertices, f"no vertex handle to grab among {len(handles)}"
    vertex = min(vertices, key=lambda h: np.hypot(*(middle - [h["x"], h["y"]])))
    save(page, "workspace-5a-editing.png")
    page.mouse.move(vertex["x"], vertex["y"])
    page.mouse.down()
    page.mouse.move(vertex["x"] + 20, vertex["y"] + 15, steps=3)
    page.mouse.move(vertex["x"] + 40, vertex["y"] + 30, steps=3)
    page.mouse.up()
    page.wait_for_selector("[data-testid='edit-status'][data-state='saved']", timeout=60_000)
    target = page.evaluate(
        "([x, y]) => window.cogsight.lonLatAt(x, y)", [vertex["x"] + 40, vertex["y"] + 30]
    )
    after = api.get(f"/vectors/{vector_id}/features/{lake['id']}").json()
    old_ring = before["geometry"]["coordinates"][0]
    new_ring = after["geometry"]["coordinates"][0]
    assert len(new_ring) == len(old_ring)
    changed = [i for i, (a, b) in enumerate(zip(old_ring, new_ring, strict=True)) if a != b]
    assert changed and set(changed) <= {vertex["index"], 0, len(old_ring) - 1}
    moved = new_ring[vertex["index"]]
    assert np.hypot(moved[0] - target[0], moved[1] - target[1]) < 1e-6, "saved where dropped"
    history = api.get(f"/vectors/{vector_id}/history").json()
    assert history["version"] == 1 and history["edits"][0]["op"] == "update"
    page.wait_for_function(
        "id => window.cogsight.vectorLayers.find(h => h.datasetId === id).version === 1",
        arg=vector_id,
        timeout=30_000,
    )
    settle(page, 1500)
    save(page, "workspace-5-vertex-moved.png")

    # 7. undo restores the geometry exactly
    page.click("[data-testid='edit-undo']")
    page.wait_for_function(
        "() => document.querySelector(\"[data-testid='edit-toolbar']\").dataset.version === '2'"
        " && document.querySelector(\"[data-testid='edit-status']\").dataset.state === 'saved'",
        timeout=60_000,
    )
    restored = api.get(f"/vectors/{vector_id}/features/{lake['id']}").json()
    assert restored["geometry"] == before["geometry"]
    settle(page, 500)
    save(page, "workspace-6-undone.png")
    page.click("[data-testid='edit-done']")
    no_errors_shown(page)
    assert page.errors == [], page.errors  # type: ignore[attr-defined]
    assert page.outside_requests == [], "nothing leaves the machine"  # type: ignore[attr-defined]


def _drop_file(page, selector: str, name: str, data: bytes, mime: str) -> None:
    """Drop a file on an element the way a browser does (DataTransfer with a File)."""
    page.evaluate(
        """([selector, name, b64, mime]) => {
        const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
        const dt = new DataTransfer();
        dt.items.add(new File([bytes], name, {type: mime}));
        const target = document.querySelector(selector);
        for (const type of ['dragenter', 'dragover', 'drop']) {
            const init = {bubbles: true, cancelable: true, dataTransfer: dt};
            target.dispatchEvent(new DragEvent(type, init));
        }}""",
        [selector, name, base64.b64encode(data).decode(), mime],
    )


def test_upload_swipe_2d_and_time_series(ws, demo, live_server):
    page = ws
    api = httpx.Client(base_url=live_server, timeout=60)
    early, late = demo["scene-2024-05-12"], demo["scene-2024-09-20"]
    w, s, e, n = api.get(f"/datasets/{early}").json()["bounds"]

    # upload by drag-and-drop: a broken file is refused with the server's reason, a GeoJSON lands
    page.click("[data-testid='tab-data']")
    _drop_file(
        page, "[data-testid='upload-drop']", "broken.geojson", b"{ not json", "application/geo+json"
    )
    page.wait_for_selector(
        "[data-testid='upload'][data-state='error'], #upload[data-state='error']", timeout=30_000
    )
    message = page.locator("[data-testid='error'] .msg-text").first.inner_text()
    assert "GeoJSON" in message, message
    page.click("[data-testid='error-dismiss']")
    square = shapely.box(w + 0.01, s + 0.01, w + 0.03, s + 0.03)
    feature = {"type": "Feature", "properties": {"name": "field 1"}}
    feature["geometry"] = shapely.geometry.mapping(square)
    fields = {"type": "FeatureCollection", "features": [feature]}
    _drop_file(
        page,
        "[data-testid='upload-drop']",
        "fields.geojson",
        json.dumps(fields).encode(),
        "application/geo+json",
    )
    page.wait_for_selector("#upload[data-state='done']", timeout=60_000)
    assert page.get_attribute("[data-testid='upload-progress']", "data-value") == "100"
    uploaded = page.get_attribute("#upload", "data-last-id")
    assert api.get(f"/datasets/{uploaded}").json()["kind"] == "vector"
    page.wait_for_function(
        f"() => window.cogsight.vectorLayers.some(h => h.datasetId === '{uploaded}')",
        timeout=60_000,
    )

    # swipe compare: May on the left, September on the right
    page.evaluate("() => [...window.cogsight.layers].forEach(l => window.cogsight.removeLayer(l))")
    for rid in (early, late):
        page.evaluate("id => window.cogsight.addDataset(id, {flyTo: false})", rid)
    page.wait_for_function(
        f"() => ['{early}', '{late}'].every(id => window.cogsight.layers.some("
        "l => l.datasetId === id && l.render.mode === 'bands'))",
        timeout=60_000,
    )
    look_at(page, [w, s, e, n])
    page.click("[data-testid='tab-layers']")
    handle_early = page.evaluate(
        f"() => window.cogsight.layers.find(l => l.datasetId === '{early}').id"
    )
    handle_late = page.evaluate(
        f"() => window.cogsight.layers.find(l => l.datasetId === '{late}').id"
    )
    page.select_option("[data-testid='swipe-left']", handle_early)
    page.select_option("[data-testid='swipe-right']", handle_late)
    page.click("[data-testid='swipe-toggle']")
    divider = page.locator("[data-testid='swipe-divider']")
    assert divider.is_visible()
    box = divider.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] - 120, box["y"] + box["height"] / 2, steps=5)
    page.mouse.up()
    position = page.evaluate("() => window.cogsight.viewer.scene.splitPosition")
    assert 0.2 < position < 0.5, position
    split = page.evaluate(
        "() => window.cogsight.layers.map(l => [l.id, l.imageryLayer.splitDirection])"
    )
    sides = dict(split)
    assert sides[handle_early] < 0 < sides[handle_late], "LEFT is -1, RIGHT is +1"
    settle(page)
    save(page, "workspace-7-swipe.png")
    page.click("[data-testid='swipe-toggle']")

    # 2D view
    page.click("[data-testid='view-2d']")
    page.wait_for_function("() => window.cogsight.viewer.scene.mode === Cesium.SceneMode.SCENE2D")
    look_at(page, [w, s, e, n])
    settle(page)
    save(page, "workspace-8-2d.png")
    page.click("[data-testid='view-3d']")
    page.wait_for_function("() => window.cogsight.viewer.scene.mode === Cesium.SceneMode.SCENE3D")

    # time series: the dated layers in order; the slider shows one at a time; export via jobs
    frames = page.evaluate("() => window.cogsight.timeseries.frames")
    assert len(frames) >= 2
    page.eval_on_selector(
        "[data-testid='ts-slider']",
        "el => { el.value = '0'; el.dispatchEvent(new Event('input', {bubbles: true})); }",
    )
    assert page.inner_text("[data-testid='ts-date']") == "2024-05-12"
    shown = page.evaluate("() => window.cogsight.layers.filter(l => l.visible).map(l => l.id)")
    assert frames[0] in shown and not any(f in shown for f in frames[1:])
    page.click("[data-testid='ts-play']")
    page.wait_for_function("() => window.cogsight.timeseries.index > 0", timeout=10_000)
    page.click("[data-testid='ts-play']")
    page.uncheck("[data-testid='ts-mp4']")
    page.click("[data-testid='ts-export']")
    page.click("[data-testid='tab-tools']")
    page.wait_for_function(
        """() => window.cogsight.jobs.jobs.some(
            j => j.processID === 'animation' && j.status === 'successful' && j.results)""",
        timeout=120_000,
    )
    page.wait_for_selector("[data-testid='job-file-gif']")
    gif = page.get_attribute("[data-testid='job-file-gif']", "href")
    assert httpx.get(gif).content[:6] in (b"GIF89a", b"GIF87a")
    save(page, "workspace-9-jobs.png")
    no_errors_shown(page)
    assert page.errors == [], page.errors  # type: ignore[attr-defined]


def test_tool_form_fills_areas_from_the_map(ws):
    """A tool form's bbox and geometry fields take the search area / view at a click."""
    values = ws.evaluate(
        """async () => {
        const { createSchemaForm } = await import('/viewer/src/schemaForm.js');
        const schema = { type: 'object', properties: {
            bbox: { type: 'array', items: { type: 'number' } }, geometry: { type: 'object' } } };
        const form = createSchemaForm(schema, {
            getBbox: () => [114.123456789, 30.5, 114.6, 30.75],
            getArea: () => ({ type: 'Point', coordinates: [114.3, 30.5] }) });
        document.body.append(form.element);
        form.element.querySelector("[data-testid$='-use-view']").click();
        form.element.querySelector("[data-testid$='-use-area']").click();
        const read = form.read();
        form.element.remove();
        return read; }"""
    )
    assert values == {
        "bbox": [114.12346, 30.5, 114.6, 30.75],
        "geometry": {"type": "Point", "coordinates": [114.3, 30.5]},
    }
