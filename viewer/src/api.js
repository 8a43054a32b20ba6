// JSON API client. Every failure becomes an Error whose message is fit to show to a person:
// the server's `detail` for JSON error bodies ({"code": "...", "detail": "..."}). Every request
// to this server carries the signed-in API token (auth.js) as `Authorization: Bearer`.
import { authHeaders, withToken } from "./auth.js";

export class ApiError extends Error {
  /** `body`: the parsed JSON error body, for errors that carry more than a message
   * (`needs_samples`: its `labelling` sample-set body). */
  constructor(message, { status = 0, code = null, url = "", body = null } = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.url = url;
    this.body = body;
  }
}

/** Turn an error response body (already parsed JSON, or text) into a readable message. */
export function errorMessageFromBody(body, status, statusText = "") {
  if (body && typeof body === "object") {
    const detail = body.detail ?? body.message ?? body.error;
    if (typeof detail === "string" && detail.trim()) return detail;
    if (Array.isArray(detail) && detail.length) {
      // FastAPI validation errors: [{loc: [...], msg: "..."}]
      return detail
        .map((d) => (d && d.msg ? `${(d.loc || []).slice(1).join(".") || "request"}: ${d.msg}` : JSON.stringify(d)))
        .join("; ");
    }
    if (detail && typeof detail === "object") return JSON.stringify(detail);
  } else if (typeof body === "string" && body.trim() && body.length < 300 && !/^\s*</.test(body)) {
    return body.trim();
  }
  return `Server responded ${status}${statusText ? ` ${statusText}` : ""}`;
}

async function parseBody(response) {
  const text = await response.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * GET a JSON document. `params` is an object (arrays become repeated keys) or a query string.
 * Throws ApiError with the server's detail message on HTTP errors.
 */
export async function getJSON(path, params, { signal, token } = {}) {
  let url = path;
  const query = typeof params === "string" ? params : toQuery(params);
  if (query) url += (url.includes("?") ? "&" : "?") + query;

  let response;
  try {
    const auth = token === undefined ? authHeaders(url) : authHeaders(url, token);
    response = await fetch(url, { headers: { Accept: "application/json", ...auth }, signal });
  } catch (err) {
    if (err && err.name === "AbortError") throw err;
    throw new ApiError(`Cannot reach the server (${path}): ${err && err.message ? err.message : err}`, { url });
  }
  const body = await parseBody(response);
  if (!response.ok) {
    throw new ApiError(errorMessageFromBody(body, response.status, response.statusText), {
      status: response.status,
      code: body && typeof body === "object" ? body.code ?? null : null,
      url,
    });
  }
  if (body === null || typeof body !== "object") {
    throw new ApiError(`Unexpected non-JSON response from ${path}`, { status: response.status, url });
  }
  return body;
}

/**
 * Send a JSON body (POST / PATCH / DELETE ...) and parse the JSON answer. Throws ApiError with the
 * server's detail message on HTTP errors. A 204 answers null.
 */
export async function sendJSON(method, path, body, { signal } = {}) {
  let response;
  const init = { method, headers: { Accept: "application/json", ...authHeaders(path) }, signal };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  try {
    response = await fetch(path, init);
  } catch (err) {
    if (err && err.name === "AbortError") throw err;
    throw new ApiError(`Cannot reach the server (${method} ${path}): ${err && err.message ? err.message : err}`, { url: path });
  }
  const parsed = await parseBody(response);
  if (!response.ok) {
    const json = parsed && typeof parsed === "object" ? parsed : null;
    throw new ApiError(errorMessageFromBody(parsed, response.status, response.statusText), {
      status: response.status,
      code: json ? json.code ?? null : null,
      url: path,
      body: json,
    });
  }
  return parsed;
}

/**
 * Upload one file as multipart/form-data with XMLHttpRequest (fetch cannot report upload
 * progress). `fields` are extra form fields (title, datetime, bands ...). Returns
 * {promise, abort}; the promise resolves with the parsed JSON answer or rejects with ApiError.
 * onProgress(fraction 0..1, loadedBytes, totalBytes) is called while the body is sent.
 */
export function uploadFile(path, file, { fields = {}, onProgress = () => {} } = {}) {
  const xhr = new XMLHttpRequest();
  const promise = new Promise((resolve, reject) => {
    const form = new FormData();
    for (const [key, value] of Object.entries(fields)) {
      if (value !== undefined && value !== null && value !== "") form.append(key, value);
    }
    form.append("file", file, file.name);
    xhr.open("POST", path);
    xhr.setRequestHeader("Accept", "application/json");
    for (const [name, value] of Object.entries(authHeaders(path))) xhr.setRequestHeader(name, value);
    xhr.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) onProgress(e.total ? e.loaded / e.total : 0, e.loaded, e.total);
    });
    xhr.addEventListener("load", () => {
      let body = xhr.responseText;
      try {
        body = body ? JSON.parse(body) : null;
      } catch {
        // keep the text
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(body);
      else {
        reject(
          new ApiError(errorMessageFromBody(body, xhr.status, xhr.statusText), {
            status: xhr.status,
            code: body && typeof body === "object" ? body.code ?? null : null,
            url: path,
          }),
        );
      }
    });
    xhr.addEventListener("error", () => reject(new ApiError(`Upload of ${file.name} failed: the server could not be reached`, { url: path })));
    xhr.addEventListener("abort", () => {
      const err = new ApiError(`Upload of ${file.name} cancelled`, { url: path });
      err.cancelled = true;
      reject(err);
    });
    xhr.send(form);
  });
  return { promise, abort: () => xhr.abort() };
}

