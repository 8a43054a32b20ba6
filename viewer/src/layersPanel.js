// "Layers" list: vector layers (drawn on top) and imagery layers, each with visibility,
// opacity, zoom-to, remove and a legend; imagery layers also move up / down in the stack,
// vector layers can be edited.
import { api } from "./api.js";
import { describeRender } from "./layers.js";
import { clear, el, formatNumber, icon } from "./ui.js";

function swatches(classes, hiddenClasses = [], testid) {
  const shown = Object.entries(classes || {}).filter(([k]) => !hiddenClasses.map(String).includes(String(k)));
  if (!shown.length) return null;
  return el(
    "div",
    { class: "legend legend-classes", testid },
    shown.map(([, c]) => el("span", { class: "legend-class" }, el("span", { class: "swatch", style: `background:${c.color}` }), c.name)),
  );
}

/** A compact legend for a render: a colour ramp with its range, or class swatches. */
export function renderLegend(render, testid) {
  if (!render) return null;
  if (render.mode === "classes") return swatches(render.classes, render.hidden, testid);
  if (!render.colormap) return null;
  const [lo, hi] = Array.isArray(render.rescale) && render.rescale[0] ? render.rescale[0] : ["", ""];
  return el(
    "div",
    { class: "legend legend-mini", testid },
    el("span", {}, formatNumber(lo)),
    el("img", { class: "legend-img", alt: `${render.colormap} colormap`, src: api.colormapLegendUrl(render.colormap, { width: 128, height: 10 }) }),
    el("span", {}, formatNumber(hi)),
  );
}

/**
 * @param {{root: HTMLElement, manager: import("./layers.js").LayerManager,
 *          vectors: import("./vectorLayers.js").VectorLayerManager,
 *          isEditing: (handle) => boolean, onEdit: (handle) => void,
 *          onZoom: (handle) => void, onError: (err) => void}} opts
 */
