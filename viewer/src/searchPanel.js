// "Search" panel: an area (a place found by name, a drawn box or polygon, the current view, or an
// uploaded vector dataset), a date range, a cloud-cover limit, sensors (STAC collections) and
// sources (this catalog and the remote STAC APIs the server federates) -> POST /stac/search.
// Results show their source, thumbnails, and can be added to the map (a remote one is registered
// first: POST /datasets/items/from-source), downloaded (the COG asset) or inspected.
import { api, getJSON, sendJSON } from "./api.js";
import { withToken } from "./auth.js";
import { DrawCancelled, polygonFromBbox } from "./draw.js";
import { clear, el, formatDate } from "./ui.js";

const PAGE_SIZE = 50;
const LOCAL = "local";
const PLACE_DELAY_MS = 200;

/** The STAC search body for a form state (pure; unit-tested). ``sources`` is sent only when it
 * names more than this catalog (a plain search stays a local one). */
export function searchBody({ area, from, to, cloud, includeUnknownCloud, collections, allCollections, sources }) {
  const body = { limit: PAGE_SIZE, sortby: [{ field: "datetime", direction: "desc" }] };
  if (sources && sources.length && !(sources.length === 1 && sources[0] === LOCAL)) body.sources = sources;
  if (area) {
    if (area.kind === "dataset") body.intersects_dataset = area.datasetId;
    else if (area.kind === "polygon" || area.kind === "place") body.intersects = area.geometry;
    else if (area.bbox) body.bbox = area.bbox.map((v) => Number(v.toFixed(6)));
  }
  if (from || to) body.datetime = `${from ? `${from}T00:00:00Z` : ".."}/${to ? `${to}T23:59:59Z` : ".."}`;
  if (collections && allCollections && collections.length && collections.length < allCollections.length) {
    body.collections = collections;
  }
  if (Number.isFinite(cloud) && cloud < 100) {
    body.filter = includeUnknownCloud ? `eo:cloud_cover <= ${cloud} OR eo:cloud_cover IS NULL` : `eo:cloud_cover <= ${cloud}`;
    body["filter-lang"] = "cql2-text";
  }
  return body;
}

/** A place suggestion's label: "Hubei — Province, China". */
export function placeLabel(place) {
  const where = [place.type, place.region, place.country_name].filter((v) => v && v !== place.name);
  return where.length ? `${place.name} — ${where.join(", ")}` : place.name;
}

function describeArea(area) {
  if (!area) return "Anywhere";
  if (area.kind === "dataset") return `Inside "${area.title}"`;
  if (area.kind === "place") return `Place: ${area.title}`;
  const [w, s, e, n] = area.bbox;
  const label = area.kind === "polygon" ? "Polygon" : area.kind === "view" ? "View" : "Box";
  return `${label} ${w.toFixed(3)}, ${s.toFixed(3)} – ${e.toFixed(3)}, ${n.toFixed(3)}`;
}

/**
 * @param {{root: HTMLElement, viewer, draw: import("./draw.js").DrawTool,
 *          getVectors: () => object[], onAdd: (item) => Promise<void>, onError: (err, title?) => void}} opts
 */
