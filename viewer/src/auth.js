// Who the viewer acts for: an API token kept in localStorage, sent as `Authorization: Bearer`
// on API calls (api.js) and as `?access_token=` on the URLs Cesium and <img>/<a> fetch by
// themselves (tiles, vector tiles, legends, thumbnails, downloads), which cannot carry a header.
// Only URLs on this server get it: a token never goes to a base map or any other host.
// The helpers take the storage / origin as arguments so they run under node:test.

export const TOKEN_KEY = "cogsight.token";
const PARAM = "access_token";

function defaultStorage() {
  try {
    return globalThis.localStorage || null;
  } catch {
    return null; // storage disabled (privacy settings): signed out, and sign-in cannot persist
  }
}

function defaultOrigin() {
  return globalThis.location && globalThis.location.origin ? globalThis.location.origin : null;
}

/** The stored token, or null. */
export function getToken(storage = defaultStorage()) {
  try {
    const token = storage ? storage.getItem(TOKEN_KEY) : null;
    return token && token.trim() ? token.trim() : null;
  } catch {
    return null;
  }
}

/** Keep a token (trimmed); an empty one clears it. Throws when storage refuses. */
export function setToken(token, storage = defaultStorage()) {
  const value = String(token ?? "").trim();
  if (!storage) throw new Error("This browser keeps no local storage; the sign-in cannot be kept");
  if (value) storage.setItem(TOKEN_KEY, value);
  else storage.removeItem(TOKEN_KEY);
}

export function clearToken(storage = defaultStorage()) {
  try {
    if (storage) storage.removeItem(TOKEN_KEY);
  } catch {
    // nothing kept
  }
}

/**
 * True for a URL this server answers: a path ("/raster/..."), or an absolute http(s) URL of
 * `origin`. Protocol-relative ("//host") and other schemes (data:, blob:, javascript:) are not.
 */
export function isSameOrigin(url, origin = defaultOrigin()) {
  const text = String(url ?? "");
  if (text.startsWith("/")) return !text.startsWith("//") && !text.startsWith("/\\");
  if (!/^https?:\/\//i.test(text) || !origin) return false;
  try {
    return new URL(text).origin === new URL(origin).origin;
  } catch {
    return false;
  }
}

/**
 * `url` with `access_token=<token>` in its query (percent-encoded, before any #fragment), when
 * there is a token and the URL is on this server; otherwise `url` unchanged. Template
 * placeholders ({z}/{x}/{y}) are left as they are. A token already in the URL is replaced.
 */
export function withToken(url, token = getToken(), origin = defaultOrigin()) {
  const text = String(url ?? "");
  if (!token || !isSameOrigin(text, origin)) return text;
  const hashAt = text.indexOf("#");
  const head = hashAt >= 0 ? text.slice(0, hashAt) : text;
  const hash = hashAt >= 0 ? text.slice(hashAt) : "";
  const queryAt = head.indexOf("?");
  const path = queryAt >= 0 ? head.slice(0, queryAt) : head;
  const kept = (queryAt >= 0 ? head.slice(queryAt + 1) : "").split("&").filter((p) => p && !isTokenPair(p));
  kept.push(`${PARAM}=${encodeURIComponent(token)}`);
  return `${path}?${kept.join("&")}${hash}`;
}

function isTokenPair(pair) {
  const key = pair.split("=", 1)[0];
  try {
    return decodeURIComponent(key.replace(/\+/g, " ")) === PARAM;
  } catch {
    return false;
  }
}

/** Request headers for `url`: the bearer token for this server, nothing for other hosts. */
export function authHeaders(url, token = getToken(), origin = defaultOrigin()) {
  return token && isSameOrigin(url, origin) ? { Authorization: `Bearer ${token}` } : {};
}

/** Remove `access_token` pairs from a query or hash text ("?a=1&access_token=x" -> "?a=1"). */
function stripParam(text, lead) {
  const body = text.startsWith(lead) ? text.slice(1) : text;
  if (!body) return { text, token: null };
  let token = null;
  const kept = [];
  for (const pair of body.split("&")) {
    if (pair && isTokenPair(pair)) {
      const raw = pair.includes("=") ? pair.slice(pair.indexOf("=") + 1) : "";
      try {
        token = decodeURIComponent(raw.replace(/\+/g, " ")).trim() || token;
      } catch {
        token = raw.trim() || token;
      }
    } else if (pair) kept.push(pair);
  }
  return { text: kept.length ? `${lead}${kept.join("&")}` : "", token };
}

/**
 * The token given in a page address (`#access_token=` or `?access_token=`; the hash wins) and
 * the address without it, for history.replaceState. `href` may be absolute or a path.
 * Answers {token: null, url: href} when there is none.
 */
export function tokenFromAddress(href) {
  const text = String(href ?? "");
  const hashAt = text.indexOf("#");
  const beforeHash = hashAt >= 0 ? text.slice(0, hashAt) : text;
  const hash = hashAt >= 0 ? text.slice(hashAt) : "";
  const queryAt = beforeHash.indexOf("?");
  const path = queryAt >= 0 ? beforeHash.slice(0, queryAt) : beforeHash;
  const query = queryAt >= 0 ? beforeHash.slice(queryAt) : "";
  const q = stripParam(query, "?");
  const h = stripParam(hash, "#");
  const token = h.token || q.token;
  if (!token && q.text === query && h.text === hash) return { token: null, url: text };
  return { token: token || null, url: `${path}${q.text}${h.text}` };
}

/**
 * Move a token from the page address into storage and take it out of the visible address (so
 * a copied link does not share it). Answers the token taken, or null. Runs once at start.
 */
export function adoptTokenFromAddress(win = globalThis, storage = defaultStorage()) {
  const location = win.location;
  if (!location) return null;
  const { token, url } = tokenFromAddress(`${location.pathname}${location.search}${location.hash}`);
  if (url !== `${location.pathname}${location.search}${location.hash}` && win.history) {
    win.history.replaceState(win.history.state, "", url);
  }
  if (!token) return null;
  try {
    setToken(token, storage);
  } catch {
    return null;
  }
  return token;
}
