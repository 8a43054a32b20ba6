// "Tools" panel: the server's processes (GET /processes) with a form per process built from
// its inputsSchema (GET /processes/{id}); Run submits POST /processes/{id}/execution and hands
// the job to the jobs panel. A tool that cannot run on the image's bands answers
// `needs_samples` with a sample-set body: that goes to `onNeedsSamples` (the Label tab).
// A trained or uploaded model its owner (or an admin) chose can be removed here, with all its
// versions (DELETE /models/{name}), after a confirmation.
import { api } from "./api.js";
import { canManage } from "./catalogPanel.js";
import { createSchemaForm } from "./schemaForm.js";
import { clear, el } from "./ui.js";

/** True when `model` (GET /models/{name}) is a trained or uploaded one that `me` may remove. */
export function removableModel(model, me) {
  return Boolean(model) && model.source !== "built-in" && canManage(model, me);
}

/**
 * @param {{root: HTMLElement, getCatalog: () => {datasets: object[]},
 *          getDefaults: () => object, getArea: () => object|null, getBbox: () => number[]|null,
 *          onSubmitted: (job) => void, onError: (err, title?) => void,
 *          onNeedsSamples?: (body: {process, dataset_bands, labelling}) => void,
 *          getMe?: () => object|null, onRemoved?: (name: string) => void}} opts
 */
export function createToolsPanel({ root, getCatalog, getDefaults, getArea, getBbox, onSubmitted, onError, onNeedsSamples, getMe = () => null, onRemoved = () => {} }) {
  const select = el("select", { class: "input", testid: "tools-process", onchange: () => choose(select.value) });
  const description = el("div", { class: "hint tool-description", testid: "tools-description" });
  const formBox = el("div", { class: "tool-form" });
  const removeBox = el("div", { class: "tool-remove", testid: "tools-remove-box" });
  const run = el("button", { type: "button", class: "btn", testid: "tools-run", disabled: true, onclick: () => submit() }, "Run");
  const refresh = el("button", { type: "button", class: "btn btn-icon", title: "Reload tools", testid: "tools-refresh", onclick: () => load() }, "↻");
  root.append(el("div", { class: "section-head" }, el("h2", {}, "Tools"), refresh), select, description, formBox, el("div", { class: "button-row" }, run), removeBox);

  let processes = [];
  let current = null; // {description, form}
  let token = 0;

  async function load() {
    try {
      processes = await api.processes();
      const previous = select.value;
      clear(select);
      select.append(el("option", { value: "" }, "Choose a tool…"));
      for (const p of [...processes].sort((a, b) => a.title.localeCompare(b.title))) {
        select.append(el("option", { value: p.id, title: p.description }, `${p.title} (${p.id})`));
      }
      select.value = processes.some((p) => p.id === previous) ? previous : "";
      root.dataset.loaded = "1";
    } catch (err) {
      onError(err, "Could not load the tools");
    }
  }

  /** Show the form of process `id`. Resolves once the form is built. */
  async function choose(id, defaults = {}) {
    const mine = ++token;
    current = null;
    clear(formBox);
    clear(removeBox);
    run.disabled = true;
    description.textContent = "";
    if (!id) return null;
    if (select.value !== id) select.value = id;
    formBox.append(el("div", { class: "empty" }, "Loading…"));
    try {
      const doc = await api.process(id);
      if (mine !== token) return null;
      const catalog = getCatalog();
      const rasters = catalog.datasets.filter((d) => d.kind !== "vector");
      const vectors = catalog.datasets.filter((d) => d.kind === "vector");
      const form = createSchemaForm(doc.inputsSchema || { properties: {} }, {
        rasters,
        vectors,
        defaults: { ...getDefaults(doc), ...defaults },
        getArea,
        getBbox,
      });
      clear(formBox);
      formBox.append(form.element);
      description.textContent = doc.description || "";
      current = { doc, form };
      run.disabled = false;
      root.dataset.process = id;
      if (doc.model) offerRemoval(id, mine);
      return form;
    } catch (err) {
      clear(formBox);
      onError(err, `Tool "${id}"`);
      return null;
    }
  }

  /** A "Remove model" button when the chosen model is the caller's to remove. */
  async function offerRemoval(name, mine) {
    let model = null;
    try {
      model = await api.model(name);
    } catch {
      model = null; // not listed for this caller: nothing to offer
    }
    if (mine !== token) return;
    const removable = removableModel(model, getMe());
    root.dataset.removal = `${name}:${removable ? "yes" : "no"}`; // settled, for tests
    if (!removable) return;
    const ask = () => {
      clear(removeBox);
      const versions = model.versions && model.versions.length > 1 ? ` and its ${model.versions.length} versions` : "";
      const confirm = el("button", { type: "button", class: "btn btn-small btn-danger-solid", testid: "tools-remove-confirm", onclick: () => remove(name, confirm) }, "Remove");
      removeBox.append(
        el("div", { class: "manage-form manage-confirm" }, el("div", {}, `Remove the model "${name}"${versions}? It stops being a tool for everyone.`),
          el("div", { class: "button-row" }, confirm, el("button", { type: "button", class: "btn btn-small btn-ghost", testid: "tools-remove-cancel", onclick: () => offerButton() }, "Cancel"))),
      );
    };
    const offerButton = () => {
      clear(removeBox);
      removeBox.append(el("button", { type: "button", class: "btn btn-small btn-ghost", testid: "tools-remove", onclick: ask }, "Remove model…"));
    };
    offerButton();
  }

  async function remove(name, button) {
    button.disabled = true;
    button.textContent = "Removing…";
    try {
      await api.deleteModel(name);
      clear(removeBox);
      select.value = "";
      await choose("");
      await load();
      onRemoved(name);
    } catch (err) {
      button.disabled = false;
      button.textContent = "Remove";
      onError(err, `Could not remove "${name}"`);
    }
  }

  async function submit() {
    if (!current) return null;
    run.disabled = true;
    try {
      const inputs = current.form.read();
      const job = await api.execute(current.doc.id, inputs);
      onSubmitted(job);
      return job;
    } catch (err) {
      if (onNeedsSamples && err && err.code === "needs_samples" && err.body && err.body.labelling) {
        onNeedsSamples(err.body);
        return null;
      }
      onError(err, `Could not start "${current.doc.title || current.doc.id}"`);
      return null;
    } finally {
      run.disabled = false;
    }
  }

  load();
  return {
    load,
    choose,
    submit,
    get processes() {
      return processes;
    },
  };
}
