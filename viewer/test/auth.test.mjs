// Unit tests of the sign-in helpers (no browser): the token kept in storage, the token added to
// this server's URLs only (percent-encoded, placeholders kept), the token taken from the page
// address, and the API client sending it as a bearer header.
import assert from "node:assert/strict";
import { afterEach, test } from "node:test";

import { accountLabel } from "../src/accountPanel.js";
import { api, getJSON, sendJSON } from "../src/api.js";
import {
  TOKEN_KEY,
  adoptTokenFromAddress,
  authHeaders,
  clearToken,
  getToken,
  isSameOrigin,
  setToken,
  tokenFromAddress,
  withToken,
} from "../src/auth.js";
import { tileUrl } from "../src/layers.js";
import { vectorTileUrl } from "../src/vectorLayers.js";

const ORIGIN = "http://127.0.0.1:8000";
const TOKEN = "cs_Ab-9_x";

class MemoryStorage {
  constructor(items = {}) {
    this.items = new Map(Object.entries(items));
  }
  getItem(key) {
    return this.items.has(key) ? this.items.get(key) : null;
  }
  setItem(key, value) {
    this.items.set(key, String(value));
  }
  removeItem(key) {
    this.items.delete(key);
  }
}

const saved = { fetch: globalThis.fetch, localStorage: globalThis.localStorage, location: globalThis.location };
afterEach(() => {
  for (const [key, value] of Object.entries(saved)) {
    if (value === undefined) delete globalThis[key];
    else globalThis[key] = value;
  }
});

// ---- storage -----------------------------------------------------------------------------------

test("storage: set, read (trimmed), clear; an empty token clears; no storage reads as signed out", () => {
  const storage = new MemoryStorage();
  assert.equal(getToken(storage), null);
  setToken(`  ${TOKEN}\n`, storage);
  assert.equal(storage.getItem(TOKEN_KEY), TOKEN);
  assert.equal(getToken(storage), TOKEN);
  setToken("   ", storage);
  assert.equal(getToken(storage), null);
  setToken(TOKEN, storage);
  clearToken(storage);
  assert.equal(getToken(storage), null);
  assert.equal(getToken(null), null);
  assert.throws(() => setToken(TOKEN, null), /no local storage/);
  const broken = { getItem: () => { throw new Error("SecurityError"); } };
  assert.equal(getToken(broken), null, "storage that throws reads as signed out");
});

// ---- URLs ------------------------------------------------------------------------------------

test("same origin: paths and this server's absolute URLs only", () => {
  assert.equal(isSameOrigin("/raster/a/tiles/x", ORIGIN), true);
  assert.equal(isSameOrigin(`${ORIGIN}/datasets/a/download`, ORIGIN), true);
  assert.equal(isSameOrigin("http://127.0.0.1:8001/datasets", ORIGIN), false, "another port");
  assert.equal(isSameOrigin("https://tiles.example.org/{z}/{x}/{y}.png", ORIGIN), false);
  assert.equal(isSameOrigin("//evil.example/x", ORIGIN), false, "protocol-relative");
  assert.equal(isSameOrigin("/\\evil.example/x", ORIGIN), false);
  assert.equal(isSameOrigin("data:image/png;base64,AAAA", ORIGIN), false);
  assert.equal(isSameOrigin("javascript:alert(1)", ORIGIN), false);
  assert.equal(isSameOrigin("raster/a", ORIGIN), false, "relative paths are not built by the viewer");
});

test("withToken: appended percent-encoded, placeholders and fragment kept, replaced when present", () => {
  const template = tileUrl("raster", "ab c", { mode: "bands", bands: [3, 2, 1], rescale: [[0, 3000]] });
  const url = withToken(template, TOKEN, ORIGIN);
  assert.equal(url, `${template}&access_token=${TOKEN}`);
  assert.ok(url.includes("{z}/{x}/{y}.png?"), "the template keeps its placeholders");
  assert.equal(withToken("/vectors/v/tiles/{z}/{x}/{y}.mvt", "a b&c=d/é", ORIGIN), "/vectors/v/tiles/{z}/{x}/{y}.mvt?access_token=a%20b%26c%3Dd%2F%C3%A9");
  assert.equal(withToken(vectorTileUrl("v", 3), TOKEN, ORIGIN), `/vectors/v/tiles/{z}/{x}/{y}.mvt?v=3&access_token=${TOKEN}`);
  assert.equal(withToken("/a?x=1#frag", TOKEN, ORIGIN), `/a?x=1&access_token=${TOKEN}#frag`);
  assert.equal(withToken("/a?access_token=old&x=1", TOKEN, ORIGIN), `/a?x=1&access_token=${TOKEN}`);
  assert.equal(withToken("/a?access%5Ftoken=old", TOKEN, ORIGIN), `/a?access_token=${TOKEN}`, "an encoded key is the same key");
  assert.equal(withToken(`${ORIGIN}/jobs/j/files/out.gif`, TOKEN, ORIGIN), `${ORIGIN}/jobs/j/files/out.gif?access_token=${TOKEN}`);
});

test("withToken: nothing for other hosts, nothing without a token", () => {
  for (const url of ["https://tiles.example.org/{z}/{x}/{y}.png?key=k", "//evil.example/a", "data:image/png;base64,AAAA"]) {
    assert.equal(withToken(url, TOKEN, ORIGIN), url);
  }
  assert.equal(withToken("/raster/a/tiles/{z}/{x}/{y}.png?tilesize=256", null, ORIGIN), "/raster/a/tiles/{z}/{x}/{y}.png?tilesize=256");
  assert.equal(withToken("/a", "", ORIGIN), "/a");
  assert.deepEqual(authHeaders("/datasets", TOKEN, ORIGIN), { Authorization: `Bearer ${TOKEN}` });
  assert.deepEqual(authHeaders("https://stac.example.org/search", TOKEN, ORIGIN), {});
  assert.deepEqual(authHeaders("/datasets", null, ORIGIN), {});
});

