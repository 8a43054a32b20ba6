// cogsight workspace bootstrap: the Cesium globe (no ion, nothing off-host) opening on the
// data, and the panels around it — search, upload, catalog (with renaming, visibility and
// deletion), layers + render, base maps, swipe compare, time series, tools + jobs, vector tiles
// with attribute cards and editing, projects saved as you work — wired together, plus
// window.cogsight.
import { createAccountPanel } from "./accountPanel.js";
import { api } from "./api.js";
import { adoptTokenFromAddress, clearToken, getToken } from "./auth.js";
import { BUNDLED, basemapLayer, createBasemapPicker } from "./basemaps.js";
import { Buildings3D } from "./buildings3d.js";
import { canManage, createCatalogPanel } from "./catalogPanel.js";
import { DrawTool, createDrawHint, lonLatAt } from "./draw.js";
import { VectorEditor } from "./editing.js";
import { catalogExtent, entriesExtent, showExtent } from "./extent.js";
import { createFeaturePopup } from "./featurePopup.js";
import { createJobsPanel } from "./jobsPanel.js";
import { createLabellingPanel } from "./labellingPanel.js";
import {
  LayerManager,
  defaultRender,
  fallbackRescale,
  findIndex,
  flyToBounds,
  normalizeRender,
  rescaleFromStatistics,
  statisticsQuery,
  tileUrl,
} from "./layers.js";
import { createLayersPanel } from "./layersPanel.js";
import { createModelUpload } from "./modelUpload.js";
import { projectLayers } from "./projectState.js";
import { createProjectsPanel } from "./projectsPanel.js";
import { renderOnDemand } from "./renderOnDemand.js";
import { createRenderPicker } from "./renderPicker.js";
import { needsSamplesMessage } from "./samples.js";
import { createSearchPanel } from "./searchPanel.js";
import { createStatusBar } from "./statusBar.js";
import { createSwipe } from "./swipe.js";
import { createTabs } from "./tabs.js";
import { createTerrainPicker } from "./terrain.js";
import { createTimeSeries } from "./timeseries.js";
import { createToolsPanel } from "./toolsPanel.js";
import { installGlobalErrorHandlers, el, showError, showInfo, showWarning } from "./ui.js";
import { createUploadPanel } from "./uploadPanel.js";
import { VectorLayerManager } from "./vectorLayers.js";
import { createViewMode } from "./viewMode.js";

// A token in the page address (#access_token= or ?access_token=) is kept and taken out of the
// address at once, before anything reads the hash or asks the server.
adoptTokenFromAddress();
const NOTICE_KEY = "cogsight.account-notice"; // a message to show after the reload of a sign-in change

const Cesium = window.Cesium;

if (!Cesium || !Cesium.Viewer) {
  document.body.dataset.ready = "error";
  const message =
    "CesiumJS did not load from /cesium/Cesium.js. Install the viewer assets with: cd viewer && npm ci && npm run assets";
  showError(message, "Viewer unavailable");
  throw new Error(message);
}
installGlobalErrorHandlers();

// ---- Globe ------------------------------------------------------------------------------------

const viewer = new Cesium.Viewer("globe", {
  baseLayer: basemapLayer(BUNDLED), // offline; configured base maps are offered by the picker
  terrainProvider: new Cesium.EllipsoidTerrainProvider(),
  geocoder: false,
  baseLayerPicker: false,
  timeline: false,
  animation: false,
  homeButton: true,
  sceneModePicker: false, // our 2D / 3D / Columbus buttons replace it
  infoBox: false,
  selectionIndicator: false,
  requestRenderMode: true, // frames on demand (renderOnDemand.js), not 60 a second
  maximumRenderTimeChange: Infinity,
  navigationHelpButton: true,
  navigationInstructionsInitiallyVisible: false,
  fullscreenButton: true,
});
viewer.scene.globe.baseColor = Cesium.Color.fromCssColorString("#0b1220");
renderOnDemand(viewer);
viewer.screenSpaceEventHandler.removeInputAction(Cesium.ScreenSpaceEventType.LEFT_DOUBLE_CLICK); // no zoom-to-entity on double-click
const globeBox = document.getElementById("globe");

