// "Layers" list: visibility, opacity, order, zoom-to and remove for each added layer.
import { clear, el, icon } from "./ui.js";
import { describeRender } from "./layers.js";

/**
 * @param {{root: HTMLElement, manager: import("./layers.js").LayerManager,
 *          onZoom: (handle) => void, onError: (err) => void}} opts
 */
export function createLayersPanel({ root, manager, onZoom, onError }) {
  const list = el("div", { class: "layer-list", testid: "layer-list" });
  root.append(el("div", { class: "section-head" }, el("h2", {}, "Layers")), list);

  const guard = (fn) => (...args) => {
    try {
      return fn(...args);
    } catch (err) {
      onError(err);
    }
  };

  function row(handle, position, total) {
    const id = handle.id;
    const selected = manager.selected === handle;
    return el(
      "div",
      {
        class: `layer-item${selected ? " selected" : ""}${handle.visible ? "" : " hidden-layer"}`,
        testid: `layer-${id}`,
        onclick: guard((e) => {
          if (e.target.closest("button, input")) return;
          manager.select(handle);
        }),
      },
      el(
        "div",
        { class: "layer-row" },
        el("input", {
          type: "checkbox",
          checked: handle.visible,
          title: "Show / hide",
          testid: `visible-${id}`,
          onchange: guard((e) => manager.setVisible(handle, e.target.checked)),
        }),
        el(
          "div",
          { class: "layer-text" },
          el(
            "div",
            { class: "layer-title" },
            handle.tileError ? el("span", { class: "layer-warn", title: handle.tileError, testid: `tile-error-${id}` }, "⚠ ") : null,
            handle.title,
          ),
          el("div", { class: "layer-meta", title: describeRender(handle.render, handle.dataset) }, describeRender(handle.render, handle.dataset)),
        ),
        el(
          "div",
          { class: "layer-buttons" },
          el(
            "button",
            { type: "button", class: "btn btn-icon", title: "Move up", disabled: position === 0, onclick: guard(() => manager.move(handle, +1)) },
            "▲",
          ),
          el(
            "button",
            { type: "button", class: "btn btn-icon", title: "Move down", disabled: position === total - 1, onclick: guard(() => manager.move(handle, -1)) },
            "▼",
          ),
          el(
            "button",
            { type: "button", class: "btn btn-icon", title: "Zoom to", testid: `zoom-${id}`, onclick: () => onZoom(handle) },
            icon("target"),
          ),
          el(
            "button",
            { type: "button", class: "btn btn-icon btn-danger", title: "Remove", testid: `remove-${id}`, onclick: guard(() => manager.remove(handle)) },
            "✕",
          ),
        ),
      ),
      el(
        "label",
        { class: "opacity" },
        "Opacity",
        el("input", {
          type: "range",
          min: "0",
          max: "1",
          step: "0.05",
          value: handle.opacity,
          testid: `opacity-${id}`,
          oninput: guard((e) => manager.setOpacity(handle, e.target.value)),
        }),
      ),
    );
  }

  return {
    render() {
      clear(list);
      if (!manager.layers.length) {
        list.append(el("div", { class: "empty" }, "No layers yet. Add one from the catalog."));
        return;
      }
      // Top of the stack first, like most GIS tools.
      const ordered = [...manager.layers].reverse();
      ordered.forEach((handle, i) => list.append(row(handle, i, ordered.length)));
    },
  };
}
