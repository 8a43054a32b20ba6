// Unit tests for src/renderOnDemand.js with a stand-in viewer (no browser needed).
import assert from "node:assert/strict";
import { test } from "node:test";

import { renderOnDemand } from "../src/renderOnDemand.js";

function event() {
  const listeners = new Set();
  return {
    addEventListener: (fn) => (listeners.add(fn), () => listeners.delete(fn)),
    raise: () => listeners.forEach((fn) => fn()),
    get size() {
      return listeners.size;
    },
  };
}

function standIn() {
  const viewer = {
    renders: 0,
    scene: { requestRender: () => (viewer.renders += 1) },
    entities: { collectionChanged: event() },
    dataSources: { dataSourceAdded: event(), dataSourceRemoved: event() },
  };
  return viewer;
}

test("input events, entity and data source changes and the heartbeat each request a frame", () => {
  const viewer = standIn();
  const target = new EventTarget();
  let beat = null;
  const stopped = [];
  const stop = renderOnDemand(viewer, { target, every: (fn, ms) => ((beat = { fn, ms }), 7), stop: (t) => stopped.push(t) });
  assert.equal(viewer.renders, 0);
  target.dispatchEvent(new Event("pointermove"));
  target.dispatchEvent(new Event("wheel"));
  viewer.entities.collectionChanged.raise();
  viewer.dataSources.dataSourceAdded.raise();
  beat.fn();
  assert.equal(viewer.renders, 5);
  assert.equal(beat.ms, 3000);
  stop();
  target.dispatchEvent(new Event("keydown"));
  viewer.entities.collectionChanged.raise();
  assert.equal(viewer.renders, 5, "nothing requests frames once stopped");
  assert.deepEqual(stopped, [7]);
  assert.equal(viewer.entities.collectionChanged.size, 0);
});
