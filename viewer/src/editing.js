// Editing a vector layer's polygons on the globe; every change is saved at once.
//
//   click a polygon ............ select it (its vertices and edge midpoints get handles)
//   drag a vertex .............. move it                       -> PATCH /vectors/{id}/features/{fid}
//   click an edge midpoint ..... add a vertex there            -> PATCH
//   Ctrl+click a vertex ........ delete it (rings keep >= 3)   -> PATCH
//   "Add polygon" .............. draw a new one                -> POST  /vectors/{id}/features
//   "Delete" / Delete key ...... remove the selected polygon   -> DELETE /vectors/{id}/features/{fid}
//   "Undo" / Ctrl+Z ............ revert the last saved edit    -> POST  /vectors/{id}/undo
//
// The server answers the feature as saved and the dataset's new version; the layer's tiles are
// then fetched again at that version, and the selection shows the server's geometry.
import { api } from "./api.js";
import { DrawCancelled, lonLatAt } from "./draw.js";
import { clear, el } from "./ui.js";

const LOOKUP_EPSILON = 1e-7; // degrees: the bbox used to find the feature under a click
const MIN_RING = 3;

// ---- geometry model (pure helpers, unit-tested) ---------------------------------------------

/** GeoJSON Polygon/MultiPolygon -> parts[rings[[lon, lat]...]] with open rings. */
export function toParts(geometry) {
  const polygons = geometry.type === "MultiPolygon" ? geometry.coordinates : [geometry.coordinates];
  return polygons.map((rings) =>
    rings.map((ring) => {
      const open = ring.map((p) => [p[0], p[1]]);
      const [a, b] = [open[0], open[open.length - 1]];
      if (open.length > 1 && a[0] === b[0] && a[1] === b[1]) open.pop();
      return open;
    }),
  );
}

/** parts -> GeoJSON of the same type as `like` (a MultiPolygon stays one). */
export function fromParts(parts, like = "Polygon") {
  const close = (ring) => [...ring.map((p) => [p[0], p[1]]), [ring[0][0], ring[0][1]]];
  const polygons = parts.map((rings) => rings.map(close));
  return like === "MultiPolygon" || polygons.length > 1 ? { type: "MultiPolygon", coordinates: polygons } : { type: "Polygon", coordinates: polygons[0] };
}

function insideRing([x, y], ring) {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i];
    const [xj, yj] = ring[j];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** Point-in-polygon over all parts, holes respected. */
export function containsPoint(geometry, point) {
  return toParts(geometry).some((rings) => insideRing(point, rings[0]) && !rings.slice(1).some((hole) => insideRing(point, hole)));
}

function ringArea(ring) {
  let a = 0;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) a += (ring[j][0] + ring[i][0]) * (ring[j][1] - ring[i][1]);
  return Math.abs(a / 2);
}

export function planarArea(geometry) {
  return toParts(geometry).reduce((sum, rings) => sum + ringArea(rings[0]) - rings.slice(1).reduce((h, r) => h + ringArea(r), 0), 0);
}

// ---- the editor --------------------------------------------------------------------------------

export class VectorEditor {
  /**
   * @param {{viewer, vectors: import("./vectorLayers.js").VectorLayerManager,
   *          draw: import("./draw.js").DrawTool, container: HTMLElement,
   *          popup: ReturnType<import("./featurePopup.js").createFeaturePopup>,
   *          onError: (err, title) => void, onChange?: () => void}} opts
   */
  constructor({ viewer, vectors, draw, container, popup, onError, onChange = () => {} }) {
    this.viewer = viewer;
    this.vectors = vectors;
    this.draw = draw;
    this.popup = popup;
    this.onError = onError;
    this.onChange = onChange;
    this.layer = null; // the vector handle being edited
    this.feature = null; // {id, geometry, properties} as saved on the server
    this.parts = null; // the selection's geometry being edited (may differ while dragging)
    this.busy = false;
    this.version = 0;
    this.entities = [];
    this.handler = null;
    this.drag = null;
    this._buildToolbar(container);
    this._onKey = (e) => this._key(e);
  }

  get active() {
    return this.layer;
  }

  // ---- toolbar --------------------------------------------------------------------------------

