// Render on demand: the globe draws a frame when something changed, not 60 times a second.
//
// Cesium's explicit rendering (requestRenderMode) already renders on camera moves, tile loads
// and imagery-layer changes; entity, primitive and style edits need a requested frame. So that
// no panel has to remember that, a frame is also requested on every pointer, wheel and key
// event, on every change of an entity collection or data source, and by a slow heartbeat that
// bounds how stale any other change can be. An idle workspace then costs a few frames a second
// instead of a busy core, which matters most when the browser shares a small machine with the
// jobs it is waiting for (training, prediction).

export const HEARTBEAT_MS = 3000;
const INPUT_EVENTS = ["pointerdown", "pointerup", "pointermove", "wheel", "keydown", "keyup", "input", "change", "click"];

/**
 * Keep an explicit-rendering viewer up to date. Returns a function that stops it.
 * `target` receives the input listeners (the document in the app); `every` schedules the
 * heartbeat (setInterval in the app, injectable for tests).
 */
export function renderOnDemand(viewer, { target = globalThis.document, heartbeatMs = HEARTBEAT_MS, every = setInterval, stop = clearInterval } = {}) {
  const scene = viewer.scene;
  const request = () => scene.requestRender();
  const removers = [];
  for (const name of INPUT_EVENTS) {
    target?.addEventListener?.(name, request, { capture: true, passive: true });
    removers.push(() => target?.removeEventListener?.(name, request, { capture: true }));
  }
  removers.push(viewer.entities.collectionChanged.addEventListener(request));
  removers.push(viewer.dataSources.dataSourceAdded.addEventListener(request));
  removers.push(viewer.dataSources.dataSourceRemoved.addEventListener(request));
  const timer = every(request, heartbeatMs);
  removers.push(() => stop(timer));
  return () => removers.splice(0).forEach((remove) => remove());
}
