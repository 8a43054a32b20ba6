// JSON API client. Every failure becomes an Error whose message is fit to show to a person:
// the server's `detail` for JSON error bodies ({"code": "...", "detail": "..."}).

export class ApiError extends Error {
  constructor(message, { status = 0, code = null, url = "" } = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.url = url;
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
export async function getJSON(path, params, { signal } = {}) {
  let url = path;
  const query = typeof params === "string" ? params : toQuery(params);
  if (query) url += (url.includes("?") ? "&" : "?") + query;

  let response;
  try {
    response = await fetch(url, { headers: { Accept: "application/json" }, signal });
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

export const api = {
  datasets: async () => itemsOf(await getJSON("/datasets")),
  mosaics: async () => itemsOf(await getJSON("/mosaics")),
  indices: async () => itemsOf(await getJSON("/indices")),
  /** `query` is a ready-made query string, see layers.js statisticsQuery(). */
  statistics: (datasetId, query) =>
    getJSON(`/raster/${encodeURIComponent(datasetId)}/statistics`, query),
  colormapLegendUrl: (name, { width = 256, height = 20 } = {}) =>
    `/colorMaps/${encodeURIComponent(name)}?format=png&orientation=horizontal&width=${width}&height=${height}`,
};
