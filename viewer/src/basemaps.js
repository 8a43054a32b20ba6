// Base maps: the offline Natural Earth II bundled with Cesium (always there, first) and the
// ones an administrator configured (COGSIGHT_BASEMAPS, served at /viewer/config.json), with a
// picker in the Layers tab. The attribution is the imagery provider's credit (Cesium shows it
// on the map) and is repeated under the picker. The pure helpers run under Node.
import { withToken } from "./auth.js";
import { tileErrorMessage } from "./layers.js";
import { el } from "./ui.js";

export const BUNDLED = Object.freeze({
  id: "naturalearth",
  title: "Natural Earth II (offline)",
  type: "bundled",
  url: "",
  attribution: "Natural Earth II, bundled with CesiumJS",
});
const TYPES = new Set(["xyz", "wmts"]);
const STORAGE_KEY = "cogsight.basemap";

/** The URL with `{key}` replaced by the key (the server already does it; kept for raw configs). */
export function substituteKey(url, key) {
  return key ? String(url).split("{key}").join(encodeURIComponent(key)) : String(url);
}

/** http(s) URLs and paths on this server only (no javascript:, data: or protocol-relative). */
function usableUrl(url) {
  return typeof url === "string" && (/^https?:\/\//i.test(url) || (url.startsWith("/") && !url.startsWith("//")));
}

/**
 * The base maps of a viewer config (`{basemaps: [...]}` or the list itself): the bundled one
 * first, then every usable configured one. Returns {basemaps, problems}: what was skipped
 * and why, so a configuration mistake is reported rather than silently lost.
 */
export function parseBasemaps(config) {
  const list = Array.isArray(config) ? config : config && Array.isArray(config.basemaps) ? config.basemaps : [];
  const basemaps = [BUNDLED];
  const problems = [];
  list.forEach((raw, i) => {
    const label = raw && raw.id ? `"${raw.id}"` : `#${i + 1}`;
    if (!raw || typeof raw !== "object") return problems.push(`base map ${label} is not an object`);
    const id = String(raw.id || "").trim();
    if (!id) return problems.push(`base map ${label} has no id`);
    if (basemaps.some((b) => b.id === id)) return problems.push(`base map id ${label} is used twice`);
    if (!TYPES.has(raw.type)) return problems.push(`base map ${label}: type must be "xyz" or "wmts"`);
    const url = substituteKey(raw.url || "", raw.key);
    if (!usableUrl(url)) return problems.push(`base map ${label}: url must be http(s):// or a path on this server`);
    if (raw.type === "wmts" && !raw.layer) return problems.push(`base map ${label}: a WMTS base map needs its layer`);
    basemaps.push({
      id,
      title: String(raw.title || id),
      type: raw.type,
      url,
      attribution: String(raw.attribution || ""),
      layer: raw.layer || null,
      tileMatrixSet: raw.tileMatrixSet || null,
      format: raw.format || null,
    });
    return undefined;
  });
  return { basemaps, problems };
}

/** The base map with id `wanted`, else the first (the bundled one). */
export function pickBasemap(basemaps, wanted) {
  return basemaps.find((b) => b.id === wanted) || basemaps[0];
}

/** Options for the Cesium imagery provider of a configured base map (no Cesium objects). */
export function providerOptions(basemap) {
  if (basemap.type === "xyz") return { url: basemap.url, credit: basemap.attribution || undefined };
  if (basemap.type === "wmts") {
    return {
      url: basemap.url,
      layer: basemap.layer,
      style: "default",
      tileMatrixSetID: basemap.tileMatrixSet || "GoogleMapsCompatible",
      format: basemap.format || "image/png",
      credit: basemap.attribution || undefined,
    };
  }
  throw new Error(`Base map "${basemap.id}" has no provider (type ${basemap.type})`);
}

const escapeHtml = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A Cesium imagery layer for a base map; its attribution is shown on the map (not only in
 * Cesium's "Data attribution" box). */
export function basemapLayer(basemap, { onError = () => {} } = {}) {
  const Cesium = window.Cesium;
  const credit = basemap.attribution ? new Cesium.Credit(escapeHtml(basemap.attribution), true) : undefined;
  if (basemap.type === "bundled") {
    return Cesium.ImageryLayer.fromProviderAsync(
      Cesium.TileMapServiceImageryProvider.fromUrl(Cesium.buildModuleUrl("Assets/Textures/NaturalEarthII"), { credit }),
    );
  }
  // A base map served by this server (a path) may be a private dataset's tiles: it gets the token.
  const options = { ...providerOptions(basemap), credit };
  options.url = withToken(options.url);
  const provider =
    basemap.type === "xyz"
      ? new Cesium.UrlTemplateImageryProvider({ ...options, tilingScheme: new Cesium.WebMercatorTilingScheme() })
      : new Cesium.WebMapTileServiceImageryProvider(options);
  const reported = new Set();
  // Listening also keeps Cesium from logging every missing tile to the console.
  provider.errorEvent.addEventListener(async (tileError) => {
    const message = await tileErrorMessage(tileError);
    if (message && !reported.has(message)) {
      reported.add(message);
      onError(message);
    }
  });
  return new Cesium.ImageryLayer(provider);
}

function remembered() {
  try {
    return window.localStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
}

function remember(id) {
  try {
    window.localStorage.setItem(STORAGE_KEY, id);
  } catch {
    // storage unavailable (private mode): the choice lasts for this page only
  }
}

/**
 * The "Base map" picker. The viewer starts on the bundled base map (`viewer.imageryLayers`'
 * bottom layer); `load(config)` adds the configured ones and restores the last choice.
 * @param {{root: HTMLElement, viewer: object, onError: (err, title?) => void}} opts
 */
export function createBasemapPicker({ root, viewer, onError }) {
  let basemaps = [BUNDLED];
  let current = BUNDLED;
  let layer = viewer.imageryLayers.length ? viewer.imageryLayers.get(0) : null;

  const select = el("select", { class: "input", testid: "basemap-select", onchange: () => set(select.value) });
  const attribution = el("div", { class: "hint basemap-attribution", testid: "basemap-attribution" });
  root.append(el("div", { class: "section-head" }, el("h2", {}, "Base map")), select, attribution);

  function render() {
    select.replaceChildren(...basemaps.map((b) => el("option", { value: b.id }, b.title)));
    select.value = current.id;
    attribution.textContent = current.attribution ? `© ${current.attribution}` : "";
    root.dataset.basemap = current.id;
  }

  /** Show base map `id` under every data layer; remembered for the next visit. */
  function set(id) {
    const next = basemaps.find((b) => b.id === id);
    if (!next) throw new Error(`No base map "${id}"; available: ${basemaps.map((b) => b.id).join(", ")}`);
    if (next !== current) {
      const fresh = basemapLayer(next, { onError: (message) => onError(message, `Base map "${next.title}"`) });
      viewer.imageryLayers.add(fresh, 0);
      if (layer) viewer.imageryLayers.remove(layer, true);
      layer = fresh;
      current = next;
    }
    remember(next.id);
    render();
    return current;
  }

  function load(config) {
    const parsed = parseBasemaps(config);
    basemaps = parsed.basemaps;
    if (parsed.problems.length) onError(parsed.problems.join("; "), "Base maps");
    render();
    const wanted = remembered();
    if (wanted && wanted !== current.id && basemaps.some((b) => b.id === wanted)) set(wanted);
  }

  render();
  return {
    load,
    set,
    get current() {
      return current;
    },
    get basemaps() {
      return basemaps;
    },
  };
}
