// Render picker for the selected layer: band combination, spectral index or band-math expression.
import { api } from "./api.js";
import { COLORMAPS, datasetClasses, defaultRender, indexAvailable } from "./layers.js";
import { clear, el, formatNumber } from "./ui.js";

const MODES = [
  ["bands", "Bands"],
  ["index", "Index"],
  ["expression", "Expression"],
];

/**
 * @param {{root: HTMLElement,
 *          getIndices: () => object[],
 *          apply: (handle, render) => Promise<void>,
 *          autoRescale: (handle, render) => Promise<number[][]>,
 *          onError: (err) => void}} opts
 */
export function createRenderPicker({ root, getIndices, apply, autoRescale, onError }) {
  const lastByMode = new WeakMap(); // handle -> {bands, index, expression}
  const target = el("span", { class: "render-target" });
  const body = el("div", { class: "render-body" });
  root.append(el("div", { class: "section-head" }, el("h2", {}, "Render"), target), body);
  let current = null;
  let busy = false;

  function remember(handle) {
    const memo = lastByMode.get(handle) || {};
    memo[handle.render.mode] = handle.render;
    lastByMode.set(handle, memo);
    return memo;
  }

  async function commit(render) {
    if (!current || busy) return;
    const handle = current;
    setBusy(true);
    try {
      await apply(handle, render);
    } catch (err) {
      onError(err);
    } finally {
      setBusy(false);
      if (current === handle) draw();
    }
  }

  function setBusy(value) {
    busy = value;
    root.classList.toggle("busy", value);
    for (const control of body.querySelectorAll("select, input, button")) control.disabled = value || control.dataset.locked === "1";
  }

  function availableIndices(dataset) {
    return getIndices().filter((ix) => indexAvailable(dataset, ix));
  }

  function defaultFor(mode, handle) {
    const memo = lastByMode.get(handle) || {};
    if (memo[mode]) return memo[mode];
    const dataset = handle.dataset;
    if (mode === "classes") {
      const classes = datasetClasses(dataset);
      if (!classes) throw new Error("This dataset has no classes");
      return { mode, band: 1, classes, hidden: "0" in classes ? ["0"] : [] };
    }
    if (mode === "bands") {
      const render = defaultRender(dataset, { allowAuto: handle.source === "raster" });
      return render.mode === "bands" ? render : { mode, bands: [1], rescale: "auto" };
    }
    if (mode === "index") {
      const options = availableIndices(dataset);
      const ix = options.find((i) => i.name.toUpperCase() === "NDVI") || options[0];
      if (!ix) throw new Error("No spectral index can be computed from this dataset's bands");
      return { mode, index: ix.name, colormap: ix.colormap, rescale: ix.range ? [ix.range] : "auto" };
    }
    const hasRedNir = ["red", "nir"].every((n) => (dataset.band_names || []).map((b) => String(b).toLowerCase()).includes(n));
    const names = (dataset.band_names || []).map((b) => String(b).toLowerCase());
    const expression = hasRedNir
      ? `(b${names.indexOf("nir") + 1}-b${names.indexOf("red") + 1})/(b${names.indexOf("nir") + 1}+b${names.indexOf("red") + 1})`
      : "b1";
    return { mode, expression, colormap: "viridis", rescale: "auto" };
  }

  function select(options, value, attrs) {
    return el(
      "select",
      { class: "input", ...attrs, value },
      options.map(([v, label, disabled]) => el("option", { value: v, disabled: Boolean(disabled) }, label)),
    );
  }

  function field(label, control, extra) {
    return el("label", { class: "field" }, el("span", { class: "field-label" }, label), control, extra || null);
  }

  function rescaleRow(handle, render, { resetTo } = {}) {
    const pairs = Array.isArray(render.rescale) ? render.rescale : [];
    const [lo, hi] = pairs[0] || ["", ""];
    const read = () => {
      const a = Number(minInput.value);
      const b = Number(maxInput.value);
      if (minInput.value === "" || maxInput.value === "" || !Number.isFinite(a) || !Number.isFinite(b)) {
        throw new Error("Rescale min and max must be numbers");
      }
      if (a === b) throw new Error("Rescale min and max must differ");
      return [[a, b]];
    };
    const onChange = () => {
      try {
        commit({ ...render, rescale: read() });
      } catch (err) {
        onError(err);
      }
    };
    const minInput = el("input", { type: "number", class: "input num", step: "any", value: formatNumber(lo), testid: "rescale-min", onchange: onChange });
    const maxInput = el("input", { type: "number", class: "input num", step: "any", value: formatNumber(hi), testid: "rescale-max", onchange: onChange });
    const canAuto = handle.source === "raster";
    const auto = el(
      "button",
      {
        type: "button",
        class: "btn btn-small",
        testid: "rescale-auto",
        title: canAuto ? "Stretch to the 2nd–98th percentile of the data" : "Statistics are not available for mosaics",
        dataset: { locked: canAuto ? "0" : "1" },
        disabled: !canAuto,
        onclick: async () => {
          setBusy(true);
          try {
            const rescale = await autoRescale(handle, render);
            setBusy(false);
            await commit({ ...render, rescale });
          } catch (err) {
            onError(err);
          } finally {
            setBusy(false);
          }
        },
      },
      "Auto",
    );
    const reset = resetTo
      ? el("button", { type: "button", class: "btn btn-small", title: "Index's nominal range", onclick: () => commit({ ...render, rescale: resetTo }) }, "Reset")
      : null;
    return el(
      "div",
      { class: "field" },
      el("span", { class: "field-label" }, pairs.length > 1 ? "Rescale (per band)" : "Rescale"),
      el("div", { class: "rescale-row" }, minInput, el("span", { class: "dash" }, "–"), maxInput, auto, reset),
    );
  }

  function colormapSelect(render, { allowNone = false } = {}) {
    const names = [...COLORMAPS];
    if (render.colormap && !names.includes(render.colormap)) names.unshift(render.colormap);
    const options = names.map((n) => [n, n]);
    if (allowNone) options.unshift(["", "(none)"]);
    return select(options, render.colormap || "", {
      testid: "colormap-select",
      onchange: (e) => commit({ ...render, colormap: e.target.value || null }),
    });
  }

  function legend(render) {
    if (!render.colormap) return null;
    const [lo, hi] = Array.isArray(render.rescale) && render.rescale[0] ? render.rescale[0] : ["", ""];
    const note = el("div", { class: "legend-note", hidden: true });
    const img = el("img", {
      class: "legend-img",
      alt: `${render.colormap} colormap`,
      src: api.colormapLegendUrl(render.colormap),
      onerror: () => {
        img.hidden = true;
        note.hidden = false;
        note.textContent = `Legend for colormap "${render.colormap}" could not be loaded.`;
      },
    });
    const mid = Number.isFinite(Number(lo)) && Number.isFinite(Number(hi)) ? (Number(lo) + Number(hi)) / 2 : "";
    return el(
      "div",
      { class: "legend", testid: "legend" },
      img,
      note,
      el("div", { class: "legend-labels" }, el("span", {}, formatNumber(lo)), el("span", {}, formatNumber(mid)), el("span", {}, formatNumber(hi))),
    );
  }

  function bandsFields(handle, render) {
    const names = handle.dataset.band_names || [];
    const count = Math.max(names.length, ...render.bands);
    const options = Array.from({ length: count }, (_, i) => [String(i + 1), `${i + 1} · ${names[i] || `band ${i + 1}`}`]);
    const single = render.bands.length === 1;
    const setBand = (pos) => (e) => {
      const bands = [...render.bands];
      bands[pos] = Number(e.target.value);
      commit({ ...render, bands });
    };
    const singleBox = el("input", {
      type: "checkbox",
      checked: single,
      testid: "band-single",
      dataset: { locked: count < 3 ? "1" : "0" },
      disabled: count < 3,
      onchange: (e) => {
        const rgb = defaultRender(handle.dataset, { allowAuto: false }).bands;
        const bands = e.target.checked ? [render.bands[0]] : rgb.length === 3 ? rgb : [1, 2, 3];
        commit({ ...render, bands, rescale: Array.isArray(render.rescale) ? [render.rescale[0]] : render.rescale });
      },
    });
    const channels = single ? [["Gray", "band-gray"]] : [["Red", "band-r"], ["Green", "band-g"], ["Blue", "band-b"]];
    return [
      el("label", { class: "check" }, singleBox, "Single band (gray)"),
      el(
        "div",
        { class: `band-grid${single ? " single" : ""}` },
        channels.map(([label, testid], pos) => field(label, select(options, String(render.bands[pos]), { testid, onchange: setBand(pos) }))),
      ),
      rescaleRow(handle, render),
    ];
  }

  function indexFields(handle, render) {
    const indices = getIndices();
    const def = indices.find((ix) => ix.name === render.index);
    const options = indices.map((ix) => {
      const ok = indexAvailable(handle.dataset, ix);
      return [ix.name, ok ? ix.name : `${ix.name} (needs ${(ix.bands || []).join(", ")})`, !ok];
    });
    const indexSelect = select(options, render.index, {
      testid: "index-select",
      onchange: (e) => {
        const next = indices.find((ix) => ix.name === e.target.value);
        commit({ mode: "index", index: next.name, colormap: next.colormap || render.colormap, rescale: next.range ? [next.range] : "auto" });
      },
    });
    return [
      field("Index", indexSelect),
      def ? el("div", { class: "hint" }, def.description ? `${def.description} ` : "", el("code", {}, def.formula || "")) : null,
      field("Colormap", colormapSelect(render)),
      rescaleRow(handle, render, { resetTo: def && def.range ? [def.range] : null }),
      legend(render),
    ];
  }

  function classFields(render) {
    const hiddenSet = new Set((render.hidden || []).map(String));
    return [
      el(
        "div",
        { class: "legend legend-classes", testid: "legend" },
        Object.entries(render.classes || {}).map(([key, c]) =>
          el(
            "label",
            { class: "check legend-class" },
            el("input", {
              type: "checkbox",
              checked: !hiddenSet.has(String(key)),
              testid: `class-visible-${key}`,
              onchange: (e) => {
                const next = new Set(hiddenSet);
                if (e.target.checked) next.delete(String(key));
                else next.add(String(key));
                commit({ ...render, hidden: [...next] });
              },
            }),
            el("span", { class: "swatch", style: `background:${c.color}` }),
            `${c.name} (${key})`,
          ),
        ),
      ),
    ];
  }

  function expressionFields(handle, render) {
    const input = el("input", {
      type: "text",
      class: "input mono",
      value: render.expression,
      spellcheck: false,
      testid: "expression-input",
      placeholder: "(b4-b3)/(b4+b3)",
      onkeydown: (e) => {
        if (e.key === "Enter") input.blur();
      },
      onchange: () => commit({ ...render, expression: input.value, rescale: input.value.trim() === render.expression ? render.rescale : "auto" }),
    });
    const names = (handle.dataset.band_names || []).map((n, i) => `b${i + 1}=${n}`).join("  ");
    return [
      field("Expression", input),
      el("div", { class: "hint" }, names ? `Bands: ${names}` : "Refer to bands as b1, b2, …", ". Separate outputs with ; for RGB."),
      render.expression.includes(";") ? null : field("Colormap", colormapSelect(render, { allowNone: true })),
      rescaleRow(handle, render),
      legend(render),
    ];
  }

  function draw() {
    clear(body);
    const handle = current;
    target.textContent = handle ? handle.title : "";
    root.hidden = !handle;
    if (!handle) return;
    remember(handle);
    const render = handle.render;
    const hasIndex = availableIndices(handle.dataset).length > 0;
    const modes = datasetClasses(handle.dataset) ? [["classes", "Classes"], ...MODES] : MODES;
    const modeSelect = select(
      modes.map(([v, label]) => [v, label, v === "index" && !hasIndex]),
      render.mode,
      {
        testid: "mode-select",
        onchange: (e) => {
          try {
            commit(defaultFor(e.target.value, handle));
          } catch (err) {
            onError(err);
            e.target.value = render.mode;
          }
        },
      },
    );
    body.append(field("Mode", modeSelect));
    const fields =
      render.mode === "classes"
        ? classFields(render)
        : render.mode === "index"
          ? indexFields(handle, render)
          : render.mode === "expression"
            ? expressionFields(handle, render)
            : bandsFields(handle, render);
    body.append(...fields.filter(Boolean));
    setBusy(busy);
  }

  return {
    show(handle) {
      current = handle || null;
      draw();
    },
  };
}
