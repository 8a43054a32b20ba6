// Sample-set helpers without DOM or Cesium (unit-tested under node): class colours and
// values, the request bodies the labelling panel sends, and how a training result reads.

/** The colours training gives class ids (inference/training/api.py PALETTE), so a class drawn
 * in its default colour predicts in the same colour. */
export const PALETTE = ["#000000", "#1f6fd1", "#2e8b3a", "#e3c84b", "#d0433a", "#a88c6a", "#8e44ad", "#f39c12", "#16a085", "#7f8c8d", "#c0392b", "#2c3e50"];

export function defaultColor(value) {
  return PALETTE[value % PALETTE.length];
}

/** A new class after `classes`: the next free value (1..254), its default colour. */
export function newClass(classes, name) {
  const used = new Set(classes.map((c) => c.value));
  let value = 1;
  while (used.has(value)) value += 1;
  if (value > 254) throw new Error("A sample set holds at most 254 classes");
  const clean = String(name || "").trim() || `class ${value}`;
  if (classes.some((c) => c.name.toLowerCase() === clean.toLowerCase())) throw new Error(`There is a class "${clean}" already`);
  return { value, name: clean, color: defaultColor(value) };
}

/** The server's form of one drawn sample. */
export function sampleBody(sample) {
  const body = { geometry: sample.geometry, class: sample.class, kind: sample.kind };
  if (sample.width_m) body.width_m = sample.width_m;
  return body;
}

/** POST /samples (first save; `laterImage`: the later date of a change pair) or
 * PUT /samples/{id} (later saves) body. */
export function saveBody({ image, laterImage, title, classes, samples, created }) {
  const list = samples.map(sampleBody);
  if (!list.length) throw new Error("Draw at least one sample before saving");
  if (created) return { samples: list, classes };
  const body = { image, title: title || undefined, classes, samples: list };
  if (laterImage) body.later_image = laterImage;
  return body;
}

/** Why running a tool opened the Label tab, from its `needs_samples` answer: "dam has no
 * zero-sample method for red, green, blue: draw dam and background samples, then Train". */
export function needsSamplesMessage(body) {
  const names = ((body && body.labelling && body.labelling.classes) || []).map((c) => c.name);
  const listed = names.length > 1 ? `${names.slice(0, -1).join(", ")} and ${names[names.length - 1]}` : names[0] || "";
  const bands = ((body && body.dataset_bands) || []).join(", ") || "this image's bands";
  return `${(body && body.process) || "This tool"} has no zero-sample method for ${bands}: draw ${listed ? `${listed} ` : ""}samples, then Train`;
}

/** Samples of the server's GeoJSON (GET /samples/{id}/features): polygons (strokes and points
 * as saved, grown to their width) with their class and the kind they were drawn as. */
export function samplesFromFeatures(collection) {
  return (collection.features || []).map((f) => ({ geometry: f.geometry, class: Number(f.properties.class), kind: f.properties.kind || "polygon" }));
}

const METHOD_NAMES = { "pixel-classifier": "pixel classifier", unet: "U-Net" };

/** "Held-out accuracy 97.1 % · mIoU 0.912 · 12,000 px · pixel classifier · trained in 9 s" from a
 * train job's results (or a plain note). */
export function accuracyText(values) {
  const metrics = values && values.metrics;
  if (!metrics || metrics.overall_accuracy === null || metrics.overall_accuracy === undefined) return "No held-out samples were scored (draw samples over more of the image)";
  const parts = [`Held-out accuracy ${(100 * metrics.overall_accuracy).toFixed(1)} %`];
  if (metrics.mean_iou !== null && metrics.mean_iou !== undefined) parts.push(`mIoU ${Number(metrics.mean_iou).toFixed(3)}`);
  if (metrics.pixels) parts.push(`${Number(metrics.pixels).toLocaleString("en")} px`);
  const method = values.card && values.card.method;
  if (method) parts.push(METHOD_NAMES[method] || method);
  if (values.training_seconds !== undefined && values.training_seconds !== null) parts.push(`trained in ${Number(values.training_seconds).toFixed(0)} s`);
  return parts.join(" · ");
}

/** Counts per class value of a list of samples. */
export function countByClass(samples) {
  const out = {};
  for (const s of samples) out[s.class] = (out[s.class] || 0) + 1;
  return out;
}

/** Image pixels the first prediction after training covers at most: the feedback loop stays
 * under a minute on a small machine whatever the image's size ("Apply to image" does all). */
export const FIRST_PREDICTION_PIXELS = 1024 * 1024;

/**
 * The area of the first prediction, a GeoJSON Polygon in lon/lat: the part of the image in
 * view (`view`: [west, south, east, north] in degrees, or null when the camera sees no
 * ground), shrunk around its centre to at most `maxPixels` of the image's pixels. The image:
 * `bounds` [west, south, east, north] in degrees and its `width` x `height` in pixels. Where
 * the view misses the image, its centre.
 */
export function firstPredictionArea({ bounds, width, height }, view, maxPixels = FIRST_PREDICTION_PIXELS) {
  const [w, s, e, n] = bounds;
  const pxX = width / (e - w);
  const pxY = height / (n - s);
  let box = view ? [Math.max(w, view[0]), Math.max(s, view[1]), Math.min(e, view[2]), Math.min(n, view[3])] : null;
  if (!box || box[0] >= box[2] || box[1] >= box[3]) box = [w, s, e, n];
  const pixels = (box[2] - box[0]) * pxX * (box[3] - box[1]) * pxY;
  if (pixels > maxPixels) {
    const shrink = Math.sqrt(maxPixels / pixels);
    const cx = (box[0] + box[2]) / 2;
    const cy = (box[1] + box[3]) / 2;
    const hx = ((box[2] - box[0]) * shrink) / 2;
    const hy = ((box[3] - box[1]) * shrink) / 2;
    box = [Math.max(w, cx - hx), Math.max(s, cy - hy), Math.min(e, cx + hx), Math.min(n, cy + hy)];
  }
  const [bw, bs, be, bn] = box;
  return { type: "Polygon", coordinates: [[[bw, bs], [be, bs], [be, bn], [bw, bn], [bw, bs]]] };
}
