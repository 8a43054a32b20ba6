// The side panel's tabs (Data / Layers / Tools): buttons [data-tab] show pages [data-page].
export function createTabs({ root }) {
  const buttons = [...root.querySelectorAll("[data-tab]")];
  const pages = [...root.querySelectorAll("[data-page]")];

  function select(name) {
    if (!buttons.some((b) => b.dataset.tab === name)) throw new Error(`No tab "${name}"`);
    for (const b of buttons) {
      const on = b.dataset.tab === name;
      b.classList.toggle("active", on);
      b.setAttribute("aria-selected", String(on));
    }
    for (const p of pages) p.hidden = p.dataset.page !== name;
    root.dataset.tab = name;
  }

  /** A small count on a tab (e.g. running jobs); 0 hides it. */
  function badge(name, count) {
    const b = buttons.find((x) => x.dataset.tab === name);
    if (!b) return;
    let span = b.querySelector(".tab-badge");
    if (!span) {
      span = document.createElement("span");
      span.className = "tab-badge";
      b.append(span);
    }
    span.textContent = count ? String(count) : "";
    span.hidden = !count;
  }

  for (const b of buttons) b.addEventListener("click", () => select(b.dataset.tab));
  select(buttons[0].dataset.tab);
  return { select, badge };
}
