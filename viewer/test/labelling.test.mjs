// Unit tests of the labelling panel's helpers (no browser): class values and colours, the
// save bodies and how a training result is shown.
import assert from "node:assert/strict";
import { test } from "node:test";

import { FIRST_PREDICTION_PIXELS, PALETTE, accuracyText, countByClass, defaultColor, firstPredictionArea, needsSamplesMessage, newClass, saveBody, samplesFromFeatures } from "../src/samples.js";

test("new classes take the next free value and the training palette's colour", () => {
  const water = newClass([], "water");
  assert.deepEqual(water, { value: 1, name: "water", color: "#1f6fd1" });
  const land = newClass([water], " land ");
  assert.deepEqual(land, { value: 2, name: "land", color: "#2e8b3a" });
  assert.equal(newClass([land], "").value, 1, "a freed value is used again");
  assert.throws(() => newClass([water], "Water"), /already/);
  assert.equal(defaultColor(13), PALETTE[1]);
});

test("the first save creates the set, later saves send samples and classes only", () => {
  const classes = [{ value: 1, name: "water", color: "#1f6fd1" }];
  const samples = [{ geometry: { type: "Point", coordinates: [1, 2] }, class: 1, kind: "point", width_m: 30, entity: {} }];
  const first = saveBody({ image: "img", title: "", classes, samples, created: false });
  assert.deepEqual(first, { image: "img", title: undefined, classes, samples: [{ geometry: samples[0].geometry, class: 1, kind: "point", width_m: 30 }] });
  const later = saveBody({ image: "img", title: "t", classes, samples, created: true });
  assert.deepEqual(Object.keys(later).sort(), ["classes", "samples"]);
  assert.throws(() => saveBody({ image: "img", classes, samples: [], created: false }), /at least one sample/);
});

test("stored samples come back as polygons with their class", () => {
  const polygon = { type: "MultiPolygon", coordinates: [] };
  const got = samplesFromFeatures({ features: [{ geometry: polygon, properties: { class: 2, kind: "brush" } }] });
  assert.deepEqual(got, [{ geometry: polygon, class: 2, kind: "brush" }]);
  assert.deepEqual(countByClass([{ class: 1 }, { class: 2 }, { class: 1 }]), { 1: 2, 2: 1 });
});

test("the accuracy line reads the held-out metrics", () => {
  assert.equal(accuracyText({ metrics: { overall_accuracy: 0.9713, mean_iou: 0.9121, pixels: 12000 } }), "Held-out accuracy 97.1 % · mIoU 0.912 · 12,000 px");
  assert.match(accuracyText({ metrics: { overall_accuracy: null } }), /No held-out samples/);
  assert.equal(
    accuracyText({ metrics: { overall_accuracy: 0.95 }, card: { method: "pixel-classifier" }, training_seconds: 8.6 }),
    "Held-out accuracy 95.0 % · pixel classifier · trained in 9 s",
  );
});

test("a set started for a change pair names its later date; a needs_samples answer says why", () => {
  const classes = [{ value: 1, name: "dam", color: "#7a5230" }];
  const samples = [{ geometry: { type: "Point", coordinates: [1, 2] }, class: 1, kind: "point" }];
  assert.equal(saveBody({ image: "a", laterImage: "b", classes, samples, created: false }).later_image, "b");
  assert.equal(saveBody({ image: "a", laterImage: "b", classes, samples, created: true }).later_image, undefined);
  const body = {
    code: "needs_samples",
    process: "dam",
    dataset_bands: ["red", "green", "blue"],
    labelling: { image: "a", title: "dam samples", classes: [...classes, { value: 2, name: "background", color: "#000000" }] },
  };
  assert.equal(needsSamplesMessage(body), "dam has no zero-sample method for red, green, blue: draw dam and background samples, then Train");
  assert.equal(needsSamplesMessage({}), "This tool has no zero-sample method for this image's bands: draw samples, then Train");
});

test("the first prediction covers the image in view, at most a megapixel of it", () => {
  const image = { bounds: [10, 40, 11, 41], width: 4000, height: 4000 }; // 16 Mpx
  const ring = (area) => area.coordinates[0];
  const pixels = (area) => {
    const [[w, s], , [e, n]] = ring(area);
    return (e - w) * 4000 * (n - s) * 4000;
  };
  // a view inside the image, 400 x 400 px: all of it
  const small = firstPredictionArea(image, [10.5, 40.5, 10.6, 40.6]);
  assert.deepEqual(ring(small)[0], [10.5, 40.5]);
  assert.deepEqual(ring(small)[2], [10.6, 40.6]);
  // the whole image in view: a centred square of at most 1 Mpx
  const whole = firstPredictionArea(image, [9, 39, 12, 42]);
  assert.ok(pixels(whole) <= FIRST_PREDICTION_PIXELS + 1 && pixels(whole) > 0.99 * FIRST_PREDICTION_PIXELS);
  const [[w, s], , [e, n]] = ring(whole);
  assert.ok(Math.abs((w + e) / 2 - 10.5) < 1e-9 && Math.abs((s + n) / 2 - 40.5) < 1e-9);
  // a small image in view: all of it; a view elsewhere or none: the image (centre)
  const demo = { bounds: [10, 40, 10.1, 40.1], width: 768, height: 768 };
  assert.deepEqual(ring(firstPredictionArea(demo, [9, 39, 12, 42]))[2], [10.1, 40.1]);
  assert.deepEqual(ring(firstPredictionArea(demo, [20, 20, 21, 21]))[0], [10, 40]);
  assert.deepEqual(ring(firstPredictionArea(demo, null))[0], [10, 40]);
});
