// 2D / 3D / Columbus view buttons over the globe (scene.morphTo2D / morphTo3D / morphToColumbusView).
import { el } from "./ui.js";

const MODES = [
  ["2d", "2D", "Flat map (Web Mercator-like)"],
  ["3d", "3D", "Globe"],
  ["columbus", "2.5D", "Columbus view: a flat map seen in perspective"],
];

export function createViewMode({ container, viewer }) {
  const Cesium = window.Cesium;
  const buttons = new Map();
  const bar = el(
    "div",
    { class: "map-toolbar view-mode", testid: "view-mode", role: "group", "aria-label": "View mode" },
    MODES.map(([mode, label, title]) => {
      const b = el("button", { type: "button", class: "btn btn-small", title, testid: `view-${mode}`, onclick: () => set(mode) }, label);
      buttons.set(mode, b);
      return b;
    }),
  );
  container.append(bar);

  function current() {
    const m = viewer.scene.mode;
    if (m === Cesium.SceneMode.SCENE2D) return "2d";
    if (m === Cesium.SceneMode.COLUMBUS_VIEW) return "columbus";
    return "3d";
  }

  function sync() {
    const mode = current();
    for (const [m, b] of buttons) b.classList.toggle("active", m === mode);
    bar.dataset.mode = mode;
  }

  /** Switch the view, keeping the area in view; resolves when the morph has finished. */
  function set(mode, duration = 1.0) {
    const scene = viewer.scene;
    if (mode === current()) return Promise.resolve(mode);
    const camera = viewer.camera;
    // The view rectangle (unknown in 2D), else the point under the camera and its height.
    const area = camera.computeViewRectangle(scene.globe.ellipsoid);
    const where = camera.positionCartographic.clone();
    return new Promise((resolve) => {
      const done = scene.morphComplete.addEventListener(() => {
        done();
        const destination = area || Cesium.Cartesian3.fromRadians(where.longitude, where.latitude, where.height);
        camera.setView({ destination });
        sync();
        resolve(mode);
      });
      if (mode === "2d") scene.morphTo2D(duration);
      else if (mode === "columbus") scene.morphToColumbusView(duration);
      else scene.morphTo3D(duration);
    });
  }

  sync();
  return { set, current };
}
