// The sign-in control in the header: who the viewer acts for (GET /me), a form to paste an API
// token (checked with GET /me before it is kept) and "Sign out". What changes with the account
// (the catalog, projects, jobs, the layers' tile URLs) is reloaded by the caller (onChange).
import { api } from "./api.js";
import { clearToken, getToken, setToken } from "./auth.js";
import { clear, el } from "./ui.js";

/** What the header says for a GET /me answer (null: not known yet). */
export function accountLabel(me) {
  if (!me) return "";
  if (me.mode === "token") return me.is_admin ? `${me.name} (admin)` : me.name;
  if (me.mode === "single-user") return "single-user";
  return "not signed in";
}

/**
 * @param {{root: HTMLElement, onChange: (me|null) => void, onError?: (err, title?) => void}} opts
 * onChange is called after a sign-in was accepted and kept, or after signing out.
 */
export function createAccountPanel({ root, onChange, onError = () => {} }) {
  let me = null;
  let open = false;
  let busy = false;
  let error = "";

  const input = el("input", {
    type: "password",
    class: "input",
    placeholder: "API token (cogsight user token)",
    autocomplete: "off",
    spellcheck: "false",
    testid: "signin-token",
    onkeydown: (e) => {
      if (e.key === "Enter") submit();
      else if (e.key === "Escape") setOpen(false);
    },
  });

  function setOpen(next) {
    open = next;
    error = "";
    if (!open) input.value = "";
    render();
    if (open) setTimeout(() => input.isConnected && input.focus(), 0);
  }

  async function submit() {
    const token = input.value.trim();
    if (!token) {
      error = "Paste an API token first.";
      return render();
    }
    busy = true;
    error = "";
    render();
    try {
      const who = await api.me(token); // 401 with the server's detail for a bad token
      if (who.mode !== "token") throw new Error("The server did not accept the token as a user's");
      setToken(token);
      me = who;
      open = false;
      input.value = "";
      onChange(who);
    } catch (err) {
      error = err && err.message ? err.message : String(err);
    } finally {
      busy = false;
      render();
    }
  }

  function signOut() {
    clearToken();
    me = null;
    render();
    onChange(null);
  }

  function render() {
    clear(root);
    const signedIn = Boolean(getToken()) && me && me.mode === "token";
    root.dataset.state = signedIn ? "signed-in" : me ? me.mode : "unknown";
    if (me) root.append(el("span", { class: "account-name", testid: "account-name", title: signedIn ? "Signed in with an API token" : "" }, accountLabel(me)));
    if (signedIn) {
      root.append(el("button", { type: "button", class: "btn btn-small btn-ghost", testid: "signout", onclick: signOut }, "Sign out"));
      return;
    }
    if (me && me.mode === "single-user") return; // no users: every request acts as the administrator
    root.append(el("button", { type: "button", class: "btn btn-small", testid: "signin-open", "aria-expanded": String(open), onclick: () => setOpen(!open) }, "Sign in"));
    if (!open) return;
    input.disabled = busy;
    root.append(
      el(
        "div",
        { class: "account-form", testid: "signin-form" },
        el("label", { class: "hint" }, "Paste an API token (from ", el("code", {}, "cogsight user token NAME"), "); it is kept in this browser."),
        input,
        el(
          "div",
          { class: "button-row" },
          el("button", { type: "button", class: "btn btn-small", testid: "signin-submit", disabled: busy, onclick: submit }, busy ? "Checking…" : "Sign in"),
          el("button", { type: "button", class: "btn btn-small btn-ghost", testid: "signin-cancel", disabled: busy, onclick: () => setOpen(false) }, "Cancel"),
        ),
        error ? el("div", { class: "hint error-text", testid: "signin-error" }, error) : null,
      ),
    );
  }

  render();
  return {
    /** Show who GET /me says the viewer acts for. */
    update(next) {
      me = next;
      render();
    },
    get me() {
      return me;
    },
    signIn: (token) => {
      input.value = token;
      return submit();
    },
    signOut,
  };
}
