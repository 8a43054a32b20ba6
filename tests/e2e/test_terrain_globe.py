"""The globe in 3D, in headless Debian chromium on a real server of its own: a synthetic DEM (a
Gaussian hill beside a plain) is the terrain, the camera is tilted, and the page shows relief
(the hill's flank facing the viewer's fixed north-west sun is brighter than the one facing away),
with every request on the server; the height under the hilltop is the DEM's; exaggeration
changes the drawn height in the readout; a building polygon with a ``height`` attribute stands
extruded on the terrain, is picked, and an edit of it redraws the extrusion."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import rasterio
from rasterio.transform import from_bounds

from tests.e2e.browser import save, settle, shot, viewer_page
from tests.servers import uvicorn_server

pytestmark = pytest.mark.browser

# The DEM: 0.2° x 0.1° in EPSG:4326; a plain at 200 m, a hill of +1000 m centred east of it.
WEST, SOUTH, EAST, NORTH = 10.0, 46.0, 10.2, 46.1
PLAIN = 200.0
HILL = (10.15, 46.05)  # lon, lat of the top
PEAK = 1000.0
SIGMA_DEG = 0.018
BUILDING = (10.03, 46.05)  # on the plain
BUILDING_HEIGHT = 60.0


def dem_bytes() -> bytes:
    width, height = 800, 400
    lon = WEST + (np.arange(width) + 0.5) * (EAST - WEST) / width
    lat = NORTH - (np.arange(height) + 0.5) * (NORTH - SOUTH) / height
    x, y = np.meshgrid(lon, lat)
    scale = math.cos(math.radians(HILL[1]))  # round in metres, not in degrees
    r2 = ((x - HILL[0]) * scale) ** 2 + (y - HILL[1]) ** 2
    z = (PLAIN + PEAK * np.exp(-r2 / (2 * (SIGMA_DEG * scale) ** 2))).astype("float32")
    profile = {
        "driver": "GTiff",
        "width": width,
        "height": height,
        "count": 1,
        "dtype": "float32",
        "crs": "EPSG:4326",
        "transform": from_bounds(WEST, SOUTH, EAST, NORTH, width, height),
        "nodata": -9999.0,
    }
    with rasterio.MemoryFile() as mem:
        with mem.open(**profile) as ds:
            ds.write(z, 1)
        return bytes(mem.read())


def building_geojson() -> bytes:
    lon, lat = BUILDING
    d = 0.0012  # about 90 m x 130 m
    ring = [[lon - d, lat - d], [lon + d, lat - d], [lon + d, lat + d], [lon - d, lat + d]]
    ring.append(ring[0])
    feature = {
        "type": "Feature",
        "properties": {"name": "hall", "height": BUILDING_HEIGHT, "class": 1},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }
    return json.dumps({"type": "FeatureCollection", "features": [feature]}).encode()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A server with nothing but the DEM and the building layer; skips while /terrain is absent."""
    data_dir: Path = tmp_path_factory.mktemp("terrain-globe")
    with uvicorn_server(data_dir) as url:
        api = httpx.Client(base_url=url, timeout=120)
        dem = api.post("/datasets", files={"file": ("hill.tif", dem_bytes(), "image/tiff")})
        assert dem.status_code in (200, 201), dem.text
        vec = api.post(
            "/datasets",
            files={"file": ("buildings.geojson", building_geojson(), "application/geo+json")},
        )
        assert vec.status_code in (200, 201), vec.text
        dem_id, vec_id = dem.json()["id"], vec.json()["id"]
        layer = api.get(f"/terrain/{dem_id}/layer.json")
        if layer.status_code == 404 and api.get("/terrain").status_code == 404:
            pytest.skip("this server has no /terrain endpoints")
        assert layer.status_code == 200, layer.text
        yield {"url": url, "dem": dem_id, "vector": vec_id}


@pytest.fixture(scope="module")
def page(server: dict[str, str]) -> Iterator[Any]:
    with viewer_page(server["url"], 1100, 760) as page:
        yield page


# Page-side helpers: the page (window) position of a point at a height (on the terrain surface
# when none is given), and the mean brightness of a patch of a screenshot.
SURFACE_XY = """([lon, lat, height]) => { const v = window.cogsight.viewer;
  const h = height ?? v.scene.globe.getHeight(Cesium.Cartographic.fromDegrees(lon, lat)) ?? 0;
  const p = Cesium.SceneTransforms.worldToWindowCoordinates(v.scene,
      Cesium.Cartesian3.fromDegrees(lon, lat, h));
  if (!p) return null;
  const r = v.canvas.getBoundingClientRect();
  return [r.left + (p.x * r.width) / v.canvas.clientWidth,
          r.top + (p.y * r.height) / v.canvas.clientHeight, h, p.x, p.y]; }"""
