// Unit tests for the workspace modules' pure helpers (no browser): cd viewer && npm test
import assert from "node:assert/strict";
import { test } from "node:test";

import { containsPoint, fromParts, planarArea, toParts } from "../src/editing.js";
import { bboxOf, polygonFromBbox } from "../src/draw.js";
import { classColormap, defaultRender, normalizeRender, tileUrl } from "../src/layers.js";
import { fieldSpec } from "../src/schemaForm.js";
import { searchBody } from "../src/searchPanel.js";
import { animationInputs, timeFrames } from "../src/timeseries.js";
import { acceptedFile } from "../src/uploadPanel.js";
import { classStyle, vectorTileUrl } from "../src/vectorLayers.js";

const CLASSES = { 0: { name: "land", color: "#d8cfb0" }, 1: { name: "water", color: "#1f6fd1" } };

test("search body: box, dates, sensors, cloud filter", () => {
  const body = searchBody({
    area: { kind: "bbox", bbox: [114.3, 30.5, 114.5, 30.6] },
    from: "2024-05-01",
    to: "2024-05-31",
    cloud: 20,
    includeUnknownCloud: true,
    collections: ["generic"],
    allCollections: [{ id: "generic" }, { id: "sentinel-1-grd" }],
  });
  assert.deepEqual(body.bbox, [114.3, 30.5, 114.5, 30.6]);
  assert.equal(body.datetime, "2024-05-01T00:00:00Z/2024-05-31T23:59:59Z");
  assert.deepEqual(body.collections, ["generic"]);
  assert.equal(body.filter, "eo:cloud_cover <= 20 OR eo:cloud_cover IS NULL");
  assert.equal(body["filter-lang"], "cql2-text");
});

test("search body: open dates, a vector dataset as the area, no cloud limit", () => {
  const body = searchBody({ area: { kind: "dataset", datasetId: "v1" }, from: "", to: "2024-01-31", cloud: 100, collections: ["a", "b"], allCollections: [{}, {}] });
  assert.equal(body.intersects_dataset, "v1");
  assert.equal(body.datetime, "../2024-01-31T23:59:59Z");
  assert.equal(body.filter, undefined);
  assert.equal(body.collections, undefined, "all sensors: no collections filter");
  const polygon = polygonFromBbox([1, 2, 3, 4]);
  assert.deepEqual(searchBody({ area: { kind: "polygon", geometry: polygon, bbox: [1, 2, 3, 4] } }).intersects, polygon);
});

test("json schema fields: optional, enums, tuples, lists", () => {
  assert.deepEqual(fieldSpec({ anyOf: [{ type: "number" }, { type: "null" }] }).kind, "number");
  assert.equal(fieldSpec({ anyOf: [{ type: "number" }, { type: "null" }] }).nullable, true);
  assert.equal(fieldSpec({ enum: ["nearest", "bilinear"], type: "string" }).kind, "enum");
  assert.equal(fieldSpec({ type: "array", items: { enum: ["gif", "mp4"] } }).kind, "enum-list");
  assert.equal(fieldSpec({ type: "array", items: { type: "string" } }).kind, "string-list");
  assert.equal(fieldSpec({ type: "array", prefixItems: [{ type: "number" }, { type: "number" }] }).kind, "tuple");
  assert.equal(fieldSpec({ anyOf: [{ type: "object" }, { type: "null" }] }).kind, "object");
  const root = { $defs: { Mode: { enum: ["a", "b"], type: "string" } } };
  assert.equal(fieldSpec({ $ref: "#/$defs/Mode" }, root).kind, "enum");
  assert.equal(fieldSpec({ anyOf: [{ const: "x" }, { const: "y" }] }).kind, "enum");
});

