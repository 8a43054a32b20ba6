// Layer model: pure render/URL helpers (no Cesium, no DOM at import time, so they can be
// unit-tested under Node) and the LayerManager that owns the Cesium imagery layers.

import { withToken } from "./auth.js";
import { findHandle, hidden, requireHandle } from "./handles.js";

export const TILE_SIZE = 256;
export const COLORMAPS = ["rdylgn", "viridis", "blues", "ylgn", "magma", "rdbu", "greys"];
const MAX_MERCATOR_LAT = 85.05112878;
const MAX_LEVEL = 24;

// ---------------------------------------------------------------------------------------------
// Render descriptions
//
//   {mode: "bands", bands: [3, 2, 1], rescale: [[0, 3000]]}            (1-based band indexes)
//   {mode: "index", index: "NDVI", colormap: "rdylgn", rescale: [[-1, 1]]}
//   {mode: "expression", expression: "(b4-b3)/(b4+b3)", colormap: "viridis", rescale: [[-1, 1]]}
//
// `rescale` is a list of [min, max] pairs (one, or one per band), or "auto" before resolution.
// ---------------------------------------------------------------------------------------------

const isNum = (v) => typeof v === "number" && Number.isFinite(v);

/** Accept [a, b], [[a, b], ...], "a,b", "auto" or nothing; return [[a, b], ...] | "auto" | null. */
export function normalizeRescale(rescale) {
  if (rescale === undefined || rescale === null || rescale === "") return null;
  if (rescale === "auto") return "auto";
  if (typeof rescale === "string") rescale = rescale.split(",").map(Number);
  if (!Array.isArray(rescale) || rescale.length === 0) throw new Error("rescale must be [min, max] or a list of [min, max] pairs");
  const pairs = Array.isArray(rescale[0]) ? rescale : [rescale];
  return pairs.map((pair) => {
    const [lo, hi] = (pair || []).map(Number);
    if (!Array.isArray(pair) || pair.length !== 2 || !isNum(lo) || !isNum(hi)) {
      throw new Error(`Invalid rescale range ${JSON.stringify(pair)}: expected two numbers [min, max]`);
    }
    if (lo === hi) throw new Error(`Invalid rescale range ${lo},${hi}: min and max must differ`);
    return [lo, hi];
  });
}

export function bandCount(dataset) {
  const names = dataset && Array.isArray(dataset.band_names) ? dataset.band_names : [];
  return names.length;
}

/** Resolve a band reference (1-based index, numeric string, or band name) to a 1-based index. */
export function bandIndex(dataset, ref) {
  const names = (dataset && dataset.band_names) || [];
  if (isNum(ref) || (typeof ref === "string" && /^\d+$/.test(ref.trim()))) {
    const i = Number(ref);
    if (!Number.isInteger(i) || i < 1 || (names.length && i > names.length)) {
      throw new Error(`Band ${ref} does not exist (dataset has ${names.length || "?"} bands)`);
    }
    return i;
  }
  if (typeof ref === "string") {
    const want = ref.trim().toLowerCase();
    const i = names.findIndex((n) => String(n).toLowerCase() === want);
    if (i >= 0) return i + 1;
  }
  throw new Error(`Unknown band ${JSON.stringify(ref)}; available: ${names.join(", ") || "none listed"}`);
}

export function findIndex(indices, name) {
  const want = String(name || "").toLowerCase();
  return (indices || []).find((ix) => String(ix.name).toLowerCase() === want) || null;
}

/**
 * True when every band an index needs is among the dataset's band names (or when the dataset
 * lists no band names at all, in which case the server decides).
 */
export function indexAvailable(dataset, index) {
  const listed = (dataset && dataset.band_names) || [];
  if (!listed.length) return true;
  const names = new Set(listed.map((n) => String(n).toLowerCase()));
  return (index.bands || []).every((b) => names.has(String(b).toLowerCase()));
}

/** Rescale defaults that need no server round-trip, by sensor and dtype. */
export function fallbackRescale(dataset) {
  const dtype = String((dataset && dataset.dtype) || "").toLowerCase();
  const sensor = (dataset && dataset.sensor) || "generic";
  if (dtype === "uint8") return [[0, 255]];
  if (sensor === "sentinel-2-l2a") return [[0, 3000]];
  if (sensor === "landsat-c2l2") return [[7000, 16000]];
  if (dtype.startsWith("float")) return [[0, 1]];
  return [[0, 3000]];
}

