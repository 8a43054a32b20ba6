// cogsight viewer bootstrap: Cesium globe (no ion, nothing off-host), catalog, layers, render picker.
import { api } from "./api.js";
import { createCatalogPanel } from "./catalogPanel.js";
import { createLayersPanel } from "./layersPanel.js";
import {
  LayerManager,
  defaultRender,
  fallbackRescale,
  findIndex,
  normalizeRender,
  rescaleFromStatistics,
  statisticsQuery,
  tileUrl,
} from "./layers.js";
import { createRenderPicker } from "./renderPicker.js";
import { createStatusBar } from "./statusBar.js";
import { installGlobalErrorHandlers, showError, showWarning } from "./ui.js";

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
  baseLayer: Cesium.ImageryLayer.fromProviderAsync(
    Cesium.TileMapServiceImageryProvider.fromUrl(Cesium.buildModuleUrl("Assets/Textures/NaturalEarthII")),
  ),
  terrainProvider: new Cesium.EllipsoidTerrainProvider(),
  geocoder: false,
  baseLayerPicker: false,
  timeline: false,
  animation: false,
  homeButton: true,
  sceneModePicker: true,
  infoBox: false,
  selectionIndicator: false,
  requestRenderMode: false,
  navigationHelpButton: true,
  navigationInstructionsInitiallyVisible: false,
  fullscreenButton: true,
});
viewer.scene.globe.baseColor = Cesium.Color.fromCssColorString("#0b1220");

// ---- State ------------------------------------------------------------------------------------

const catalog = { datasets: [], mosaics: [], indices: [], loaded: false };

const manager = new LayerManager(viewer, {
  onChange: () => refreshPanels(),
  onTileError: (handle, message) => showError(message, `Tiles for "${handle.title}"`),
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
  const pools = source === "mosaic" ? [["mosaic", catalog.mosaics]] : source === "raster" ? [["raster", catalog.datasets]] : [["raster", catalog.datasets], ["mosaic", catalog.mosaics]];
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
  refreshPanels();
  if (!catalog.loaded) throw datasets.reason;
  if (document.body.dataset.ready !== "1") {
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

// ---- Public operations (also the test hook) ---------------------------------------------------------

/**
 * Add a dataset (or mosaic) by id. options: {render, source: "raster"|"mosaic", opacity, show,
 * flyTo (default true), duration (seconds)}. Resolves with the layer handle after the camera flight.
 */
async function addDataset(id, options = {}) {
  await ensureCatalog();
  let found = findEntry(id, options.source);
  if (!found) {
    await loadCatalog(); // it may have been registered after the page loaded
    found = findEntry(id, options.source);
  }
  if (!found) throw new Error(`No dataset or mosaic with id "${id}" in the catalog`);
  const { entry, source } = found;
  if (entry.kind === "vector") throw new Error(`"${entry.title || id}" is a vector dataset; only rasters can be displayed`);
  const render = await resolveRender(entry, source, options.render || defaultRender(entry, { allowAuto: source === "raster" }));
  const handle = manager.add(entry, source, render, { opacity: options.opacity ?? 1, show: options.show ?? true });
  if (options.flyTo !== false) await manager.zoomTo(handle, { duration: options.duration });
  return handle;
}

/** Change a layer's render in place. `ref` is a layer handle or its id. Resolves with the handle. */
async function setRender(ref, render) {
  const handle = manager.require(ref);
  const resolved = await resolveRender(handle.dataset, handle.source, render);
  if (!manager.layers.includes(handle)) throw new Error(`Layer "${handle.id}" was removed`);
  return manager.replaceRender(handle, resolved);
}

function removeLayer(ref) {
  manager.remove(ref);
}

function zoomTo(ref, options) {
  return manager.zoomTo(ref, options);
}

// ---- Panels --------------------------------------------------------------------------------------

const catalogPanel = createCatalogPanel({
  root: document.getElementById("catalog"),
  onAdd: (entry, source) => addDataset(entry.id, { source }).catch((err) => showError(err, `Could not add "${entry.title || entry.id}"`)),
  onRefresh: () => loadCatalog().catch(() => {}), // errors already shown by loadCatalog
});

const layersPanel = createLayersPanel({
  root: document.getElementById("layers"),
  manager,
  onZoom: (handle) => zoomTo(handle).catch((err) => showError(err)),
  onError: (err) => showError(err),
});

const renderPicker = createRenderPicker({
  root: document.getElementById("render"),
  getIndices: () => catalog.indices,
  apply: (handle, render) => setRender(handle, render),
  autoRescale,
  onError: (err) => showError(err, "Render"),
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
}

// ---- Start -----------------------------------------------------------------------------------------

// Resolves with the catalog once it has loaded; rejects (with the server's message) when the
// first load fails. body[data-ready] becomes "1" on success or "error" on failure.
const firstLoad = loadCatalog().catch((err) => {
  if (document.body.dataset.ready !== "1") document.body.dataset.ready = "error";
  throw err;
});
firstLoad.catch(() => {}); // already shown in the message area; awaiting callers still see the rejection

window.cogsight = {
  viewer,
  addDataset,
  setRender,
  removeLayer,
  zoomTo,
  layers: manager.layers, // live array of layer handles, bottom -> top
  ready: firstLoad,
  tileUrl,
  reloadCatalog: loadCatalog,
  get catalog() {
    return catalog;
  },
  get selected() {
    return manager.selected;
  },
};
