// Catalog list: datasets and mosaics with an "Add" button each; what the user owns can also be
// renamed, described, made public or private, and deleted (PATCH / DELETE /datasets/{id} and
// /mosaics/{id}; the server's reason is shown when it refuses, e.g. a job or mosaic uses it).
import { clear, el, formatDate, icon } from "./ui.js";

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
 * True when the caller (GET /me) may change the entry: an administrator (single-user mode
 * included) or its owner. Anonymous callers manage nothing.
 */
export function canManage(entry, me) {
  if (!entry || !me) return false;
  if (me.is_admin) return true;
  return Boolean(me.id) && entry.owner === me.id;
}

/** A dataset's description (properties.description) or a mosaic's (description). */
export function descriptionOf(entry) {
  const text = (entry && (entry.description ?? (entry.properties && entry.properties.description))) || "";
  return String(text);
}

/**
 * The PATCH body for an edit form: only what changed ({title?, description?}); null when
 * nothing did. Throws when the title is emptied (the server needs one).
 */
export function editPatch(entry, { title, description }) {
  const patch = {};
  const t = String(title ?? "").trim();
  if (!t) throw new Error("The title must not be empty");
  if (t !== (entry.title || entry.id)) patch.title = t;
  const d = String(description ?? "").trim();
  if (d !== descriptionOf(entry).trim()) patch.description = d;
  return Object.keys(patch).length ? patch : null;
}

/**
 * @param {{root: HTMLElement, onAdd: (entry, source) => void, onRefresh: () => void,
 *          onUpdate?: (entry, source, patch) => Promise<object>,
 *          onDelete?: (entry, source) => Promise<void>, onError?: (err, title?) => void}} opts
 */