export function createSearchPanel({ root, viewer, draw, getVectors, onAdd, onError }) {
  let area = null;
  let collections = [];
  let results = [];
  let next = null;
  let footprints = [];
  let sourceList = [];
  let sourceTitles = {};
  let placeTimer = null;
  let placeQuery = 0;

  const areaLabel = el("div", { class: "area-label", testid: "search-area" }, describeArea(null));
  const vectorSelect = el("select", {
    class: "input",
    testid: "search-area-vector",
    title: "Search inside an uploaded vector dataset",
    onchange: (e) => {
      const id = e.target.value;
      if (!id) return;
      const entry = getVectors().find((v) => v.id === id);
      setArea({ kind: "dataset", datasetId: id, title: entry ? entry.title : id, bbox: entry ? entry.bounds : null, geometry: entry ? entry.footprint : null });
    },
  });
  const drawButton = (label, testid, fn) =>
    el("button", { type: "button", class: "btn btn-small btn-ghost", testid, onclick: () => fn().catch((err) => err instanceof DrawCancelled || onError(err, "Search area")) }, label);
  const from = el("input", { type: "date", class: "input", testid: "search-from" });
  const to = el("input", { type: "date", class: "input", testid: "search-to" });
  const cloud = el("input", { type: "range", min: "0", max: "100", step: "5", value: "100", testid: "search-cloud", oninput: () => syncCloud() });
  const cloudLabel = el("span", { class: "cloud-label", testid: "search-cloud-label" });
  const unknown = el("input", { type: "checkbox", checked: true, testid: "search-cloud-unknown" });
  const sensors = el("div", { class: "sensor-list", testid: "search-collections" });
  const sourcesBox = el("div", { class: "sensor-list", testid: "search-sources" });
  const sourcesField = el("div", { class: "field", hidden: true }, el("span", { class: "field-label" }, "Sources"), sourcesBox);
  const status = el("div", { class: "search-status", testid: "search-status", "aria-live": "polite" });
  const suggestions = el("div", { class: "place-suggestions", testid: "search-place-suggestions", hidden: true });
  const placeInput = el("input", {
    type: "search",
    class: "input",
    testid: "search-place",
    placeholder: "Find a place: country, province, city…",
    autocomplete: "off",
    oninput: () => {
      clearTimeout(placeTimer);
      placeTimer = setTimeout(() => findPlaces(placeInput.value).catch((err) => onError(err, "Places")), PLACE_DELAY_MS);
    },
    onkeydown: (e) => {
      if (e.key === "Escape") suggestions.hidden = true;
      if (e.key === "Enter") {
        const first = suggestions.querySelector("button");
        if (first) first.click();
      }
    },
  });
  const run = el("button", { type: "button", class: "btn", testid: "search-run", onclick: () => search() }, "Search");
  const count = el("span", { class: "count", testid: "search-count" });
  const list = el("div", { class: "result-list", testid: "search-results" });
  const more = el("button", { type: "button", class: "btn btn-small btn-ghost", testid: "search-more", hidden: true, onclick: () => loadMore() }, "More results");

  root.append(
    el("div", { class: "section-head" }, el("h2", {}, "Search imagery ", count)),
    el(
      "div",
      { class: "field" },
      el("span", { class: "field-label" }, "Area"),
      placeInput,
      suggestions,
      el(
        "div",
        { class: "button-row" },
        drawButton("▭ Box", "search-draw-box", async () => {
          const shape = await draw.rectangle();
          setArea({ kind: "bbox", bbox: shape.bbox, geometry: polygonFromBbox(shape.bbox) });
        }),
        drawButton("⬠ Polygon", "search-draw-polygon", async () => {
          const shape = await draw.polygon();
          setArea({ kind: "polygon", bbox: shape.bbox, geometry: { type: "Polygon", coordinates: shape.coordinates } });
        }),
        drawButton("View", "search-use-view", async () => {
          const rect = viewer.camera.computeViewRectangle(viewer.scene.globe.ellipsoid);
          if (!rect) throw new Error("The globe is not in view");
          const C = window.Cesium.Math;
          const bbox = [C.toDegrees(rect.west), C.toDegrees(rect.south), C.toDegrees(rect.east), C.toDegrees(rect.north)];
          setArea({ kind: "view", bbox, geometry: polygonFromBbox(bbox) });
        }),
        el("button", { type: "button", class: "btn btn-small btn-ghost", testid: "search-clear-area", onclick: () => setArea(null) }, "Clear"),
      ),
      vectorSelect,
      areaLabel,
    ),
    el("div", { class: "two-col" }, el("label", { class: "field" }, el("span", { class: "field-label" }, "From"), from), el("label", { class: "field" }, el("span", { class: "field-label" }, "To"), to)),
    el("label", { class: "field" }, el("span", { class: "field-label" }, "Cloud cover ", cloudLabel), cloud),
    el("label", { class: "check" }, unknown, "Include scenes without a cloud estimate"),
    el("div", { class: "field" }, el("span", { class: "field-label" }, "Sensors"), sensors),
    sourcesField,
    el("div", { class: "button-row" }, run),
    status,
    list,
    more,
  );

  function syncCloud() {
    const v = Number(cloud.value);
    cloudLabel.textContent = v >= 100 ? "(any)" : `≤ ${v} %`;
  }
  syncCloud();

  function setArea(next) {
    area = next;
    areaLabel.textContent = describeArea(area);
    if (!area || area.kind !== "dataset") vectorSelect.value = "";
    draw.showArea(area ? area.geometry : null);
  }

  async function findPlaces(text) {
    const q = text.trim();
    const ticket = ++placeQuery;
    clear(suggestions);
    if (q.length < 2) {
      suggestions.hidden = true;
      return;
    }
    const doc = await getJSON("/places", { q, limit: 8 });
    if (ticket !== placeQuery) return; // a later keystroke asked again
    clear(suggestions);
    const places = doc.places || [];
    if (!places.length) suggestions.append(el("div", { class: "empty" }, `No place named "${q}"`));
    for (const place of places) {
      suggestions.append(
        el(
          "button",
          { type: "button", class: "place-suggestion", testid: `search-place-${place.id}`, title: doc.attribution || "", onclick: () => choosePlace(place).catch((err) => onError(err, "Places")) },
          placeLabel(place),
        ),
      );
    }
    suggestions.hidden = false;
  }

  async function choosePlace(place) {
    suggestions.hidden = true;
    placeInput.value = place.name;
    const feature = await getJSON(`/places/${encodeURIComponent(place.id)}`);
    setArea({ kind: "place", placeId: place.id, title: placeLabel(place), bbox: feature.bbox, geometry: feature.geometry });
    const [w, s, e, n] = feature.bbox;
    const pad = Math.max(e - w, n - s) * 0.15;
    viewer.camera.flyTo({ destination: window.Cesium.Rectangle.fromDegrees(w - pad, s - pad, e + pad, n + pad), duration: 0.8 });
  }

  async function loadSources() {
    sourceList = await getJSON("/stac/sources");
    sourceTitles = Object.fromEntries(sourceList.map((s) => [s.id, s.title]));
    clear(sourcesBox);
    for (const source of sourceList) {
      sourcesBox.append(
        el(
          "label",
          { class: "check sensor", title: source.kind === "local" ? "Scenes in this catalog" : `Remote STAC archive "${source.title}"` },
          el("input", { type: "checkbox", checked: true, value: source.id, testid: `search-source-${source.id}` }),
          source.title,
        ),
      );
    }
    sourcesField.hidden = sourceList.length < 2; // only this catalog: nothing to choose
  }

  function checkedSources() {
    if (!sourceList.length) return [LOCAL];
    return [...sourcesBox.querySelectorAll("input[type=checkbox]")].filter((i) => i.checked).map((i) => i.value);
  }

  function showStatus(doc) {
    clear(status);
    status.classList.remove("error");
    const failed = (doc && doc["cogsight:sources"] ? doc["cogsight:sources"] : []).filter((s) => s.status === "error");
    for (const s of failed) {
      status.append(el("div", { class: "source-error", testid: `search-source-error-${s.id}` }, `${sourceTitles[s.id] || s.id}: ${s.error}`));
    }
    status.classList.toggle("error", failed.length > 0);
  }

  async function addResult(item) {
    const props = item.properties || {};
    const source = props["cogsight:source"];
    if (!source || source === LOCAL) return onAdd(item);
    // a remote scene: the server fetches it from the configured source and registers it
    const dataset = await sendJSON("POST", "/datasets/items/from-source", { source, collection: item.collection, item_id: item.id });
    return onAdd({ ...item, id: dataset.id, properties: { ...props, title: dataset.title, "cogsight:kind": dataset.kind } });
  }

  function refreshVectors() {
    const current = vectorSelect.value;
    clear(vectorSelect);
    vectorSelect.append(el("option", { value: "" }, "…or inside a vector dataset"));
    for (const v of getVectors()) vectorSelect.append(el("option", { value: v.id }, v.title || v.id));
    vectorSelect.value = current;
  }

  async function loadCollections() {
    await loadSources().catch((err) => onError(err, "Could not load the search sources"));
    collections = await api.collections();
    // collections only a remote source offers are sensors too
    const known = new Set(collections.map((c) => c.id));
    for (const source of sourceList) {
      for (const id of source.collections || []) {
        if (!known.has(id)) collections.push({ id, title: `${id} (${source.title})` });
        known.add(id);
      }
    }
    clear(sensors);
    if (!collections.length) sensors.append(el("span", { class: "empty" }, "No collections"));
    for (const c of collections) {
      sensors.append(
        el(
          "label",
          { class: "check sensor", title: c.description || c.id },
          el("input", { type: "checkbox", checked: true, value: c.id, testid: `search-collection-${c.id}` }),
          c.title || c.id,
        ),
      );
    }
  }

  function checkedCollections() {
    return [...sensors.querySelectorAll("input[type=checkbox]")].filter((i) => i.checked).map((i) => i.value);
  }

  function clearFootprints() {
    for (const entity of footprints) viewer.entities.remove(entity);
    footprints = [];
  }

  function showFootprint(item, strong) {
    const Cesium = window.Cesium;
    if (!item.geometry || !["Polygon", "MultiPolygon"].includes(item.geometry.type)) return null;
    const polygons = item.geometry.type === "Polygon" ? [item.geometry.coordinates] : item.geometry.coordinates;
    return polygons.map((polygon) =>
      viewer.entities.add({
        polyline: {
          positions: Cesium.Cartesian3.fromDegreesArray(polygon[0].flat()),
          width: strong ? 3 : 1,
          material: Cesium.Color.fromCssColorString(strong ? "#4ea1ff" : "#9fb3c8").withAlpha(strong ? 1 : 0.6),
        },
      }),
    );
  }

  function resultItem(item) {
    const props = item.properties || {};
    const assets = item.assets || {};
    const vector = props["cogsight:kind"] === "vector";
    const cloudCover = props["eo:cloud_cover"];
    const details = el(
      "div",
      { class: "result-details", testid: `search-details-${item.id}`, hidden: true },
      el(
        "dl",
        {},
        [
          ["id", item.id],
          ["collection", item.collection],
          ["datetime", props.datetime || ""],
          ["cloud cover", typeof cloudCover === "number" ? `${cloudCover} %` : "unknown"],
          ["bands", (props["cogsight:band_names"] || []).join(", ")],
          ["resolution", props.gsd ? `${props.gsd} m` : ""],
          ["CRS", props["proj:code"] || ""],
          ["bbox", (item.bbox || []).map((v) => Number(v).toFixed(4)).join(", ")],
        ]
          .filter(([, v]) => v)
          .map(([k, v]) => [el("dt", {}, k), el("dd", {}, String(v))]),
      ),
    );
    let highlight = null;
    const node = el(
      "div",
      {
        class: "result-item",
        testid: `search-result-${item.id}`,
        onmouseenter: () => {
          highlight = showFootprint(item, true);
        },
        onmouseleave: () => {
          for (const e of highlight || []) viewer.entities.remove(e);
          highlight = null;
        },
      },
      el(
        "div",
        { class: "result-row" },
        assets.thumbnail
          ? el("img", { class: "thumb", loading: "lazy", alt: "", src: withToken(assets.thumbnail.href), onerror: (e) => e.target.classList.add("broken") })
          : el("div", { class: "thumb thumb-none" }, vector ? "vector" : "—"),
        el(
          "div",
          { class: "result-text" },
          el(
            "div",
            { class: "result-title", title: props.title || item.id },
            props["cogsight:source"] && sourceList.length > 1
              ? el("span", { class: `badge source-badge${props["cogsight:source"] === LOCAL ? "" : " remote"}`, testid: `search-source-badge-${item.id}` }, sourceTitles[props["cogsight:source"]] || props["cogsight:source"])
              : null,
            props.title || item.id,
          ),
          el(
            "div",
            { class: "result-meta" },
            [item.collection, formatDate(props.datetime), typeof cloudCover === "number" ? `☁ ${Math.round(cloudCover)}%` : null].filter(Boolean).join(" · "),
          ),
          el(
            "div",
            { class: "button-row" },
            el(
              "button",
              {
                type: "button",
                class: "btn btn-small",
                testid: `search-add-${item.id}`,
                onclick: async (e) => {
                  const button = e.currentTarget;
                  button.disabled = true;
                  button.textContent = "Adding…";
                  try {
                    await addResult(item);
                    button.textContent = "Added";
                  } catch (err) {
                    button.textContent = "Add";
                    onError(err, `Could not add "${props.title || item.id}"`);
                  } finally {
                    button.disabled = false;
                  }
                },
              },
              "Add",
            ),
            assets.data
              ? el("a", { class: "btn btn-small btn-ghost", href: withToken(assets.data.href), download: "", testid: `search-download-${item.id}`, title: assets.data.type || "Download" }, "Download")
              : null,
            el(
              "button",
              {
                type: "button",
                class: "btn btn-small btn-ghost",
                testid: `search-info-${item.id}`,
                onclick: () => {
                  details.hidden = !details.hidden;
                },
              },
              "Info",
            ),
          ),
        ),
      ),
      details,
    );
    return node;
  }

  function renderResults() {
    clear(list);
    clearFootprints();
    count.textContent = results.length ? `(${results.length}${next ? "+" : ""})` : "";
    more.hidden = !next;
    if (!results.length) {
      list.append(el("div", { class: "empty" }, "No scenes match. Widen the dates, the area or the cloud limit."));
      return;
    }
    for (const item of results) {
      list.append(resultItem(item));
      footprints.push(...(showFootprint(item, false) || []));
    }
  }

  async function page(request) {
    root.classList.add("busy");
    run.disabled = true;
    clear(status);
    status.classList.remove("error");
    status.append(el("span", { class: "spinner-text", testid: "search-progress" }, "Searching…"));
    try {
      const doc = await request();
      showStatus(doc);
      const link = (doc.links || []).find((l) => l.rel === "next");
      return { features: doc.features || [], next: link || null };
    } catch (err) {
      clear(status);
      status.classList.add("error");
      status.append(el("div", { testid: "search-error" }, `Search failed: ${err.message || err}`));
      throw err;
    } finally {
      root.classList.remove("busy");
      run.disabled = false;
    }
  }

  async function search() {
    try {
      const body = searchBody({
        area,
        from: from.value,
        to: to.value,
        cloud: Number(cloud.value),
        includeUnknownCloud: unknown.checked,
        collections: checkedCollections(),
        allCollections: collections,
        sources: checkedSources(),
      });
      if (collections.length && !checkedCollections().length) throw new Error("Pick at least one sensor");
      if (!checkedSources().length) throw new Error("Pick at least one source");
      const got = await page(() => api.search(body));
      results = got.features;
      next = got.next;
      renderResults();
      root.dataset.searched = String(Number(root.dataset.searched || 0) + 1);
      return results;
    } catch (err) {
      onError(err, "Search");
      return [];
    }
  }

  async function loadMore() {
    if (!next) return;
    try {
      const link = next;
      const got = await page(() => (link.method === "POST" ? sendJSON("POST", link.href, link.body) : getJSON(link.href)));
      results = results.concat(got.features);
      next = got.next;
      renderResults();
    } catch (err) {
      onError(err, "Search");
    }
  }

  loadCollections().catch((err) => onError(err, "Could not load the sensor list"));
  refreshVectors();
  renderResults();
  clear(list);

  return {
    search,
    setArea,
    refreshVectors,
    findPlaces,
    get sources() {
      return sourceList;
    },
    get area() {
      return area;
    },
    get results() {
      return results;
    },
  };
}
