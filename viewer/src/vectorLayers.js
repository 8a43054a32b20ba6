// Vector datasets on the globe as Mapbox Vector Tiles (CesiumJS MVTDataProvider, which turns
// /vectors/{id}/tiles/{z}/{x}/{y}.mvt into a runtime 3D Tiles tileset), styled by class.
//
// A model's polygons carry `class` (+ class_name, score, area_m2, perimeter_m) and the dataset
// lists {"<class id>": {name, color}} in properties.classes: each class gets its colour. Other
// vector datasets get one colour. Tile URLs carry ?v=<edit version> so an edited dataset's
// tiles are fetched again (the server answers 204 for empty tiles; Cesium skips them).
//
// Height: on the plain WGS84 ellipsoid features at height 0 lie on the globe. With terrain
// (terrain.js) they are draped on it (HeightReference.CLAMP_TO_GROUND, which MVTDataProvider
// honours for polygons since CesiumJS 1.144; the viewer has 1.145); the app makes a layer's
// tileset again when the terrain changes. Extruded buildings: buildings3d.js.

import { withToken } from "./auth.js";
import { findHandle, hidden, requireHandle } from "./handles.js";

const DEFAULT_COLOR = "#f2b84b";
const DEFAULT_OPACITY = 0.75;

/** Cesium3DTileStyle JSON colouring features by their `class` attribute (pure; unit-tested). */
export function classStyle(classes, opacity = DEFAULT_OPACITY, fallback = DEFAULT_COLOR) {
  const alpha = Math.max(0, Math.min(1, Number(opacity)));
  const entries = Object.entries(classes || {});
  const conditions = entries.map(([id, def]) => [
    `\${class} === ${Number.isFinite(Number(id)) ? Number(id) : JSON.stringify(id)}`,
    `color('${(def && def.color) || fallback}', ${alpha})`,
  ]);
  conditions.push(["true", `color('${fallback}', ${alpha})`]);
  return { color: { conditions } };
}

/** The MVT tile URL template of a vector dataset at an edit version. */
export function vectorTileUrl(id, version = 0) {
  return `/vectors/${encodeURIComponent(id)}/tiles/{z}/{x}/{y}.mvt?v=${version}`;
}

export class VectorLayerManager {
  /**
   * @param viewer Cesium.Viewer
   * @param {{onChange?: () => void, onError?: (err, title) => void}} hooks
   */
  constructor(viewer, { onChange = () => {}, onError = () => {} } = {}) {
    this.viewer = viewer;
    this.layers = []; // handles, in the order they were added
    this.onChange = onChange;
    this.onError = onError;
    // Draped (clamped) vector tiles are baked onto the terrain by the globe's VectorProvider,
    // which drops a collection only when a later frame marks another one: with the only draped
    // layer hidden (or removed) nothing is marked and it stayed drawn. Closing each frame
    // (a no-op when something was marked in it) lets it prune them.
    viewer.scene.postRender.addEventListener((scene) => {
      const provider = scene.globe && scene.globe.vectorProvider;
      if (provider && typeof provider.update === "function") provider.update(scene.frameState.frameNumber);
    });
  }

  find(ref) {
    return findHandle(this.layers, ref);
  }

  require(ref) {
    return requireHandle(this.layers, ref, "vector layer");
  }

  /** Add a vector dataset (its catalog entry); resolves with the handle once its tileset exists. */
  async add(entry, { version = 0, opacity = DEFAULT_OPACITY, show = true } = {}) {
    if (entry.kind !== "vector") throw new Error(`"${entry.title || entry.id}" is not a vector dataset`);
    const existing = this.layers.find((h) => h.datasetId === entry.id);
    if (existing) {
      if (version !== existing.version) await this.reload(existing, version);
      return existing;
    }
    const handle = {
      id: `vector-${entry.id}`,
      datasetId: entry.id,
      kind: "vector",
      title: entry.title || entry.id,
      layer: (entry.properties && entry.properties.layer) || "features",
      classes: (entry.properties && entry.properties.classes) || null,
      visible: show,
      opacity,
      version,
      loading: true,
    };
    hidden(handle, "dataset", entry);
    hidden(handle, "provider", null);
    hidden(handle, "retiring", new Set()); // tilesets of older versions still drawn while the new one loads
    this.layers.push(handle);
    this.onChange();
    try {
      handle.provider = await this._create(handle);
    } catch (err) {
      this.layers.splice(this.layers.indexOf(handle), 1);
      this.onChange();
      throw new Error(`Vector tiles of "${handle.title}" could not be loaded: ${err.message || err}`);
    }
    handle.loading = false;
    this.onChange();
    return handle;
  }

