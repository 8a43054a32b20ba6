// Unit tests for the pure helpers in src/layers.js and src/api.js (no browser needed):
//   cd viewer && npm test
import assert from "node:assert/strict";
import { test } from "node:test";

import { errorMessageFromBody } from "../src/api.js";
import {
  defaultRender,
  levelRange,
  normalizeRender,
  rescaleFromStatistics,
  statisticsQuery,
  storedRender,
  tileCount,
  tileUrl,
} from "../src/layers.js";

const S2 = {
  id: "ab12cd34",
  band_names: ["blue", "green", "red", "nir", "swir16"],
  dtype: "uint16",
  sensor: "sentinel-2-l2a",
  bounds: [116.06, 39.73, 116.54, 40.1],
  minzoom: 8,
  maxzoom: 14,
};
const S1 = { id: "s1", band_names: ["vv", "vh"], dtype: "float32", sensor: "sentinel-1-grd", bounds: [-60, -9, -56, -5] };
const INDICES = [
  { name: "NDVI", formula: "(nir - red) / (nir + red)", bands: ["nir", "red"], range: [-1, 1], colormap: "rdylgn" },
];

test("band tile URL repeats bidx and keeps commas", () => {
  const render = normalizeRender({ mode: "bands", bands: [3, 2, 1], rescale: [[0, 3000]] }, S2, INDICES);
  assert.equal(
    tileUrl("raster", "ab12cd34", render),
    "/raster/ab12cd34/tiles/WebMercatorQuad/{z}/{x}/{y}.png?bidx=3&bidx=2&bidx=1&rescale=0,3000&tilesize=256",
  );
});

test("band names resolve to 1-based indexes; per-band rescale", () => {
  const render = normalizeRender({ bands: ["nir", "red", "green"], rescale: [[0, 4000], [0, 3000], [0, 2500]] }, S2);
  assert.deepEqual(render.bands, [4, 3, 2]);
  assert.match(tileUrl("raster", "x", render), /rescale=0,4000&rescale=0,3000&rescale=0,2500&tilesize=256$/);
});

test("index tile URL", () => {
  const render = normalizeRender({ mode: "index", index: "ndvi" }, S2, INDICES);
  assert.deepEqual(render, { mode: "index", index: "NDVI", colormap: "rdylgn", rescale: [[-1, 1]] });
  assert.equal(
    tileUrl("raster", "ab12cd34", render),
    "/raster/ab12cd34/tiles/WebMercatorQuad/{z}/{x}/{y}.png?index=NDVI&colormap_name=rdylgn&rescale=-1,1&tilesize=256",
  );
  assert.equal(statisticsQuery(render), "index=NDVI");
});

test("expression tile URL on a mosaic is URL-encoded", () => {
  const render = normalizeRender({ mode: "expression", expression: "(b4-b3)/(b4+b3)", colormap: "viridis", rescale: [-1, 1] }, S2);
  assert.equal(
    tileUrl("mosaic", "m1", render),
    "/mosaics/m1/tiles/WebMercatorQuad/{z}/{x}/{y}.png?expression=(b4-b3)%2F(b4%2Bb3)&colormap_name=viridis&rescale=-1,1&tilesize=256",
  );
});

test("invalid renders throw readable errors", () => {
  assert.throws(() => normalizeRender({ mode: "index", index: "NDVI" }, S1, INDICES), /needs bands nir, red/);
  assert.throws(() => normalizeRender({ mode: "bands", bands: [1, 2, 3] }, S1), /Band 3 does not exist/);
  assert.throws(() => normalizeRender({ mode: "index", index: "XYZ" }, S2, INDICES), /Unknown index/);
  assert.throws(() => normalizeRender({ mode: "bands", rescale: [5, 5] }, S2), /must differ/);
  assert.throws(() => tileUrl("vector", "x", { mode: "bands", bands: [1] }), /Unknown layer kind/);
});

test("default renders", () => {
  assert.deepEqual(defaultRender(S2), { mode: "bands", bands: [3, 2, 1], rescale: [[0, 3000]] });
  assert.deepEqual(defaultRender(S1), { mode: "bands", bands: [1], rescale: "auto" });
  assert.deepEqual(defaultRender({ band_names: ["b1", "b2", "b3"], dtype: "uint8" }).bands, [1, 2, 3]);
});

test("default renders follow the server's stored rendering", () => {
  const stored = { bidx: [3, 2, 1], rescale: [[313, 1617], [529, 1546], [265, 1401]] };
  assert.deepEqual(defaultRender({ ...S2, properties: { render: stored } }), { mode: "bands", bands: [3, 2, 1], rescale: stored.rescale });
  const grey = { bidx: [1], rescale: [[-25, 0]], colormap_name: "gray" };
  assert.deepEqual(defaultRender({ ...S1, properties: { render: grey } }), { mode: "bands", bands: [1], rescale: [[-25, 0]] });
  const dem = { band_names: ["elevation"], dtype: "float32", properties: { render: { bidx: [1], rescale: [[20, 900]], colormap_name: "terrain" } } };
  assert.deepEqual(defaultRender(dem), { mode: "expression", expression: "b1", colormap: "terrain", rescale: [[20, 900]] });
  const naip = { band_names: ["b1", "b2", "b3", "b4"], dtype: "uint8", properties: { render: { bidx: [1, 2, 3] } } };
  assert.deepEqual(defaultRender(naip), { mode: "bands", bands: [1, 2, 3], rescale: [[0, 255]] });
  assert.equal(storedRender({ properties: { render: { bidx: [1, 2] } } }), null);
});

test("rescale from statistics", () => {
  const stats = { b1: { percentile_2: 120, percentile_98: 2400, min: 0, max: 9000 }, b2: { percentile_2: 80, percentile_98: 2100 } };
  assert.deepEqual(rescaleFromStatistics(stats, { mode: "bands" }), [[80, 2400]]);
  assert.deepEqual(rescaleFromStatistics({ NDVI: { percentile_2: -0.1234, percentile_98: 0.8765 } }, { mode: "index" }), [[-0.123, 0.876]]);
  assert.throws(() => rescaleFromStatistics({}, { mode: "index" }), /no band statistics/);
});

test("level range keeps <= 4 tiles at the minimum level", () => {
  const { minimumLevel, maximumLevel } = levelRange(S2);
  assert.ok(minimumLevel <= 8 && tileCount(S2.bounds, minimumLevel) <= 4);
  assert.equal(maximumLevel, 16);
  assert.deepEqual(levelRange({ bounds: [-180, -85, 180, 85], minzoom: 0, maxzoom: 6 }), { minimumLevel: 0, maximumLevel: 8 });
  assert.ok(tileCount([170, -10, -170, 10], 5) <= 4); // antimeridian
});

test("error bodies become readable messages", () => {
  assert.equal(errorMessageFromBody({ code: "not_found", detail: "Dataset x not found" }, 404), "Dataset x not found");
  assert.equal(errorMessageFromBody({ detail: [{ loc: ["query", "bidx"], msg: "bad" }] }, 422), "bidx: bad");
  assert.equal(errorMessageFromBody("<html>", 502, "Bad Gateway"), "Server responded 502 Bad Gateway");
});