export function createCatalogPanel({ root, onAdd, onRefresh, onUpdate, onDelete, onUseTerrain = null, onError = () => {} }) {
  let state = { datasets: [], mosaics: [], loading: true, failed: false, me: null };
  let query = "";
  // One entry at a time is being edited or asked about: {id, mode: "edit"|"delete", busy, error}.
  let action = null;

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

  const manageable = (entry) => Boolean(onUpdate && onDelete) && canManage(entry, state.me);

  function setAction(next) {
    action = next;
    renderList();
  }

  /** Run a change; its failure (the server's detail) is shown in the item and as a message. */
  async function perform(entry, mode, title, fn) {
    setAction({ id: entry.id, mode, busy: true, error: null });
    try {
      await fn();
      setAction(null);
    } catch (err) {
      onError(err, title);
      setAction({ id: entry.id, mode, busy: false, error: err.message });
    }
  }

  function toggleVisibility(entry, source) {
    const visibility = entry.visibility === "public" ? "private" : "public";
    perform(entry, "visibility", `Could not make "${entry.title || entry.id}" ${visibility}`, () => onUpdate(entry, source, { visibility }));
  }

  function editForm(entry, source) {
    const busy = action.busy;
    const title = el("input", { type: "text", class: "input", value: entry.title || entry.id, maxlength: "512", testid: `manage-title-${entry.id}`, disabled: busy });
    const description = el("textarea", { class: "input", rows: "3", placeholder: "Description", testid: `manage-description-${entry.id}`, disabled: busy });
    description.value = descriptionOf(entry);
    if (!busy) setTimeout(() => title.isConnected && title.focus(), 0); // scrolls it into view
    const save = () => {
      let patch;
      try {
        patch = editPatch(entry, { title: title.value, description: description.value });
      } catch (err) {
        setAction({ ...action, error: err.message });
        return;
      }
      if (!patch) return setAction(null);
      perform(entry, "edit", `Could not save "${entry.title || entry.id}"`, () => onUpdate(entry, source, patch));
    };
    return el(
      "div",
      { class: "manage-form", testid: `manage-form-${entry.id}` },
      title,
      description,
      el(
        "div",
        { class: "button-row" },
        el("button", { type: "button", class: "btn btn-small", testid: `manage-save-${entry.id}`, disabled: busy, onclick: save }, busy ? "Saving…" : "Save"),
        el("button", { type: "button", class: "btn btn-small btn-ghost", testid: `manage-cancel-${entry.id}`, disabled: busy, onclick: () => setAction(null) }, "Cancel"),
      ),
    );
  }

  function deleteConfirm(entry, source) {
    const busy = action.busy;
    const what = source === "mosaic" ? "mosaic" : "dataset";
    return el(
      "div",
      { class: "manage-form manage-confirm", testid: `delete-ask-${entry.id}` },
      el("div", {}, `Delete the ${what} "${entry.title || entry.id}"? Its files are removed for everyone.`),
      el(
        "div",
        { class: "button-row" },
        el(
          "button",
          {
            type: "button",
            class: "btn btn-small btn-danger-solid",
            testid: `delete-confirm-${entry.id}`,
            disabled: busy,
            onclick: () => perform(entry, "delete", `Could not delete "${entry.title || entry.id}"`, () => onDelete(entry, source)),
          },
          busy ? "Deleting…" : "Delete",
        ),
        el("button", { type: "button", class: "btn btn-small btn-ghost", testid: `delete-cancel-${entry.id}`, disabled: busy, onclick: () => setAction(null) }, "Cancel"),
      ),
    );
  }

  function manageButtons(entry, source) {
    if (!manageable(entry)) return null;
    const busy = action && action.id === entry.id && action.busy;
    const vis = entry.visibility;
    return [
      vis === "public" || vis === "private"
        ? el(
            "button",
            {
              type: "button",
              class: `btn btn-small btn-ghost visibility-${vis}`,
              testid: `visibility-${entry.id}`,
              dataset: { visibility: vis },
              title: vis === "public" ? "Public: everyone can see it. Click to make it private." : "Private: only you can see it. Click to make it public.",
              disabled: busy,
              onclick: () => toggleVisibility(entry, source),
            },
            vis === "public" ? "Public" : "Private",
          )
        : null,
      el("button", { type: "button", class: "btn btn-icon", title: "Rename, describe", testid: `manage-${entry.id}`, disabled: busy, onclick: () => setAction({ id: entry.id, mode: "edit", busy: false, error: null }) }, icon("pencil")),
      el("button", { type: "button", class: "btn btn-icon btn-danger", title: "Delete…", testid: `delete-${entry.id}`, disabled: busy, onclick: () => setAction({ id: entry.id, mode: "delete", busy: false, error: null }) }, "✕"),
    ];
  }

  function item(entry, source) {
    const vector = entry.kind === "vector";
    const mine = action && action.id === entry.id ? action : null;
    const description = descriptionOf(entry);
    return el(
      "div",
      { class: "catalog-entry", testid: `catalog-entry-${entry.id}` },
      el(
        "div",
        { class: "catalog-item", testid: `catalog-item-${entry.id}`, title: `${entry.title || entry.id}\nid: ${entry.id}${description ? `\n${description}` : ""}` },
        el(
          "div",
          { class: "catalog-text" },
          el("div", { class: "catalog-title", testid: `catalog-title-${entry.id}` }, entry.title || entry.id),
          el(
            "div",
            { class: "catalog-meta" },
            entry.visibility === "private"
              ? el("span", { class: "private-badge", testid: `private-${entry.id}`, title: "Private: only its owner and administrators see it" }, icon("lock"), "private")
              : null,
            metaLine(entry, source),
          ),
        ),
        manageButtons(entry, source),
        onUseTerrain && entry.kind !== "vector" && entry.properties && entry.properties.elevation
          ? el("button", { type: "button", class: "btn btn-small btn-ghost", testid: `use-terrain-${entry.id}`, title: "Use this elevation model as the globe's terrain", onclick: () => onUseTerrain(entry, source) }, "Terrain")
          : null,
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
      ),
      mine && mine.mode === "edit" ? editForm(entry, source) : null,
      mine && mine.mode === "delete" ? deleteConfirm(entry, source) : null,
      mine && mine.error ? el("div", { class: "hint error-text", testid: `manage-error-${entry.id}` }, mine.error) : null,
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
