// Unit tests of the "Add a model" card builder (no browser).
import assert from "node:assert/strict";
import { test } from "node:test";

import { cardFromForm, parseClasses } from "../src/modelUpload.js";

test("classes are ID=NAME with an optional colour, at least two", () => {
  assert.deepEqual(parseClasses("0=background:#000000, 1=water"), {
    0: { name: "background", color: "#000000" },
    1: { name: "water", color: "#e6194b" },
  });
  assert.throws(() => parseClasses("1=water"), /at least two/);
  assert.throws(() => parseClasses("water, land"), /ID=NAME/);
});

test("the form's fields make the card; blank numbers are left to the server", () => {
  const card = cardFromForm({ name: "my-water", bands: "red, green,blue", classes: "0=land,1=water:#1f6fd1", scale: "0.0039", chip: "64", resMin: "0.5", resMax: "", logits: true });
  assert.deepEqual(card, {
    name: "my-water",
    bands: ["red", "green", "blue"],
    classes: { 0: { name: "land", color: "#000000" }, 1: { name: "water", color: "#1f6fd1" } },
    scale: 0.0039,
    chip_size: 64,
    resolution_range: [0.5, 0.5],
    output: "logits",
  });
  assert.equal("offset" in card, false);
});

test("a card picked as JSON is the base and the fields override it", () => {
  const base = { name: "a", bands: ["nir"], classes: { 0: { name: "x", color: "#000000" }, 1: { name: "y", color: "#ffffff" } }, chip_size: 128 };
  const card = cardFromForm({ name: "b", chip: "" }, base);
  assert.equal(card.name, "b");
  assert.equal(card.chip_size, 128);
  assert.throws(() => cardFromForm({ name: "c" }), /bands/);
  assert.throws(() => cardFromForm({ name: "c", bands: "red", classes: "0=a,1=b", scale: "x" }), /scale must be a number/);
});