// ---- State ------------------------------------------------------------------------------------

const catalog = { datasets: [], mosaics: [], indices: [], loaded: false };
let me = null; // GET /me: who the viewer acts for (decides what can be managed and saved)

const manager = new LayerManager(viewer, {
  onChange: () => refreshPanels(),
  onTileError: (handle, message) => showError(message, `Tiles for "${handle.title}"`),
});
const vectors = new VectorLayerManager(viewer, {
  onChange: () => refreshPanels(),
  onError: (err, title) => showError(err, title),
});
const tabs = createTabs({ root: document.querySelector(".panel") });
const draw = new DrawTool(viewer, { hint: createDrawHint(globeBox) });
const popup = createFeaturePopup({ container: globeBox });
const editor = new VectorEditor({ viewer, vectors, draw, container: globeBox, popup, onError: (err, title) => showError(err, title), onChange: () => refreshPanels() });
const viewMode = createViewMode({ container: globeBox, viewer });
// Terrain (picker, lighting, exaggeration, height / slope readout) and extruded buildings.
let surfaceOfVectors = "ellipsoid";
const terrain = createTerrainPicker({
  root: document.getElementById("terrain"),
  viewer,
  statusRoot: document.getElementById("statusbar"),
  getDatasets: () => catalog.datasets,
  onChange: ({ id }) => {
    // Vector tiles are clamped (or not) when made: make them again on a new surface.
    if (id !== surfaceOfVectors) {
      surfaceOfVectors = id;
      for (const handle of vectors.layers) vectors.reload(handle, handle.version).catch((err) => showError(err, `Vector tiles of "${handle.title}"`));
    }
    buildings.sync();
  },
  onError: (err, title) => showError(err, title),
});
const buildings = new Buildings3D(viewer, {
  vectors,
  getTerrain: () => ({ id: terrain.current, exaggeration: terrain.exaggeration }),
  onChange: () => layersPanel.render(),
  onError: (err, title) => showError(err, title),
});

// ---- Render resolution -------------------------------------------------------------------------

/** Compute a 2–98 percentile stretch from the server's statistics (rasters only). Throws on failure. */
async function autoRescale(handleOrEntry, render) {
  const entry = handleOrEntry.dataset || handleOrEntry;
  const source = handleOrEntry.source || "raster";
  if (source !== "raster") throw new Error("Automatic rescale needs statistics, which mosaics do not provide");
  const stats = await api.statistics(entry.id, statisticsQuery(render));
  return rescaleFromStatistics(stats, render);
}

/** Validate a render and replace a rescale of "auto" by numbers (falling back with a warning). */
async function resolveRender(entry, source, render) {
  const normalized = normalizeRender(render, entry, catalog.indices);
  if (normalized.rescale !== "auto") return normalized;
  try {
    normalized.rescale = await autoRescale({ dataset: entry, source }, normalized);
  } catch (err) {
    let fallback = null;
    if (normalized.mode === "bands") fallback = fallbackRescale(entry);
    else if (normalized.mode === "index") {
      const def = findIndex(catalog.indices, normalized.index);
      fallback = def && def.range ? [def.range] : [[-1, 1]];
    }
    const used = fallback ? fallback.map((r) => r.join("–")).join(", ") : "no rescale";
    showWarning(`Automatic rescale failed (${err.message}); using ${used}.`, entry.title || entry.id);
    normalized.rescale = fallback;
  }
  return normalized;
}

// ---- Catalog ----------------------------------------------------------------------------------

