// What of the map a project stores, and when it changed: pure helpers (testable under Node)
// between the viewer's layer handles and the API's project layers
// ({id, kind: "dataset"|"mosaic", visible, opacity, render}), and the URL hash.

const round = (v) => Math.round(Number(v) * 1000) / 1000;

/** A project layer for an imagery layer handle (a raster dataset or a mosaic). */
export function imagerySpec(handle) {
  return {
    id: handle.datasetId,
    kind: handle.source === "mosaic" ? "mosaic" : "dataset",
    visible: handle.visible !== false,
    opacity: round(handle.opacity ?? 1),
    render: handle.render && typeof handle.render === "object" ? handle.render : {},
  };
}

/** A project layer for a vector layer handle (drawn by class: no render of its own). */
export function vectorSpec(handle) {
  return { id: handle.datasetId, kind: "dataset", visible: handle.visible !== false, opacity: round(handle.opacity ?? 1), render: {} };
}

/** The project's layers for what is on the map: imagery bottom → top, then vector layers. */
export function projectLayers(imagery, vectors = []) {
  return [...imagery.map(imagerySpec), ...vectors.map(vectorSpec)];
}

/** JSON with object keys sorted, so equal values give equal text whatever their key order. */
export function canonical(value) {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") {
    return `{${Object.keys(value)
      .filter((k) => value[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(value ?? null);
}

/** One layer as the server would store it (its defaults filled), for comparison. */
function stored(layer) {
  return {
    id: String(layer.id),
    kind: layer.kind === "mosaic" ? "mosaic" : "dataset",
    visible: layer.visible !== false,
    opacity: round(layer.opacity ?? 1),
    render: layer.render && typeof layer.render === "object" ? layer.render : {},
  };
}

/** True when two layer lists store the same thing (same order, values, renderings). */
export function sameLayers(a, b) {
  return canonical((a || []).map(stored)) === canonical((b || []).map(stored));
}

/** The PATCH body that brings the saved layers to the current ones, or null when equal. */
export function layersPatch(saved, current) {
  return sameLayers(saved, current) ? null : { layers: current.map(stored) };
}

/** Job ids of `ids` not already listed in the project (in order, each once). */
export function newJobs(projectJobs, ids) {
  const known = new Set(projectJobs || []);
  const out = [];
  for (const id of ids || []) {
    if (id && !known.has(id)) {
      known.add(id);
      out.push(id);
    }
  }
  return out;
}

/** The open project's id from a location hash ("#project=abc"), or null. */
export function projectFromHash(hash) {
  const text = String(hash || "").replace(/^#/, "");
  if (!text) return null;
  const id = new URLSearchParams(text).get("project");
  return id && id.trim() ? id.trim() : null;
}

/** The hash for an open project (other hash parameters kept), or without it for none. */
export function hashWithProject(hash, id) {
  const params = new URLSearchParams(String(hash || "").replace(/^#/, ""));
  if (id) params.set("project", id);
  else params.delete("project");
  const text = params.toString();
  return text ? `#${text}` : "";
}