  _buildToolbar(container) {
    const button = (label, testid, title, fn) =>
      el("button", { type: "button", class: "btn btn-small", testid, title, onclick: () => this._run(fn) }, label);
    this.titleNode = el("span", { class: "edit-title", testid: "edit-title" });
    this.classSelect = el("select", { class: "input input-small", testid: "edit-class", title: "Class of new polygons" });
    this.status = el("span", { class: "edit-status", testid: "edit-status" });
    this.deleteButton = button("Delete", "edit-delete", "Delete the selected polygon (Delete key)", () => this.deletePolygon());
    this.toolbar = el(
      "div",
      { class: "edit-toolbar", testid: "edit-toolbar", hidden: true },
      el("span", { class: "edit-label" }, "Editing"),
      this.titleNode,
      this.classSelect,
      button("Add polygon", "edit-add", "Draw a new polygon", () => this.addPolygon()),
      this.deleteButton,
      button("Undo", "edit-undo", "Undo the last saved edit (Ctrl+Z)", () => this.undo()),
      el("button", { type: "button", class: "btn btn-small btn-ghost", testid: "edit-done", onclick: () => this.stop() }, "Done"),
      this.status,
      el("div", { class: "edit-help" }, "Drag a vertex to move it · click a midpoint to add one · Ctrl+click a vertex to delete it"),
    );
    container.append(this.toolbar);
  }

  _setStatus(text, state = "") {
    this.status.textContent = text;
    this.status.dataset.state = state;
    this.toolbar.dataset.version = String(this.version);
    this.toolbar.dataset.busy = this.busy ? "1" : "0";
  }

