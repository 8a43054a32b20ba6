// Status line: tile-load progress (globe.tileLoadProgressEvent) and the cursor position.
import { el } from "./ui.js";

export function createStatusBar({ root, viewer }) {
  const Cesium = window.Cesium;
  const bar = el("div", { class: "progress-fill" });
  const tiles = el("span", { class: "tiles", testid: "tile-status" }, "Tiles: idle");
  const cursor = el("span", { class: "cursor", testid: "cursor-position" }, "");
  root.append(el("div", { class: "progress" }, bar), el("div", { class: "status-text" }, tiles, cursor));

  let peak = 0;
  viewer.scene.globe.tileLoadProgressEvent.addEventListener((queued) => {
    if (queued > 0) {
      peak = Math.max(peak, queued);
      tiles.textContent = `Loading tiles: ${queued} queued`;
      bar.style.width = `${Math.round(100 * (1 - queued / peak))}%`;
      root.classList.add("loading");
    } else {
      peak = 0;
      tiles.textContent = "Tiles loaded";
      bar.style.width = "100%";
      root.classList.remove("loading");
    }
    root.dataset.queued = String(queued);
  });

  const handler = new Cesium.ScreenSpaceEventHandler(viewer.scene.canvas);
  handler.setInputAction((movement) => {
    const position = viewer.camera.pickEllipsoid(movement.endPosition, viewer.scene.globe.ellipsoid);
    if (!position) {
      cursor.textContent = "";
      return;
    }
    const carto = Cesium.Cartographic.fromCartesian(position);
    const lat = Cesium.Math.toDegrees(carto.latitude);
    const lon = Cesium.Math.toDegrees(carto.longitude);
    cursor.textContent = `${lat.toFixed(5)}°, ${lon.toFixed(5)}°`;
  }, Cesium.ScreenSpaceEventType.MOUSE_MOVE);
}
