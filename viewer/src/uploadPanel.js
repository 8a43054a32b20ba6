// "Upload" panel: drop files (GeoTIFF, ERDAS .img, zipped shapefile, GeoJSON, GeoPackage) on
// the panel or anywhere on the page, or pick them; each is sent to POST /datasets with a
// progress bar (XMLHttpRequest upload progress), one after the other. The server's error
// (400 / 413 / 415 with a reason) is shown; a new dataset is added to the map.
import { api } from "./api.js";
import { el, formatBytes } from "./ui.js";

export const ACCEPTED = [".tif", ".tiff", ".img", ".zip", ".geojson", ".json", ".gpkg"];

/** True when a file name has an extension the server ingests (pure; unit-tested). */
export function acceptedFile(name) {
  const lower = String(name || "").toLowerCase();
  return ACCEPTED.some((ext) => lower.endsWith(ext));
}

/**
 * @param {{root: HTMLElement, dropTarget?: HTMLElement,
 *          onUploaded: (record) => Promise<void>, onError: (err, title?) => void}} opts
 */
export function createUploadPanel({ root, dropTarget = document.body, onUploaded, onError }) {
  const input = el("input", {
    type: "file",
    multiple: true,
    accept: ACCEPTED.join(","),
    hidden: true,
    testid: "upload-input",
    onchange: () => {
      enqueue([...input.files]);
      input.value = "";
    },
  });
  const title = el("input", { type: "text", class: "input", placeholder: "Title (optional; default: file name)", testid: "upload-title" });
  const zone = el(
    "div",
    {
      class: "dropzone",
      testid: "upload-drop",
      tabindex: "0",
      role: "button",
      onclick: () => input.click(),
      onkeydown: (e) => {
        if (e.key === "Enter" || e.key === " ") input.click();
      },
    },
    el("strong", {}, "Drop files here"),
    el("span", {}, " or click to choose"),
    el("div", { class: "hint" }, "GeoTIFF, .img, zipped shapefile, GeoJSON, GeoPackage"),
  );
  const fill = el("div", { class: "progress-fill" });
  const bar = el("div", { class: "progress upload-progress", testid: "upload-progress", hidden: true, dataset: { value: "0" } }, fill);
  const status = el("div", { class: "hint", testid: "upload-status" });
  const cancel = el("button", { type: "button", class: "btn btn-small btn-ghost", testid: "upload-cancel", hidden: true, onclick: () => current && current.abort() }, "Cancel");
  root.append(el("div", { class: "section-head" }, el("h2", {}, "Upload")), zone, input, title, bar, el("div", { class: "upload-row" }, status, cancel));

  const queue = [];
  let current = null;
  let done = 0;

  function setProgress(fraction) {
    const pct = Math.round(100 * fraction);
    fill.style.width = `${pct}%`;
    bar.dataset.value = String(pct);
  }

  function enqueue(files) {
    for (const file of files) {
      if (!acceptedFile(file.name)) {
        onError(`"${file.name}" is not a file type cogsight ingests (${ACCEPTED.join(", ")})`, "Upload");
        continue;
      }
      queue.push(file);
    }
    if (!current) next();
  }

  async function next() {
    const file = queue.shift();
    if (!file) {
      current = null;
      cancel.hidden = true;
      return;
    }
    bar.hidden = false;
    cancel.hidden = false;
    setProgress(0);
    status.textContent = `Uploading ${file.name} (${formatBytes(file.size)})…`;
    root.dataset.state = "uploading";
    const job = api.upload(file, {
      fields: { title: title.value.trim() || undefined },
      onProgress: (fraction) => {
        setProgress(fraction);
        status.textContent = fraction >= 1 ? `Processing ${file.name} on the server…` : `Uploading ${file.name}: ${Math.round(fraction * 100)} %`;
      },
    });
    current = job;
    try {
      const record = await job.promise;
      setProgress(1);
      done += 1;
      status.textContent = `${file.name} → ${record.title} (${record.id})`;
      root.dataset.state = "done";
      root.dataset.uploaded = String(done);
      root.dataset.lastId = record.id;
      title.value = "";
      await onUploaded(record);
    } catch (err) {
      root.dataset.state = "error";
      status.textContent = err.cancelled ? `${file.name}: cancelled` : `${file.name}: ${err.message}`;
      bar.hidden = true;
      if (!err.cancelled) onError(err, `Upload of ${file.name} failed`);
    }
    next();
  }

  // Drag and drop anywhere on the page.
  let depth = 0;
  const hasFiles = (e) => e.dataTransfer && [...(e.dataTransfer.types || [])].includes("Files");
  dropTarget.addEventListener("dragenter", (e) => {
    if (!hasFiles(e)) return;
    depth += 1;
    document.body.classList.add("dragging-files");
  });
  dropTarget.addEventListener("dragleave", () => {
    depth = Math.max(0, depth - 1);
    if (!depth) document.body.classList.remove("dragging-files");
  });
  dropTarget.addEventListener("dragover", (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = "copy";
  });
  dropTarget.addEventListener("drop", (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    depth = 0;
    document.body.classList.remove("dragging-files");
    enqueue([...e.dataTransfer.files]);
  });

  return { enqueue };
}
