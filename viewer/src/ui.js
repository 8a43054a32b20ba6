// Small DOM helpers and the message (error) area.

/**
 * Create an element: el("button", {class: "btn", onclick: fn, dataset: {testid: "x"}}, "Label").
 * Attributes whose value is null/undefined/false are skipped; `true` sets an empty attribute.
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  let deferredValue;
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "value") {
      deferredValue = value; // set after children exist (matters for <select>)
    } else if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      node.className = value;
    } else if (key === "dataset") {
      Object.assign(node.dataset, value);
    } else if (key === "testid") {
      node.dataset.testid = value;
    } else if (key in node && typeof value !== "string") {
      node[key] = value; // e.g. value, checked, disabled as properties
    } else {
      node.setAttribute(key, value === true ? "" : String(value));
    }
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  if (deferredValue !== undefined) node.value = String(deferredValue);
  return node;
}

const SVG_NS = "http://www.w3.org/2000/svg";
const ICONS = {
  // Crosshair: "zoom to".
  target: "M8 1v3M8 12v3M1 8h3M12 8h3M8 4.5a3.5 3.5 0 1 0 0 7 3.5 3.5 0 1 0 0-7z",
  // Pencil: "edit".
  pencil: "M11 2.5l2.5 2.5L6 12.5 3 13l.5-3zM9.5 4l2.5 2.5",
  // Play / pause.
  play: "M5 3l8 5-8 5z",
  pause: "M5 3v10M11 3v10",
  // Padlock: "private".
  lock: "M4 7.5h8v6.5H4zM5.75 7.5V5a2.25 2.25 0 0 1 4.5 0v2.5",
};

/** A small stroked SVG icon (14px) that does not depend on the fonts installed. */
export function icon(name) {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", "0 0 16 16");
  svg.setAttribute("width", "14");
  svg.setAttribute("height", "14");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("class", "icon");
  const path = document.createElementNS(SVG_NS, "path");
  path.setAttribute("d", ICONS[name]);
  path.setAttribute("fill", "none");
  path.setAttribute("stroke", "currentColor");
  path.setAttribute("stroke-width", "1.6");
  path.setAttribute("stroke-linecap", "round");
  svg.append(path);
  return svg;
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}

const MAX_MESSAGES = 6;
const areas = {};

/** Errors and warnings share the alert area (testid "error"); info notices have their own. */
function messageArea(level = "error") {
  const key = level === "info" ? "notices" : "messages";
  if (!areas[key] || !areas[key].isConnected) {
    areas[key] = document.getElementById(key);
    if (!areas[key]) {
      areas[key] =
        key === "notices"
          ? el("div", { id: key, class: "messages notices", testid: "notice", role: "status", "aria-live": "polite" })
          : el("div", { id: key, class: "messages", testid: "error", role: "alert" });
      document.body.append(areas[key]);
    }
  }
  return areas[key];
}

function syncVisibility(box) {
  box.hidden = box.children.length === 0;
}

/**
 * Show a dismissable message (a toast). level: "error" (default) | "warning" | "info".
 * Identical messages are collapsed into one with a repeat counter. Errors and warnings stay
 * until dismissed; info messages go away by themselves after `timeout` ms.
 */
export function showMessage(message, { level = "error", title, timeout = level === "info" ? 5000 : 0 } = {}) {
  const text = String(message || "Unknown error");
  const box = messageArea(level);
  const key = `${level}|${title || ""}|${text}`;
  for (const existing of box.children) {
    if (existing.dataset.key === key) {
      const count = Number(existing.dataset.count || 1) + 1;
      existing.dataset.count = String(count);
      existing.querySelector(".msg-count").textContent = `×${count}`;
      box.append(existing); // newest last
      return existing;
    }
  }
  const item = el(
    "div",
    { class: `msg msg-${level}`, dataset: { key, count: "1" }, testid: `message-${level}` },
    el(
      "div",
      { class: "msg-body" },
      title ? el("strong", { class: "msg-title" }, title) : null,
      el("span", { class: "msg-text" }, text),
      el("span", { class: "msg-count" }),
    ),
    el(
      "button",
      {
        class: "msg-close",
        type: "button",
        title: "Dismiss",
        "aria-label": "Dismiss message",
        testid: "error-dismiss",
        onclick: () => {
          item.remove();
          syncVisibility(box);
        },
      },
      "×",
    ),
  );
  box.append(item);
  while (box.children.length > MAX_MESSAGES) box.firstElementChild.remove();
  syncVisibility(box);
  if (timeout > 0) {
    setTimeout(() => {
      item.remove();
      syncVisibility(box);
    }, timeout);
  }
  if (level === "error") console.error(`[cogsight] ${title ? `${title}: ` : ""}${text}`);
  else if (level === "warning") console.warn(`[cogsight] ${title ? `${title}: ` : ""}${text}`);
  return item;
}

export function showError(errOrMessage, title) {
  const message = errOrMessage instanceof Error ? errOrMessage.message : errOrMessage;
  return showMessage(message, { level: "error", title });
}

export function showWarning(message, title) {
  return showMessage(message, { level: "warning", title });
}

export function showInfo(message, title) {
  return showMessage(message, { level: "info", title });
}

/** Wrap an async handler so a failure is shown (with `title`) instead of lost. */
export function reporting(title, fn) {
  return async (...args) => {
    try {
      return await fn(...args);
    } catch (err) {
      if (err && err.name === "AbortError") return undefined;
      showError(err, title);
      return undefined;
    }
  };
}

export function clearMessages() {
  for (const level of ["error", "info"]) {
    const box = messageArea(level);
    clear(box);
    syncVisibility(box);
  }
}

/** Route otherwise-unhandled errors to the message area, so nothing is silently lost. */
export function installGlobalErrorHandlers() {
  window.addEventListener("unhandledrejection", (event) => {
    const reason = event.reason;
    showError(reason instanceof Error ? reason.message : String(reason), "Unexpected error");
  });
  window.addEventListener("error", (event) => {
    // Resource load errors (img/script) do not bubble here; those are handled where they happen.
    if (event.message) showError(event.message, "Unexpected error");
  });
}

/** Bytes as "12.3 MB". */
export function formatBytes(bytes) {
  const n = Number(bytes) || 0;
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${i ? v.toFixed(1) : v} ${units[i]}`;
}

export function formatDate(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toISOString().slice(0, 10);
}

/** Compact number formatting for rescale inputs / legend labels. */
export function formatNumber(value) {
  if (value === null || value === undefined || Number.isNaN(Number(value))) return "";
  const v = Number(value);
  if (Number.isInteger(v)) return String(v);
  const abs = Math.abs(v);
  if (abs >= 100) return String(Math.round(v));
  if (abs >= 1) return String(Number(v.toFixed(2)));
  return String(Number(v.toPrecision(3)));
}
