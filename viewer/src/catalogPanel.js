// Catalog list: datasets and mosaics with an "Add" button each.
import { clear, el, formatDate } from "./ui.js";

const SENSOR_LABELS = {
  generic: "generic",
  "sentinel-2-l2a": "Sentinel-2 L2A",
  "landsat-c2l2": "Landsat C2 L2",
  "sentinel-1-grd": "Sentinel-1 GRD",
};

function metaLine(entry, source) {
  const parts = [];
  if (source === "mosaic") parts.push("mosaic");
  else if (entry.kind === "vector") {
    const count = entry.properties && entry.properties.feature_count;
    parts.push(`${(entry.properties && entry.properties.geometry_type) || "vector"}${count ? ` · ${count} features` : ""}`);
  } else parts.push(SENSOR_LABELS[entry.sensor] || entry.sensor || "generic");
  if (entry.datetime) parts.push(formatDate(entry.datetime));
  if (typeof entry.cloud_cover === "number") parts.push(`☁ ${Math.round(entry.cloud_cover)}%`);
  const nb = (entry.band_names || []).length;
  if (nb) parts.push(`${nb} band${nb === 1 ? "" : "s"}`);
  return parts.join(" · ");
}

function matches(entry, query) {
  if (!query) return true;
  const hay = [entry.id, entry.title, entry.sensor, entry.datetime, entry.crs].join(" ").toLowerCase();
  return query
    .toLowerCase()
    .split(/\s+/)
    .every((word) => hay.includes(word));
}

/**
 * @param {{root: HTMLElement, onAdd: (entry, source) => void, onRefresh: () => void}} opts
 */
export function createCatalogPanel({ root, onAdd, onRefresh }) {
  let state = { datasets: [], mosaics: [], loading: true, failed: false };
  let query = "";

  const filter = el("input", {
    type: "search",
    class: "input",
    placeholder: "Filter by title, id, sensor…",
    testid: "catalog-filter",
    oninput: (e) => {
      query = e.target.value.trim();
      renderList();
    },
  });
  const refresh = el(
    "button",
    { type: "button", class: "btn btn-icon", title: "Reload catalog", testid: "catalog-refresh", onclick: () => onRefresh() },
    "↻",
  );
  const count = el("span", { class: "count" });
  const list = el("div", { class: "catalog-list", testid: "catalog-list" });

  root.append(
    el("div", { class: "section-head" }, el("h2", {}, "Catalog ", count), refresh),
    filter,
    list,
  );

  function item(entry, source) {
    const vector = entry.kind === "vector";
    return el(
      "div",
      { class: "catalog-item", testid: `catalog-item-${entry.id}`, title: `${entry.title || entry.id}\nid: ${entry.id}` },
      el(
        "div",
        { class: "catalog-text" },
        el("div", { class: "catalog-title" }, entry.title || entry.id),
        el("div", { class: "catalog-meta" }, metaLine(entry, source)),
      ),
      el(
        "button",
        {
          type: "button",
          class: "btn btn-small",
          testid: `add-${entry.id}`,
          title: vector ? "Add as vector tiles and zoom to it" : "Add as a layer and zoom to it",
          onclick: () => onAdd(entry, vector ? "vector" : source),
        },
        "Add",
      ),
    );
  }

  function group(title, entries, source) {
    const shown = entries.filter((e) => matches(e, query));
    if (!entries.length) return null;
    return el(
      "div",
      { class: "catalog-group" },
      el("div", { class: "group-title" }, `${title} (${shown.length}${shown.length !== entries.length ? ` of ${entries.length}` : ""})`),
      shown.map((e) => item(e, source)),
    );
  }

  function renderList() {
    clear(list);
    const total = state.datasets.length + state.mosaics.length;
    count.textContent = state.loading ? "" : `(${total})`;
    if (state.loading && !total) {
      list.append(el("div", { class: "empty" }, "Loading catalog…"));
      return;
    }
    if (!total) {
      list.append(
        el("div", { class: "empty" }, state.failed ? "Catalog could not be loaded." : "No datasets registered yet."),
      );
      return;
    }
    if (state.failed) list.append(el("div", { class: "empty" }, "Datasets could not be loaded."));
    const rasters = state.datasets.filter((d) => d.kind !== "vector");
    const vectors = state.datasets.filter((d) => d.kind === "vector");
    for (const node of [group("Rasters", rasters, "raster"), group("Vectors", vectors, "vector"), group("Mosaics", state.mosaics, "mosaic")]) {
      if (node) list.append(node);
    }
  }

  renderList();
  return {
    update(next) {
      state = { ...state, ...next };
      renderList();
    },
  };
}