HEIGHT_AT = """([lon, lat]) =>
  window.cogsight.viewer.scene.globe.getHeight(Cesium.Cartographic.fromDegrees(lon, lat))"""
LOOK = """([lon, lat, h, heading, pitch]) => { const cam = window.cogsight.viewer.camera;
  cam.cancelFlight(); cam.setView({destination: Cesium.Cartesian3.fromDegrees(lon, lat, h),
  orientation: {heading: Cesium.Math.toRadians(heading), pitch: Cesium.Math.toRadians(pitch),
  roll: 0}}); }"""
EXTRUSION = """id => { const s = window.cogsight.buildings.state(id);
  const e = s.source.entities.values[0]; const t = Cesium.JulianDate.now();
  const ps = e.polygon.hierarchy.getValue(t).positions;
  const lons = ps.map(p => Cesium.Math.toDegrees(Cesium.Cartographic.fromCartesian(p).longitude));
  return {base: e.polygon.height.getValue(t), top: e.polygon.extrudedHeight.getValue(t),
          east: Math.max(...lons)}; }"""
READOUT = "[data-testid='terrain-readout']"


def terrain_settled(page: Any) -> None:
    """Wait until the globe has loaded what is in view and no terrain tile was asked for since
    (tiles are meshed on request, so the finer levels come in over several frames)."""
    count = -1
    for _ in range(30):
        settle(page, 1000)
        now = page.evaluate(
            "() => performance.getEntriesByType('resource')"
            ".filter(e => e.name.includes('.terrain')).length"
        )
        if now == count:
            return
        count = now
    raise AssertionError("the terrain kept loading")


def brightness(image: np.ndarray, x: float, y: float, r: int = 6) -> float:
    x, y = int(x), int(y)
    return float(image[:, y - r : y + r + 1, x - r : x + r + 1].mean())


def test_relief_on_the_globe(page: Any, server: dict[str, str]) -> None:
    dem = server["dem"]
    page.evaluate("() => window.cogsight.terrainReady")
    record = httpx.get(f"{server['url']}/datasets/{dem}").json()
    assert record["properties"].get("elevation"), "registered as a DEM"
    assert page.evaluate("() => window.cogsight.terrain.current") == dem, "opens on the DEM"
    # the catalog's Terrain action on the DEM (after going back to the ellipsoid)
    page.evaluate("() => window.cogsight.terrain.choose('ellipsoid')")
    assert page.evaluate("() => window.cogsight.viewer.scene.globe.enableLighting") is False
    page.click(f"[data-testid='use-terrain-{dem}']")
    page.wait_for_selector(
        f"#terrain[data-terrain='{dem}'][data-state='ready']", state="attached", timeout=30_000
    )
    assert page.evaluate("() => window.cogsight.viewer.scene.globe.enableLighting") is True
    assert page.get_attribute("#terrain", "data-state") == "ready"
    assert f"terrain={dem}" in page.evaluate("() => window.location.hash"), "kept in the URL"
    # tilt: south of the plain and the hill, looking north and down 35°
    page.evaluate(LOOK, [HILL[0] - 0.05, SOUTH - 0.07, 8000, 0, -35])
    terrain_settled(page)

    # (b) terrain tiles were fetched and decoded: the height under the hilltop is the DEM's
    tiles = page.evaluate(
        "() => performance.getEntriesByType('resource').map(e => e.name)"
        ".filter(n => n.includes('/terrain/') && n.includes('.terrain'))"
    )
    assert tiles, "quantized-mesh tiles were requested"
    top = page.evaluate(HEIGHT_AT, list(HILL))
    assert top == pytest.approx(PLAIN + PEAK, abs=60), "the hilltop stands at the DEM's height"
    assert page.evaluate(HEIGHT_AT, [WEST + 0.03, HILL[1]]) == pytest.approx(PLAIN, abs=20)

    # (c) a screenshot shows relief: the flank facing the north-west sun, the plain, the flank
    # facing away
    image = shot(page, "terrain-globe-relief.png")
    offset = SIGMA_DEG  # the steepest ring of the hill
    lit = page.evaluate(SURFACE_XY, [HILL[0] - offset, HILL[1] + offset * 0.3, None])
    shade = page.evaluate(SURFACE_XY, [HILL[0] + offset, HILL[1] - offset * 0.3, None])
    flat = page.evaluate(SURFACE_XY, [WEST + 0.04, HILL[1] - 0.01, None])
    for p in (lit, shade, flat):
        assert p and 10 < p[0] < image.shape[2] - 10 and 10 < p[1] < image.shape[1] - 10, p
    b_lit, b_shade, b_flat = (brightness(image, p[0], p[1]) for p in (lit, shade, flat))
    assert b_lit - b_shade > 15, (b_lit, b_shade, b_flat)
    assert b_lit > b_flat > b_shade, (b_lit, b_shade, b_flat)

    # (d) the readout under the cursor: the DEM's height and a slope; exaggeration changes
    # the drawn height
    page.mouse.move(*page.evaluate(SURFACE_XY, [*HILL, None])[:2])
    page.wait_for_function(
        f'() => document.querySelector("{READOUT}").dataset.height !== undefined',
        timeout=30_000,
    )
    readout = page.locator(READOUT)
    height = float(readout.get_attribute("data-height"))
    assert height == pytest.approx(PLAIN + PEAK, abs=60)
    assert "h 1 " in readout.inner_text() and "slope" in readout.inner_text()
    flank = page.evaluate(
        "([lon, lat]) => window.cogsight.terrain.sample(lon, lat)", [HILL[0] + offset, HILL[1]]
    )
    assert 10 < flank["slope"] < 40, flank  # about 22° at the steepest ring
    page.evaluate("() => window.cogsight.terrain.setExaggeration(3)")
    page.evaluate("([lon, lat]) => window.cogsight.terrain.showAt(lon, lat)", list(HILL))
    assert float(readout.get_attribute("data-drawn")) == pytest.approx(3 * height, rel=0.01)
    assert "drawn" in readout.inner_text()
    assert page.evaluate("() => window.cogsight.viewer.scene.verticalExaggeration") == 3
    assert "exaggeration=3" in page.evaluate("() => window.location.hash")
    page.evaluate("() => window.cogsight.terrain.setExaggeration(1)")

    # (a) nothing left the server
    assert page.outside_requests == [], page.outside_requests
    assert page.errors == [], page.errors


