// "Label" panel: the labelling → training → correction loop. Choose an image, open or start a
// sample set, pick a class (add classes with colours), draw polygons, brush strokes or points
// on the globe, save (each save is a version of the set, a dataset of its own: /samples),
// train (an ordinary `train` job: live progress, cancel), and see the prediction over the
// image as soon as the model exists, with its held-out accuracy. Correct by drawing more
// samples where it erred and train again (a new model version). "Apply" runs the trained model
// as a tool on any other image. A tool that cannot run on an image's bands (a `needs_samples`
// answer) opens this panel through `startSet`: the image chosen, a new set with its classes.
import { getJSON, sendJSON } from "./api.js";
import { withToken } from "./auth.js";
import { DrawCancelled, lonLatAt } from "./draw.js";
import { accuracyText, countByClass, firstPredictionArea, newClass, saveBody, samplesFromFeatures } from "./samples.js";
import { clear, el } from "./ui.js";

const POLL_MS = 1000;
const FINAL = new Set(["successful", "failed", "dismissed"]);
const enc = encodeURIComponent;

/**
 * @param {{root: HTMLElement, viewer: object, draw: object, getCatalog: () => {datasets: object[]},
 *          getSelected: () => string|undefined, onSubmitted: (job) => void,
 *          onModel: (name) => void, onError: (err, title?) => void}} opts
 */
