// "Add a model" section of the Tools tab: an ONNX or TorchScript file plus its card (bands,
// classes with names and colours, scale / offset, chip size, resolution), sent to POST /models.
// The server runs the network once on zeros of the chip shape and refuses a file that does not
// fit its card (its reason is shown); an accepted model is a tool at once (onAdded reloads the
// tool list). A card written as JSON can be picked instead of filling the fields.
import { uploadFile } from "./api.js";
import { el } from "./ui.js";

export const MODEL_FILES = [".onnx", ".pt", ".pts", ".torchscript"];
const PALETTE = ["#000000", "#e6194b", "#3cb44b", "#4363d8", "#ffe119", "#f58231", "#911eb4"];

/** "0=background:#000000, 1=water" -> {"0": {name, color}, ...}; colours optional (pure). */
export function parseClasses(text) {
  const classes = {};
  for (const item of String(text || "").split(",").map((s) => s.trim()).filter(Boolean)) {
    const match = /^(\d+)\s*=\s*([^:]+?)\s*(?::\s*(#[0-9a-fA-F]{6}))?$/.exec(item);
    if (!match) throw new Error(`Class "${item}": write ID=NAME or ID=NAME:#RRGGBB`);
    const count = Object.keys(classes).length;
    classes[match[1]] = { name: match[2], color: match[3] || PALETTE[count % PALETTE.length] };
  }
  if (Object.keys(classes).length < 2) throw new Error("A segmentation model needs at least two classes");
  return classes;
}

/** The card the form describes (pure; unit-tested). Numbers left blank take the server's
 * defaults; a card picked as JSON is the base and the filled fields override it. */
export function cardFromForm(values, base = {}) {
  const card = { ...base };
  const text = (k) => String(values[k] ?? "").trim();
  if (text("name")) card.name = text("name");
  if (text("title")) card.title = text("title");
  if (text("bands")) card.bands = text("bands").split(",").map((b) => b.trim()).filter(Boolean);
  if (text("classes")) card.classes = parseClasses(text("classes"));
  for (const [field, key] of [["scale", "scale"], ["offset", "offset"], ["chip_size", "chip"]]) {
    if (!text(key)) continue;
    const number = Number(text(key));
    if (!Number.isFinite(number)) throw new Error(`${key} must be a number`);
    card[field] = number;
  }
  if (text("resMin") || text("resMax")) {
    const lo = Number(text("resMin") || text("resMax"));
    const hi = Number(text("resMax") || text("resMin"));
    if (!Number.isFinite(lo) || !Number.isFinite(hi)) throw new Error("resolution must be metres");
    card.resolution_range = [lo, hi];
  }
  if (values.logits) card.output = "logits";
  if (!card.name) throw new Error("Give the model a name (lower case, digits and dashes)");
  if (!Array.isArray(card.bands) || !card.bands.length) throw new Error("Name the input bands in order, e.g. red,green,blue");
  if (!card.classes) throw new Error("List the classes, e.g. 0=background, 1=water:#1f6fd1");
  return card;
}

/**
 * @param {{root: HTMLElement, onAdded: (model) => void, onError: (err, title?) => void,
 *          onInfo: (message: string) => void}} opts
 */
export function createModelUpload({ root, onAdded, onError, onInfo }) {
  const input = (name, placeholder, attrs = {}) => el("input", { type: "text", class: "input", placeholder, testid: `model-${name}`, ...attrs });
  const file = el("input", { type: "file", accept: MODEL_FILES.join(","), testid: "model-file" });
  const cardFile = el("input", { type: "file", accept: ".json", testid: "model-card-file" });
  const fields = {
    name: input("name", "Name (e.g. my-water)"),
    title: input("title", "Title (optional)"),
    bands: input("bands", "Bands in order: red,green,blue"),
    classes: input("classes", "Classes: 0=background, 1=water:#1f6fd1"),
    scale: input("scale", "Scale (stored x scale + offset; default 1)"),
    offset: input("offset", "Offset (default 0)"),
    chip: input("chip", "Chip size, pixels (default 256)"),
    resMin: input("resMin", "Min m/pixel"),
    resMax: input("resMax", "Max m/pixel"),
  };
  const logits = el("input", { type: "checkbox", testid: "model-logits" });
  const isPrivate = el("input", { type: "checkbox", testid: "model-private" });
  const status = el("div", { class: "hint", testid: "model-status" });
  const add = el("button", { type: "button", class: "btn", testid: "model-add", onclick: () => submit() }, "Add model");
  root.append(
    el("div", { class: "section-head" }, el("h2", {}, "Add a model")),
    el("div", { class: "hint" }, "An ONNX or TorchScript segmentation network and its card; it becomes a tool once it passes a test run."),
    el("label", { class: "field" }, "Network file ", file),
    el("label", { class: "field" }, "Card (JSON, optional) ", cardFile),
    ...Object.values(fields).slice(0, 7),
    el("div", { class: "button-row" }, fields.resMin, fields.resMax),
    el("label", { class: "field" }, logits, " The network returns logits"),
    el("label", { class: "field" }, isPrivate, " Private"),
    el("div", { class: "button-row" }, add),
    status,
  );

  async function submit() {
    const network = file.files && file.files[0];
    if (!network) return onError(new Error("Pick the .onnx or TorchScript .pt file first"), "Add a model");
    let card;
    try {
      const base = cardFile.files && cardFile.files[0] ? JSON.parse(await cardFile.files[0].text()) : {};
      const values = Object.fromEntries(Object.entries(fields).map(([k, node]) => [k, node.value]));
      card = cardFromForm({ ...values, logits: logits.checked }, base);
    } catch (err) {
      return onError(err, "Model card");
    }
    add.disabled = true;
    status.textContent = `Uploading ${network.name}…`;
    const { promise } = uploadFile("/models", network, {
      fields: { card: JSON.stringify(card), visibility: isPrivate.checked ? "private" : "public" },
      onProgress: (fraction) => {
        status.textContent = fraction < 1 ? `Uploading ${Math.round(fraction * 100)} %` : "Testing the network on zeros…";
      },
    });
    try {
      const model = await promise;
      status.textContent = `${model.name} version ${model.version} is a tool now.`;
      root.dataset.added = model.name;
      onInfo(`Model ${model.name} (version ${model.version}) added`);
      onAdded(model);
    } catch (err) {
      status.textContent = "";
      onError(err, "Model refused");
    } finally {
      add.disabled = false;
    }
  }

  return { submit };
}
