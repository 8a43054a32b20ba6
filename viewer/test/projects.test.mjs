// Unit tests of the workspace-around-the-data helpers (no browser): the extent the viewer opens
// on, base map configuration, project state and the catalog's management helpers.
import assert from "node:assert/strict";
import { test } from "node:test";

import { BUNDLED, parseBasemaps, pickBasemap, providerOptions, substituteKey } from "../src/basemaps.js";
import { canManage, descriptionOf, editPatch } from "../src/catalogPanel.js";
import { catalogExtent, containsBounds, entriesExtent, padBounds, unionBounds, validBounds } from "../src/extent.js";
import {
  canonical,
  hashWithProject,
  imagerySpec,
  layersPatch,
  newJobs,
  projectFromHash,
  projectLayers,
  sameLayers,
} from "../src/projectState.js";

const close = (a, b) => a.every((v, i) => Math.abs(v - b[i]) < 1e-9);

// ---- extent ----------------------------------------------------------------------------------

test("extent: the union of the datasets' bounds; invalid bounds ignored; none -> null", () => {
  const demo = [
    [114.359, 30.514, 114.441, 30.585],
    [113.95, 30.546, 114.005, 30.593],
    [113.995, 30.507, 114.05, 30.554],
  ];
  assert.deepEqual(unionBounds(demo), [113.95, 30.507, 114.441, 30.593]);
  assert.deepEqual(unionBounds([...demo, null, [1, 2, 3], [0, 5, 1, 4], ["a", 0, 1, 1], [0, 0, 200, 1]]), [113.95, 30.507, 114.441, 30.593]);
  assert.equal(unionBounds([]), null);
  assert.equal(unionBounds(undefined), null);
  assert.equal(catalogExtent({ datasets: [], mosaics: [] }), null, "an empty catalog: the whole globe");
  assert.deepEqual(
    catalogExtent({ datasets: [{ bounds: [10, 10, 11, 11] }, { bounds: null }], mosaics: [{ bounds: [12, 9, 13, 10] }] }),
    [10, 9, 13, 11],
  );
  assert.deepEqual(entriesExtent([{ bounds: [1, 1, 2, 2] }, undefined]), [1, 1, 2, 2]);
});

test("extent: data on both sides of the antimeridian spans it (west > east), not the globe", () => {
  assert.deepEqual(unionBounds([[170, -20, 175, -15], [-178, -18, -175, -16]]), [170, -20, -175, -15]);
  assert.deepEqual(unionBounds([[175, 0, -175, 1], [-170, 0, -165, 1]]), [175, 0, -165, 1], "a box crossing it");
  assert.deepEqual(unionBounds([[-10, 0, 10, 1], [100, 0, 110, 1], [-120, 0, -110, 1]]), [-120, 0, 110, 1]);
  assert.deepEqual(unionBounds([[-180, -90, 180, 90], [0, 0, 1, 1]]), [-180, -90, 180, 90]);
  assert.ok(validBounds([170, 0, -170, 1]) && !validBounds([0, 2, 1, 1]));
});

test("extent: a margin around the data, a minimum size for a point, the whole circle at most", () => {
  assert.ok(close(padBounds([10, 20, 12, 21]), [9.8, 19.9, 12.2, 21.1]));
  assert.ok(close(padBounds([5, 5, 5, 5]), [4.995, 4.995, 5.005, 5.005]), "a point gets 0.01 degrees");
  assert.ok(close(padBounds([179, 0, 179.5, 1]), [178.95, -0.1, 179.55, 1.1]));
  assert.ok(close(padBounds([178, 0, 179.9, 1]), [177.81, -0.1, -179.91, 1.1]), "wraps across the antimeridian");
  assert.deepEqual(padBounds([-179, -89.9, 179, 89.9]), [-180, -90, 180, 90]);
  assert.equal(padBounds(null), null);
  assert.ok(containsBounds(padBounds([10, 20, 12, 21]), [10, 20, 12, 21]));
});

// ---- base maps ---------------------------------------------------------------------------------

