// "Jobs" list: every job this page started (and recent ones from the server) with live
// status and progress (GET /jobs/{id} polled while running), cancel (DELETE /jobs/{id}) and
// results (GET /jobs/{id}/results). When a job this page started succeeds, `onSucceeded`
// receives its results (the app adds the result datasets to the map).
import { api } from "./api.js";
import { withToken } from "./auth.js";
import { clear, el, formatDate } from "./ui.js";

const FINAL = new Set(["successful", "failed", "dismissed"]);
const POLL_MS = 1000;

/**
 * @param {{root: HTMLElement, onSucceeded: (job, results) => Promise<void>|void,
 *          onAddDataset: (id) => Promise<void>, onError: (err, title?) => void}} opts
 */
export function createJobsPanel({ root, onSucceeded, onAddDataset, onError }) {
  const jobs = new Map(); // id -> {info, results, tracked, resultsError}
  const list = el("div", { class: "job-list", testid: "jobs-list" });
  const refresh = el("button", { type: "button", class: "btn btn-icon", title: "Reload jobs", testid: "jobs-refresh", onclick: () => loadRecent() }, "↻");
  root.append(el("div", { class: "section-head" }, el("h2", {}, "Jobs"), refresh), list);
  let timer = null;
  let polling = false;

  function ensurePolling() {
    const active = [...jobs.values()].some((j) => !FINAL.has(j.info.status));
    if (active && !timer) timer = setInterval(poll, POLL_MS);
    if (!active && timer) {
      clearInterval(timer);
      timer = null;
    }
  }

  async function poll() {
    if (polling) return;
    polling = true;
    try {
      const active = [...jobs.values()].filter((j) => !FINAL.has(j.info.status));
      await Promise.all(
        active.map(async (entry) => {
          try {
            update(await api.job(entry.info.jobID));
          } catch (err) {
            entry.pollError = err.message;
            if (err.status === 404) {
              entry.info = { ...entry.info, status: "failed", message: err.message };
              render();
            }
          }
        }),
      );
    } finally {
      polling = false;
      ensurePolling();
    }
  }

  function update(info) {
    const entry = jobs.get(info.jobID);
    if (!entry) return;
    const before = entry.info.status;
    entry.info = info;
    if (before !== info.status && FINAL.has(info.status)) finished(entry);
    render();
  }

  async function finished(entry) {
    const { info } = entry;
    if (info.status === "failed") {
      if (entry.tracked) onError(info.message || "The job failed", `Job "${info.processID}" failed`);
      return;
    }
    if (info.status !== "successful") return;
    try {
      entry.results = await api.jobResults(info.jobID);
      render();
      if (entry.tracked) await onSucceeded(info, entry.results);
    } catch (err) {
      entry.resultsError = err.message;
      render();
      onError(err, `Results of job "${info.processID}"`);
    }
  }

  async function cancel(entry) {
    try {
      const info = await api.cancelJob(entry.info.jobID);
      if (info && info.jobID) update(info);
    } catch (err) {
      onError(err, "Cancel");
    }
  }

  function resultsView(entry) {
    const results = entry.results;
    if (!results) return entry.resultsError ? el("div", { class: "hint error-text" }, entry.resultsError) : null;
    const links = [];
    for (const id of results.datasets || []) {
      links.push(
        el(
          "button",
          { type: "button", class: "btn btn-small btn-ghost", testid: `job-add-${id}`, title: `Add dataset ${id} to the map`, onclick: () => onAddDataset(id).catch((err) => onError(err, "Add result")) },
          `+ ${id}`,
        ),
      );
    }
    for (const [key, value] of Object.entries(results.values || {})) {
      if (typeof value === "string" && /^https?:\/\//.test(value)) {
        links.push(el("a", { class: "btn btn-small btn-ghost", href: withToken(value), target: "_blank", rel: "noopener", testid: `job-file-${key}` }, key.toUpperCase()));
      }
    }
    const metrics = results.values && results.values.metrics;
    const summary = [];
    if (results.values && typeof results.values.polygons === "number") summary.push(`${results.values.polygons} polygons`);
    if (metrics && typeof metrics === "object" && metrics.mean_iou !== undefined) summary.push(`mIoU ${Number(metrics.mean_iou).toFixed(3)}`);
    return el("div", { class: "job-results", testid: `job-results-${entry.info.jobID}` }, summary.length ? el("div", { class: "hint" }, summary.join(" · ")) : null, el("div", { class: "button-row" }, links));
  }

  function row(entry) {
    const { info } = entry;
    const id = info.jobID;
    const final = FINAL.has(info.status);
    const pct = Math.max(0, Math.min(100, Number(info.progress) || 0));
    return el(
      "div",
      { class: `job-item status-${info.status}`, testid: `job-${id}`, dataset: { status: info.status, process: info.processID } },
      el(
        "div",
        { class: "job-row" },
        el("div", { class: "job-text" }, el("div", { class: "job-title" }, info.processID), el("div", { class: "job-meta" }, `${formatDate(info.created)} · ${id}`)),
        el("span", { class: `badge badge-${info.status}`, testid: `job-status-${id}` }, info.status),
        final ? null : el("button", { type: "button", class: "btn btn-icon btn-danger", title: "Cancel", testid: `job-cancel-${id}`, onclick: () => cancel(entry) }, "✕"),
      ),
      final && info.status !== "successful"
        ? null
        : el("div", { class: "progress job-progress", testid: `job-progress-${id}`, dataset: { value: String(pct) } }, el("div", { class: "progress-fill", style: `width:${info.status === "successful" ? 100 : pct}%` })),
      info.message && info.status !== "successful" ? el("div", { class: `hint${info.status === "failed" ? " error-text" : ""}` }, info.message) : null,
      resultsView(entry),
    );
  }

  function render() {
    clear(list);
    const entries = [...jobs.values()].sort((a, b) => String(b.info.created).localeCompare(String(a.info.created)));
    if (!entries.length) list.append(el("div", { class: "empty" }, "No jobs yet. Run a tool above."));
    for (const entry of entries) list.append(row(entry));
  }

  async function loadRecent() {
    try {
      for (const info of await api.jobs(10)) {
        const known = jobs.get(info.jobID);
        if (known) update(info);
        else {
          const entry = { info, results: null, tracked: false };
          jobs.set(info.jobID, entry);
          if (info.status === "successful") finished(entry);
        }
      }
      render();
      ensurePolling();
    } catch (err) {
      onError(err, "Could not load jobs");
    }
  }

  render();
  loadRecent();

  return {
    /** Follow a job just submitted (its status info); its results are added to the map. */
    track(info) {
      jobs.set(info.jobID, { info, results: null, tracked: true });
      render();
      ensurePolling();
      if (FINAL.has(info.status)) finished(jobs.get(info.jobID));
    },
    /** List jobs by id (a project's): fetched from the server, not tracked (their results
     * are not added to the map again). Ids the server no longer knows are left out. */
    async show(ids) {
      const infos = await Promise.all(
        (ids || []).filter((id) => !jobs.has(id)).map((id) => api.job(id).catch(() => null)),
      );
      for (const info of infos) {
        if (!info || jobs.has(info.jobID)) continue;
        const entry = { info, results: null, tracked: false };
        jobs.set(info.jobID, entry);
        if (info.status === "successful") finished(entry);
      }
      render();
      ensurePolling();
    },
    get jobs() {
      return [...jobs.values()].map((j) => ({ ...j.info, results: j.results }));
    },
  };
}
