// Terrain on the globe: the picker (the plain ellipsoid, or any DEM / DEM mosaic the caller may
// use, from GET /terrain, as Cesium quantized-mesh terrain at /terrain/{id}/layer.json), lighting
// so relief shows, vertical exaggeration, and the height / slope readout under the cursor.
//
// The choice lives in the URL hash (#terrain=<id>&exaggeration=<x>) and in this browser's local
// storage; with neither, the viewer opens on the first DEM of the catalog (the demo has one), else
// on the ellipsoid. Imagery layers are drawn on the globe's surface, so they drape on terrain by
// themselves; vector layers are clamped to the ground (vectorLayers.js) and 3D buildings stand on
// sampled terrain heights (buildings3d.js).
import { getJSON } from "./api.js";
import { withToken } from "./auth.js";
import { clear, el } from "./ui.js";

export const ELLIPSOID = "ellipsoid";
const STORAGE_KEY = "cogsight.terrain";
const SUN_AZIMUTH = 315; // degrees from north: light from the north-west, as cartographers shade
const SUN_ELEVATION = 35; // degrees above the horizon
const EARTH_RADIUS = 6371008.8;

// ---- pure helpers (unit-tested) -------------------------------------------------------------------

/** Metres per degree of longitude and of latitude at a latitude (spherical Earth). */
export function metresPerDegree(lat) {
  const m = (Math.PI / 180) * EARTH_RADIUS;
  return { lon: m * Math.cos((lat * Math.PI) / 180), lat: m };
}

/**
 * Slope in degrees from heights sampled around a point: {east, west, north, south} (metres, any
 * may be missing) `spacing` metres away from the centre `centre`. Central differences where both
 * sides exist, one-sided ones otherwise; null when neither direction has a neighbour.
 */
export function slopeFromSamples({ centre, east, west, north, south }, spacing) {
  const ok = (v) => typeof v === "number" && Number.isFinite(v);
  if (!(spacing > 0)) return null;
  const diff = (plus, minus) => {
    if (ok(plus) && ok(minus)) return (plus - minus) / (2 * spacing);
    if (ok(plus) && ok(centre)) return (plus - centre) / spacing;
    if (ok(minus) && ok(centre)) return (centre - minus) / spacing;
    return null;
  };
  const dx = diff(east, west);
  const dy = diff(north, south);
  if (dx === null && dy === null) return null;
  const g = Math.hypot(dx ?? 0, dy ?? 0);
  return (Math.atan(g) * 180) / Math.PI;
}