test("base maps: the bundled one first, then the configured ones; mistakes reported, not used", () => {
  const { basemaps, problems } = parseBasemaps({
    basemaps: [
      { id: "osm", title: "OpenStreetMap", type: "xyz", url: "https://tile.example.org/{z}/{x}/{y}.png", attribution: "© OSM" },
      { id: "local", title: "Local", type: "xyz", url: "/raster/abc/tiles/WebMercatorQuad/{z}/{x}/{y}.png?colormap_name={key}", key: "viridis" },
      { id: "wm", title: "WMTS", type: "wmts", url: "https://wmts.example.org/service", layer: "ortho", tileMatrixSet: "EPSG:3857", format: "image/jpeg" },
      { id: "osm", title: "twice", type: "xyz", url: "https://x/{z}/{x}/{y}" },
      { id: "bad", title: "script", type: "xyz", url: "javascript:alert(1)" },
      { id: "proto", title: "protocol-relative", type: "xyz", url: "//evil.example/{z}/{x}/{y}" },
      { id: "nolayer", title: "WMTS without layer", type: "wmts", url: "https://x/wmts" },
      { id: "tms", title: "unknown type", type: "tms", url: "https://x/" },
      { title: "no id", type: "xyz", url: "https://x/" },
      "nonsense",
    ],
  });
  assert.deepEqual(
    basemaps.map((b) => b.id),
    [BUNDLED.id, "osm", "local", "wm"],
  );
  assert.equal(basemaps[2].url, "/raster/abc/tiles/WebMercatorQuad/{z}/{x}/{y}.png?colormap_name=viridis");
  assert.equal(problems.length, 7, problems.join("\n"));
  assert.match(problems.join("\n"), /"osm" is used twice/);
  assert.match(problems.join("\n"), /"bad": url must be http/);
  assert.match(problems.join("\n"), /"nolayer": a WMTS base map needs its layer/);
  assert.deepEqual(parseBasemaps(null).basemaps, [BUNDLED], "no configuration: the offline one");
  assert.deepEqual(parseBasemaps([]).problems, []);
  assert.equal(pickBasemap(basemaps, "wm").id, "wm");
  assert.equal(pickBasemap(basemaps, "gone").id, BUNDLED.id);
});

test("base maps: {key} substitution and the provider options", () => {
  assert.equal(substituteKey("https://x/{z}/{x}/{y}?k={key}&again={key}", "a b"), "https://x/{z}/{x}/{y}?k=a%20b&again=a%20b");
  assert.equal(substituteKey("https://x/{z}/{x}/{y}?k={key}", undefined), "https://x/{z}/{x}/{y}?k={key}");
  assert.deepEqual(providerOptions({ type: "xyz", url: "/t/{z}/{x}/{y}.png", attribution: "© Me" }), { url: "/t/{z}/{x}/{y}.png", credit: "© Me" });
  assert.deepEqual(providerOptions({ type: "wmts", url: "https://w/", layer: "l", tileMatrixSet: null, format: null, attribution: "" }), {
    url: "https://w/",
    layer: "l",
    style: "default",
    tileMatrixSetID: "GoogleMapsCompatible",
    format: "image/png",
    credit: undefined,
  });
  assert.throws(() => providerOptions(BUNDLED), /no provider/);
});

// ---- projects ----------------------------------------------------------------------------------

const NDVI = { mode: "index", index: "NDVI", colormap: "rdylgn", rescale: [[-1, 1]] };
const RGB = { mode: "bands", bands: [3, 2, 1], rescale: [[0, 3000]] };

test("projects: the map's layers as project layers (imagery bottom to top, then vectors)", () => {
  const imagery = [
    { id: "a", datasetId: "a", source: "raster", render: NDVI, visible: true, opacity: 0.7000001 },
    { id: "m-2", datasetId: "m", source: "mosaic", render: RGB, visible: false, opacity: 1 },
  ];
  const vectors = [{ id: "vector-v", datasetId: "v", visible: true, opacity: 0.8 }];
  assert.deepEqual(projectLayers(imagery, vectors), [
    { id: "a", kind: "dataset", visible: true, opacity: 0.7, render: NDVI },
    { id: "m", kind: "mosaic", visible: false, opacity: 1, render: RGB },
    { id: "v", kind: "dataset", visible: true, opacity: 0.8, render: {} },
  ]);
  assert.deepEqual(imagerySpec({ datasetId: "x", source: "raster" }), { id: "x", kind: "dataset", visible: true, opacity: 1, render: {} });
});

