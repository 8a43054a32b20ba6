// "Time series": the dated raster layers on the map, in time order, played as frames (a slider
// and a play button show one layer at a time), and exported as GIF / MP4 through the server's
// `animation` process (the job goes to the jobs panel; its files are linked there).
import { api } from "./api.js";
import { clear, el, formatDate, icon } from "./ui.js";

/** The frames (dated raster layers; model class maps left out) in time order (pure; unit-tested). */
export function timeFrames(layers) {
  return layers
    .filter((h) => h.source === "raster" && h.dataset && h.dataset.datetime && h.render && h.render.mode !== "classes")
    .sort((a, b) => String(a.dataset.datetime).localeCompare(String(b.dataset.datetime)) || a.serial - b.serial);
}

/** `animation` inputs for frames rendered like the first frame (pure; unit-tested). */
export function animationInputs(frames, { bbox = null, formats = ["gif", "mp4"], fps = 1, size = 512 } = {}) {
  if (frames.length < 2) throw new Error("An animation needs at least two dated layers");
  const first = frames[0];
  const render = first.render || {};
  const inputs = { datasets: frames.map((h) => h.datasetId), formats, fps, size };
  if (bbox) inputs.bbox = bbox;
  if (render.mode === "index") {
    inputs.index = render.index;
    if (render.colormap) inputs.colormap = render.colormap;
  } else if (render.mode === "bands") {
    const names = first.dataset.band_names || [];
    const bands = (render.bands || []).map((b) => names[b - 1]);
    if (bands.every(Boolean)) inputs.bands = bands;
  } else {
    throw new Error(`Animations follow the first layer's render; "${render.mode}" renders cannot be exported (use bands or an index)`);
  }
  if (Array.isArray(render.rescale) && render.rescale[0]) inputs.rescale = render.rescale[0];
  return inputs;
}

/**
 * @param {{root: HTMLElement, viewer, manager: import("./layers.js").LayerManager,
 *          getArea: () => number[]|null, onSubmitted: (job) => void, onError: (err, title?) => void}} opts
 */
export function createTimeSeries({ root, viewer, manager, getArea, onSubmitted, onError }) {
  const slider = el("input", { type: "range", min: "0", max: "0", step: "1", value: "0", testid: "ts-slider", oninput: () => show(Number(slider.value)) });
  const label = el("span", { class: "ts-date", testid: "ts-date" }, "—");
  const play = el("button", { type: "button", class: "btn btn-small", testid: "ts-play", title: "Play / pause", onclick: () => (timer ? pause() : start()) }, icon("play"));
  const speed = el(
    "select",
    { class: "input input-small", testid: "ts-speed", title: "Seconds per frame", onchange: () => timer && (pause(), start()) },
    [
      ["0.5", "0.5 s"],
      ["1", "1 s"],
      ["2", "2 s"],
    ].map(([v, l]) => el("option", { value: v }, l)),
  );
  speed.value = "1";
  const gif = el("input", { type: "checkbox", checked: true, testid: "ts-gif" });
  const mp4 = el("input", { type: "checkbox", checked: true, testid: "ts-mp4" });
  const areaSelect = el("select", { class: "input input-small", testid: "ts-area" }, el("option", { value: "frames" }, "All frames"), el("option", { value: "view" }, "Current view"), el("option", { value: "search" }, "Search area"));
  const exportButton = el("button", { type: "button", class: "btn btn-small", testid: "ts-export", onclick: () => exportAnimation() }, "Export");
  const list = el("ol", { class: "ts-frames", testid: "ts-frames" });
  const empty = el("div", { class: "empty" }, "Add two or more dated raster layers to play them over time.");
  root.append(
    el("div", { class: "section-head" }, el("h2", {}, "Time series")),
    el("div", { class: "ts-controls" }, play, slider, label, speed),
    empty,
    list,
    el("div", { class: "button-row" }, el("label", { class: "check" }, gif, "GIF"), el("label", { class: "check" }, mp4, "MP4"), areaSelect, exportButton),
  );

  let frames = [];
  let timer = null;
  let index = 0;

  function refresh() {
    frames = timeFrames(manager.layers);
    slider.max = String(Math.max(0, frames.length - 1));
    if (index >= frames.length) index = 0;
    slider.value = String(index);
    slider.disabled = frames.length < 2;
    play.disabled = frames.length < 2;
    exportButton.disabled = frames.length < 2;
    clear(list);
    empty.hidden = frames.length >= 2;
    frames.forEach((h, i) => list.append(el("li", { class: i === index ? "current" : "", testid: `ts-frame-${i}` }, `${formatDate(h.dataset.datetime)} · ${h.title}`)));
    label.textContent = frames[index] ? formatDate(frames[index].dataset.datetime) : "—";
    root.dataset.frames = String(frames.length);
  }

  /** Show frame i only (the other frames are hidden; other layers are left alone). */
  function show(i) {
    if (!frames.length) return;
    index = ((i % frames.length) + frames.length) % frames.length;
    frames.forEach((h, j) => {
      if (manager.layers.includes(h) && h.visible !== (j === index)) manager.setVisible(h, j === index);
    });
    slider.value = String(index);
    label.textContent = formatDate(frames[index].dataset.datetime);
    root.dataset.index = String(index);
    [...list.children].forEach((li, j) => li.classList.toggle("current", j === index));
  }

  function start() {
    if (frames.length < 2) return;
    pause();
    show(index);
    timer = setInterval(() => show(index + 1), Number(speed.value) * 1000);
    play.replaceChildren(icon("pause"));
    root.dataset.playing = "1";
  }

  function pause() {
    if (timer) clearInterval(timer);
    timer = null;
    play.replaceChildren(icon("play"));
    root.dataset.playing = "0";
  }

  function bbox() {
    const C = window.Cesium;
    if (areaSelect.value === "view") {
      const r = viewer.camera.computeViewRectangle(viewer.scene.globe.ellipsoid);
      if (!r) throw new Error("The globe is not in view");
      return [C.Math.toDegrees(r.west), C.Math.toDegrees(r.south), C.Math.toDegrees(r.east), C.Math.toDegrees(r.north)];
    }
    if (areaSelect.value === "search") {
      const area = getArea();
      if (!area) throw new Error("Draw a search area first (Data tab)");
      return area;
    }
    return null;
  }

  async function exportAnimation() {
    try {
      const formats = [gif.checked && "gif", mp4.checked && "mp4"].filter(Boolean);
      if (!formats.length) throw new Error("Choose GIF, MP4 or both");
      const inputs = animationInputs(frames, { bbox: bbox(), formats, fps: 1 / Number(speed.value) });
      const job = await api.execute("animation", inputs);
      onSubmitted(job);
      return job;
    } catch (err) {
      onError(err, "Animation export");
      return null;
    }
  }

  refresh();
  return {
    refresh,
    show,
    play: start,
    pause,
    exportAnimation,
    get frames() {
      return frames.map((h) => h.id);
    },
    get index() {
      return index;
    },
  };
}