/** Default rescale for a band render: fixed for well-known sensors / 8-bit data, else "auto". */
export function defaultRescale(dataset, { allowAuto = true } = {}) {
  const dtype = String((dataset && dataset.dtype) || "").toLowerCase();
  const sensor = (dataset && dataset.sensor) || "generic";
  if (dtype === "uint8" || sensor === "sentinel-2-l2a" || sensor === "landsat-c2l2" || !allowAuto) {
    return fallbackRescale(dataset);
  }
  return "auto";
}

/** Class definitions ({"1": {name, color}}) of a model's class raster, or null. */
export function datasetClasses(dataset) {
  const classes = dataset && dataset.properties && dataset.properties.classes;
  if (!classes || typeof classes !== "object" || !Object.keys(classes).length) return null;
  return classes;
}

/** "#1f6fd1" -> [31, 111, 209]; null for anything else. */
export function hexToRgb(hex) {
  const m = /^#?([0-9a-f]{6})$/i.exec(String(hex || "").trim());
  if (!m) return null;
  const v = parseInt(m[1], 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

/** titiler's `colormap` JSON for a class raster; hidden classes are transparent. */
export function classColormap(classes, hidden = []) {
  const out = {};
  for (const [key, def] of Object.entries(classes || {})) {
    const rgb = hexToRgb(def && def.color) || [128, 128, 128];
    out[key] = [...rgb, hidden.map(String).includes(String(key)) ? 0 : 255];
  }
  return out;
}

/**
 * The dataset's stored default rendering (properties.render, decided by the server when the
 * dataset was registered: per-band 2-98 % stretch) as a viewer render; null when there is none
 * or it is not a plain band render.
 */
export function storedRender(dataset) {
  const stored = dataset && dataset.properties && dataset.properties.render;
  if (!stored || typeof stored !== "object" || stored.colormap || stored.expression || stored.index) return null;
  const bands = Array.isArray(stored.bidx) ? stored.bidx.map(Number) : null;
  if (!bands || !(bands.length === 1 || bands.length === 3) || bands.some((b) => !Number.isInteger(b))) return null;
  const rescale = Array.isArray(stored.rescale) && stored.rescale.length ? stored.rescale.map((r) => r.map(Number)) : null;
  const colormap = stored.colormap_name && stored.colormap_name !== "gray" ? String(stored.colormap_name) : null;
  if (colormap && bands.length === 1) return { mode: "expression", expression: `b${bands[0]}`, colormap, rescale: rescale ?? "auto" };
  return { mode: "bands", bands, rescale: rescale ?? fallbackRescale(dataset) };
}

/**
 * The server's stored default rendering when there is one; else natural colour when
 * red/green/blue exist, else bands 1/2/3, else band 1 in gray; a model's class raster (band
 * "class" with classes in its properties) renders its classes.
 */
export function defaultRender(dataset, { allowAuto = true } = {}) {
  const classes = datasetClasses(dataset);
  if (classes && String(((dataset && dataset.band_names) || [])[0] || "").toLowerCase() === "class") {
    return { mode: "classes", band: 1, classes, hidden: "0" in classes ? ["0"] : [] };
  }
  const stored = storedRender(dataset);
  if (stored) return stored;
  const names = ((dataset && dataset.band_names) || []).map((n) => String(n).toLowerCase());
  const at = (n) => names.indexOf(n) + 1;
  let bands;
  if (at("red") && at("green") && at("blue")) bands = [at("red"), at("green"), at("blue")];
  else if (names.length >= 3) bands = [1, 2, 3];
  else bands = [1];
  return { mode: "bands", bands, rescale: defaultRescale(dataset, { allowAuto }) };
}

/**
 * Validate a render description against a dataset and fill defaults that need no server
 * call. The returned rescale may still be "auto" (resolve it with statistics).
 * Throws Error with a readable message on invalid input.
 */
export function normalizeRender(render, dataset, indices = []) {
  if (!render || typeof render !== "object") throw new Error("render must be an object");
  const mode = String(render.mode || (render.index ? "index" : render.expression ? "expression" : "bands")).toLowerCase();
  let rescale = normalizeRescale(render.rescale);

  if (mode === "bands") {
    const refs = render.bands ?? render.bidx ?? defaultRender(dataset).bands;
    const list = Array.isArray(refs) ? refs : [refs];
    if (list.length !== 1 && list.length !== 3) throw new Error("bands must list 1 (gray) or 3 (R, G, B) bands");
    const bands = list.map((ref) => bandIndex(dataset, ref));
    if (Array.isArray(rescale) && rescale.length !== 1 && rescale.length !== bands.length) {
      throw new Error(`rescale needs 1 or ${bands.length} [min, max] pairs, got ${rescale.length}`);
    }
    return { mode, bands, rescale: rescale ?? defaultRescale(dataset) };
  }

  if (mode === "index") {
    const def = findIndex(indices, render.index);
    if (!def) {
      const known = (indices || []).map((ix) => ix.name).join(", ");
      throw new Error(`Unknown index ${JSON.stringify(render.index)}${known ? `; available: ${known}` : ""}`);
    }
    if (!indexAvailable(dataset, def)) {
      throw new Error(
        `${def.name} needs bands ${def.bands.join(", ")}; this dataset has ${((dataset && dataset.band_names) || []).join(", ") || "no named bands"}`,
      );
    }
    if (!rescale && Array.isArray(def.range) && def.range.length === 2) rescale = [def.range.map(Number)];
    const colormap = String(render.colormap || def.colormap || "viridis").toLowerCase();
    return { mode, index: def.name, colormap, rescale: rescale ?? "auto" };
  }

  if (mode === "classes") {
    const classes = render.classes || datasetClasses(dataset);
    if (!classes) throw new Error("This dataset has no classes to show; use bands, an index or an expression");
    const band = bandIndex(dataset, render.band ?? 1);
    const hiddenClasses = (render.hidden || []).map(String).filter((k) => k in classes);
    return { mode, band, classes, hidden: hiddenClasses, rescale: null };
  }

  if (mode === "expression") {
    const expression = String(render.expression || "").trim();
    if (!expression) throw new Error("expression must not be empty");
    const multiBand = expression.includes(";");
    const colormap = !multiBand && render.colormap ? String(render.colormap).toLowerCase() : null;
    return { mode, expression, colormap, rescale: rescale ?? "auto" };
  }

  throw new Error(`Unknown render mode ${JSON.stringify(render.mode)}; use "bands", "index" or "expression"`);
}

/** Encode a query value but keep commas readable (rescale=0,3000). */
const enc = (v) => encodeURIComponent(String(v)).replace(/%2C/gi, ",");

/** [key, value] pairs selecting what to read: bidx | index | expression. */
function selectorParams(render) {
  if (render.mode === "classes") return [["bidx", render.band || 1]];
  if (render.mode === "index") return [["index", render.index]];
  if (render.mode === "expression") return [["expression", render.expression]];
  return (render.bands || [1]).map((b) => ["bidx", b]);
}

/** The tile query string (without "?") for a normalized render. */
export function renderQuery(render) {
  const params = selectorParams(render);
  if (render.mode === "classes") params.push(["colormap", JSON.stringify(classColormap(render.classes, render.hidden))]);
  else if (render.mode !== "bands" && render.colormap) params.push(["colormap_name", render.colormap]);
  if (Array.isArray(render.rescale)) for (const [lo, hi] of render.rescale) params.push(["rescale", `${lo},${hi}`]);
  params.push(["tilesize", TILE_SIZE]);
  return params.map(([k, v]) => `${k}=${enc(v)}`).join("&");
}

/** Query string for GET /raster/{id}/statistics matching a render. */
export function statisticsQuery(render) {
  return selectorParams(render)
    .map(([k, v]) => `${k}=${enc(v)}`)
    .join("&");
}

/**
 * Tile URL template for Cesium's UrlTemplateImageryProvider ({z}/{x}/{y} left in place).
 * kind: "raster" (a dataset) or "mosaic".
 */
export function tileUrl(kind, id, render) {
  let prefix;
  if (kind === "raster" || kind === "dataset") prefix = "/raster";
  else if (kind === "mosaic" || kind === "mosaics") prefix = "/mosaics";
  else throw new Error(`Unknown layer kind ${JSON.stringify(kind)}; use "raster" or "mosaic"`);
  return `${prefix}/${encodeURIComponent(id)}/tiles/WebMercatorQuad/{z}/{x}/{y}.png?${renderQuery(render)}`;
}

/** Round a value to a few significant digits for display-friendly rescale ranges. */
function tidy(v, span) {
  if (!isNum(v)) return v;
  if (span >= 100) return Math.round(v);
  const digits = Math.max(0, 2 - Math.floor(Math.log10(Math.max(span, 1e-9))));
  return Number(v.toFixed(Math.min(digits, 8)));
}

/**
 * Rescale from a titiler statistics response ({"b1": {percentile_2, percentile_98, min, max}, ...}).
 * Band renders use one range spanning all bands; index/expression renders use the first entry.
 */
export function rescaleFromStatistics(stats, render) {
  const entries = Object.values(stats || {}).filter((s) => s && typeof s === "object");
  if (!entries.length) throw new Error("Statistics response contained no band statistics");
  const used = render && render.mode === "bands" ? entries : entries.slice(0, 1);
  const pick = (s, key, alt) => (isNum(s[key]) ? s[key] : s[alt]);
  let lo = Math.min(...used.map((s) => pick(s, "percentile_2", "min")));
  let hi = Math.max(...used.map((s) => pick(s, "percentile_98", "max")));
  if (!isNum(lo) || !isNum(hi)) throw new Error("Statistics response has no usable min/max values");
  if (lo === hi) {
    lo = Math.min(...used.map((s) => s.min));
    hi = Math.max(...used.map((s) => s.max));
    if (!isNum(lo) || !isNum(hi) || lo === hi) {
      lo = isNum(lo) ? lo : 0;
      hi = lo + 1;
    }
  }
  const span = hi - lo;
  lo = tidy(lo, span);
  hi = tidy(hi, span);
  if (lo === hi) hi = lo + span; // tidy collapsed a tiny range
  return [[lo, hi]];
}

// ---------------------------------------------------------------------------------------------
// Geometry helpers
// ---------------------------------------------------------------------------------------------

/** Clamp [west, south, east, north] to valid Web Mercator degrees; null if unusable. */
export function clampBounds(bounds) {
  if (!Array.isArray(bounds) || bounds.length !== 4 || !bounds.every(isNum)) return null;
  let [w, s, e, n] = bounds;
  w = Math.max(-180, Math.min(180, w));
  e = Math.max(-180, Math.min(180, e));
  s = Math.max(-MAX_MERCATOR_LAT, Math.min(MAX_MERCATOR_LAT, s));
  n = Math.max(-MAX_MERCATOR_LAT, Math.min(MAX_MERCATOR_LAT, n));
  if (n <= s) return null;
  if (w === e) return null;
  return [w, s, e, n];
}

function tileXY(lon, lat, z) {
  const n = 2 ** z;
  const x = ((lon + 180) / 360) * n;
  const r = (lat * Math.PI) / 180;
  const y = ((1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2) * n;
  return [x, y];
}

/** Number of Web Mercator tiles covering bounds at zoom z (antimeridian-aware). */
export function tileCount(bounds, z) {
  const b = clampBounds(bounds);
  if (!b) return Infinity;
  const [w, s, e, n] = b;
  const size = 2 ** z;
  const eps = 1e-9;
  const [x0, y0] = tileXY(w, n, z);
  const [x1, y1] = tileXY(e, s, z);
  const fx0 = Math.floor(x0);
  const fx1 = Math.min(size - 1, Math.floor(x1 - eps));
  const fy0 = Math.max(0, Math.floor(y0));
  const fy1 = Math.min(size - 1, Math.floor(y1 - eps));
  const nx = w <= e ? fx1 - fx0 + 1 : size - fx0 + fx1 + 1;
  return Math.max(1, nx) * Math.max(1, fy1 - fy0 + 1);
}

/**
 * Level range for the imagery provider. The minimum level is the deepest level <= minzoom
 * at which the data still fits in 4 tiles (so it shows, cheaply, when zoomed far out);
 * the maximum is maxzoom + 2 (server-side oversampling beats Cesium's stretching a little).
 */
export function levelRange(entry) {
  const minzoom = isNum(entry && entry.minzoom) ? Math.max(0, Math.floor(entry.minzoom)) : 0;
  const maxzoom = isNum(entry && entry.maxzoom) ? Math.floor(entry.maxzoom) : 18;
  let minimumLevel = 0;
  for (let z = Math.min(minzoom, maxzoom); z >= 0; z--) {
    if (tileCount(entry.bounds, z) <= 4) {
      minimumLevel = z;
      break;
    }
  }
  const maximumLevel = Math.max(minimumLevel, Math.min(MAX_LEVEL, maxzoom + 2));
  return { minimumLevel, maximumLevel };
}

/** One-line description of a render for the layer list. */
export function describeRender(render, dataset) {
  if (!render) return "";
  const rs = Array.isArray(render.rescale) ? ` · ${render.rescale.map((r) => r.join("–")).join(" / ")}` : "";
  if (render.mode === "classes") {
    const shown = Object.entries(render.classes || {}).filter(([k]) => !(render.hidden || []).includes(String(k)));
    return `classes · ${shown.map(([, c]) => c.name).join(", ")}`;
  }
  if (render.mode === "index") return `${render.index} · ${render.colormap}${rs}`;
  if (render.mode === "expression") return `${render.expression}${render.colormap ? ` · ${render.colormap}` : ""}${rs}`;
  const names = (dataset && dataset.band_names) || [];
  const label = (render.bands || []).map((b) => names[b - 1] || `b${b}`);
  return `${label.length === 1 ? "gray" : "RGB"} ${label.join(" · ")}${rs}`;
}

// ---------------------------------------------------------------------------------------------
// LayerManager: Cesium imagery layers for added datasets/mosaics (uses the global Cesium).
// ---------------------------------------------------------------------------------------------

let handleCounter = 0;

export class LayerManager {
  /**
   * @param viewer Cesium.Viewer
   * @param {{onChange?: Function, onTileError?: (handle, message) => void}} hooks
   */
  constructor(viewer, { onChange = () => {}, onTileError = () => {} } = {}) {
    this.viewer = viewer;
    this.layers = []; // handles, bottom -> top, same order as in viewer.imageryLayers
    this.selected = null;
    this.onChange = onChange;
    this.onTileError = onTileError;
  }

  find(ref) {
    return findHandle(this.layers, ref);
  }

  require(ref) {
    return requireHandle(this.layers, ref, "layer");
  }

  /** Add an imagery layer on top. `render` must be normalized with a numeric rescale. */
  add(entry, source, render, { opacity = 1, show = true } = {}) {
    const base = String(entry.id);
    let id = base;
    for (let n = 2; this.layers.some((h) => h.id === id); n++) id = `${base}-${n}`;
    const handle = {
      id,
      datasetId: entry.id,
      source, // "raster" | "mosaic"
      title: entry.title || entry.id,
      render,
      visible: show,
      opacity,
      url: "",
      split: null,
      serial: ++handleCounter,
    };
    hidden(handle, "dataset", entry);
    hidden(handle, "imageryLayer", null);
    hidden(handle, "generation", 0);
    const layer = this._createLayer(handle);
    this.viewer.imageryLayers.add(layer);
    handle.imageryLayer = layer;
    this.layers.push(handle);
    this.selected = handle;
    this.onChange();
    return handle;
  }

  _createLayer(handle) {
    const Cesium = window.Cesium;
    const entry = handle.dataset;
    const bounds = clampBounds(entry.bounds);
    const rectangle = bounds ? Cesium.Rectangle.fromDegrees(...bounds) : undefined;
    const { minimumLevel, maximumLevel } = bounds ? levelRange(entry) : { minimumLevel: 0, maximumLevel: 18 };
    handle.url = tileUrl(handle.source, entry.id, handle.render);
    handle.generation += 1;
    const generation = handle.generation;

    const provider = new Cesium.UrlTemplateImageryProvider({
      url: withToken(handle.url), // handle.url stays token-free (shown, saved, compared)
      tilingScheme: new Cesium.WebMercatorTilingScheme(),
      rectangle,
      minimumLevel,
      maximumLevel,
      tileWidth: TILE_SIZE,
      tileHeight: TILE_SIZE,
      hasAlphaChannel: true,
      enablePickFeatures: false,
    });
    handle.tileError = null;
    const reported = new Set();
    // Listening also stops Cesium from logging every failed tile to the console.
    provider.errorEvent.addEventListener(async (tileError) => {
      const message = await tileErrorMessage(tileError);
      if (!message || generation !== handle.generation || !this.layers.includes(handle)) return;
      if (reported.has(message)) return; // report each distinct problem once per render
      reported.add(message);
      handle.tileError = message;
      this.onTileError(handle, message);
      this.onChange();
    });
    const layer = new Cesium.ImageryLayer(provider, {
      rectangle,
      alpha: handle.opacity,
      show: handle.visible,
    });
    layer.cogsightLayerId = handle.id;
    applySplit(layer, handle.split);
    return layer;
  }

  /** Show the layer only left or right of the swipe divider ("left" | "right"), or everywhere (null). */
  setSplit(ref, side) {
    const handle = this.require(ref);
    handle.split = side === "left" || side === "right" ? side : null;
    applySplit(handle.imageryLayer, handle.split);
  }

  /** Swap the layer's imagery provider for a new render, keeping its place in the stack. */
  replaceRender(ref, render) {
    const handle = this.require(ref);
    const layers = this.viewer.imageryLayers;
    const old = handle.imageryLayer;
    const index = layers.indexOf(old);
    handle.render = render;
    const layer = this._createLayer(handle);
    layers.remove(old, true);
    layers.add(layer, index >= 0 ? index : undefined);
    handle.imageryLayer = layer;
    this.onChange();
    return handle;
  }

  remove(ref) {
    const handle = this.require(ref);
    this.viewer.imageryLayers.remove(handle.imageryLayer, true);
    handle.imageryLayer = null;
    handle.generation += 1;
    this.layers.splice(this.layers.indexOf(handle), 1);
    if (this.selected === handle) this.selected = this.layers[this.layers.length - 1] || null;
    this.onChange();
  }

  select(ref) {
    this.selected = ref ? this.require(ref) : null;
    this.onChange();
  }

  setVisible(ref, visible) {
    const handle = this.require(ref);
    handle.visible = Boolean(visible);
    handle.imageryLayer.show = handle.visible;
    this.onChange();
  }

  setOpacity(ref, opacity) {
    const handle = this.require(ref);
    handle.opacity = Math.max(0, Math.min(1, Number(opacity)));
    handle.imageryLayer.alpha = handle.opacity;
    // No onChange: avoids rebuilding the list while a slider is dragged.
  }

  /** Move a layer up (delta = +1) or down (-1) in the stack. */
  move(ref, delta) {
    const handle = this.require(ref);
    const i = this.layers.indexOf(handle);
    const j = i + delta;
    if (j < 0 || j >= this.layers.length) return;
    if (delta > 0) this.viewer.imageryLayers.raise(handle.imageryLayer);
    else this.viewer.imageryLayers.lower(handle.imageryLayer);
    this.layers.splice(i, 1);
    this.layers.splice(j, 0, handle);
    this.onChange();
  }

  /** Fly to the layer's bounds; resolves when the flight ends (or is interrupted). */
  zoomTo(ref, { duration } = {}) {
    const handle = this.require(ref);
    return flyToBounds(this.viewer, handle.dataset.bounds, { duration });
  }
}

function applySplit(layer, side) {
  const Cesium = window.Cesium;
  if (!layer || !Cesium.SplitDirection) return;
  layer.splitDirection = side === "left" ? Cesium.SplitDirection.LEFT : side === "right" ? Cesium.SplitDirection.RIGHT : Cesium.SplitDirection.NONE;
}

/**
 * Readable message for a failed tile, or null when the failure just means "no data here"
 * (404, 204, or the undecodable empty body a 204 yields).
 */
export async function tileErrorMessage(tileError) {
  const err = tileError && tileError.error;
  const status = err && err.statusCode;
  if (status === 404 || status === 204 || status === undefined) return null;
  let message = status ? `Tile request failed (HTTP ${status})` : "Tile request failed (network error)";
  try {
    const body = err.response;
    const text = body instanceof Blob ? await body.text() : typeof body === "string" ? body : "";
    if (text) {
      const json = JSON.parse(text);
      if (json && typeof json.detail === "string") message = json.detail;
      else if (json && json.detail) message = JSON.stringify(json.detail);
    }
  } catch {
    // Body was not JSON; keep the HTTP status message.
  }
  return message;
}

export function flyToBounds(viewer, bounds, { duration } = {}) {
  const Cesium = window.Cesium;
  const b = clampBounds(bounds);
  if (!b) return Promise.reject(new Error("This layer has no usable bounds to zoom to"));
  let [w, s, e, n] = b;
  // Leave a margin around the data.
  const padX = ((e >= w ? e - w : e + 360 - w) || 0.01) * 0.1;
  const padY = (n - s || 0.01) * 0.1;
  w = Math.max(-180, w - padX);
  e = Math.min(180, e + padX);
  s = Math.max(-89, s - padY);
  n = Math.min(89, n + padY);
  return new Promise((resolve) => {
    viewer.camera.flyTo({
      destination: Cesium.Rectangle.fromDegrees(w, s, e, n),
      duration,
      complete: () => resolve(true),
      cancel: () => resolve(false),
    });
  });
}