test("projects: a change is saved only when what the project stores differs", () => {
  const saved = [
    { id: "a", kind: "dataset", visible: true, opacity: 1, render: { rescale: [[-1, 1]], colormap: "rdylgn", index: "NDVI", mode: "index" } },
  ];
  const same = [{ id: "a", render: NDVI }]; // key order and the server's defaults do not matter
  assert.ok(sameLayers(saved, same));
  assert.equal(layersPatch(saved, same), null);
  const rerendered = [{ id: "a", kind: "dataset", visible: true, opacity: 1, render: { ...NDVI, colormap: "viridis" } }];
  assert.deepEqual(layersPatch(saved, rerendered), { layers: rerendered });
  assert.ok(layersPatch(saved, [{ ...saved[0], visible: false }]), "hidden");
  assert.ok(layersPatch(saved, [{ ...saved[0], opacity: 0.5 }]), "opacity");
  assert.ok(layersPatch(saved, [...saved, { id: "b", render: RGB }]), "added");
  assert.deepEqual(layersPatch(saved, []), { layers: [] }, "removed");
  const two = [saved[0], { id: "b", kind: "dataset", visible: true, opacity: 1, render: RGB }];
  assert.ok(layersPatch(two, [two[1], two[0]]), "reordered");
  assert.equal(canonical({ b: 1, a: [1, { d: 2, c: undefined }] }), '{"a":[1,{"d":2}],"b":1}');
});

test("projects: jobs added once; the project id in the URL hash", () => {
  assert.deepEqual(newJobs(["j1"], ["j1", "j2", "j2", "", null, "j3"]), ["j2", "j3"]);
  assert.deepEqual(newJobs(undefined, ["j1"]), ["j1"]);
  assert.equal(projectFromHash("#project=abc123"), "abc123");
  assert.equal(projectFromHash("#view=2d&project=p%201"), "p 1");
  assert.equal(projectFromHash(""), null);
  assert.equal(projectFromHash("#project="), null);
  assert.equal(hashWithProject("", "abc"), "#project=abc");
  assert.equal(hashWithProject("#view=2d", "abc"), "#view=2d&project=abc");
  assert.equal(hashWithProject("#project=abc", null), "");
  assert.equal(hashWithProject("#view=2d&project=abc", null), "#view=2d");
});

// ---- managing the catalog ------------------------------------------------------------------------

test("catalog: who may manage an entry; the PATCH an edit sends", () => {
  const mine = { id: "d1", title: "Scene", owner: "u1", visibility: "private", properties: { description: "old" } };
  assert.ok(canManage(mine, { id: "u1", is_admin: false }));
  assert.ok(canManage({ ...mine, owner: "u2" }, { id: null, is_admin: true }), "admins and single-user mode manage all");
  assert.ok(!canManage({ ...mine, owner: "u2" }, { id: "u1", is_admin: false }));
  assert.ok(!canManage({ ...mine, owner: null }, { id: null, is_admin: false }), "anonymous: nothing");
  assert.ok(!canManage(mine, null));
  assert.equal(descriptionOf(mine), "old");
  assert.equal(descriptionOf({ description: "mosaic text" }), "mosaic text");
  assert.equal(descriptionOf({}), "");
  assert.equal(editPatch(mine, { title: " Scene ", description: "old " }), null, "nothing changed");
  assert.deepEqual(editPatch(mine, { title: "Renamed", description: "old" }), { title: "Renamed" });
  assert.deepEqual(editPatch(mine, { title: "Scene", description: "" }), { description: "" });
  assert.deepEqual(editPatch({ id: "x" }, { title: "x", description: "new" }), { description: "new" });
  assert.throws(() => editPatch(mine, { title: "  ", description: "" }), /title must not be empty/);
});
