// "Projects" tab: open, create and rename analysis projects (GET/POST/PATCH /projects). While a
// project is open, every change of the map's layers (added, removed, re-rendered, shown,
// hidden, reordered, opacity) and every job started from the Tools tab is saved to it (PATCH,
// debounced, one request at a time); opening one restores its layers with their renderings and
// its jobs, and flies to its layers. The open project's id is in the URL hash (#project=<id>),
// so a reload or a shared link reopens it.
import { api } from "./api.js";
import { hashWithProject, layersPatch, newJobs, projectFromHash } from "./projectState.js";
import { clear, el, formatDate } from "./ui.js";

const SAVE_DELAY_MS = 300;
const LIST_LIMIT = 50;
const JOBS_SHOWN = 20;

/**
 * @param {{root: HTMLElement, badge?: HTMLElement,
 *          getLayers: () => object[], clearMap: () => void,
 *          restoreLayer: (spec) => Promise<object>, showLayers: (specs, options) => Promise<void>,
 *          showJobs: (ids: string[]) => void, canWrite: (project) => boolean,
 *          onError: (err, title?) => void, onInfo: (message, title?) => void}} opts
 */
export function createProjectsPanel({ root, badge, getLayers, clearMap, restoreLayer, showLayers, showJobs, canWrite = () => true, onError, onInfo = () => {} }) {
  let current = null; // the open project as the server last answered
  let saved = []; // its layers as last saved (what the next change is compared with)
  let kept = []; // its layers that could not be restored (kept, so a save does not drop them)
  let restoring = false;
  let timer = null;
  let queue = Promise.resolve(); // saves, one at a time, in order
  let listed = [];
  let matched = 0;
  let renaming = false;

  const status = el("span", { class: "project-status", testid: "project-status", dataset: { state: "idle" } });
  const head = el("div", { class: "project-current", testid: "project-current" });
  const newTitle = el("input", {
    type: "text",
    class: "input",
    placeholder: "New project title",
    maxlength: "512",
    testid: "project-new-title",
    onkeydown: (e) => e.key === "Enter" && createFromForm(),
  });
  const createButton = el("button", { type: "button", class: "btn", testid: "project-create", onclick: () => createFromForm() }, "Create");
  const count = el("span", { class: "count", testid: "projects-count" });
  const list = el("div", { class: "project-list", testid: "projects-list" });
  const refresh = el("button", { type: "button", class: "btn btn-icon", title: "Reload projects", testid: "projects-refresh", onclick: () => load() }, "↻");
  root.append(
    el("div", { class: "section-head" }, el("h2", {}, "Project"), status),
    head,
    el("div", { class: "field-label" }, "New project from the layers on the map"),
    el("div", { class: "button-row project-new" }, newTitle, createButton),
    el("div", { class: "section-head" }, el("h2", {}, "Projects ", count), refresh),
    list,
  );

  function setStatus(state, text = "") {
    status.dataset.state = state;
    status.textContent = text;
  }

  const writable = () => Boolean(current) && canWrite(current);

  function renderHead() {
    clear(head);
    head.dataset.projectId = current ? current.id : "";
    if (badge) {
      badge.textContent = current ? current.title : "";
      badge.hidden = !current;
    }
    document.title = current ? `${current.title} · cogsight` : "cogsight viewer";
    if (!current) {
      head.append(el("div", { class: "empty" }, "No project open: changes are not saved. Create one below or open one from the list."));
      return;
    }
    if (renaming) {
      const input = el("input", {
        type: "text",
        class: "input",
        value: current.title,
        maxlength: "512",
        testid: "project-rename-input",
        onkeydown: (e) => {
          if (e.key === "Enter") rename(input.value).catch(() => {});
          if (e.key === "Escape") {
            renaming = false;
            renderHead();
          }
        },
      });
      head.append(
        el(
          "div",
          { class: "button-row" },
          input,
          el("button", { type: "button", class: "btn btn-small", testid: "project-rename-save", onclick: () => rename(input.value).catch(() => {}) }, "Save"),
          el("button", { type: "button", class: "btn btn-small btn-ghost", testid: "project-rename-cancel", onclick: () => ((renaming = false), renderHead()) }, "Cancel"),
        ),
      );
      setTimeout(() => input.focus(), 0);
    } else {
      head.append(el("div", { class: "project-title", testid: "project-title" }, current.title));
    }
    const layerCount = current.layers.length;
    head.append(
      el(
        "div",
        { class: "hint" },
        `${layerCount} layer${layerCount === 1 ? "" : "s"} · ${current.jobs.length} job${current.jobs.length === 1 ? "" : "s"} · updated ${formatDate(current.updated)}`,
        writable() ? "" : " · read only (not yours: changes are not saved)",
      ),
      el(
        "div",
        { class: "button-row" },
        writable() && !renaming
          ? el("button", { type: "button", class: "btn btn-small btn-ghost", testid: "project-rename", onclick: () => ((renaming = true), renderHead()) }, "Rename")
          : null,
        el("button", { type: "button", class: "btn btn-small btn-ghost", testid: "project-close", onclick: () => close() }, "Close"),
      ),
    );
  }

  function renderList() {
    clear(list);
    count.textContent = matched > listed.length ? `(${listed.length} of ${matched})` : `(${listed.length})`;
    if (!listed.length) {
      list.append(el("div", { class: "empty" }, "No projects yet."));
      return;
    }
    for (const p of listed) {
      const open = current && current.id === p.id;
      list.append(
        el(
          "div",
          { class: `project-item${open ? " selected" : ""}`, testid: `project-item-${p.id}` },
          el(
            "div",
            { class: "catalog-text" },
            el("div", { class: "catalog-title" }, p.title),
            el("div", { class: "catalog-meta" }, `${p.visibility} · updated ${formatDate(p.updated)}`),
          ),
          el(
            "button",
            { type: "button", class: "btn btn-small", testid: `project-open-${p.id}`, disabled: open, onclick: () => open_(p.id) },
            open ? "Opened" : "Open",
          ),
        ),
      );
    }
  }

  async function load() {
    try {
      const doc = await api.projects(LIST_LIMIT);
      listed = doc.items || [];
      matched = doc.matched ?? listed.length;
      renderList();
    } catch (err) {
      onError(err, "Could not load projects");
    }
  }

  function setHash(id) {
    const hash = hashWithProject(window.location.hash, id);
    if (hash !== window.location.hash) window.history.replaceState(null, "", `${window.location.pathname}${window.location.search}${hash}`);
  }

  function adopt(project) {
    current = project;
    const i = listed.findIndex((p) => p.id === project.id);
    const summary = { id: project.id, owner: project.owner, visibility: project.visibility, title: project.title, description: project.description, created: project.created, updated: project.updated };
    if (i >= 0) listed[i] = summary;
    else {
      listed.unshift(summary);
      matched += 1;
    }
    renderHead();
    renderList();
  }

  /** Send one change to the open project (after the ones before it). */
  function send(patch, { quiet = false } = {}) {
    const id = current.id;
    const run = queue.then(async () => {
      setStatus("saving", "saving…");
      try {
        const project = await api.updateProject(id, patch);
        if (current && current.id === id) adopt(project);
        setStatus("saved", "saved");
        return project;
      } catch (err) {
        setStatus("error", "not saved");
        if (!quiet) onError(err, "Project not saved");
        throw err;
      }
    });
    queue = run.catch(() => {});
    return run;
  }

  /** Save the map's layers if they differ from what the project holds. */
  function save() {
    timer = null;
    if (!writable() || restoring) return queue;
    const layers = [...getLayers(), ...kept];
    const patch = layersPatch(saved, layers);
    if (!patch) return queue;
    const before = saved;
    saved = patch.layers;
    return send(patch).catch(() => {
      if (saved === patch.layers) saved = before; // the next change sends it again
    });
  }

  /** The map changed: save it to the open project shortly (changes close together: once). */
  function changed() {
    if (!current || restoring) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(save, SAVE_DELAY_MS);
  }

  /** Resolves when every change so far has been saved (or failed). */
  async function flush() {
    if (timer) {
      clearTimeout(timer);
      save();
    }
    await queue;
  }

  /** A job was started: list it in the open project. */
  function jobSubmitted(job) {
    if (!writable() || !job || !job.jobID) return Promise.resolve(null);
    const add = newJobs(current.jobs, [job.jobID]);
    if (!add.length) return Promise.resolve(current);
    return send({ add_jobs: add }).catch(() => null);
  }

  /** A dataset or mosaic was deleted: forget it among the layers kept unrestored. */
  function forget(id) {
    kept = kept.filter((layer) => layer.id !== id);
    changed();
  }

  async function flushBeforeLeaving() {
    if (!current) return;
    try {
      await flush();
    } catch {
      // already reported
    }
  }

  /**
   * Open project `id`: the map is replaced by its layers (with their renderings), its jobs are
   * listed, and the camera flies to its layers. options: {duration} of the flight (seconds).
   */
  async function open_(id, { duration } = {}) {
    await flushBeforeLeaving();
    let project;
    try {
      project = await api.project(id);
    } catch (err) {
      onError(err, "Could not open the project");
      throw err;
    }
    restoring = true;
    renaming = false;
    current = project;
    kept = [];
    setStatus("opening", "opening…");
    renderHead();
    const restored = [];
    const failures = [];
    try {
      clearMap();
      for (const spec of project.layers) {
        try {
          await restoreLayer(spec);
          restored.push(spec);
        } catch (err) {
          failures.push(`${spec.id}: ${err.message}`);
          // Gone from the catalog: dropped at the next save; anything else: kept.
          if (!/^No dataset or mosaic with id/.test(err.message)) kept.push(spec);
        }
      }
      saved = [...getLayers(), ...kept];
    } finally {
      restoring = false;
    }
    setHash(project.id);
    adopt(project);
    setStatus("saved", failures.length ? `${failures.length} layer(s) not restored` : "");
    if (failures.length) onError(`Not restored: ${failures.join("; ")}`, `Project "${project.title}"`);
    showJobs(project.jobs.slice(-JOBS_SHOWN));
    await showLayers(restored, { duration });
    return project;
  }

  /** Create a project holding the layers on the map, and open it (nothing to restore). */
  async function create(title) {
    const name = String(title || "").trim();
    if (!name) throw new Error("A project needs a title");
    await flushBeforeLeaving();
    const layers = getLayers();
    let project;
    try {
      project = await api.createProject({ title: name, layers });
    } catch (err) {
      onError(err, "Could not create the project");
      throw err;
    }
    kept = [];
    saved = layers;
    renaming = false;
    adopt(project);
    setHash(project.id);
    setStatus("saved", "saved");
    onInfo(`"${project.title}" created; changes to the map are saved to it`, "Projects");
    return project;
  }

  async function createFromForm() {
    try {
      await create(newTitle.value);
      newTitle.value = "";
    } catch (err) {
      if (!err.status) onError(err, "Projects");
    }
  }

  /** Rename the open project. */
  async function rename(title) {
    const name = String(title || "").trim();
    if (!current) throw new Error("No project is open");
    if (!name) {
      onError("A project needs a title", "Rename");
      throw new Error("A project needs a title");
    }
    renaming = false;
    renderHead();
    return send({ title: name });
  }

  /** Close the open project: the map stays as it is, changes are no longer saved. */
  async function close() {
    await flushBeforeLeaving();
    current = null;
    saved = [];
    kept = [];
    renaming = false;
    setHash(null);
    setStatus("idle");
    renderHead();
    renderList();
  }

  window.addEventListener("hashchange", () => {
    const id = projectFromHash(window.location.hash);
    if (id && (!current || current.id !== id)) open_(id).catch(() => {});
    else if (!id && current) close();
  });

  renderHead();
  renderList();
  load();

  return {
    open: open_,
    create,
    rename,
    close,
    load,
    changed,
    flush,
    jobSubmitted,
    forget,
    /** The project id in the page's URL hash (to reopen at start), or null. */
    fromHash: () => projectFromHash(window.location.hash),
    get current() {
      return current;
    },
    get projects() {
      return listed;
    },
  };
}