test("class raster: colormap JSON in the tile URL, background hidden", () => {
  const dataset = { id: "c1", band_names: ["class", "score"], properties: { classes: CLASSES } };
  const render = defaultRender(dataset);
  assert.equal(render.mode, "classes");
  const normalized = normalizeRender(render, dataset, []);
  const url = tileUrl("raster", "c1", normalized);
  const colormap = JSON.parse(decodeURIComponent(new URL(url.replace("{z}/{x}/{y}", "0/0/0"), "http://x").searchParams.get("colormap")));
  assert.deepEqual(colormap, { 0: [216, 207, 176, 0], 1: [31, 111, 209, 255] });
  assert.ok(url.includes("bidx=1"));
  assert.deepEqual(classColormap(CLASSES, []), { 0: [216, 207, 176, 255], 1: [31, 111, 209, 255] });
});

test("vector tiles: versioned URL and a style per class", () => {
  assert.equal(vectorTileUrl("ab", 3), "/vectors/ab/tiles/{z}/{x}/{y}.mvt?v=3");
  const style = classStyle(CLASSES, 0.5);
  assert.deepEqual(style.color.conditions[1], ["${class} === 1", "color('#1f6fd1', 0.5)"]);
  assert.equal(style.color.conditions.at(-1)[0], "true");
});

test("editing geometry model round-trips and finds points", () => {
  const square = { type: "Polygon", coordinates: [[[0, 0], [2, 0], [2, 2], [0, 2], [0, 0]], [[0.5, 0.5], [1, 0.5], [1, 1], [0.5, 0.5]]] };
  const parts = toParts(square);
  assert.equal(parts[0][0].length, 4, "rings are open in the model");
  assert.deepEqual(fromParts(parts, "Polygon"), square);
  assert.ok(containsPoint(square, [1.5, 1.5]));
  assert.ok(!containsPoint(square, [0.8, 0.6]), "holes are outside");
  assert.ok(!containsPoint(square, [3, 3]));
  assert.equal(planarArea(square), 4 - 0.125);
  const multi = { type: "MultiPolygon", coordinates: [square.coordinates] };
  assert.equal(fromParts(toParts(multi), "MultiPolygon").type, "MultiPolygon");
  assert.deepEqual(bboxOf([[1, 5], [3, 2]]), [1, 2, 3, 5]);
});

test("time series: dated rasters in order; animation inputs follow the first render", () => {
  const layer = (id, datetime, render, serial) => ({ id, datasetId: id, source: "raster", serial, render, dataset: { datetime, band_names: ["blue", "green", "red", "nir"] } });
  const bands = { mode: "bands", bands: [3, 2, 1], rescale: [[0, 3000]] };
  const frames = timeFrames([
    layer("b", "2024-09-20T03:00:00Z", bands, 2),
    layer("a", "2024-05-12T03:00:00Z", bands, 1),
    layer("c", "2024-05-12T03:00:00Z", { mode: "classes" }, 3),
    { id: "m", source: "mosaic", dataset: { datetime: "2024-01-01" } },
  ]);
  assert.deepEqual(frames.map((f) => f.id), ["a", "b"]);
  assert.deepEqual(animationInputs(frames, { formats: ["gif"] }), { datasets: ["a", "b"], formats: ["gif"], fps: 1, size: 512, bands: ["red", "green", "blue"], rescale: [0, 3000] });
  const ndvi = frames.map((f) => ({ ...f, render: { mode: "index", index: "NDVI", colormap: "rdylgn", rescale: [[-1, 1]] } }));
  const inputs = animationInputs(ndvi, { bbox: [1, 2, 3, 4] });
  assert.equal(inputs.index, "NDVI");
  assert.deepEqual(inputs.bbox, [1, 2, 3, 4]);
  assert.throws(() => animationInputs(frames.slice(0, 1)), /two dated layers/);
});

test("uploads: accepted file types", () => {
  for (const name of ["a.tif", "B.TIFF", "c.img", "shp.zip", "d.geojson", "e.json", "f.gpkg"]) assert.ok(acceptedFile(name), name);
  for (const name of ["notes.txt", "x.shp", "image.png", ""]) assert.ok(!acceptedFile(name), name);
});
