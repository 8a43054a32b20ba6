// Drawing an area on the globe with the mouse (Cesium ScreenSpaceEventHandler):
//   rectangle(): press, drag, release.
//   polygon():   click each vertex; double-click, right-click or Enter finishes;
//                Backspace removes the last vertex.
// Esc (or cancel()) stops either and rejects the promise with a DrawCancelled error.
// Results are GeoJSON Polygons in WGS84 degrees with their bbox.
import { el } from "./ui.js";

export class DrawCancelled extends Error {
  constructor() {
    super("Drawing cancelled");
    this.name = "DrawCancelled";
  }
}

const MIN_DRAG_PX = 4;

/** Longitude/latitude (degrees) under a window position, or null off the globe. */
export function lonLatAt(viewer, position) {
  const Cesium = window.Cesium;
  const cartesian = viewer.camera.pickEllipsoid(position, viewer.scene.globe.ellipsoid);
  if (!cartesian) return null;
  const carto = Cesium.Cartographic.fromCartesian(cartesian);
  return [Cesium.Math.toDegrees(carto.longitude), Cesium.Math.toDegrees(carto.latitude)];
}

/** [w, s, e, n] of a list of [lon, lat]. */
export function bboxOf(points) {
  const lons = points.map((p) => p[0]);
  const lats = points.map((p) => p[1]);
  return [Math.min(...lons), Math.min(...lats), Math.max(...lons), Math.max(...lats)];
}

/** A closed GeoJSON Polygon from an open ring of [lon, lat]. */
export function polygonFromRing(ring) {
  const closed = ring.map((p) => [p[0], p[1]]);
  closed.push([ring[0][0], ring[0][1]]);
  return { type: "Polygon", coordinates: [closed] };
}

export function polygonFromBbox([w, s, e, n]) {
  return polygonFromRing([
    [w, s],
    [e, s],
    [e, n],
    [w, n],
  ]);
}

export class DrawTool {
  /**
   * @param viewer Cesium.Viewer
   * @param {{hint?: HTMLElement, color?: string}} options  `hint`: where instructions are shown.
   */
  constructor(viewer, { hint = null, color = "#f2b84b" } = {}) {
    this.viewer = viewer;
    this.hint = hint;
    this.color = color;
    this.session = null; // {kind, handler, entities, reject, cleanup}
    this.area = null; // the last area shown with showArea()
  }

  get active() {
    return this.session ? this.session.kind : null;
  }

  _setHint(text) {
    if (!this.hint) return;
    this.hint.hidden = !text;
    this.hint.textContent = text || "";
  }

  _begin(kind, hintText) {
    this.cancel();
    const Cesium = window.Cesium;
    const viewer = this.viewer;
    const handler = new Cesium.ScreenSpaceEventHandler(viewer.scene.canvas);
    const controller = viewer.scene.screenSpaceCameraController;
    const session = { kind, handler, entities: [], reject: null, cameraWas: controller.enableInputs };
    const onKey = (e) => {
      if (e.key === "Escape") this.cancel();
      else if (session.onKey) session.onKey(e);
    };
    document.addEventListener("keydown", onKey);
    viewer.canvas.classList.add("drawing");
    session.cleanup = () => {
      document.removeEventListener("keydown", onKey);
      handler.destroy();
      for (const entity of session.entities) viewer.entities.remove(entity);
      controller.enableInputs = session.cameraWas;
      viewer.canvas.classList.remove("drawing");
      this._setHint("");
    };
    this.session = session;
    this._setHint(hintText);
    return session;
  }

  _end(session) {
    if (this.session !== session) return;
    this.session = null;
    session.cleanup();
  }

  /** Stop drawing; the pending promise rejects with DrawCancelled. */
  cancel() {
    const session = this.session;
    if (!session) return;
    this._end(session);
    if (session.reject) session.reject(new DrawCancelled());
  }

  /** Draw a rectangle by dragging. Resolves with {type: "Polygon", coordinates, bbox}. */
  rectangle() {
    const Cesium = window.Cesium;
    const session = this._begin("rectangle", "Drag a box on the globe (Esc cancels)");
    const viewer = this.viewer;
    viewer.scene.screenSpaceCameraController.enableInputs = false;
    let start = null;
    let startPx = null;
    let corner = null;
    const fill = Cesium.Color.fromCssColorString(this.color);
    const entity = viewer.entities.add({
      rectangle: {
        coordinates: new Cesium.CallbackProperty(() => {
          if (!start || !corner) return undefined;
          const [w, s, e, n] = bboxOf([start, corner]);
          if (w === e || s === n) return undefined;
          return Cesium.Rectangle.fromDegrees(w, s, e, n);
        }, false),
        material: fill.withAlpha(0.25),
        height: 0,
        outline: true,
        outlineColor: fill,
        outlineWidth: 2,
      },
    });
    session.entities.push(entity);
    return new Promise((resolve, reject) => {
      session.reject = reject;
      session.handler.setInputAction((event) => {
        start = lonLatAt(viewer, event.position);
        startPx = event.position && { x: event.position.x, y: event.position.y };
        corner = start;
      }, Cesium.ScreenSpaceEventType.LEFT_DOWN);
      session.handler.setInputAction((event) => {
        if (!start) return;
        const here = lonLatAt(viewer, event.endPosition);
        if (here) corner = here;
      }, Cesium.ScreenSpaceEventType.MOUSE_MOVE);
      session.handler.setInputAction((event) => {
        if (!start) return;
        const here = lonLatAt(viewer, event.position) || corner;
        const moved = startPx && Math.hypot(event.position.x - startPx.x, event.position.y - startPx.y);
        if (!here || !(moved >= MIN_DRAG_PX)) {
          start = null; // a click, not a drag: keep waiting
          return;
        }
        const bbox = bboxOf([start, here]);
        this._end(session);
        resolve({ ...polygonFromBbox(bbox), bbox });
      }, Cesium.ScreenSpaceEventType.LEFT_UP);
    });
  }