export function createLabellingPanel({ root, viewer, draw, getCatalog, getSelected, onSubmitted, onModel, onError }) {
  const Cesium = window.Cesium;
  const state = {
    image: "",
    laterImage: null, // the later date of a change pair started by startSet
    set: null, // SampleSetInfo once saved
    classes: [],
    current: null, // class value
    samples: [], // {geometry, class, kind, width_m?, entities}
    dirty: false,
    job: null, // {kind: "train"|"predict", info}
    model: null,
    accuracy: null,
    prediction: null, // raster dataset id of the last prediction
  };
  let timer = null;

  // ---- elements ----
  const imageSelect = el("select", { class: "input", testid: "label-image", onchange: () => chooseImage(imageSelect.value) });
  const setSelect = el("select", { class: "input", testid: "label-set", onchange: () => openSet(setSelect.value) });
  const titleInput = el("input", { class: "input", testid: "label-title", placeholder: "Sample set title" });
  const classList = el("div", { class: "label-classes", testid: "label-classes" });
  const className = el("input", { class: "input", testid: "label-new-class-name", placeholder: "New class name" });
  const addClassBtn = el("button", { type: "button", class: "btn btn-small", testid: "label-add-class", onclick: () => addClass() }, "+ Class");
  const widthInput = el("input", { class: "input input-small", type: "number", min: "1", step: "1", value: "30", testid: "label-width", title: "Brush width / point size (m)" });
  const tool = (kind, text) => el("button", { type: "button", class: "btn btn-small", testid: `label-draw-${kind}`, onclick: () => drawSample(kind) }, text);
  const countText = el("div", { class: "hint", testid: "label-count" });
  const versionText = el("span", { class: "hint", testid: "label-version" });
  const saveBtn = el("button", { type: "button", class: "btn", testid: "label-save", onclick: () => save().catch((err) => onError(err, "Save samples")) }, "Save");
  const undoBtn = el("button", { type: "button", class: "btn btn-small btn-ghost", testid: "label-undo", onclick: () => undoSample() }, "Undo sample");
  const downloads = el("div", { class: "button-row" });
  const budgetInput = el("input", { class: "input input-small", type: "number", min: "5", step: "5", value: "60", testid: "label-budget", title: "Training time budget (s)" });
  const epochsInput = el("input", { class: "input input-small", type: "number", min: "1", step: "1", value: "100", testid: "label-epochs", title: "At most this many epochs" });
  const methodSelect = el(
    "select",
    { class: "input input-small", testid: "label-method", title: "How to learn from the samples" },
    el("option", { value: "auto" }, "Auto"),
    el("option", { value: "pixel-classifier" }, "Pixel classifier (seconds)"),
    el("option", { value: "unet" }, "U-Net"),
  );
  const trainBtn = el("button", { type: "button", class: "btn", testid: "label-train", onclick: () => train().catch((err) => failed(err, "Train")) }, "Train");
  const cancelBtn = el("button", { type: "button", class: "btn btn-small btn-danger", testid: "label-cancel", hidden: true, onclick: () => cancel() }, "Cancel");
  const fill = el("div", { class: "progress-fill", style: "width:0%" });
  const progress = el("div", { class: "progress", testid: "label-progress", dataset: { value: "0" }, hidden: true }, fill);
  const statusText = el("div", { class: "hint", testid: "label-status" });
  const noteText = el("div", { class: "hint label-note", testid: "label-note", hidden: true });
  const accuracy = el("div", { class: "hint label-accuracy", testid: "label-accuracy" });
  const applySelect = el("select", { class: "input", testid: "label-apply-dataset" });
  const applyBtn = el("button", { type: "button", class: "btn btn-small", testid: "label-apply", disabled: true, onclick: () => apply().catch((err) => onError(err, "Apply the model")) }, "Apply to image");

  root.append(
    el("div", { class: "section-head" }, el("h2", {}, "Label")),
    noteText,
    el("label", { class: "field" }, el("span", {}, "Image"), imageSelect),
    el("label", { class: "field" }, el("span", {}, "Sample set"), setSelect),
    titleInput,
    el("div", { class: "field" }, el("span", {}, "Classes"), classList, el("div", { class: "button-row" }, className, addClassBtn)),
    el("div", { class: "button-row" }, tool("polygon", "Polygon"), tool("brush", "Brush"), tool("point", "Point"), widthInput, el("span", { class: "hint" }, "m")),
    countText,
    el("div", { class: "button-row" }, saveBtn, undoBtn, versionText),
    downloads,
    el("div", { class: "button-row" }, el("span", { class: "hint" }, "Method"), methodSelect),
    el("div", { class: "button-row" }, el("span", { class: "hint" }, "Budget s"), budgetInput, el("span", { class: "hint" }, "epochs"), epochsInput),
    el("div", { class: "button-row" }, trainBtn, cancelBtn),
    progress,
    statusText,
    accuracy,
    el("div", { class: "button-row" }, applySelect, applyBtn),
  );

  // ---- images, sets, classes ----
  function rasters() {
    return (getCatalog().datasets || []).filter((d) => d.kind !== "vector");
  }

  function refresh() {
    const list = rasters();
    const keep = imageSelect.value;
    clear(imageSelect);
    imageSelect.append(el("option", { value: "" }, "Choose an image…"));
    for (const d of list) imageSelect.append(el("option", { value: d.id }, d.title || d.id));
    imageSelect.value = list.some((d) => d.id === keep) ? keep : "";
    const applyKeep = applySelect.value;
    clear(applySelect);
    for (const d of list) applySelect.append(el("option", { value: d.id }, d.title || d.id));
    if (list.some((d) => d.id === applyKeep)) applySelect.value = applyKeep;
    if (!state.image) {
      const selected = getSelected();
      if (selected && list.some((d) => d.id === selected)) chooseImage(selected);
    }
  }

  async function chooseImage(id) {
    state.image = id;
    imageSelect.value = id;
    resetSet();
    clear(setSelect);
    setSelect.append(el("option", { value: "" }, "New sample set"));
    if (!id) return render();
    try {
      for (const s of await getJSON("/samples", { image: id })) setSelect.append(el("option", { value: s.id }, `${s.title} (v${s.version})`));
    } catch (err) {
      onError(err, "Sample sets");
    }
    render();
  }

  function resetSet() {
    for (const s of state.samples) removeEntities(s);
    Object.assign(state, { set: null, laterImage: null, classes: [], current: null, samples: [], dirty: false, model: null, accuracy: null, prediction: null });
    titleInput.value = "";
    titleInput.disabled = false;
    showNote("");
  }

  function showNote(text) {
    noteText.textContent = text;
    noteText.hidden = !text;
  }

  /** A new, unsaved sample set on `image` (and `later_image` for a change pair) with `title`
   * and `classes`, as a `needs_samples` answer's `labelling` gives them; `note` says why. */
  async function startSet({ image, later_image: laterImage = null, title = "", classes = [] }, note = "") {
    if (![...imageSelect.options].some((o) => o.value === image)) imageSelect.append(el("option", { value: image }, image));
    await chooseImage(image);
    setSelect.value = "";
    state.laterImage = laterImage;
    state.classes = classes.map((c) => ({ value: c.value, name: c.name, color: c.color }));
    state.current = state.classes.length ? state.classes[0].value : null;
    titleInput.value = title;
    showNote(note);
    render();
    return state;
  }

  async function openSet(id) {
    resetSet();
    if (!id) return render();
    try {
      const info = await getJSON(`/samples/${enc(id)}`);
      const features = await getJSON(`/samples/${enc(id)}/features`);
      state.set = info;
      state.laterImage = info.samples_for[1] || null;
      state.classes = info.classes;
      state.current = info.classes.length ? info.classes[0].value : null;
      state.samples = samplesFromFeatures(features).map((s) => ({ ...s, entities: [] }));
      for (const s of state.samples) showSample(s);
      titleInput.value = info.title;
    } catch (err) {
      onError(err, "Open the sample set");
    }
    render();
  }

  function addClass() {
    try {
      const c = newClass(state.classes, className.value);
      state.classes = [...state.classes, c];
      if (state.current === null) state.current = c.value;
      state.dirty = true;
      className.value = "";
      render();
    } catch (err) {
      onError(err, "Add a class");
    }
  }

  function classOf(value) {
    return state.classes.find((c) => c.value === value);
  }

  function setColor(value, color) {
    state.classes = state.classes.map((c) => (c.value === value ? { ...c, color } : c));
    state.dirty = true;
    for (const s of state.samples) if (s.class === value) showSample(s);
    render();
  }

  // ---- drawing ----
  function removeEntities(sample) {
    for (const e of sample.entities || []) viewer.entities.remove(e);
    sample.entities = [];
  }

  /** Draw (or redraw) one sample in its class colour. */
  function showSample(sample) {
    removeEntities(sample);
    const c = classOf(sample.class);
    const color = Cesium.Color.fromCssColorString(c ? c.color : "#ffffff");
    const g = sample.geometry;
    if (g.type === "Point") {
      sample.entities.push(viewer.entities.add({ position: Cesium.Cartesian3.fromDegrees(g.coordinates[0], g.coordinates[1]), point: { pixelSize: 10, color, outlineColor: Cesium.Color.WHITE, outlineWidth: 1, disableDepthTestDistance: Number.POSITIVE_INFINITY } }));
    } else if (g.type === "LineString") {
      sample.entities.push(viewer.entities.add({ corridor: { positions: Cesium.Cartesian3.fromDegreesArray(g.coordinates.flat()), width: sample.width_m || 30, material: color.withAlpha(0.6), height: 0 } }));
    } else {
      const polygons = g.type === "MultiPolygon" ? g.coordinates : [g.coordinates];
      for (const rings of polygons) {
        const hierarchy = new Cesium.PolygonHierarchy(
          Cesium.Cartesian3.fromDegreesArray(rings[0].flat()),
          rings.slice(1).map((r) => new Cesium.PolygonHierarchy(Cesium.Cartesian3.fromDegreesArray(r.flat()))),
        );
        sample.entities.push(viewer.entities.add({ polygon: { hierarchy, material: color.withAlpha(0.45), height: 0, outline: false } }));
      }
    }
  }

  async function drawSample(kind) {
    if (!state.image) return onError("Choose an image first", "Label");
    if (state.current === null) return onError("Add a class first (name, then + Class)", "Label");
    const c = classOf(state.current);
    try {
      let geometry;
      const width = Number(widthInput.value) || 30;
      if (kind === "polygon") {
        const before = draw.color;
        draw.color = c.color;
        try {
          const drawn = await draw.polygon();
          geometry = { type: "Polygon", coordinates: drawn.coordinates };
        } finally {
          draw.color = before;
        }
      } else {
        geometry = await strokeOrPoint(kind, c.color, width);
      }
      const sample = { geometry, class: state.current, kind, entities: [] };
      if (kind !== "polygon") sample.width_m = width;
      state.samples.push(sample);
      state.dirty = true;
      showSample(sample);
      render();
    } catch (err) {
      if (!(err instanceof DrawCancelled)) onError(err, "Draw a sample");
    }
  }

  /** A brush stroke (press, drag, release) or a point (click), as GeoJSON. */
  function strokeOrPoint(kind, css, width) {
    draw.cancel();
    const handler = new Cesium.ScreenSpaceEventHandler(viewer.scene.canvas);
    const controller = viewer.scene.screenSpaceCameraController;
    const was = controller.enableInputs;
    const color = Cesium.Color.fromCssColorString(css);
    const points = [];
    let live = null;
    let onKey = null;
    const end = () => {
      handler.destroy();
      controller.enableInputs = was;
      if (live) viewer.entities.remove(live);
      document.removeEventListener("keydown", onKey);
      viewer.canvas.classList.remove("drawing");
    };
    viewer.canvas.classList.add("drawing");
    return new Promise((resolve, reject) => {
      onKey = (e) => {
        if (e.key === "Escape") {
          end();
          reject(new DrawCancelled());
        }
      };
      document.addEventListener("keydown", onKey);
      if (kind === "point") {
        handler.setInputAction((event) => {
          const here = lonLatAt(viewer, event.position);
          if (!here) return;
          end();
          resolve({ type: "Point", coordinates: here });
        }, Cesium.ScreenSpaceEventType.LEFT_CLICK);
        return;
      }
      controller.enableInputs = false;
      let down = false;
      live = viewer.entities.add({ corridor: { positions: new Cesium.CallbackProperty(() => (points.length >= 2 ? Cesium.Cartesian3.fromDegreesArray(points.flat()) : []), false), width, material: color.withAlpha(0.6), height: 0 } });
      handler.setInputAction((event) => {
        const here = lonLatAt(viewer, event.position);
        if (!here) return;
        down = true;
        points.push(here);
      }, Cesium.ScreenSpaceEventType.LEFT_DOWN);
      handler.setInputAction((event) => {
        if (!down) return;
        const here = lonLatAt(viewer, event.endPosition);
        if (here) points.push(here);
      }, Cesium.ScreenSpaceEventType.MOUSE_MOVE);
      handler.setInputAction(() => {
        if (!down) return;
        down = false;
        if (points.length < 2) return (points.length = 0);
        end();
        resolve({ type: "LineString", coordinates: points.map((p) => [...p]) });
      }, Cesium.ScreenSpaceEventType.LEFT_UP);
    });
  }

  function undoSample() {
    const sample = state.samples.pop();
    if (!sample) return;
    removeEntities(sample);
    state.dirty = true;
    render();
  }

  // ---- saving ----
  async function save() {
    if (!state.image) throw new Error("Choose an image first");
    const created = Boolean(state.set);
    const body = saveBody({ image: state.image, laterImage: state.laterImage, title: titleInput.value.trim(), classes: state.classes, samples: state.samples, created });
    const info = created ? await sendJSON("PUT", `/samples/${enc(state.set.id)}`, body) : await sendJSON("POST", "/samples", body);
    state.set = info;
    state.dirty = false;
    if (!created) {
      setSelect.append(el("option", { value: info.id }, info.title));
      titleInput.value = info.title;
    }
    setSelect.value = info.id;
    render();
    return info;
  }

  // ---- training, prediction, apply ----
  async function train() {
    if (state.job && !FINAL.has(state.job.info.status)) throw new Error("A training is running; cancel it first");
    if (!state.set || state.dirty) await save();
    const request = await sendJSON("POST", `/samples/${enc(state.set.id)}/train-request`, {
      time_budget_s: Number(budgetInput.value) || 60,
      max_epochs: Number(epochsInput.value) || 100,
      method: methodSelect.value,
    });
    const job = await sendJSON("POST", `/processes/${enc(request.process)}/execution`, { inputs: request.inputs });
    state.accuracy = null;
    state.model = null;
    follow("train", job);
  }

  /** The view's part of the image (at most FIRST_PREDICTION_PIXELS), or the whole image
   * when the catalog does not describe it. */
  function viewArea(dataset) {
    const record = rasters().find((d) => d.id === dataset);
    if (!record || !record.bounds || !record.width || !record.height) return undefined;
    const rect = viewer.camera.computeViewRectangle(viewer.scene.globe.ellipsoid);
    const view = rect ? [rect.west, rect.south, rect.east, rect.north].map(Cesium.Math.toDegrees) : null;
    return firstPredictionArea(record, view);
  }

  async function predict(model, dataset, { kind = "predict", vectorize = false } = {}) {
    const images = state.laterImage ? { datasets: [dataset, state.laterImage] } : { dataset };
    // the first look after Train covers the view, so it comes in seconds on any image size
    const aoi = viewArea(dataset);
    const job = await sendJSON("POST", `/processes/${enc(model)}/execution`, { inputs: { ...images, vectorize, ...(aoi ? { aoi } : {}) } });
    follow(kind, job);
  }

  async function apply() {
    if (!state.model) throw new Error("Train a model first");
    const job = await sendJSON("POST", `/processes/${enc(state.model)}/execution`, { inputs: { dataset: applySelect.value } });
    onSubmitted(job);
  }

  function follow(kind, info) {
    state.job = { kind, info };
    onSubmitted(info);
    if (!timer) timer = setInterval(poll, POLL_MS);
    render();
  }

  async function poll() {
    const job = state.job;
    if (!job) return;
    try {
      const info = await getJSON(`/jobs/${enc(job.info.jobID)}`);
      if (state.job !== job) return;
      job.info = info;
      if (FINAL.has(info.status)) {
        clearInterval(timer);
        timer = null;
        await finished(job);
      }
    } catch (err) {
      if (err.status === 404) {
        clearInterval(timer);
        timer = null;
        job.info = { ...job.info, status: "failed", message: err.message };
      }
    }
    render();
  }

  async function finished(job) {
    const { info } = job;
    if (info.status !== "successful") return;
    const results = await getJSON(`/jobs/${enc(info.jobID)}/results`);
    if (job.kind === "train") {
      state.model = results.values.model;
      state.accuracy = accuracyText(results.values);
      onModel(state.model);
      await predict(state.model, state.image);
    } else if (job.kind === "predict") {
      state.prediction = results.values.raster || (results.datasets || [])[0] || null;
    }
  }

  async function cancel() {
    if (!state.job) return;
    try {
      const info = await sendJSON("DELETE", `/jobs/${enc(state.job.info.jobID)}`);
      if (info && info.jobID) state.job.info = info;
    } catch (err) {
      onError(err, "Cancel");
    }
    render();
  }

  function failed(err, title) {
    onError(err, title);
    render();
  }

  // ---- view ----
  function render() {
    clear(classList);
    for (const c of state.classes) {
      const count = countByClass(state.samples)[c.value] || 0;
      classList.append(
        el(
          "label",
          { class: "label-class", testid: `label-class-${c.value}` },
          el("input", { type: "radio", name: "label-class", checked: state.current === c.value, testid: `label-pick-${c.value}`, onchange: () => ((state.current = c.value), render()) }),
          el("input", { type: "color", value: c.color, testid: `label-color-${c.value}`, onchange: (e) => setColor(c.value, e.target.value) }),
          el("span", {}, `${c.name} (${count})`),
        ),
      );
    }
    countText.textContent = state.samples.length ? `${state.samples.length} sample${state.samples.length === 1 ? "" : "s"}${state.dirty ? " · not saved" : ""}` : "No samples yet: pick a class and draw on the image.";
    versionText.textContent = state.set ? `${state.set.title} · version ${state.set.version}` : "";
    titleInput.disabled = Boolean(state.set);
    clear(downloads);
    if (state.set) {
      for (const [fmt, text] of [["geojson", "GeoJSON"], ["gpkg", "GeoPackage"]]) {
        downloads.append(el("a", { class: "btn btn-small btn-ghost", href: withToken(`/samples/${enc(state.set.id)}/download?format=${fmt}`), testid: `label-download-${fmt}` }, text));
      }
    }
    const job = state.job;
    const running = job && !FINAL.has(job.info.status);
    const pct = job ? (job.info.status === "successful" ? 100 : Math.max(0, Math.min(100, Number(job.info.progress) || 0))) : 0;
    progress.hidden = !job;
    progress.dataset.value = String(pct);
    fill.style.width = `${pct}%`;
    cancelBtn.hidden = !running;
    trainBtn.disabled = Boolean(running);
    const verb = job ? (job.kind === "train" ? "Training" : job.kind === "predict" ? "Predicting over the image" : "Applying") : "";
    statusText.textContent = job ? `${verb}: ${job.info.status}${job.info.message && job.info.status !== "successful" ? ` — ${job.info.message}` : ""}` : "";
    root.dataset.status = job ? `${job.kind}-${job.info.status}` : "idle";
    root.dataset.model = state.model || "";
    root.dataset.prediction = state.prediction || "";
    accuracy.textContent = state.accuracy ? `${state.model}: ${state.accuracy}` : "";
    applyBtn.disabled = !state.model;
  }

  refresh();
  render();
  return {
    refresh,
    chooseImage,
    openSet,
    startSet,
    addClass,
    save,
    train,
    cancel,
    get state() {
      return state;
    },
  };
}