function findEntry(id, source) {
  const pools =
    source === "mosaic"
      ? [["mosaic", catalog.mosaics]]
      : source === "raster" || source === "vector"
        ? [["raster", catalog.datasets]]
        : [
            ["raster", catalog.datasets],
            ["mosaic", catalog.mosaics],
          ];
  for (const [src, items] of pools) {
    const entry = items.find((item) => item.id === id);
    if (entry) return { entry, source: src };
  }
  return null;
}

async function loadCatalog() {
  catalogPanel.update({ loading: true });
  const [datasets, mosaics, indices] = await Promise.allSettled([api.datasets(), api.mosaics(), api.indices()]);
  if (datasets.status === "fulfilled") catalog.datasets = datasets.value;
  else showError(datasets.reason, "Could not load datasets");
  if (mosaics.status === "fulfilled") catalog.mosaics = mosaics.value;
  else showError(mosaics.reason, "Could not load mosaics");
  if (indices.status === "fulfilled") catalog.indices = indices.value;
  else showError(indices.reason, "Could not load spectral indices");
  catalog.loaded = datasets.status === "fulfilled";
  catalogPanel.update({ datasets: catalog.datasets, mosaics: catalog.mosaics, loading: false, failed: !catalog.loaded });
  searchPanel.refreshVectors();
  labellingPanel.refresh();
  refreshPanels();
  if (!catalog.loaded) throw datasets.reason;
  if (document.body.dataset.ready !== "1") {
    // Open on the data (a project in the URL opens on its own layers, see start below).
    if (!projectsPanel.fromHash()) showExtent(viewer, catalogExtent(catalog), { duration: 0 });
    document.body.dataset.ready = "1";
    if (window.cogsight) window.cogsight.ready = Promise.resolve(catalog); // recovered after a failed start
  }
  return catalog;
}

/** Wait for the first catalog load; retry it if it failed (throws the server's message if it fails again). */
async function ensureCatalog() {
  if (catalog.loaded) return;
  await firstLoad.catch(() => {});
  if (!catalog.loaded) await loadCatalog();
}

async function lookup(id, source) {
  await ensureCatalog();
  let found = findEntry(id, source);
  if (!found) {
    await loadCatalog(); // it may have been registered after the page loaded
    found = findEntry(id, source);
  }
  if (!found) throw new Error(`No dataset or mosaic with id "${id}" in the catalog`);
  return found;
}

// ---- Public operations (also the test hook) ---------------------------------------------------------

/**
 * Add a dataset (or mosaic) by id. options: {render, source: "raster"|"mosaic", opacity, show,
 * flyTo (default true), duration (seconds)}. Resolves with the layer handle after the camera flight.
 * Vector datasets are added as vector tiles (see addVector).
 */
async function addDataset(id, options = {}) {
  const { entry, source } = await lookup(id, options.source);
  if (entry.kind === "vector") return addVector(id, options);
  const render = await resolveRender(entry, source, options.render || defaultRender(entry, { allowAuto: source === "raster" }));
  const handle = manager.add(entry, source, render, { opacity: options.opacity ?? 1, show: options.show ?? true });
  if (options.flyTo !== false) await manager.zoomTo(handle, { duration: options.duration });
  return handle;
}

/** Add a vector dataset as vector tiles. options: {opacity, show, flyTo (default true), duration}. */
async function addVector(id, options = {}) {
  const { entry } = await lookup(id, "vector");
  if (entry.kind !== "vector") throw new Error(`"${entry.title || id}" is a raster; use addDataset`);
  let version = 0;
  try {
    version = (await api.history(id, 1)).version;
  } catch (err) {
    showWarning(`Edit history unavailable (${err.message}); showing the tiles as first published.`, entry.title || id);
  }
  const handle = await vectors.add(entry, { version, opacity: options.opacity, show: options.show ?? true });
  if (options.flyTo !== false) await flyToBounds(viewer, entry.bounds, { duration: options.duration });
  return handle;
}