  /** Draw a polygon vertex by vertex. Resolves with {type: "Polygon", coordinates, bbox}. */
  polygon({ hint = "Click the corners; double-click, right-click or Enter to finish (Backspace undoes, Esc cancels)" } = {}) {
    const Cesium = window.Cesium;
    const session = this._begin("polygon", hint);
    const viewer = this.viewer;
    const points = [];
    let cursor = null;
    const color = Cesium.Color.fromCssColorString(this.color);
    const degrees = (list) => Cesium.Cartesian3.fromDegreesArray(list.flat());
    session.entities.push(
      viewer.entities.add({
        polygon: {
          hierarchy: new Cesium.CallbackProperty(() => {
            const ring = cursor ? [...points, cursor] : points;
            return ring.length >= 3 ? new Cesium.PolygonHierarchy(degrees(ring)) : undefined;
          }, false),
          material: color.withAlpha(0.25),
          height: 0,
        },
        polyline: {
          positions: new Cesium.CallbackProperty(() => {
            const ring = cursor ? [...points, cursor] : [...points];
            if (ring.length >= 3) ring.push(ring[0]);
            return ring.length >= 2 ? degrees(ring) : [];
          }, false),
          width: 2,
          material: color,
        },
      }),
    );
    const lastPx = [];
    return new Promise((resolve, reject) => {
      session.reject = reject;
      const finish = () => {
        if (points.length < 3) {
          this._setHint(`A polygon needs at least 3 corners (${points.length} so far)`);
          return;
        }
        const ring = points.map((p) => [...p]);
        this._end(session);
        resolve({ ...polygonFromRing(ring), bbox: bboxOf(ring) });
      };
      session.onKey = (e) => {
        if (e.key === "Enter") finish();
        else if (e.key === "Backspace") {
          points.pop();
          lastPx.pop();
          const dot = session.entities.length > 1 ? session.entities.pop() : null;
          if (dot) viewer.entities.remove(dot);
        }
      };
      session.handler.setInputAction((event) => {
        const here = lonLatAt(viewer, event.position);
        if (!here) return;
        const prev = lastPx[lastPx.length - 1];
        if (prev && Math.hypot(prev.x - event.position.x, prev.y - event.position.y) < MIN_DRAG_PX) return; // double-click
        points.push(here);
        lastPx.push({ x: event.position.x, y: event.position.y });
        session.entities.push(
          viewer.entities.add({
            position: Cesium.Cartesian3.fromDegrees(here[0], here[1]),
            point: { pixelSize: 7, color, outlineColor: Cesium.Color.BLACK, outlineWidth: 1, disableDepthTestDistance: Number.POSITIVE_INFINITY },
          }),
        );
      }, Cesium.ScreenSpaceEventType.LEFT_CLICK);
      session.handler.setInputAction((event) => {
        cursor = lonLatAt(viewer, event.endPosition);
      }, Cesium.ScreenSpaceEventType.MOUSE_MOVE);
      session.handler.setInputAction(() => finish(), Cesium.ScreenSpaceEventType.LEFT_DOUBLE_CLICK);
      session.handler.setInputAction(() => finish(), Cesium.ScreenSpaceEventType.RIGHT_CLICK);
    });
  }

  /** Keep an area outlined on the globe (replacing the previous one); null clears it. */
  showArea(geometry, { color = this.color } = {}) {
    const Cesium = window.Cesium;
    this.clearArea();
    if (!geometry) return;
    const polygons = geometry.type === "MultiPolygon" ? geometry.coordinates : [geometry.coordinates];
    const c = Cesium.Color.fromCssColorString(color);
    // Outlines only, so the imagery under the area stays readable.
    this.area = polygons.map((polygon) =>
      this.viewer.entities.add({
        polyline: { positions: Cesium.Cartesian3.fromDegreesArray(polygon[0].flat()), width: 2, material: c },
      }),
    );
  }

  clearArea() {
    for (const entity of this.area || []) this.viewer.entities.remove(entity);
    this.area = null;
  }
}

/** The little instruction banner shown over the globe while drawing. */
export function createDrawHint(container) {
  const hint = el("div", { class: "map-hint", testid: "draw-hint", hidden: true });
  container.append(hint);
  return hint;
}