export function toQuery(params) {
  if (!params) return "";
  const parts = [];
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === "") continue;
    for (const v of Array.isArray(value) ? value : [value]) {
      parts.push(`${encodeURIComponent(key)}=${encodeURIComponent(v)}`);
    }
  }
  return parts.join("&");
}

const itemsOf = (doc) => (Array.isArray(doc.items) ? doc.items : []);
const enc = encodeURIComponent;

export const api = {
  datasets: async () => itemsOf(await getJSON("/datasets")),
  dataset: (id) => getJSON(`/datasets/${enc(id)}`),
  /** `patch`: {title?, description?, visibility?: "public"|"private"}; answers the dataset. */
  updateDataset: (id, patch) => sendJSON("PATCH", `/datasets/${enc(id)}`, patch),
  deleteDataset: (id) => sendJSON("DELETE", `/datasets/${enc(id)}`),
  mosaics: async () => itemsOf(await getJSON("/mosaics")),
  updateMosaic: (id, patch) => sendJSON("PATCH", `/mosaics/${enc(id)}`, patch),
  deleteMosaic: (id) => sendJSON("DELETE", `/mosaics/${enc(id)}`),
  indices: async () => itemsOf(await getJSON("/indices")),
  /** `query` is a ready-made query string, see layers.js statisticsQuery(). */
  statistics: (datasetId, query) =>
    getJSON(`/raster/${enc(datasetId)}/statistics`, query),
  colormapLegendUrl: (name, { width = 256, height = 20 } = {}) =>
    withToken(`/colorMaps/${enc(name)}?f=png&orientation=horizontal&width=${width}&height=${height}`),

  // who is asking, and what the administrator configured for the viewer
  /** `token` (optional): ask for that token instead of the stored one (checking a sign-in). */
  me: (token) => getJSON("/me", undefined, token === undefined ? {} : { token }),
  viewerConfig: () => getJSON("/viewer/config.json"),

  // projects: GET /projects answers a page {items (summaries), count, matched}
  projects: (limit = 50, offset = 0) => getJSON("/projects", { limit, offset }),
  project: (id) => getJSON(`/projects/${enc(id)}`),
  createProject: (body) => sendJSON("POST", "/projects", body),
  /** `patch`: {title?, description?, visibility?, layers?, add_jobs?}. */
  updateProject: (id, patch) => sendJSON("PATCH", `/projects/${enc(id)}`, patch),

  // STAC search
  collections: async () => {
    const doc = await getJSON("/stac/collections");
    return Array.isArray(doc.collections) ? doc.collections : [];
  },
  search: (body) => sendJSON("POST", "/stac/search", body),

  // uploads
  upload: (file, options) => uploadFile("/datasets", file, options),

  // OGC API Processes and jobs
  processes: async () => {
    const doc = await getJSON("/processes");
    return Array.isArray(doc.processes) ? doc.processes : [];
  },
  process: (id) => getJSON(`/processes/${enc(id)}`),
  model: (name) => getJSON(`/models/${enc(name)}`),
  deleteModel: (name) => sendJSON("DELETE", `/models/${enc(name)}`),
  execute: (id, inputs) => sendJSON("POST", `/processes/${enc(id)}/execution`, { inputs }),
  jobs: async (limit = 20) => {
    const doc = await getJSON("/jobs", { limit });
    return Array.isArray(doc.jobs) ? doc.jobs : [];
  },
  job: (id) => getJSON(`/jobs/${enc(id)}`),
  jobResults: (id) => getJSON(`/jobs/${enc(id)}/results`),
  cancelJob: (id) => sendJSON("DELETE", `/jobs/${enc(id)}`),

  // vector features and edits
  features: (id, { bbox, limit = 100 } = {}) =>
    getJSON(`/vectors/${enc(id)}/features`, { bbox: bbox ? bbox.join(",") : undefined, limit }),
  feature: (id, fid) => getJSON(`/vectors/${enc(id)}/features/${enc(fid)}`),
  patchFeature: (id, fid, patch) => sendJSON("PATCH", `/vectors/${enc(id)}/features/${enc(fid)}`, { type: "Feature", ...patch }),
  createFeature: (id, feature) => sendJSON("POST", `/vectors/${enc(id)}/features`, { type: "Feature", ...feature }),
  deleteFeature: (id, fid) => sendJSON("DELETE", `/vectors/${enc(id)}/features/${enc(fid)}`),
  undo: (id) => sendJSON("POST", `/vectors/${enc(id)}/undo`),
  history: (id, limit = 20) => getJSON(`/vectors/${enc(id)}/history`, { limit }),
};
