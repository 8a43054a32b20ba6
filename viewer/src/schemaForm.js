// A form generated from a process's `inputsSchema` (JSON schema made by pydantic):
// strings, numbers, integers, booleans, enums, lists, tuples (bbox), GeoJSON objects, and
// dataset pickers for the fields named dataset / datasets / vector / reference.
// read() returns the `inputs` object for POST /processes/{id}/execution, or throws an Error
// naming the field that is wrong.
import { clear, el } from "./ui.js";

export const DATASET_FIELDS = ["dataset", "datasets", "vector", "reference"];
const AREA_FIELDS = ["aoi", "geometry", "intersects", "polygon"];

/** Follow a local $ref ("#/$defs/Name"). */
function deref(schema, root) {
  let s = schema || {};
  for (let i = 0; i < 8 && s.$ref; i++) {
    const path = s.$ref.replace(/^#\//, "").split("/");
    s = path.reduce((node, key) => (node ? node[key] : undefined), root) || {};
  }
  return s;
}

/**
 * The field's effective schema and whether null is allowed ("optional"), with anyOf/oneOf of
 * [X, null] unwrapped and enums from const alternatives collected (pure; unit-tested).
 */
export function fieldSpec(schema, root = {}) {
  let s = deref(schema, root);
  let nullable = false;
  const alternatives = s.anyOf || s.oneOf;
  if (Array.isArray(alternatives)) {
    const options = alternatives.map((a) => deref(a, root));
    const nonNull = options.filter((a) => a.type !== "null");
    nullable = nonNull.length < options.length;
    if (nonNull.length === 1) s = { ...nonNull[0], ...strip(s) };
    else if (nonNull.every((a) => "const" in a || Array.isArray(a.enum))) {
      s = { ...strip(s), type: "string", enum: nonNull.flatMap((a) => ("const" in a ? [a.const] : a.enum)) };
    } else s = { ...strip(s), type: "json" };
  }
  let kind = s.type || (s.enum ? "string" : s.properties ? "object" : "json");
  if (Array.isArray(kind)) {
    nullable = nullable || kind.includes("null");
    kind = kind.find((t) => t !== "null") || "json";
  }
  if (Array.isArray(s.enum)) kind = "enum";
  else if (kind === "array") {
    const items = deref(s.items || {}, root);
    if (Array.isArray(s.prefixItems)) kind = "tuple";
    else if (Array.isArray(items.enum)) kind = "enum-list";
    else if (["number", "integer", "string"].includes(items.type)) kind = `${items.type}-list`;
    else kind = "json";
    s = { ...s, items };
  }
  return { schema: s, kind, nullable };
}

function strip(s) {
  const { anyOf, oneOf, ...rest } = s;
  return rest;
}

const labelOf = (name, s) => s.title || name.replace(/_/g, " ");

function parseNumber(text, integer, name) {
  const v = Number(text);
  if (!Number.isFinite(v)) throw new Error(`${name}: "${text}" is not a number`);
  if (integer && !Number.isInteger(v)) throw new Error(`${name}: "${text}" is not a whole number`);
  return v;
}

/**
 * @param {object} schema  the process's inputsSchema
 * @param {{rasters: object[], vectors: object[], defaults?: object,
 *          getArea?: () => object|null, getBbox?: () => number[]|null}} context
 */
/** `input` stacked with a button that fills it with `format(value())` when the map has a value
 *  (the search area or view) to offer. */
function withFillButton(input, testid, label, value, format) {
  const fill = () => {
    const current = value();
    if (current) input.value = format(current);
  };
  return el("div", { class: "stack" }, input, el("button", { type: "button", class: "btn btn-small btn-ghost", testid, onclick: fill }, label));
}

export function createSchemaForm(schema, { rasters = [], vectors = [], defaults = {}, getArea = () => null, getBbox = () => null } = {}) {
  const root = schema || {};
  const required = new Set(root.required || []);
  const main = el("div", { class: "form-main" });
  const advanced = el("div", { class: "form-advanced" });
  const more = el("details", { class: "form-more" }, el("summary", {}, "More options"), advanced);
  const readers = [];

  const datasetOptions = (name, s) => {
    const pool = name === "vector" ? vectors : name === "reference" ? [...rasters, ...vectors] : rasters;
    const wantVector = /vector/i.test(s.description || "") && name !== "datasets" && name !== "dataset";
    return wantVector && name !== "reference" ? vectors : pool;
  };

  for (const [name, raw] of Object.entries(root.properties || {})) {
    const { schema: s, kind, nullable } = fieldSpec(raw, root);
    const isRequired = required.has(name);
    const optional = !isRequired;
    const label = labelOf(name, s);
    const hint = s.description ? el("div", { class: "hint" }, s.description) : null;
    const testid = `tool-field-${name}`;
    const preset = defaults[name] !== undefined ? defaults[name] : s.default;
    let control;
    let read;

    if (DATASET_FIELDS.includes(name) && (kind === "string" || kind === "string-list")) {
      const options = datasetOptions(name, s);
      const multiple = kind === "string-list";
      control = el(
        "select",
        { class: "input", multiple, size: multiple ? Math.min(6, Math.max(3, options.length)) : null, testid },
        multiple || !optional ? null : el("option", { value: "" }, "(none)"),
        options.map((d) => el("option", { value: d.id }, `${d.title || d.id}${d.datetime ? ` · ${String(d.datetime).slice(0, 10)}` : ""}`)),
      );
      const wanted = Array.isArray(preset) ? preset.map(String) : preset ? [String(preset)] : [];
      for (const option of control.options) option.selected = wanted.includes(option.value);
      if (!multiple && !wanted.length && !optional && options.length) control.value = options[0].id;
      read = () => {
        if (multiple) {
          const ids = [...control.selectedOptions].map((o) => o.value);
          return ids.length ? ids : undefined;
        }
        return control.value || undefined;
      };
    } else if (kind === "boolean") {
      control = el("input", { type: "checkbox", checked: Boolean(preset), testid });
      read = () => control.checked;
      (isRequired ? main : advanced).append(el("label", { class: "check", title: s.description || "" }, control, label));
      readers.push({ name, read, optional, nullable, label });
      continue;
    } else if (kind === "enum") {
      control = el(
        "select",
        { class: "input", testid },
        optional && (nullable || preset === undefined || preset === null) ? el("option", { value: "" }, "(default)") : null,
        s.enum.map((v) => el("option", { value: String(v) }, String(v))),
      );
      if (preset !== undefined && preset !== null) control.value = String(preset);
      read = () => {
        if (control.value === "") return undefined;
        const match = s.enum.find((v) => String(v) === control.value);
        return match === undefined ? control.value : match;
      };
    } else if (kind === "number" || kind === "integer") {
      control = el("input", {
        type: "number",
        class: "input",
        step: kind === "integer" ? "1" : "any",
        min: s.minimum ?? s.exclusiveMinimum ?? null,
        max: s.maximum ?? s.exclusiveMaximum ?? null,
        value: preset ?? "",
        placeholder: optional ? "default" : "",
        testid,
      });
      read = () => (control.value.trim() === "" ? undefined : parseNumber(control.value, kind === "integer", label));
    } else if (kind === "string") {
      control = el("input", { type: "text", class: "input", value: preset ?? "", placeholder: optional ? "optional" : "", testid });
      read = () => (control.value.trim() === "" ? undefined : control.value.trim());
    } else if (kind === "enum-list") {
      const chosen = new Set((Array.isArray(preset) ? preset : []).map(String));
      const boxes = s.items.enum.map((v) => el("input", { type: "checkbox", value: String(v), checked: chosen.has(String(v)), testid: `${testid}-${v}` }));
      control = el("div", { class: "button-row" }, boxes.map((b) => el("label", { class: "check" }, b, b.value)));
      read = () => {
        const values = boxes.filter((b) => b.checked).map((b) => s.items.enum.find((v) => String(v) === b.value));
        return values.length ? values : undefined;
      };
    } else if (kind.endsWith("-list") || kind === "tuple") {
      const itemType = kind === "tuple" ? (s.prefixItems[0] || {}).type || "number" : kind.replace("-list", "");
      const input = el("input", {
        type: "text",
        class: "input",
        value: Array.isArray(preset) ? preset.join(", ") : "",
        placeholder: kind === "tuple" ? `${s.prefixItems.length} values, comma-separated` : "comma-separated",
        testid,
      });
      control = input;
      read = () => {
        const text = input.value.trim();
        if (!text) return undefined;
        const parts = text.split(/[,\s]+/).filter(Boolean);
        const values = itemType === "string" ? parts : parts.map((p) => parseNumber(p, itemType === "integer", label));
        if (kind === "tuple" && values.length !== s.prefixItems.length) throw new Error(`${label}: needs ${s.prefixItems.length} values`);
        return values;
      };
      if (/bbox/i.test(name)) {
        control = withFillButton(input, `${testid}-use-view`, "Use search area / view", getBbox, (bbox) => bbox.map((v) => v.toFixed(5)).join(", "));
      }
    } else {
      control = el("textarea", { class: "input mono", rows: 3, placeholder: "JSON", testid }, preset !== undefined && preset !== null ? JSON.stringify(preset) : "");
      const area = control;
      read = () => {
        const text = area.value.trim();
        if (!text) return undefined;
        try {
          return JSON.parse(text);
        } catch (err) {
          throw new Error(`${label}: not valid JSON (${err.message})`);
        }
      };
      if (AREA_FIELDS.includes(name)) {
        control = withFillButton(area, `${testid}-use-area`, "Use search area", getArea, (geometry) => JSON.stringify(geometry));
      }
    }

    const important = isRequired || DATASET_FIELDS.includes(name) || AREA_FIELDS.includes(name) || /^(index|expression|crs|resolution|formats|bbox)$/.test(name);
    (important ? main : advanced).append(el("label", { class: "field", title: s.description || "" }, el("span", { class: "field-label" }, label, isRequired ? " *" : ""), control, hint));
    readers.push({ name, read, optional, nullable, label });
  }

  const element = el("div", { class: "schema-form" }, main);
  if (advanced.children.length) element.append(more);

  return {
    element,
    read() {
      const inputs = {};
      for (const { name, read, optional, label } of readers) {
        const value = read();
        if (value === undefined) {
          if (!optional) throw new Error(`${label} is required`);
          continue;
        }
        inputs[name] = value;
      }
      return inputs;
    },
    clear() {
      clear(element);
    },
  };
}
