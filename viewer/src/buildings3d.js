// Building polygons of a vector layer extruded as 3D buildings: each feature's height comes from
// an attribute picked by name (height, building:height, levels × 3 m, ...; the layer's menu can
// choose another), or from a DSM chosen as the height source (DSM minus terrain at the footprint).
// The base stands on the terrain sampled at the footprint's vertices (the lowest one, so no
// corner floats); buildings are coloured by class like the flat layer, pickable (the feature
// popup) and follow edits (a new edit version draws them again from the server's features).
import { api } from "./api.js";
import { withToken } from "./auth.js";

export const LEVEL_HEIGHT = 3; // metres per storey
export const DSM = "dsm"; // the "attribute" that samples a DSM surface instead
const MAX_FEATURES = 10000;
const DEFAULT_COLOR = "#c9a66b";

/** Attribute names read as a height, in metres (first found wins). */
export const HEIGHT_NAMES = ["height", "building:height", "building_height", "bldg_height", "height_m", "hauteur", "z"];
/** Attribute names read as a number of storeys (× LEVEL_HEIGHT). */
export const LEVEL_NAMES = ["levels", "building:levels", "building_levels", "storeys", "floors", "num_floors"];

/** A number from an attribute value ("12", "12.5 m", 12), or null. */
export function numeric(value) {
  if (typeof value === "number") return Number.isFinite(value) ? value : null;
  if (typeof value !== "string") return null;
  const m = value.trim().match(/^(-?\d+(?:[.,]\d+)?)\s*(m|meters|metres)?$/i);
  return m ? Number(m[1].replace(",", ".")) : null;
}

/**
 * The height attribute to use for features with these properties: `preferred` when some feature
 * has a number there, else the first known height name, else the first known storey name; null
 * when none has a number (the layer is not buildings).
 */
export function chooseHeightAttribute(propertiesList, preferred = null) {
  const list = (propertiesList || []).filter(Boolean);
  const has = (name) => list.some((p) => numeric(p[name]) !== null);
  if (preferred && preferred !== DSM && has(preferred)) return preferred;
  for (const name of [...HEIGHT_NAMES, ...LEVEL_NAMES]) if (has(name)) return name;
  return null;
}

/** The names of numeric attributes of these features (candidates for the menu), known ones first. */
export function numericAttributes(propertiesList) {
  const names = new Set();
  for (const p of propertiesList || []) for (const [k, v] of Object.entries(p || {})) if (numeric(v) !== null) names.add(k);
  const known = [...HEIGHT_NAMES, ...LEVEL_NAMES].filter((n) => names.has(n));
  return [...known, ...[...names].filter((n) => !known.includes(n)).sort()];
}

/** A feature's height in metres from `attribute` (storey names × LEVEL_HEIGHT); null without one. */
export function featureHeight(properties, attribute, levelHeight = LEVEL_HEIGHT) {
  if (!properties || !attribute) return null;
  const v = numeric(properties[attribute]);
  if (v === null || v <= 0) return null;
  return LEVEL_NAMES.includes(attribute) ? v * levelHeight : v;
}

/** The CSS colour of a feature's class (the dataset's classes), else the default. */
export function classColor(classes, properties, fallback = DEFAULT_COLOR) {
  const cls = properties ? properties.class : undefined;
  const def = classes && cls !== undefined && cls !== null ? classes[String(cls)] : null;
  return (def && def.color) || fallback;
}

/** Outer rings and holes of a (Multi)Polygon: [[outer, ...holes], ...] with open rings. */
export function polygonsOf(geometry) {
  if (!geometry) return [];
  const polys = geometry.type === "MultiPolygon" ? geometry.coordinates : geometry.type === "Polygon" ? [geometry.coordinates] : [];
  return polys.map((rings) =>
    rings.map((ring) => {
      const open = ring.map((p) => [p[0], p[1]]);
      const [a, b] = [open[0], open[open.length - 1]];
      if (open.length > 1 && a[0] === b[0] && a[1] === b[1]) open.pop();
      return open;
    }),
  );
}

