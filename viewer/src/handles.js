// What the imagery and vector layer managers share about their layer handles: fields kept out
// of JSON (Cesium objects, the catalog entry), and lookup by handle, handle id or dataset id.

/** Set a non-enumerable field, so a handle serializes (and logs) as its plain state. */
export function hidden(obj, key, value) {
  Object.defineProperty(obj, key, { value, writable: true, enumerable: false, configurable: true });
}

/** The handle in `layers` that `ref` names (a handle, its id or its dataset id), or null. */
export function findHandle(layers, ref) {
  if (ref && typeof ref === "object") return layers.includes(ref) ? ref : findHandle(layers, ref.id);
  return layers.find((h) => h.id === ref) || layers.find((h) => h.datasetId === ref) || null;
}

/** Like findHandle, but an Error naming `what` when there is none. */
export function requireHandle(layers, ref, what) {
  const handle = findHandle(layers, ref);
  if (!handle) throw new Error(`No ${what} ${JSON.stringify(ref && ref.id ? ref.id : ref)} in the viewer`);
  return handle;
}