/** Add a job's result dataset (raster or vector) without moving the camera. */
async function addResult(id) {
  const record = await api.dataset(id);
  return record.kind === "vector" ? addVector(id, { flyTo: false }) : addDataset(id, { flyTo: false });
}

/** Change a layer's render in place. `ref` is a layer handle or its id. Resolves with the handle. */
async function setRender(ref, render) {
  const handle = manager.require(ref);
  const resolved = await resolveRender(handle.dataset, handle.source, render);
  if (!manager.layers.includes(handle)) throw new Error(`Layer "${handle.id}" was removed`);
  return manager.replaceRender(handle, resolved);
}

function removeLayer(ref) {
  if (vectors.find(ref) && !manager.find(ref)) {
    const handle = vectors.require(ref);
    if (editor.active === handle) editor.stop();
    vectors.remove(handle);
    return;
  }
  manager.remove(ref);
}

function zoomTo(ref, options) {
  const vector = !manager.find(ref) && vectors.find(ref);
  if (vector) return flyToBounds(viewer, vector.dataset.bounds, options);
  return manager.zoomTo(ref, options);
}

// ---- Managing the catalog (what the caller owns) ----------------------------------------------

const sameSource = (handle, source) => (handle.source === "mosaic") === (source === "mosaic");

/** Rename / describe / change the visibility of a dataset or mosaic; the map follows. */
async function updateEntry(entry, source, patch) {
  const updated = source === "mosaic" ? await api.updateMosaic(entry.id, patch) : await api.updateDataset(entry.id, patch);
  const merged = { ...entry, ...(updated && typeof updated === "object" ? updated : patch) };
  const pool = source === "mosaic" ? catalog.mosaics : catalog.datasets;
  const i = pool.findIndex((x) => x.id === entry.id);
  if (i >= 0) pool[i] = merged;
  for (const handle of [...manager.layers, ...vectors.layers]) {
    if (handle.datasetId !== entry.id || !sameSource(handle, source)) continue;
    handle.title = merged.title || merged.id;
    handle.dataset = merged;
  }
  catalogPanel.update({ datasets: catalog.datasets, mosaics: catalog.mosaics });
  refreshPanels();
  return merged;
}

/** Delete a dataset or mosaic (the server refuses, with its reason, while something uses it);
 * its layers leave the map (and the open project). */
async function deleteEntry(entry, source) {
  await (source === "mosaic" ? api.deleteMosaic(entry.id) : api.deleteDataset(entry.id));
  for (const handle of [...manager.layers, ...vectors.layers]) {
    if (handle.datasetId === entry.id && sameSource(handle, source)) removeLayer(handle);
  }
  projectsPanel.forget(entry.id);
  const pool = source === "mosaic" ? catalog.mosaics : catalog.datasets;
  const i = pool.findIndex((x) => x.id === entry.id);
  if (i >= 0) pool.splice(i, 1);
  catalogPanel.update({ datasets: catalog.datasets, mosaics: catalog.mosaics });
  refreshPanels();
  showInfo(`"${entry.title || entry.id}" deleted`, "Catalog");
  loadCatalog().catch(() => {}); // what else changed with it (a mosaic's scenes, ...)
}

// ---- Projects and where the camera looks -----------------------------------------------------------

/** Put a project layer back on the map (no flight). */
async function restoreLayer(spec) {
  const { entry, source } = await lookup(spec.id, spec.kind === "mosaic" ? "mosaic" : "raster");
  const options = { flyTo: false, opacity: spec.opacity ?? 1, show: spec.visible !== false };
  if (entry.kind === "vector") return addVector(entry.id, options);
  const render = spec.render && Object.keys(spec.render).length ? spec.render : undefined;
  return addDataset(entry.id, { ...options, source, render });
}

/** Remove every layer from the map (before a project's layers are restored). */
function clearMap() {
  swipe.disable();
  for (const handle of [...vectors.layers]) removeLayer(handle);
  for (const handle of [...manager.layers]) manager.remove(handle);
}

