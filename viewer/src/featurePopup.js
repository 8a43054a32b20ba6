// The attribute card of a clicked feature, shown over the globe next to the click.
import { clear, el, formatNumber } from "./ui.js";

const HIDDEN_KEYS = new Set(["_layer"]);

function formatValue(key, value) {
  if (value === null || value === undefined || value === "") return "—";
  if (typeof value === "number") {
    if (key === "area_m2") return value >= 1e6 ? `${formatNumber(value / 1e6)} km²` : `${formatNumber(value)} m²`;
    if (key === "perimeter_m") return value >= 1e4 ? `${formatNumber(value / 1000)} km` : `${formatNumber(value)} m`;
    if (key === "score") return formatNumber(value);
    return formatNumber(value);
  }
  return String(value);
}

/**
 * @param {{container: HTMLElement}} opts  the element over the globe the card is placed in.
 */
export function createFeaturePopup({ container }) {
  const title = el("strong", { class: "popup-title", testid: "feature-popup-title" });
  const body = el("dl", { class: "popup-attrs" });
  const actions = el("div", { class: "button-row" });
  const close = el("button", { type: "button", class: "msg-close", title: "Close", testid: "feature-popup-close", onclick: () => hide() }, "×");
  const card = el("div", { class: "feature-popup", testid: "feature-popup", hidden: true }, el("div", { class: "popup-head" }, title, close), body, actions);
  container.append(card);
  let current = null;

  function hide() {
    card.hidden = true;
    current = null;
  }

  /**
   * Show `properties` of a feature of `layerTitle` near window position {x, y}.
   * `classes` ({"1": {name, color}}) adds a colour swatch; `buttons` are extra actions.
   */
  function show({ layerTitle, properties, fid = null, classes = null, position = null, corner = false, buttons = [] }) {
    clear(body);
    clear(actions);
    const cls = classes && properties && properties.class !== undefined ? classes[String(properties.class)] : null;
    title.textContent = "";
    if (cls) title.append(el("span", { class: "swatch", style: `background:${cls.color}` }));
    title.append(cls ? cls.name : layerTitle);
    const rows = [];
    rows.push(["layer", layerTitle]);
    if (fid !== null && fid !== undefined) rows.push(["id", String(fid)]);
    for (const [key, value] of Object.entries(properties || {})) {
      if (HIDDEN_KEYS.has(key) || key === "fid") continue;
      rows.push([key, formatValue(key, value)]);
    }
    for (const [key, value] of rows) {
      body.append(el("dt", {}, key), el("dd", { testid: `feature-attr-${key}` }, value));
    }
    for (const b of buttons) actions.append(b);
    card.hidden = false;
    card.classList.toggle("pinned", corner);
    const box = container.getBoundingClientRect();
    // Next to the click, or pinned to the right (while editing, so it never hides handles).
    const at = corner || !position ? { x: box.width, y: 140 } : { x: position.x + 14, y: position.y + 14 };
    const x = Math.min(Math.max(8, at.x), Math.max(8, box.width - card.offsetWidth - 8));
    const y = Math.min(Math.max(8, at.y), Math.max(8, box.height - card.offsetHeight - 8));
    card.style.left = `${x}px`;
    card.style.top = `${y}px`;
    current = { properties, fid };
  }

  return {
    show,
    hide,
    get current() {
      return current;
    },
  };
}
