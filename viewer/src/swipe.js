// Swipe compare: one imagery layer left of a draggable divider, another right of it
// (ImageryLayer.splitDirection + scene.splitPosition).
import { clear, el } from "./ui.js";

/**
 * @param {{root: HTMLElement, container: HTMLElement, viewer,
 *          manager: import("./layers.js").LayerManager, onError: (err, title?) => void}} opts
 */
export function createSwipe({ root, container, viewer, manager, onError }) {
  const left = el("select", { class: "input", testid: "swipe-left", onchange: () => apply() });
  const right = el("select", { class: "input", testid: "swipe-right", onchange: () => apply() });
  const toggle = el("button", { type: "button", class: "btn btn-small", testid: "swipe-toggle", onclick: () => (enabled ? disable() : enable()) }, "Compare");
  const note = el("div", { class: "hint" });
  root.append(
    el("div", { class: "section-head" }, el("h2", {}, "Swipe compare"), toggle),
    el("div", { class: "two-col" }, el("label", { class: "field" }, el("span", { class: "field-label" }, "Left"), left), el("label", { class: "field" }, el("span", { class: "field-label" }, "Right"), right)),
    note,
  );
  const divider = el("div", { class: "swipe-divider", testid: "swipe-divider", hidden: true, title: "Drag to compare" }, el("div", { class: "swipe-grip" }, "⇔"));
  container.append(divider);

  let enabled = false;

  function placeDivider() {
    divider.style.left = `${viewer.scene.splitPosition * 100}%`;
  }

  function refresh() {
    const layers = [...manager.layers].reverse(); // top first
    const keep = [left.value, right.value];
    clear(left);
    clear(right);
    for (const h of layers) {
      left.append(el("option", { value: h.id }, h.title));
      right.append(el("option", { value: h.id }, h.title));
    }
    const ids = layers.map((h) => h.id);
    left.value = ids.includes(keep[0]) ? keep[0] : ids[1] || ids[0] || "";
    right.value = ids.includes(keep[1]) ? keep[1] : ids[0] || "";
    toggle.disabled = layers.length < 2 && !enabled;
    note.textContent = layers.length < 2 ? "Add two layers to compare them side by side." : "";
    if (enabled && (!ids.includes(left.value) || !ids.includes(right.value) || layers.length < 2)) disable();
    else if (enabled) apply();
  }

  function apply() {
    if (!enabled) return;
    for (const h of manager.layers) {
      const side = h.id === left.value ? "left" : h.id === right.value ? "right" : null;
      if (h.split !== side) manager.setSplit(h, side);
    }
  }

  function enable(leftId, rightId) {
    if (leftId) left.value = leftId;
    if (rightId) right.value = rightId;
    if (!left.value || !right.value) throw new Error("Choose two layers to compare");
    if (left.value === right.value) throw new Error("Choose two different layers to compare");
    enabled = true;
    for (const id of [left.value, right.value]) {
      const h = manager.find(id);
      if (h && !h.visible) manager.setVisible(h, true);
    }
    apply();
    if (!(viewer.scene.splitPosition > 0 && viewer.scene.splitPosition < 1)) viewer.scene.splitPosition = 0.5;
    divider.hidden = false;
    placeDivider();
    toggle.textContent = "Stop";
    toggle.classList.add("active");
    root.dataset.enabled = "1";
  }

  function disable() {
    enabled = false;
    for (const h of manager.layers) if (h.split) manager.setSplit(h, null);
    divider.hidden = true;
    toggle.textContent = "Compare";
    toggle.classList.remove("active");
    root.dataset.enabled = "0";
  }

  // Dragging the divider.
  divider.addEventListener("pointerdown", (e) => {
    e.preventDefault();
    divider.setPointerCapture(e.pointerId);
    const move = (ev) => {
      const rect = container.getBoundingClientRect();
      const x = Math.min(Math.max(ev.clientX - rect.left, 0), rect.width);
      viewer.scene.splitPosition = rect.width ? x / rect.width : 0.5;
      placeDivider();
    };
    const up = () => {
      divider.removeEventListener("pointermove", move);
      divider.removeEventListener("pointerup", up);
    };
    divider.addEventListener("pointermove", move);
    divider.addEventListener("pointerup", up);
  });

  refresh();
  return {
    refresh,
    enable: (a, b) => {
      try {
        enable(a, b);
      } catch (err) {
        onError(err, "Swipe");
        throw err;
      }
    },
    disable,
    setPosition(fraction) {
      viewer.scene.splitPosition = Math.min(Math.max(Number(fraction), 0), 1);
      placeDivider();
    },
    get enabled() {
      return enabled;
    },
  };
}