/** What Home and a project's opening show: the layers on the map while a project is open
 * (else the catalog); the whole globe when there is nothing. */
function homeExtent() {
  const onMap = entriesExtent([...manager.layers, ...vectors.layers].map((h) => h.dataset));
  return (projectsPanel.current && onMap) || catalogExtent(catalog);
}

/** Degrees [west, south, east, north] of what the camera sees, or null (sky). */
function viewRectangle() {
  const r = viewer.camera.computeViewRectangle(viewer.scene.globe.ellipsoid);
  if (!r) return null;
  return [r.west, r.south, r.east, r.north].map((v) => Cesium.Math.toDegrees(v));
}

/** Window (page) coordinates of a longitude/latitude on screen, or null behind the globe. */
function screenPosition(lon, lat) {
  const p = Cesium.SceneTransforms.worldToWindowCoordinates(viewer.scene, Cesium.Cartesian3.fromDegrees(lon, lat));
  if (!p) return null;
  const rect = viewer.canvas.getBoundingClientRect();
  return { x: rect.left + (p.x * rect.width) / viewer.canvas.clientWidth, y: rect.top + (p.y * rect.height) / viewer.canvas.clientHeight };
}

/** Longitude/latitude under a window (page) position, or null off the globe. */
function lonLatAtPage(x, y) {
  const rect = viewer.canvas.getBoundingClientRect();
  const position = new Cesium.Cartesian2(((x - rect.left) * viewer.canvas.clientWidth) / rect.width, ((y - rect.top) * viewer.canvas.clientHeight) / rect.height);
  return lonLatAt(viewer, position);
}