// ---- the page address ---------------------------------------------------------------------------

test("address: #access_token= and ?access_token= are taken out, the rest kept", () => {
  assert.deepEqual(tokenFromAddress(`/#access_token=${TOKEN}`), { token: TOKEN, url: "/" });
  assert.deepEqual(tokenFromAddress(`/?access_token=${TOKEN}`), { token: TOKEN, url: "/" });
  assert.deepEqual(tokenFromAddress(`/?a=1&access_token=${TOKEN}&b=2#project=p1`), { token: TOKEN, url: "/?a=1&b=2#project=p1" });
  assert.deepEqual(tokenFromAddress(`/#project=p1&access_token=${TOKEN}`), { token: TOKEN, url: "/#project=p1" });
  assert.deepEqual(tokenFromAddress("/?access_token=q#access_token=h"), { token: "h", url: "/" }, "the hash wins");
  assert.deepEqual(tokenFromAddress("/#access_token=a%2Bb%20c"), { token: "a+b c", url: "/" }, "decoded");
  assert.deepEqual(tokenFromAddress("/#project=p1"), { token: null, url: "/#project=p1" });
  assert.deepEqual(tokenFromAddress("/?access_token=#project=p1"), { token: null, url: "/#project=p1" }, "an empty one is removed too");
  assert.deepEqual(tokenFromAddress(`${ORIGIN}/?x=1`), { token: null, url: `${ORIGIN}/?x=1` });
});

test("address: adopting moves the token into storage and replaces the visible address once", () => {
  const calls = [];
  const win = {
    location: { pathname: "/", search: "?x=1", hash: `#project=p1&access_token=${TOKEN}` },
    history: { state: { keep: 1 }, replaceState: (...args) => calls.push(args) },
  };
  const storage = new MemoryStorage();
  assert.equal(adoptTokenFromAddress(win, storage), TOKEN);
  assert.equal(getToken(storage), TOKEN);
  assert.deepEqual(calls, [[{ keep: 1 }, "", "/?x=1#project=p1"]]);

  calls.length = 0;
  win.location.hash = "#project=p1";
  assert.equal(adoptTokenFromAddress(win, storage), null, "no token in the address: nothing changes");
  assert.deepEqual(calls, []);
  assert.equal(getToken(storage), TOKEN, "the kept one stays");
});

// ---- the API client ----------------------------------------------------------------------------

function recordFetch(status = 200, body = { items: [] }) {
  const seen = [];
  globalThis.fetch = async (url, init = {}) => {
    seen.push({ url, headers: { ...(init.headers || {}) }, method: init.method || "GET" });
    return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
  };
  return seen;
}

test("api: every call to this server carries the bearer token; none without one; never to other hosts", async () => {
  globalThis.location = { origin: ORIGIN };
  globalThis.localStorage = new MemoryStorage({ [TOKEN_KEY]: TOKEN });
  const seen = recordFetch();
  await api.datasets();
  await sendJSON("PATCH", "/datasets/a", { title: "x" });
  await getJSON("https://stac.example.org/search");
  assert.deepEqual(
    seen.map((s) => [s.method, s.url, s.headers.Authorization]),
    [
      ["GET", "/datasets", `Bearer ${TOKEN}`],
      ["PATCH", "/datasets/a", `Bearer ${TOKEN}`],
      ["GET", "https://stac.example.org/search", undefined],
    ],
  );
  assert.ok(!seen.some((s) => s.url.includes("access_token")), "API calls use the header, not the URL");
  assert.equal(api.colormapLegendUrl("viridis", { width: 8, height: 2 }), `/colorMaps/viridis?f=png&orientation=horizontal&width=8&height=2&access_token=${TOKEN}`);

  globalThis.localStorage = new MemoryStorage();
  seen.length = 0;
  await api.datasets();
  assert.equal(seen[0].headers.Authorization, undefined);
  assert.equal(api.colormapLegendUrl("viridis", { width: 8, height: 2 }), "/colorMaps/viridis?f=png&orientation=horizontal&width=8&height=2");
});

test("api.me(token) checks a given token (not the kept one); a refusal carries the server's detail", async () => {
  globalThis.location = { origin: ORIGIN };
  globalThis.localStorage = new MemoryStorage({ [TOKEN_KEY]: "cs_kept" });
  let seen = recordFetch(200, { id: "u1", name: "alice", is_admin: false, mode: "token", quotas: null });
  assert.equal((await api.me("cs_new")).name, "alice");
  assert.equal(seen[0].headers.Authorization, "Bearer cs_new");
  await api.me();
  assert.equal(seen[1].headers.Authorization, "Bearer cs_kept");
  await api.me(null);
  assert.equal(seen[2].headers.Authorization, undefined, "null asks anonymously");

  seen = recordFetch(401, { code: "unauthorized", detail: "The API token is unknown or revoked." });
  await assert.rejects(api.me("cs_bad"), (err) => err.status === 401 && err.message === "The API token is unknown or revoked.");
});

test("account label: the user's name, admin marked; single-user; not signed in", () => {
  assert.equal(accountLabel(null), "");
  assert.equal(accountLabel({ id: "u1", name: "alice", is_admin: false, mode: "token" }), "alice");
  assert.equal(accountLabel({ id: "u2", name: "root", is_admin: true, mode: "token" }), "root (admin)");
  assert.equal(accountLabel({ id: null, name: "single-user", is_admin: true, mode: "single-user" }), "single-user");
  assert.equal(accountLabel({ id: null, name: "anonymous", is_admin: false, mode: "anonymous" }), "not signed in");
});
