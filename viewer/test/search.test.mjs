// The search panel's pure helpers: a place as the area, sources, suggestion labels.
import assert from "node:assert/strict";
import { test } from "node:test";

import { placeLabel, searchBody } from "../src/searchPanel.js";

const HUBEI = { type: "MultiPolygon", coordinates: [[[[108, 29], [116, 29], [116, 33], [108, 33], [108, 29]]]] };

test("search body: a place's polygon is the area (intersects)", () => {
  const body = searchBody({ area: { kind: "place", placeId: "region-CHN-1807", geometry: HUBEI, bbox: [108, 29, 116, 33] } });
  assert.deepEqual(body.intersects, HUBEI);
  assert.equal(body.bbox, undefined);
});

test("search body: sources are sent only beyond this catalog", () => {
  assert.equal(searchBody({ sources: ["local"] }).sources, undefined, "a plain search stays local");
  assert.equal(searchBody({}).sources, undefined);
  assert.deepEqual(searchBody({ sources: ["local", "earth-search"] }).sources, ["local", "earth-search"]);
  assert.deepEqual(searchBody({ sources: ["earth-search"] }).sources, ["earth-search"]);
});

test("place labels: kind, region and country, without repeating the name", () => {
  assert.equal(placeLabel({ name: "Hubei", type: "Province", region: "", country_name: "China" }), "Hubei — Province, China");
  assert.equal(placeLabel({ name: "Wuhan", type: "City", region: "Hubei", country_name: "China" }), "Wuhan — City, Hubei, China");
  assert.equal(placeLabel({ name: "China", type: "Country", region: "", country_name: "China" }), "China — Country");
});