async function onJobSucceeded(job, results) {
  const added = [];
  for (const id of results.datasets || []) {
    try {
      added.push(await addResult(id));
    } catch (err) {
      showError(err, `Could not add result ${id} of "${job.processID}"`);
    }
  }
  const files = Object.entries(results.values || {}).filter(([, v]) => typeof v === "string" && /^https?:\/\//.test(v));
  const parts = [];
  if (added.length) parts.push(`${added.length} layer${added.length === 1 ? "" : "s"} added to the map`);
  if (files.length) parts.push(`files: ${files.map(([k]) => k.toUpperCase()).join(", ")} (see Jobs)`);
  showInfo(parts.join("; ") || "Finished.", `"${job.processID}" finished`);
}

// ---- Clicking features ----------------------------------------------------------------------------

/** The feature (from the server) of `handle` containing the point, or null. */
async function featureAt(handle, lon, lat) {
  const e = 1e-7;
  const page = await api.features(handle.datasetId, { bbox: [lon - e, lat - e, lon + e, lat + e], limit: 20 });
  return (page.features || [])[0] || null;
}

const clicks = new Cesium.ScreenSpaceEventHandler(viewer.scene.canvas);
clicks.setInputAction(async (event) => {
  if (draw.active || editor.active) return; // those tools handle their own clicks
  const position = event.position;
  const building = buildings.pick(position); // an extruded building: its feature is known
  const picked = building || vectors.pick(position);
  const here = lonLatAt(viewer, position);
  let handle = picked ? picked.handle : null;
  let properties = picked ? picked.properties : null;
  let fid = building ? building.fid : null;
  try {
    const candidates = building ? [] : handle ? [handle] : here ? vectors.layersAt(here[0], here[1]) : [];
    for (const h of candidates) {
      const feature = here ? await featureAt(h, here[0], here[1]) : null;
      if (feature) {
        handle = h;
        properties = feature.properties;
        fid = feature.id;
        break;
      }
    }
  } catch (err) {
    showError(err, "Feature attributes");
  }
  if (!handle || !properties) {
    popup.hide();
    return;
  }
  const target = handle;
  const edit = el(
    "button",
    {
      type: "button",
      class: "btn btn-small",
      testid: "feature-popup-edit",
      onclick: async () => {
        popup.hide();
        await editor.start(target);
        if (building) editor.select(await api.feature(target.datasetId, building.fid));
        else if (here) editor.select(await editor.featureAt(here[0], here[1]));
      },
    },
    "Edit",
  );
  popup.show({ layerTitle: handle.title, properties, fid, classes: handle.classes, position, buttons: [edit] });
}, Cesium.ScreenSpaceEventType.LEFT_CLICK);

// ---- Panels --------------------------------------------------------------------------------------

const searchPanel = createSearchPanel({
  root: document.getElementById("search"),
  viewer,
  draw,
  getVectors: () => catalog.datasets.filter((d) => d.kind === "vector"),
  onAdd: async (item) => {
    const vector = item.properties && item.properties["cogsight:kind"] === "vector";
    await (vector ? addVector(item.id) : addDataset(item.id));
    showInfo(`"${(item.properties && item.properties.title) || item.id}" added`, "Layers");
  },
  onError: (err, title) => showError(err, title),
});

const uploadPanel = createUploadPanel({
  root: document.getElementById("upload"),
  dropTarget: document.body,
  onUploaded: async (record) => {
    await loadCatalog().catch(() => {});
    await (record.kind === "vector" ? addVector(record.id) : addDataset(record.id));
    showInfo(`"${record.title}" uploaded and added to the map`, "Upload");
  },
  onError: (err, title) => showError(err, title),
});

const catalogPanel = createCatalogPanel({
  root: document.getElementById("catalog"),
  onAdd: (entry, source) =>
    (source === "vector" ? addVector(entry.id) : addDataset(entry.id, { source })).catch((err) => showError(err, `Could not add "${entry.title || entry.id}"`)),
  onRefresh: () => loadCatalog().catch(() => {}), // errors already shown by loadCatalog
  onUpdate: (entry, source, patch) => updateEntry(entry, source, patch),
  onDelete: (entry, source) => deleteEntry(entry, source),
  onUseTerrain: (entry) => terrain.choose(entry.id).catch((err) => showError(err, "Terrain")),
  onError: (err, title) => showError(err, title),
});

const layersPanel = createLayersPanel({
  root: document.getElementById("layers"),
  manager,
  vectors,
  isEditing: (handle) => editor.active === handle,
  onEdit: (handle) => (editor.active === handle ? editor.stop() : editor.start(handle).catch((err) => showError(err, "Edit"))),
  onZoom: (handle) => zoomTo(handle).catch((err) => showError(err)),
  buildings,
  getTerrains: () => terrain.listed,
  onError: (err) => showError(err),
});

const renderPicker = createRenderPicker({
  root: document.getElementById("render"),
  getIndices: () => catalog.indices,
  apply: (handle, render) => setRender(handle, render),
  autoRescale,
  onError: (err) => showError(err, "Render"),
});

const swipe = createSwipe({ root: document.getElementById("swipe"), container: globeBox, viewer, manager, onError: (err, title) => showError(err, title) });

const jobsPanel = createJobsPanel({
  root: document.getElementById("jobs"),
  onSucceeded: onJobSucceeded,
  onAddDataset: (id) => addResult(id),
  onError: (err, title) => showError(err, title),
});

const submitted = (job) => {
  jobsPanel.track(job);
  projectsPanel.jobSubmitted(job);
  showInfo(`Job ${job.jobID} queued; progress in the Jobs list`, `"${job.processID}" started`);
};

const viewBbox = viewRectangle;

const timeSeries = createTimeSeries({
  root: document.getElementById("timeseries"),
  viewer,
  manager,
  getArea: () => (searchPanel.area ? searchPanel.area.bbox : null),
  onSubmitted: submitted,
  onError: (err, title) => showError(err, title),
});

const toolsPanel = createToolsPanel({
  root: document.getElementById("tools"),
  getCatalog: () => catalog,
  getDefaults: () => {
    const raster = manager.selected && manager.selected.source === "raster" ? manager.selected.datasetId : undefined;
    const vector = editor.active ? editor.active.datasetId : vectors.layers.length ? vectors.layers[vectors.layers.length - 1].datasetId : undefined;
    return { dataset: raster, vector };
  },
  getArea: () => (searchPanel.area ? searchPanel.area.geometry : null),
  getBbox: () => (searchPanel.area ? searchPanel.area.bbox : viewBbox()),
  onSubmitted: submitted,
  onError: (err, title) => showError(err, title),
  onNeedsSamples: (body) => {
    // no zero-sample method on this image's bands: label samples of the tool's classes instead
    tabs.select("label");
    labellingPanel.startSet(body.labelling, needsSamplesMessage(body)).catch((err) => showError(err, "Label"));
  },
  getMe: () => me,
  onRemoved: (name) => showInfo(`Model "${name}" removed`, "Models"),
});

createModelUpload({
  root: document.getElementById("model-upload"),
  onAdded: () => toolsPanel.load(),
  onInfo: (message) => showInfo(message, "Models"),
  onError: (err, title) => showError(err, title),
});

const labellingPanel = createLabellingPanel({
  root: document.getElementById("labelling"),
  viewer,
  draw,
  getCatalog: () => catalog,
  getSelected: () => (manager.selected && manager.selected.source === "raster" ? manager.selected.datasetId : undefined),
  onSubmitted: (job) => (jobsPanel.track(job), projectsPanel.jobSubmitted(job)),
  onModel: () => toolsPanel.load(),
  onError: (err, title) => showError(err, title),
});

const basemaps = createBasemapPicker({
  root: document.getElementById("basemap"),
  viewer,
  onError: (err, title) => showWarning(err instanceof Error ? err.message : err, title),
});

const projectsPanel = createProjectsPanel({
  root: document.getElementById("projects"),
  badge: document.getElementById("project-badge"),
  getLayers: () => projectLayers(manager.layers, vectors.layers),
  clearMap,
  restoreLayer,
  showLayers: (specs, options) => {
    const entries = specs.map((spec) => findEntry(spec.id, spec.kind === "mosaic" ? "mosaic" : "raster")).filter(Boolean);
    return showExtent(viewer, entriesExtent(entries.map((f) => f.entry)) || catalogExtent(catalog), options);
  },
  showJobs: (ids) => jobsPanel.show(ids),
  canWrite: (project) => Boolean(me) && (me.is_admin || (Boolean(me.id) && project.owner === me.id)),
  onError: (err, title) => showError(err, title),
  onInfo: (message, title) => showInfo(message, title),
});
document.getElementById("project-badge").addEventListener("click", () => tabs.select("projects"));
// The opacity sliders change layers without a panel refresh: save when one is let go.
document.getElementById("layers").addEventListener("change", () => projectsPanel.changed());

viewer.homeButton.viewModel.command.beforeExecute.addEventListener((event) => {
  event.cancel = true;
  showExtent(viewer, homeExtent());
});

createStatusBar({ root: document.getElementById("statusbar"), viewer });

let shownHandle = null;
let shownRender = null;
function refreshPanels() {
  layersPanel.render();
  const selected = manager.selected;
  // Rebuild the picker only when what it shows changed (keeps focus while editing).
  if (selected !== shownHandle || (selected && selected.render !== shownRender)) {
    shownHandle = selected;
    shownRender = selected ? selected.render : null;
    renderPicker.show(selected);
  }
  swipe.refresh();
  timeSeries.refresh();
  buildings.sync();
  tabs.badge("layers", manager.layers.length + vectors.layers.length);
  projectsPanel.changed();
}

// ---- Start -----------------------------------------------------------------------------------------

// Resolves with the catalog once it has loaded; rejects (with the server's message) when the
// first load fails. body[data-ready] becomes "1" on success or "error" on failure.
const firstLoad = loadCatalog().catch((err) => {
  if (document.body.dataset.ready !== "1") document.body.dataset.ready = "error";
  throw err;
});
firstLoad.catch(() => {}); // already shown in the message area; awaiting callers still see the rejection

/** After a sign-in or sign-out everything the server answers differs (the catalog, projects,
 * jobs, the layers' tile URLs): the page starts again as the new caller. */
function restartAs(message) {
  try {
    window.sessionStorage.setItem(NOTICE_KEY, message);
  } catch {
    // the notice is only a courtesy
  }
  window.location.reload();
}

const account = createAccountPanel({
  root: document.getElementById("account"),
  onChange: (who) => restartAs(who ? `Signed in as ${who.name}` : "Signed out"),
  onError: (err, title) => showError(err, title),
});
try {
  const notice = window.sessionStorage.getItem(NOTICE_KEY);
  if (notice) {
    window.sessionStorage.removeItem(NOTICE_KEY);
    (notice.startsWith("Signed") ? showInfo : showWarning)(notice, "Account");
  }
} catch {
  // no session storage
}

api
  .me()
  .then((who) => {
    me = who;
    catalogPanel.update({ me });
    account.update(who);
  })
  .catch((err) => {
    if (err.status === 401 && getToken()) {
      // The kept token is unknown or revoked: every request would be refused. Sign out.
      clearToken();
      restartAs(`Your API token was refused (${err.message}); you are signed out.`);
      return;
    }
    showWarning(`Who you are is unknown (${err.message}); nothing can be managed or saved.`, "Account");
  });

api
  .viewerConfig()
  .then((config) => basemaps.load(config))
  .catch((err) => showWarning(`Only the offline base map is available (${err.message}).`, "Base maps"));

// A project named in the URL (#project=<id>) reopens on its layers; otherwise the view was set
// on the catalog's data when it loaded. body[data-view] becomes "1" when the camera is there.
// The terrain opens once the catalog is known (a DEM in it is the default surface).
const terrainReady = firstLoad
  .catch(() => {})
  .then(() => terrain.start())
  .catch((err) => showError(err, "Terrain"));

const opened = firstLoad
  .then(async () => {
    const id = projectsPanel.fromHash();
    if (!id) return null;
    try {
      return await projectsPanel.open(id, { duration: 0 });
    } catch {
      await showExtent(viewer, catalogExtent(catalog), { duration: 0 }); // error already shown
      return null;
    }
  })
  .catch(() => null)
  .finally(() => {
    document.body.dataset.view = "1";
  });

window.cogsight = {
  viewer,
  addDataset,
  addVector,
  addResult,
  setRender,
  removeLayer,
  zoomTo,
  screenPosition,
  lonLatAt: lonLatAtPage,
  layers: manager.layers, // live array of imagery layer handles, bottom -> top
  vectorLayers: vectors.layers, // live array of vector layer handles
  vectors,
  ready: firstLoad,
  tileUrl,
  reloadCatalog: loadCatalog,
  tabs,
  draw,
  search: searchPanel,
  upload: uploadPanel,
  tools: toolsPanel,
  jobs: jobsPanel,
  editing: editor,
  popup,
  swipe,
  timeseries: timeSeries,
  viewMode,
  basemaps,
  terrain, // choose(id), setExaggeration(x), sample(lon, lat), current, listed
  terrainReady,
  buildings, // enable(layer, {attribute, dsm}), disable(layer), pick(position)
  projects: projectsPanel,
  labelling: labellingPanel,
  opened, // resolves when the camera is on the data (or on the project of the URL, reopened)
  viewRectangle,
  homeExtent,
  canManage: (entry) => canManage(entry, me),
  account, // the sign-in control: me, signIn(token), signOut()
  get catalog() {
    return catalog;
  },
  get selected() {
    return manager.selected;
  },
};