def test_extruded_building_is_drawn_pickable_and_redrawn_after_an_edit(
    page: Any, server: dict[str, str]
) -> None:
    vid = server["vector"]
    page.evaluate("id => window.cogsight.addVector(id, {flyTo: false})", vid)
    handle_id = f"vector-{vid}"
    # the layer's 3D menu: extrude by the height attribute found by name
    page.click("[data-testid='tab-layers']")
    page.select_option(f"[data-testid='buildings-{handle_id}']", "auto")
    page.wait_for_function(
        "id => window.cogsight.buildings.ready && document.querySelector("
        "`[data-testid='buildings-count-${id}']`)?.textContent === '1 building · height'",
        arg=handle_id,
        timeout=30_000,
    )
    lon, lat = BUILDING
    page.evaluate(LOOK, [lon, lat - 0.012, 900, 0, -35])
    terrain_settled(page)
    box = page.evaluate(EXTRUSION, handle_id)
    assert box["top"] - box["base"] == pytest.approx(BUILDING_HEIGHT, abs=0.01)
    assert box["base"] == pytest.approx(PLAIN, abs=20), "it stands on the terrain"

    # pickable: the roof under the cursor is the building; a real click shows its attributes
    roof = page.evaluate(SURFACE_XY, [lon, lat, box["top"] - 1])
    picked = page.evaluate(
        "([x, y]) => window.cogsight.buildings.pick(new Cesium.Cartesian2(x, y))", roof[3:5]
    )
    assert picked and picked["properties"]["name"] == "hall", picked
    page.mouse.click(*roof[:2])
    page.wait_for_selector("[data-testid='feature-popup-edit']", timeout=20_000)

    # editable: the popup's Edit selects it; a corner moved east is saved and the extrusion is
    # drawn again from the saved geometry
    page.click("[data-testid='feature-popup-edit']")
    page.wait_for_function("() => window.cogsight.editing.feature != null", timeout=20_000)
    assert page.evaluate("() => window.cogsight.editing.feature.id") == picked["fid"]
    before = page.evaluate("() => window.cogsight.vectorLayers[0].version")
    page.evaluate(
        """([lon, lat]) => window.cogsight.editing.moveVertex(
        {part: 0, ring: 0, index: 1}, [lon, lat])""",
        [lon + 0.004, lat - 0.0012],
    )
    page.wait_for_function(
        f"""() => {{ const c = window.cogsight;
        return c.vectorLayers[0].version > {before} && c.buildings.ready; }}""",
        timeout=30_000,
    )
    after = page.evaluate(EXTRUSION, handle_id)
    assert after["east"] == pytest.approx(lon + 0.004, abs=1e-5)
    assert after["top"] - after["base"] == pytest.approx(BUILDING_HEIGHT, abs=0.01)
    page.evaluate("() => window.cogsight.editing.stop()")
    save(page, "terrain-globe-building.png")
    assert page.outside_requests == [], page.outside_requests
    assert page.errors == [], page.errors
