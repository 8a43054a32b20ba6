// Unit tests of the Tools panel's rules (no browser).
import assert from "node:assert/strict";
import { test } from "node:test";

import { removableModel } from "../src/toolsPanel.js";

test("only a trained or uploaded model, and only for its owner or an admin", () => {
  const alice = { id: "a1", is_admin: false };
  const root = { id: "r1", is_admin: true };
  const uploaded = { name: "roofs", source: "uploaded", owner: "a1" };
  assert.equal(removableModel(uploaded, alice), true);
  assert.equal(removableModel({ ...uploaded, source: "trained" }, alice), true);
  assert.equal(removableModel({ ...uploaded, owner: "b2" }, alice), false);
  assert.equal(removableModel({ ...uploaded, owner: "b2" }, root), true);
  assert.equal(removableModel({ ...uploaded, source: "built-in", owner: null }, root), false);
  assert.equal(removableModel(uploaded, null), false, "anonymous callers remove nothing");
  assert.equal(removableModel(null, root), false);
});