/** The terrain id and exaggeration named in a location hash ("#terrain=dem1&exaggeration=2"). */
export function terrainFromHash(hash) {
  const params = new URLSearchParams(String(hash || "").replace(/^#/, ""));
  const id = (params.get("terrain") || "").trim() || null;
  const x = Number(params.get("exaggeration"));
  return { id, exaggeration: Number.isFinite(x) && x > 0 ? x : null };
}

/** The hash with the terrain choice set (other parameters kept); the ellipsoid at ×1 leaves none. */
export function hashWithTerrain(hash, id, exaggeration = 1) {
  const params = new URLSearchParams(String(hash || "").replace(/^#/, ""));
  if (id && id !== ELLIPSOID) params.set("terrain", id);
  else if (id === ELLIPSOID) params.set("terrain", ELLIPSOID);
  else params.delete("terrain");
  if (exaggeration && exaggeration !== 1) params.set("exaggeration", String(exaggeration));
  else params.delete("exaggeration");
  const text = params.toString();
  return text ? `#${text}` : "";
}

/** True for a catalog entry that is an elevation model (set by the server at ingest). */
export function isDem(entry) {
  return Boolean(entry && entry.kind !== "vector" && entry.properties && entry.properties.elevation);
}

/**
 * The terrain to open on: an explicit choice (URL, then saved) when it is the ellipsoid or a
 * listed terrain; else the first listed terrain that is a DEM of the catalog, else the first
 * catalog DEM; else the ellipsoid.
 */
export function initialTerrain({ fromUrl, saved, listed = [], datasets = [] }) {
  const ids = new Set(listed.map((t) => t.id));
  for (const choice of [fromUrl, saved]) {
    if (choice === ELLIPSOID) return ELLIPSOID;
    if (choice && (ids.has(choice) || !listed.length)) return choice;
  }
  const dems = datasets.filter(isDem);
  const listedDem = listed.find((t) => dems.some((d) => d.id === t.id));
  if (listedDem) return listedDem.id;
  if (dems.length && (!listed.length || ids.has(dems[0].id))) return dems[0].id;
  return ELLIPSOID;
}

/** The base URL of a terrain (with the viewer's token on this server): CesiumTerrainProvider
 * reads `layer.json` and the tiles relative to it, the token carried along. */
export function terrainUrl(id) {
  return withToken(`/terrain/${encodeURIComponent(id)}/`);
}

/** "1 234 m" style text for a height. */
export function formatHeight(h) {
  return `${Math.round(h).toLocaleString("en-US").replace(/,/g, " ")} m`;
}

// ---- the picker -----------------------------------------------------------------------------------

function readSaved() {
  try {
    return JSON.parse(globalThis.localStorage.getItem(STORAGE_KEY) || "null") || {};
  } catch {
    return {};
  }
}

function writeSaved(value) {
  try {
    globalThis.localStorage.setItem(STORAGE_KEY, JSON.stringify(value));
  } catch {
    // no storage: the URL still carries the choice
  }
}

/**
 * @param {{root: HTMLElement, viewer, statusRoot?: HTMLElement, getDatasets: () => object[],
 *          onChange?: (state) => void, onError?: (err, title) => void}} opts
 */
export function createTerrainPicker({ root, viewer, statusRoot, getDatasets = () => [], onChange = () => {}, onError = () => {} }) {
  const Cesium = window.Cesium;
  const scene = viewer.scene;
  const globe = scene.globe;
  let listed = [];
  let current = ELLIPSOID;
  let exaggeration = 1;
  let loading = null; // the selection in progress (a promise)
  let serial = 0;

  const select = el("select", { class: "input", testid: "terrain-select", onchange: (e) => choose(e.target.value).catch((err) => onError(err, "Terrain")) });
  const slider = el("input", {
    type: "range",
    min: "1",
    max: "10",
    step: "0.5",
    value: "1",
    class: "slider",
    testid: "terrain-exaggeration",
    title: "Vertical exaggeration",
    oninput: (e) => setExaggeration(Number(e.target.value)),
  });
  const factor = el("span", { class: "hint", testid: "terrain-exaggeration-value" }, "×1");
  const note = el("div", { class: "hint", testid: "terrain-note" });
  root.append(el("div", { class: "section-head" }, el("h2", {}, "Terrain")), select, el("label", { class: "row terrain-exaggeration" }, "Exaggeration ", slider, factor), note);
  root.dataset.terrain = current;

  const readout = el("span", { class: "terrain-readout", testid: "terrain-readout" }, "");

  function renderOptions() {
    clear(select);
    select.append(el("option", { value: ELLIPSOID }, "Ellipsoid (no terrain)"));
    const ids = new Set();
    for (const t of listed) {
      ids.add(t.id);
      select.append(el("option", { value: t.id }, `${t.title || t.id}${t.kind === "mosaic" ? " (mosaic)" : ""}`));
    }
    if (current !== ELLIPSOID && !ids.has(current)) select.append(el("option", { value: current }, current));
    select.value = current;
  }

  function setLight(center) {
    // A fixed sun over the terrain (not the clock's), so slopes facing it are bright wherever and
    // whenever the globe is looked at.
    const frame = Cesium.Transforms.eastNorthUpToFixedFrame(center);
    const az = (SUN_AZIMUTH * Math.PI) / 180;
    const el_ = (SUN_ELEVATION * Math.PI) / 180;
    const toSun = new Cesium.Cartesian3(Math.cos(el_) * Math.sin(az), Math.cos(el_) * Math.cos(az), Math.sin(el_));
    const world = Cesium.Matrix4.multiplyByPointAsVector(frame, toSun, new Cesium.Cartesian3());
    Cesium.Cartesian3.normalize(world, world);
    scene.light = new Cesium.DirectionalLight({ direction: Cesium.Cartesian3.negate(world, new Cesium.Cartesian3()), intensity: 2.0 });
  }

  function boundsCenter(id) {
    const t = listed.find((x) => x.id === id);
    const d = getDatasets().find((x) => x.id === id);
    const b = (t && t.bounds) || (d && d.bounds);
    if (b && b.length === 4) return Cesium.Cartesian3.fromDegrees((b[0] + b[2]) / 2, (b[1] + b[3]) / 2);
    return viewer.camera.positionWC;
  }

  function persist() {
    writeSaved({ id: current, exaggeration });
    const hash = hashWithTerrain(window.location.hash, current, exaggeration);
    if (hash !== window.location.hash) window.history.replaceState(null, "", `${window.location.pathname}${window.location.search}${hash}`);
  }

  /** Use terrain `id` (or the ellipsoid). Resolves once the provider is set; rejects with the reason. */
  async function choose(id, { save = true } = {}) {
    const want = id || ELLIPSOID;
    const mine = ++serial;
    root.dataset.state = "loading";
    const run = (async () => {
      let provider;
      if (want === ELLIPSOID) provider = new Cesium.EllipsoidTerrainProvider();
      else provider = await Cesium.CesiumTerrainProvider.fromUrl(new Cesium.Resource({ url: terrainUrl(want) }), { requestVertexNormals: true, requestWaterMask: true });
      if (mine !== serial) return; // a later choice won
      viewer.terrainProvider = provider;
      current = want;
      const relief = want !== ELLIPSOID;
      globe.enableLighting = relief;
      globe.dynamicAtmosphereLighting = false;
      globe.depthTestAgainstTerrain = relief;
      if (relief) setLight(boundsCenter(want));
      else scene.light = new Cesium.SunLight();
      root.dataset.terrain = current;
      root.dataset.state = "ready";
      note.textContent = relief ? "Imagery drapes on the terrain; vector layers are clamped to it." : "";
      renderOptions();
      if (save) persist();
      onChange({ id: current, exaggeration });
    })();
    loading = run;
    try {
      await run;
    } catch (err) {
      if (mine === serial) {
        root.dataset.state = "error";
        renderOptions();
      }
      throw new Error(`Terrain "${want}" could not be loaded: ${err.message || err}`);
    }
  }

  function setExaggeration(value, { save = true } = {}) {
    const x = Math.max(1, Math.min(10, Number(value) || 1));
    exaggeration = x;
    scene.verticalExaggeration = x;
    slider.value = String(x);
    factor.textContent = `×${x}`;
    root.dataset.exaggeration = String(x);
    if (save) persist();
    onChange({ id: current, exaggeration });
  }

  /** Load GET /terrain and open on the URL's, the saved or the default choice. */
  async function start() {
    if (statusRoot && !readout.isConnected) (statusRoot.querySelector(".status-text") || statusRoot).append(readout);
    try {
      listed = await getJSON("/terrain");
      if (!Array.isArray(listed)) listed = listed && Array.isArray(listed.terrains) ? listed.terrains : [];
    } catch (err) {
      listed = [];
      if (err && err.status !== 404) onError(err, "Terrain list");
    }
    renderOptions();
    const url = terrainFromHash(window.location.hash);
    const saved = readSaved();
    setExaggeration(url.exaggeration ?? saved.exaggeration ?? 1, { save: false });
    const id = initialTerrain({ fromUrl: url.id, saved: saved.id, listed, datasets: getDatasets() });
    if (id === ELLIPSOID) {
      root.dataset.state = "ready";
      return;
    }
    try {
      await choose(id, { save: Boolean(url.id || saved.id) });
    } catch (err) {
      onError(err, "Terrain");
      await choose(ELLIPSOID, { save: false });
    }
  }

  // ---- height / slope under the cursor ----

  /** Terrain height (metres, as in the DEM), slope (degrees) and drawn height at a point. */
  async function sample(lon, lat) {
    const provider = viewer.terrainProvider;
    if (current === ELLIPSOID || provider instanceof Cesium.EllipsoidTerrainProvider) return { height: 0, slope: 0, drawn: 0, exaggeration };
    const m = metresPerDegree(lat);
    const spacing = Math.max(5, Math.min(500, viewer.camera.positionCartographic.height / 400));
    const dLon = spacing / Math.max(1, m.lon);
    const dLat = spacing / m.lat;
    const points = [
      [lon, lat],
      [lon + dLon, lat],
      [lon - dLon, lat],
      [lon, lat + dLat],
      [lon, lat - dLat],
    ].map(([x, y]) => Cesium.Cartographic.fromDegrees(x, y));
    const done = await Cesium.sampleTerrainMostDetailed(provider, points);
    const [centre, east, west, north, south] = done.map((c) => c.height);
    const slope = slopeFromSamples({ centre, east, west, north, south }, spacing);
    const relative = scene.verticalExaggerationRelativeHeight || 0;
    return { height: centre, slope, drawn: (centre - relative) * exaggeration + relative, exaggeration };
  }

  function readoutText(s) {
    if (!s || !Number.isFinite(s.height)) return "";
    const parts = [`h ${formatHeight(s.height)}`];
    if (s.slope !== null && Number.isFinite(s.slope)) parts.push(`slope ${s.slope.toFixed(1)}°`);
    if (s.exaggeration !== 1) parts.push(`drawn ${formatHeight(s.drawn)} (×${s.exaggeration})`);
    return parts.join(" · ");
  }

  let pending = null;
  let queued = null;
  async function showAt(lon, lat) {
    if (pending) {
      queued = [lon, lat];
      return pending;
    }
    pending = (async () => {
      try {
        const s = await sample(lon, lat);
        readout.textContent = current === ELLIPSOID ? "" : readoutText(s);
        readout.dataset.height = String(s.height);
        readout.dataset.drawn = String(s.drawn);
        readout.dataset.slope = String(s.slope);
      } catch {
        readout.textContent = "";
      }
    })();
    await pending;
    pending = null;
    if (queued) {
      const [x, y] = queued;
      queued = null;
      await showAt(x, y);
    }
  }

  const handler = new Cesium.ScreenSpaceEventHandler(scene.canvas);
  handler.setInputAction((movement) => {
    if (current === ELLIPSOID) return;
    const ray = viewer.camera.getPickRay(movement.endPosition);
    const hit = ray && globe.pick(ray, scene);
    if (!hit) {
      readout.textContent = "";
      return;
    }
    const c = Cesium.Cartographic.fromCartesian(hit);
    showAt(Cesium.Math.toDegrees(c.longitude), Cesium.Math.toDegrees(c.latitude));
  }, Cesium.ScreenSpaceEventType.MOUSE_MOVE);

  return {
    start,
    choose,
    setExaggeration,
    sample,
    showAt,
    get current() {
      return current;
    },
    get exaggeration() {
      return exaggeration;
    },
    get listed() {
      return listed;
    },
    get loading() {
      return loading;
    },
    get flat() {
      return current === ELLIPSOID;
    },
  };
}
