// The colour scheme toggle. Without this script it is a GET form: the server sets the `scheme`
// cookie and sends the page back, already in the chosen scheme (the server writes it on
// `<html data-scheme>`, so there is never a flash of the other one). With it, the page flips at
// once and the cookie is asked for in the background; and while the visitor has chosen nothing,
// the button says what the system's scheme is. Choosing the system's own scheme forgets the
// choice, so the site follows the system again.
"use strict";

(() => {
  const root = document.documentElement;
  const system = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;
  const systemDark = () => !!system && system.matches;
  const isDark = () => (root.dataset.scheme ? root.dataset.scheme === "dark" : systemDark());

  const show = () => {
    for (const button of document.querySelectorAll(".scheme-toggle button[name=to]")) {
      const dark = isDark();
      button.setAttribute("aria-pressed", String(dark));
      button.value = dark ? "light" : "dark";
    }
  };

  document.addEventListener("click", (event) => {
    const button = event.target.closest?.(".scheme-toggle button[name=to]");
    if (!button) return;
    event.preventDefault();
    const dark = !isDark();
    const to = dark === systemDark() ? "system" : dark ? "dark" : "light";
    if (to === "system") delete root.dataset.scheme;
    else root.dataset.scheme = to;
    show();
    // The answer is a redirect to the page we are on; its cookie is all that is wanted.
    fetch("/scheme?to=" + to, { credentials: "same-origin", redirect: "manual" }).catch(() => {});
  });

  if (system && system.addEventListener) system.addEventListener("change", show);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", show);
  else show();
  // Pages whose content is replaced in place (the player's navigation) may bring a new button.
  document.addEventListener("DOMContentLoaded", () => {
    new MutationObserver(show).observe(document.body, { childList: true });
  });
})();
