// Unit tests for the pure helpers of src/terrain.js and src/buildings3d.js (no browser needed):
//   cd viewer && npm test
import assert from "node:assert/strict";
import { test } from "node:test";

import { chooseHeightAttribute, classColor, featureHeight, numeric, numericAttributes, polygonsOf } from "../src/buildings3d.js";
import { ELLIPSOID, hashWithTerrain, initialTerrain, isDem, metresPerDegree, slopeFromSamples, terrainFromHash } from "../src/terrain.js";

const near = (a, b, tol = 1e-6) => assert.ok(Math.abs(a - b) <= tol, `${a} ≉ ${b}`);

test("slope of a plane rising 1 m per metre eastward is 45°", () => {
  near(slopeFromSamples({ centre: 100, east: 110, west: 90, north: 100, south: 100 }, 10), 45);
});

test("slope combines both directions and is 0 on a plain", () => {
  near(slopeFromSamples({ centre: 5, east: 5, west: 5, north: 5, south: 5 }, 30), 0);
  // gradient (3/10, 4/10) -> |g| = 0.5
  near(slopeFromSamples({ centre: 0, east: 3, west: -3, north: 4, south: -4 }, 10), (Math.atan(0.5) * 180) / Math.PI);
});

test("slope falls back to one-sided differences and is null without neighbours", () => {
  near(slopeFromSamples({ centre: 0, east: 10 }, 10), 45);
  near(slopeFromSamples({ centre: 10, west: 0 }, 10), 45);
  assert.equal(slopeFromSamples({ centre: 10 }, 10), null);
  assert.equal(slopeFromSamples({ centre: 0, east: 1, west: 0 }, 0), null);
});

test("metres per degree shrink with latitude for longitude only", () => {
  const eq = metresPerDegree(0);
  const sixty = metresPerDegree(60);
  near(eq.lat, 111195, 1);
  near(sixty.lon, eq.lon / 2, 1);
  near(sixty.lat, eq.lat, 1e-6);
});

test("terrain choice round-trips through the hash, other parameters kept", () => {
  const hash = hashWithTerrain("#project=p1", "dem-1", 2.5);
  assert.deepEqual(terrainFromHash(hash), { id: "dem-1", exaggeration: 2.5 });
  assert.equal(new URLSearchParams(hash.slice(1)).get("project"), "p1");
  assert.equal(hashWithTerrain("#project=p1&terrain=x&exaggeration=3", null, 1), "#project=p1");
  assert.deepEqual(terrainFromHash(hashWithTerrain("", ELLIPSOID, 1)), { id: ELLIPSOID, exaggeration: null });
  assert.deepEqual(terrainFromHash("#exaggeration=-1"), { id: null, exaggeration: null });
});

test("the viewer opens on a catalog DEM unless a choice was made, else the ellipsoid", () => {
  const dem = { id: "dem", kind: "raster", properties: { elevation: { units: "m" } } };
  const image = { id: "img", kind: "raster", properties: {} };
  const listed = [{ id: "other" }, { id: "dem" }];
  assert.equal(isDem(dem), true);
  assert.equal(isDem(image), false);
  assert.equal(initialTerrain({ listed, datasets: [image, dem] }), "dem");
  assert.equal(initialTerrain({ listed: [], datasets: [image] }), ELLIPSOID);
  assert.equal(initialTerrain({ listed: [], datasets: [dem] }), "dem");
  assert.equal(initialTerrain({ fromUrl: ELLIPSOID, listed, datasets: [dem] }), ELLIPSOID);
  assert.equal(initialTerrain({ saved: "other", listed, datasets: [dem] }), "other");
  assert.equal(initialTerrain({ fromUrl: "gone", saved: "other", listed, datasets: [dem] }), "other");
  // a DEM the terrain listing does not offer (no access, or not meshable) is not the default
  assert.equal(initialTerrain({ listed: [{ id: "other" }], datasets: [dem] }), ELLIPSOID);
});

test("building height attributes are chosen by name, storeys × 3 m", () => {
  assert.equal(numeric("12.5 m"), 12.5);
  assert.equal(numeric("7,5"), 7.5);
  assert.equal(numeric("tall"), null);
  const props = [{ name: "a", "building:levels": "4" }, { name: "b", height: 9 }];
  assert.equal(chooseHeightAttribute(props), "height");
  assert.equal(chooseHeightAttribute(props, "building:levels"), "building:levels");
  assert.equal(chooseHeightAttribute(props, "missing"), "height");
  assert.equal(chooseHeightAttribute([{ levels: 2 }]), "levels");
  assert.equal(chooseHeightAttribute([{ name: "x", class: 1 }]), null);
  assert.equal(featureHeight({ "building:levels": "4" }, "building:levels"), 12);
  assert.equal(featureHeight({ height: "9" }, "height"), 9);
  assert.equal(featureHeight({ height: 0 }, "height"), null);
  assert.equal(featureHeight({}, "height"), null);
  assert.deepEqual(numericAttributes(props), ["height", "building:levels"]);
});

test("buildings take their class colour; polygons are read as open rings", () => {
  assert.equal(classColor({ 2: { color: "#ff0000" } }, { class: 2 }), "#ff0000");
  assert.equal(classColor({ 2: { color: "#ff0000" } }, { class: 3 }, "#000"), "#000");
  const ring = [
    [0, 0],
    [1, 0],
    [1, 1],
    [0, 0],
  ];
  assert.deepEqual(polygonsOf({ type: "Polygon", coordinates: [ring] }), [[ring.slice(0, 3)]]);
  assert.equal(polygonsOf({ type: "MultiPolygon", coordinates: [[ring], [ring]] }).length, 2);
  assert.deepEqual(polygonsOf({ type: "Point", coordinates: [0, 0] }), []);
});