export function createLayersPanel({ root, manager, vectors, isEditing = () => false, onEdit = () => {}, onZoom, buildings = null, getTerrains = () => [], onError }) {
  const list = el("div", { class: "layer-list", testid: "layer-list" });
  root.append(el("div", { class: "section-head" }, el("h2", {}, "Layers")), list);

  const guard = (fn) => (...args) => {
    try {
      return fn(...args);
    } catch (err) {
      onError(err);
    }
  };

  const opacityRow = (handle, owner) =>
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
        testid: `opacity-${handle.id}`,
        oninput: guard((e) => owner.setOpacity(handle, e.target.value)),
      }),
    );

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
            handle.split ? el("span", { class: "layer-tag", title: "Swipe compare side" }, handle.split === "left" ? "◧ " : "◨ ") : null,
            handle.title,
          ),
          el("div", { class: "layer-meta", title: describeRender(handle.render, handle.dataset) }, describeRender(handle.render, handle.dataset)),
        ),
        el(
          "div",
          { class: "layer-buttons" },
          el(
            "button",
            { type: "button", class: "btn btn-icon", title: "Move up", testid: `up-${id}`, disabled: position === 0, onclick: guard(() => manager.move(handle, +1)) },
            "▲",
          ),
          el(
            "button",
            { type: "button", class: "btn btn-icon", title: "Move down", testid: `down-${id}`, disabled: position === total - 1, onclick: guard(() => manager.move(handle, -1)) },
            "▼",
          ),
          el("button", { type: "button", class: "btn btn-icon", title: "Zoom to", testid: `zoom-${id}`, onclick: () => onZoom(handle) }, icon("target")),
          el(
            "button",
            { type: "button", class: "btn btn-icon btn-danger", title: "Remove", testid: `remove-${id}`, onclick: guard(() => manager.remove(handle)) },
            "✕",
          ),
        ),
      ),
      renderLegend(handle.render, `layer-legend-${id}`),
      opacityRow(handle, manager),
    );
  }

  function vectorRow(handle) {
    const id = handle.id;
    const editing = isEditing(handle);
    const count = handle.dataset.properties && handle.dataset.properties.feature_count;
    return el(
      "div",
      { class: `layer-item vector-item${handle.visible ? "" : " hidden-layer"}${editing ? " editing" : ""}`, testid: `layer-${id}` },
      el(
        "div",
        { class: "layer-row" },
        el("input", { type: "checkbox", checked: handle.visible, title: "Show / hide", testid: `visible-${id}`, onchange: guard((e) => vectors.setVisible(handle, e.target.checked)) }),
        el(
          "div",
          { class: "layer-text" },
          el("div", { class: "layer-title" }, handle.title),
          el("div", { class: "layer-meta" }, `vector tiles · ${handle.layer}${count ? ` · ${count} features` : ""}${handle.version ? ` · v${handle.version}` : ""}${handle.loading ? " · loading…" : ""}`),
        ),
        el(
          "div",
          { class: "layer-buttons" },
          el(
            "button",
            { type: "button", class: `btn btn-icon${editing ? " active" : ""}`, title: editing ? "Stop editing" : "Edit features", testid: `edit-${id}`, onclick: guard(() => onEdit(handle)) },
            icon("pencil"),
          ),
          el("button", { type: "button", class: "btn btn-icon", title: "Zoom to", testid: `zoom-${id}`, onclick: () => onZoom(handle) }, icon("target")),
          el("button", { type: "button", class: "btn btn-icon btn-danger", title: "Remove", testid: `remove-${id}`, onclick: guard(() => vectors.remove(handle)) }, "✕"),
        ),
      ),
      swatches(handle.classes, ["0"].filter((k) => handle.classes && Object.keys(handle.classes).length > 1 && k in handle.classes), `layer-legend-${id}`),
      opacityRow(handle, vectors),
      buildingsRow(handle),
    );
  }

  /** The "3D" choice of a vector layer: flat, extruded by a height attribute, or by a DSM. */
  function buildingsRow(handle) {
    if (!buildings) return null;
    const state = buildings.state(handle);
    const value = !state ? "" : state.attribute === "dsm" ? `dsm:${state.dsm}` : state.attribute || "auto";
    const options = [el("option", { value: "" }, "flat"), el("option", { value: "auto" }, "3D: height attribute (automatic)")];
    for (const name of (state && state.attributes) || []) options.push(el("option", { value: name }, `3D: ${name}${/level|stor|floor/.test(name) ? " × 3 m" : " (m)"}`));
    for (const t of getTerrains()) options.push(el("option", { value: `dsm:${t.id}` }, `3D: surface ${t.title || t.id} − terrain`));
    const select = el("select", {
      class: "input input-small",
      testid: `buildings-${handle.id}`,
      title: "Extrude polygons as 3D buildings",
      onchange: guard((e) => {
        const v = e.target.value;
        if (!v) return buildings.disable(handle);
        if (v.startsWith("dsm:")) return buildings.enable(handle, { attribute: "dsm", dsm: v.slice(4) });
        return buildings.enable(handle, { attribute: v === "auto" ? null : v });
      }),
    }, options);
    select.value = value;
    const note = state ? el("span", { class: "hint", testid: `buildings-count-${handle.id}` }, `${state.count} building${state.count === 1 ? "" : "s"}${state.used && state.used !== "dsm" ? ` · ${state.used}` : ""}`) : null;
    return el("div", { class: "layer-row buildings-row" }, select, note);
  }

  return {
    render() {
      clear(list);
      if (!manager.layers.length && !vectors.layers.length) {
        list.append(el("div", { class: "empty" }, "No layers yet. Add one from the catalog, a search or a tool."));
        return;
      }
      for (const handle of [...vectors.layers].reverse()) list.append(vectorRow(handle));
      // Top of the stack first, like most GIS tools.
      const ordered = [...manager.layers].reverse();
      ordered.forEach((handle, i) => list.append(row(handle, i, ordered.length)));
    },
  };
}