// ---- on the globe ---------------------------------------------------------------------------------

export class Buildings3D {
  /**
   * @param viewer Cesium.Viewer
   * @param {{vectors, getTerrain: () => {id: string, exaggeration: number},
   *          onChange?: () => void, onError?: (err, title) => void}} opts
   */
  constructor(viewer, { vectors, getTerrain = () => ({ id: "ellipsoid", exaggeration: 1 }), onChange = () => {}, onError = () => {} }) {
    this.viewer = viewer;
    this.vectors = vectors;
    this.getTerrain = getTerrain;
    this.onChange = onChange;
    this.onError = onError;
    this.layers = new Map(); // vector handle id -> state
    this.dsmProviders = new Map();
  }

  /** The 3D state of a vector layer ({attribute, dsm, count, drawn}) or null when flat. */
  state(ref) {
    const handle = this.vectors.find(ref);
    return handle ? this.layers.get(handle.id) || null : null;
  }

  /**
   * Extrude a vector layer. options: {attribute (a name, "dsm" or null for automatic), dsm (a
   * terrain id used as surface when attribute is "dsm")}. Resolves with the number of buildings.
   */
  async enable(ref, { attribute = null, dsm = null } = {}) {
    const Cesium = window.Cesium;
    const handle = this.vectors.require(ref);
    let state = this.layers.get(handle.id);
    if (!state) {
      const source = new Cesium.CustomDataSource(`buildings-${handle.id}`);
      await this.viewer.dataSources.add(source);
      state = { handle, source, attribute, dsm, count: 0, drawn: null, attributes: [], busy: null };
      this.layers.set(handle.id, state);
    }
    state.attribute = attribute;
    state.dsm = dsm;
    state.drawn = null;
    await this._draw(state);
    return state.count;
  }

  /** Back to flat vector tiles. */
  disable(ref) {
    const handle = this.vectors.find(ref);
    const state = handle && this.layers.get(handle.id);
    if (!state) return;
    this.viewer.dataSources.remove(state.source, true);
    this.layers.delete(handle.id);
    if (handle.provider) handle.provider.show = handle.visible;
    this.onChange();
  }

  /** Follow the vector layers: removed ones go, edited ones (a new version) are drawn again,
   * visibility follows, the flat tiles of an extruded layer stay hidden. */
  sync() {
    for (const [id, state] of [...this.layers]) {
      const handle = this.vectors.find(id);
      if (!handle) {
        this.viewer.dataSources.remove(state.source, true);
        this.layers.delete(id);
        continue;
      }
      state.handle = handle;
      state.source.show = handle.visible;
      if (handle.provider) handle.provider.show = false;
      const key = this._key(state);
      if (state.drawn !== key && !state.busy) this._draw(state).catch((err) => this.onError(err, `3D buildings of "${handle.title}"`));
    }
  }

  _key(state) {
    const t = this.getTerrain();
    return `${state.handle.version}|${t.id}|${t.exaggeration}|${state.attribute}|${state.dsm}`;
  }

  async _surface(id) {
    const Cesium = window.Cesium;
    if (!this.dsmProviders.has(id)) {
      const url = withToken(`/terrain/${encodeURIComponent(id)}/`);
      this.dsmProviders.set(id, Cesium.CesiumTerrainProvider.fromUrl(new Cesium.Resource({ url })));
    }
    return this.dsmProviders.get(id);
  }

  async _draw(state) {
    const run = this._drawNow(state);
    state.busy = run;
    try {
      await run;
    } finally {
      state.busy = null;
      // a change that came in while drawing
      if (this.layers.get(state.handle.id) === state && state.drawn !== this._key(state)) this.sync();
    }
  }