  async _create(handle) {
    const Cesium = window.Cesium;
    const entry = handle.dataset;
    const [w, s, e, n] = entry.bounds;
    const terrain = this.viewer.terrainProvider;
    const flat = !terrain || terrain instanceof Cesium.EllipsoidTerrainProvider;
    const options = {
      minZoom: Math.max(0, entry.minzoom ?? 0),
      maxZoom: entry.maxzoom ?? 14,
      extent: Cesium.Rectangle.fromDegrees(w, s, e, n),
    };
    if (!flat) Object.assign(options, { heightReference: Cesium.HeightReference.CLAMP_TO_GROUND, scene: this.viewer.scene });
    const provider = await Cesium.MVTDataProvider.fromUrl(withToken(vectorTileUrl(handle.datasetId, handle.version)), options);
    provider.tileset.style = new Cesium.Cesium3DTileStyle(classStyle(handle.classes, handle.opacity));
    provider.tileset.tileFailed.addEventListener((event) => {
      this.onError(new Error(event.message || "a tile failed to load"), `Vector tiles of "${handle.title}"`);
    });
    provider.show = handle.visible;
    provider.cogsightLayerId = handle.id;
    provider.tileset.cogsightLayerId = handle.id;
    this.viewer.scene.primitives.add(provider);
    return provider;
  }

  /**
   * Fetch the tiles again at a new edit version (after an edit, or on a new terrain surface).
   * The old tiles stay on screen until the new ones have drawn, to avoid a flash — unless the
   * layer is hidden (a hidden tileset loads nothing, so there is nothing to wait for), and a
   * layer hidden or removed meanwhile drops them at once.
   */
  async reload(ref, version) {
    const handle = this.require(ref);
    const old = handle.provider;
    handle.version = version;
    handle.loading = true;
    const fresh = await this._create(handle);
    handle.provider = fresh;
    handle.loading = false;
    if (old) {
      handle.retiring.add(old);
      if (!handle.visible) {
        this._dropRetiring(handle);
      } else {
        let done = false;
        const finish = () => {
          if (done) return;
          done = true;
          this._drop(handle, old);
        };
        fresh.tileset.allTilesLoaded.addEventListener(finish);
        setTimeout(finish, 5000);
      }
    }
    this.onChange();
    return handle;
  }

  _drop(handle, provider) {
    handle.retiring.delete(provider);
    if (this.viewer.scene.primitives.contains(provider)) this.viewer.scene.primitives.remove(provider);
  }

  _dropRetiring(handle) {
    for (const provider of [...handle.retiring]) this._drop(handle, provider);
  }

  /** True once the layer's tiles in view have loaded. */
  loaded(ref) {
    const handle = this.require(ref);
    return Boolean(handle.provider && handle.provider.tileset && handle.provider.tileset.tilesLoaded);
  }

  setVisible(ref, visible) {
    const handle = this.require(ref);
    handle.visible = Boolean(visible);
    if (handle.provider) handle.provider.show = handle.visible;
    if (!handle.visible) this._dropRetiring(handle);
    this.onChange();
  }

  setOpacity(ref, opacity) {
    const Cesium = window.Cesium;
    const handle = this.require(ref);
    handle.opacity = Math.max(0, Math.min(1, Number(opacity)));
    if (handle.provider) handle.provider.tileset.style = new Cesium.Cesium3DTileStyle(classStyle(handle.classes, handle.opacity));
  }

  remove(ref) {
    const handle = this.require(ref);
    this._dropRetiring(handle);
    if (handle.provider) this.viewer.scene.primitives.remove(handle.provider);
    handle.provider = null;
    this.layers.splice(this.layers.indexOf(handle), 1);
    this.onChange();
  }

  /**
   * The vector layer and MVT attributes of the feature drawn at a window position, or null.
   * (Attributes from tiles; the full-precision feature comes from /vectors/{id}/features.)
   */
  pick(position) {
    const picked = this.viewer.scene.pick(position);
    if (!picked || typeof picked.getProperty !== "function") return null;
    const tileset = picked.tileset || picked.primitive;
    const handle = this.layers.find((h) => h.provider && (h.provider.tileset === tileset || h.provider === tileset));
    if (!handle) return null;
    const properties = {};
    const ids = typeof picked.getPropertyIds === "function" ? picked.getPropertyIds() : [];
    for (const key of ids) if (!key.startsWith("_")) properties[key] = picked.getProperty(key);
    return { handle, properties };
  }

  /** The visible layers whose bounds contain a point (for lookups when picking found nothing). */
  layersAt(lon, lat) {
    return this.layers.filter((h) => {
      if (!h.visible || !h.provider) return false;
      const [w, s, e, n] = h.dataset.bounds;
      return lon >= w && lon <= e && lat >= s && lat <= n;
    });
  }
}