  async _run(fn) {
    if (this.busy) return undefined;
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof DrawCancelled)) this.onError(err, "Edit");
      return undefined;
    }
  }

  // ---- start / stop ---------------------------------------------------------------------------

  /** Start editing a vector layer (a handle or dataset id). */
  async start(ref) {
    const Cesium = window.Cesium;
    const layer = this.vectors.require(ref);
    if (this.layer && this.layer !== layer) this.stop();
    this.layer = layer;
    this.titleNode.textContent = layer.title;
    clear(this.classSelect);
    const classes = Object.entries(layer.classes || {});
    this.classSelect.hidden = !classes.length;
    for (const [id, def] of classes) this.classSelect.append(el("option", { value: id }, def.name || id));
    const nonBackground = classes.find(([id]) => id !== "0");
    if (nonBackground) this.classSelect.value = nonBackground[0];
    this.toolbar.hidden = false;
    this.deleteButton.disabled = true;
    if (!this.handler) {
      const h = new Cesium.ScreenSpaceEventHandler(this.viewer.scene.canvas);
      const T = Cesium.ScreenSpaceEventType;
      h.setInputAction((e) => this._down(e), T.LEFT_DOWN);
      h.setInputAction((e) => this._move(e), T.MOUSE_MOVE);
      h.setInputAction((e) => this._up(e), T.LEFT_UP);
      h.setInputAction((e) => this._click(e, false), T.LEFT_CLICK);
      h.setInputAction((e) => this._click(e, true), T.LEFT_CLICK, Cesium.KeyboardEventModifier.CTRL);
      h.setInputAction((e) => this._down(e), T.LEFT_DOWN, Cesium.KeyboardEventModifier.CTRL);
      h.setInputAction((e) => this._up(e), T.LEFT_UP, Cesium.KeyboardEventModifier.CTRL);
      this.handler = h;
      document.addEventListener("keydown", this._onKey);
    }
    try {
      const history = await api.history(layer.datasetId, 1);
      this.version = history.version;
      if (history.version !== layer.version) await this.vectors.reload(layer, history.version);
      this._setStatus(`${history.feature_count} features · version ${history.version}`);
    } catch (err) {
      this.onError(err, "Edit history");
    }
    this.onChange();
    return layer;
  }

  stop() {
    this.deselect();
    if (this.handler) {
      this.handler.destroy();
      this.handler = null;
      document.removeEventListener("keydown", this._onKey);
    }
    this.viewer.scene.screenSpaceCameraController.enableInputs = true;
    this.layer = null;
    this.toolbar.hidden = true;
    this.onChange();
  }

  // ---- selection ------------------------------------------------------------------------------

  /** The feature of the edited layer under (lon, lat), from the server; null if none. */
  async featureAt(lon, lat) {
    const e = LOOKUP_EPSILON;
    const page = await api.features(this.layer.datasetId, { bbox: [lon - e, lat - e, lon + e, lat + e], limit: 50 });
    const hits = (page.features || []).filter((f) => f.geometry && /Polygon/.test(f.geometry.type) && containsPoint(f.geometry, [lon, lat]));
    hits.sort((a, b) => planarArea(a.geometry) - planarArea(b.geometry));
    return hits[0] || null;
  }

  /** Select a feature ({id, geometry, properties}); null clears the selection. */
  select(feature) {
    this.feature = feature ? { id: feature.id, geometry: feature.geometry, properties: feature.properties } : null;
    this.parts = feature ? toParts(feature.geometry) : null;
    this.deleteButton.disabled = !feature;
    this._draw();
    if (feature && this.popup) {
      // Pinned to the side while editing, so the card never covers the handles.
      this.popup.show({ layerTitle: this.layer.title, properties: feature.properties, fid: feature.id, classes: this.layer.classes, corner: true });
    } else if (this.popup) this.popup.hide();
    this.onChange();
  }

  deselect() {
    this.select(null);
  }

  // ---- overlay ----------------------------------------------------------------------------------

  _clearOverlay() {
    for (const entity of this.entities) this.viewer.entities.remove(entity);
    this.entities = [];
  }

  _draw() {
    const Cesium = window.Cesium;
    this._clearOverlay();
    if (!this.parts) return;
    const accent = Cesium.Color.fromCssColorString("#ffd400");
    const cart = (p) => Cesium.Cartesian3.fromDegrees(p[0], p[1]);
    this.parts.forEach((rings, part) => {
      this.entities.push(
        this.viewer.entities.add({
          polygon: {
            hierarchy: new Cesium.CallbackProperty(() => {
              const current = this.parts && this.parts[part];
              if (!current) return undefined;
              return new Cesium.PolygonHierarchy(
                current[0].map(cart),
                current.slice(1).map((hole) => new Cesium.PolygonHierarchy(hole.map(cart))),
              );
            }, false),
            material: accent.withAlpha(0.25),
            height: 0,
          },
        }),
      );
      rings.forEach((ring, r) => {
        this.entities.push(
          this.viewer.entities.add({
            polyline: {
              positions: new Cesium.CallbackProperty(() => {
                const current = this.parts && this.parts[part] && this.parts[part][r];
                return current ? [...current, current[0]].map(cart) : [];
              }, false),
              width: 2,
              material: accent,
            },
          }),
        );
        ring.forEach((p, i) => {
          const next = ring[(i + 1) % ring.length];
          this.entities.push(
            this.viewer.entities.add({
              position: Cesium.Cartesian3.fromDegrees((p[0] + next[0]) / 2, (p[1] + next[1]) / 2),
              point: { pixelSize: 8, color: accent.withAlpha(0.55), outlineColor: Cesium.Color.BLACK, outlineWidth: 1, disableDepthTestDistance: Number.POSITIVE_INFINITY },
              properties: { handle: "midpoint", part, ring: r, index: i },
            }),
          );
        });
        ring.forEach((p, i) => {
          this.entities.push(
            this.viewer.entities.add({
              position: cart(p),
              point: { pixelSize: 11, color: Cesium.Color.WHITE, outlineColor: Cesium.Color.BLACK, outlineWidth: 2, disableDepthTestDistance: Number.POSITIVE_INFINITY },
              properties: { handle: "vertex", part, ring: r, index: i },
            }),
          );
        });
      });
    });
  }

  _handleAt(position) {
    const picked = this.viewer.scene.drillPick(position, 5);
    for (const p of picked) {
      const entity = p && p.id;
      if (entity && entity.properties && this.entities.includes(entity) && entity.properties.handle) {
        const now = window.Cesium.JulianDate.now();
        return { entity, ...entity.properties.getValue(now) };
      }
    }
    return null;
  }

  /** Window (page) positions of the selection's handles, for tests and tooling. */
  handles() {
    const Cesium = window.Cesium;
    const canvas = this.viewer.canvas;
    const rect = canvas.getBoundingClientRect();
    const now = Cesium.JulianDate.now();
    const out = [];
    for (const entity of this.entities) {
      if (!entity.properties || !entity.position) continue;
      const info = entity.properties.getValue(now);
      const world = entity.position.getValue(now);
      const p = Cesium.SceneTransforms.worldToWindowCoordinates(this.viewer.scene, world);
      if (!p) continue;
      const carto = Cesium.Cartographic.fromCartesian(world);
      out.push({
        ...info,
        lon: Cesium.Math.toDegrees(carto.longitude),
        lat: Cesium.Math.toDegrees(carto.latitude),
        x: rect.left + (p.x * rect.width) / canvas.clientWidth,
        y: rect.top + (p.y * rect.height) / canvas.clientHeight,
      });
    }
    return out;
  }

  // ---- mouse ------------------------------------------------------------------------------------

  _down(event) {
    if (this.busy || this.draw.active || !this.parts) return;
    const handle = this._handleAt(event.position);
    if (!handle || handle.handle !== "vertex") return;
    this.drag = { ...handle, moved: false };
    this.viewer.scene.screenSpaceCameraController.enableInputs = false;
  }

  _move(event) {
    if (!this.drag) return;
    const here = lonLatAt(this.viewer, event.endPosition);
    if (!here) return;
    const { part, ring, index, entity } = this.drag;
    this.parts[part][ring][index] = here;
    entity.position = window.Cesium.Cartesian3.fromDegrees(here[0], here[1]);
    this.drag.moved = true;
  }

  _up() {
    const drag = this.drag;
    if (!drag) return;
    this.drag = null;
    this.viewer.scene.screenSpaceCameraController.enableInputs = true;
    if (drag.moved) {
      this.justDragged = true;
      setTimeout(() => {
        this.justDragged = false;
      }, 0);
      this._run(() => this.saveGeometry("Vertex moved"));
    }
  }

  async _click(event, ctrl) {
    if (this.busy || this.draw.active || this.justDragged) return;
    const handle = this.parts ? this._handleAt(event.position) : null;
    if (handle && handle.handle === "vertex" && ctrl) {
      await this._run(() => this.deleteVertex(handle));
      return;
    }
    if (handle && handle.handle === "midpoint") {
      await this._run(() => this.insertVertex(handle));
      return;
    }
    if (handle) return;
    const here = lonLatAt(this.viewer, event.position);
    if (!here) return;
    await this._run(async () => {
      const feature = await this.featureAt(here[0], here[1]);
      this.select(feature);
    });
  }

  _key(e) {
    if (!this.layer || e.target.closest("input, select, textarea")) return;
    if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "z") {
      e.preventDefault();
      this._run(() => this.undo());
    } else if (e.key === "Delete" && this.feature) {
      this._run(() => this.deletePolygon());
    } else if (e.key === "Escape" && !this.draw.active) {
      this.deselect();
    }
  }

  // ---- edits ------------------------------------------------------------------------------------

  async _save(label, request) {
    this.busy = true;
    this._setStatus(`${label}: saving…`, "saving");
    try {
      const result = await request();
      this.version = result.version;
      await this.vectors.reload(this.layer, result.version);
      this.busy = false;
      this._setStatus(`${label} · saved (version ${result.version})`, "saved");
      return result;
    } catch (err) {
      this.busy = false;
      this._setStatus(`${label}: not saved`, "error");
      // Show what the server has, not the unsaved state.
      if (this.feature) this.select(this.feature);
      throw err;
    }
  }

  /** Save the selection's edited geometry (after a vertex moved / was added / removed). */
  async saveGeometry(label = "Geometry") {
    if (!this.feature) throw new Error("Select a polygon first");
    const geometry = fromParts(this.parts, this.feature.geometry.type);
    const result = await this._save(label, () => api.patchFeature(this.layer.datasetId, this.feature.id, { geometry }));
    this.select(result.feature);
    return result;
  }

  async moveVertex({ part = 0, ring = 0, index }, lonLat) {
    this.parts[part][ring][index] = [lonLat[0], lonLat[1]];
    return this.saveGeometry("Vertex moved");
  }

  async insertVertex({ part, ring, index }) {
    const r = this.parts[part][ring];
    const a = r[index];
    const b = r[(index + 1) % r.length];
    r.splice(index + 1, 0, [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2]);
    return this.saveGeometry("Vertex added");
  }

  async deleteVertex({ part, ring, index }) {
    const r = this.parts[part][ring];
    if (r.length <= MIN_RING) throw new Error("A ring needs at least 3 vertices; delete the polygon instead");
    r.splice(index, 1);
    return this.saveGeometry("Vertex deleted");
  }

  async addPolygon() {
    if (!this.layer) throw new Error("Start editing a layer first");
    const shape = await this.draw.polygon({ hint: "Draw the new polygon: click the corners, double-click or Enter to finish (Esc cancels)" });
    const properties = {};
    const classes = this.layer.classes || {};
    const id = this.classSelect.value;
    if (id && classes[id]) {
      properties.class = Number.isFinite(Number(id)) ? Number(id) : id;
      properties.class_name = classes[id].name;
    }
    const result = await this._save("Polygon added", () =>
      api.createFeature(this.layer.datasetId, { geometry: { type: "Polygon", coordinates: shape.coordinates }, properties }),
    );
    this.select(result.feature);
    return result;
  }

  async deletePolygon() {
    if (!this.feature) throw new Error("Select a polygon first");
    const fid = this.feature.id;
    const result = await this._save("Polygon deleted", () => api.deleteFeature(this.layer.datasetId, fid));
    this.select(null);
    return result;
  }

  async undo() {
    if (!this.layer) throw new Error("Start editing a layer first");
    const result = await this._save("Undone", () => api.undo(this.layer.datasetId));
    this.select(result.feature || null);
    return result;
  }
}