  async _drawNow(state) {
    const Cesium = window.Cesium;
    const handle = state.handle;
    const key = this._key(state);
    const terrain = this.getTerrain();
    const flat = terrain.id === "ellipsoid" || this.viewer.terrainProvider instanceof Cesium.EllipsoidTerrainProvider;
    const page = await api.features(handle.datasetId, { bbox: handle.dataset.bounds, limit: MAX_FEATURES });
    const features = (page.features || []).filter((f) => f.geometry && /Polygon/.test(f.geometry.type));
    const props = features.map((f) => f.properties || {});
    state.attributes = numericAttributes(props);
    const useDsm = state.attribute === DSM && state.dsm;
    const attribute = useDsm ? DSM : chooseHeightAttribute(props, state.attribute);
    state.used = attribute;

    // Terrain (and DSM) heights at every footprint vertex, in one request each.
    const rings = features.map((f) => polygonsOf(f.geometry));
    const vertices = [];
    for (const polys of rings) for (const rs of polys) for (const p of rs[0]) vertices.push(p);
    let ground = vertices.map(() => 0);
    if (!flat && vertices.length) {
      const sampled = await Cesium.sampleTerrainMostDetailed(this.viewer.terrainProvider, vertices.map(([x, y]) => Cesium.Cartographic.fromDegrees(x, y)));
      ground = sampled.map((c) => (Number.isFinite(c.height) ? c.height : 0));
    }
    let surface = null;
    if (useDsm && vertices.length) {
      const dsm = await this._surface(state.dsm);
      const sampled = await Cesium.sampleTerrainMostDetailed(dsm, vertices.map(([x, y]) => Cesium.Cartographic.fromDegrees(x, y)));
      surface = sampled.map((c) => c.height);
    }

    const ex = flat ? 1 : terrain.exaggeration || 1;
    const relative = this.viewer.scene.verticalExaggerationRelativeHeight || 0;
    const drawnGround = (h) => (h - relative) * ex + relative;
    const source = state.source;
    source.entities.suspendEvents();
    source.entities.removeAll();
    let count = 0;
    let at = 0;
    features.forEach((feature, i) => {
      const n = rings[i].reduce((sum, rs) => sum + rs[0].length, 0);
      const g = ground.slice(at, at + n);
      const s = surface ? surface.slice(at, at + n) : null;
      at += n;
      let height = attribute === DSM ? null : featureHeight(feature.properties, attribute);
      if (s) {
        const diffs = s.map((v, k) => v - g[k]).filter(Number.isFinite);
        height = diffs.length ? Math.max(...diffs) : null;
      }
      if (!(height > 0)) return;
      const base = drawnGround(Math.min(...g));
      const colour = Cesium.Color.fromCssColorString(classColor(handle.classes, feature.properties)).withAlpha(Math.max(0.2, handle.opacity ?? 0.9));
      rings[i].forEach((rs, part) => {
        const hierarchy = new Cesium.PolygonHierarchy(
          Cesium.Cartesian3.fromDegreesArray(rs[0].flat()),
          rs.slice(1).map((hole) => new Cesium.PolygonHierarchy(Cesium.Cartesian3.fromDegreesArray(hole.flat()))),
        );
        const entity = source.entities.add({
          id: `${handle.id}:${feature.id}:${part}`,
          polygon: { hierarchy, height: base, extrudedHeight: base + height, material: colour, outline: false, perPositionHeight: false },
        });
        entity.cogsight = { layerId: handle.id, fid: feature.id, properties: feature.properties || {}, height };
      });
      count += 1;
    });
    source.entities.resumeEvents();
    state.count = count;
    state.drawn = key;
    if (handle.provider) handle.provider.show = false;
    this.viewer.scene.requestRender();
    this.onChange();
  }

  /** The building drawn at a window position: {handle, properties, fid, height}, or null. */
  pick(position) {
    const picked = this.viewer.scene.pick(position);
    const entity = picked && picked.id;
    const info = entity && entity.cogsight;
    if (!info) return null;
    const handle = this.vectors.find(info.layerId);
    if (!handle || !this.layers.has(handle.id)) return null;
    return { handle, properties: info.properties, fid: info.fid, height: info.height };
  }

  /** True once every extruded layer has drawn its current version. */
  get ready() {
    return [...this.layers.values()].every((s) => !s.busy && s.drawn === this._key(s));
  }
}
