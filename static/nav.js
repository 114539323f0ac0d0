// Page changes without reloading the document, so the player bar (player.js) keeps playing
// while you browse. Links and forms inside the site are fetched and the new page's <main>,
// header and footer replace the old ones; the URL, title, head meta and focus change as after
// a full load. Anything else — another site, target=_blank, a download, a non-HTML answer, a
// page not in our layout — is left to the browser, so the site works the same without this.
"use strict";

(() => {
  if (!window.fetch || !window.DOMParser || !history.pushState) return;
  const R = (window.Ragtime = window.Ragtime || {});
  // Not pages: the browser handles these itself (feeds, audio, the API, our assets).
  const NOT_PAGES = /^\/(api|audio|static|media)\/|\.(atom|xml|json|txt)$/;
  let pending = null; // the navigation in flight, aborted when another starts
  let shown = location.pathname + location.search; // the page on screen, fragment aside

  // Scroll positions are ours to restore (the browser cannot for a swapped page), so a reload
  // or Back to a page loaded in full too. Each history entry has a key; its position is kept
  // in sessionStorage under it (not in history.state: replaceState on every scroll or click
  // would count as a navigation to the browser's tools).
  const newKey = () => Math.random().toString(36).slice(2);
  const scrollOf = (state) => {
    try {
      return Number(sessionStorage.getItem("ragtime.scroll." + state?.key)) || 0;
    } catch {
      return 0;
    }
  };
  const saveScroll = () => {
    try {
      sessionStorage.setItem("ragtime.scroll." + history.state?.key, String(Math.round(window.scrollY)));
    } catch {} // storage off: positions are not kept
  };
  history.scrollRestoration = "manual";
  if (!history.state?.key) history.replaceState({ ...(history.state || {}), key: newKey() }, "");
  const arrival = performance.getEntriesByType?.("navigation")[0]?.type;
  const left = scrollOf(history.state);
  if (left && (arrival === "reload" || arrival === "back_forward")) window.addEventListener("load", () => window.scrollTo(0, left));

  const isPage = (url) =>
    url.origin === location.origin && /^https?:$/.test(url.protocol) && !NOT_PAGES.test(url.pathname);

  // Our scripts and stylesheet, by URL: when a deploy changed one, a full load picks it up.
  const scripts = (doc) =>
    Array.from(doc.querySelectorAll("script[src], link[rel=stylesheet]"), (s) => s.getAttribute("src") || s.getAttribute("href")).join(" ");


  // The new page in place of the old one; `how` is "push", "replace" or "pop".
  function show(doc, url, how, scroll) {
    document.title = doc.title;
    // Head meta (description, Open Graph, canonical, feeds) as the new page has it.
    const headBits = "meta[name]:not([name=viewport]), meta[property], link[rel=canonical], link[rel=alternate]";
    for (const el of document.head.querySelectorAll(headBits)) el.remove();
    for (const el of doc.head.querySelectorAll(headBits)) document.head.append(document.importNode(el, true));
    // <html> attributes the server sets (the language): set, never removed, as scripts may
    // have added their own (the "js" class).
    const html = document.documentElement;
    for (const { name, value } of Array.from(doc.documentElement.attributes)) {
      if (name === "class") html.classList.add(...value.split(/\s+/).filter(Boolean));
      else html.setAttribute(name, value);
    }
    // Everything in <body> but what persists across pages (the player bar, its dialog).
    const persists = (el) => el.nodeType === 1 && el.matches("[data-persist]");
    const keep = Array.from(document.body.children).find(persists) || null;
    for (const el of Array.from(document.body.childNodes)) if (!persists(el)) el.remove();
    for (const el of Array.from(doc.body.childNodes)) {
      if (!persists(el)) document.body.insertBefore(document.importNode(el, true), keep);
    }
    shown = url.pathname + url.search;
    if (how === "push") history.pushState({ key: newKey() }, "", url);
    else if (how === "replace") history.replaceState({ key: history.state?.key || newKey() }, "", url);
    const target = url.hash && document.getElementById(decodeURIComponent(url.hash.slice(1)));
    if (scroll !== undefined) window.scrollTo(0, scroll);
    else if (target) target.scrollIntoView();
    else window.scrollTo(0, 0);
    // Focus where a screen reader starts reading a new page: its heading, which it announces.
    const heading = document.querySelector("main h1") || document.querySelector("main");
    if (heading) {
      if (!heading.hasAttribute("tabindex")) heading.setAttribute("tabindex", "-1");
      heading.focus({ preventScroll: true });
    }
    document.dispatchEvent(new CustomEvent("ragtime:page"));
  }
  // For the upload form (app.js), which posts with its own request to show progress.
  R.showHtml = (text, url) => {
    const doc = new DOMParser().parseFromString(text, "text/html");
    if (!doc.querySelector("main#content") || scripts(doc) !== scripts(document)) return false;
    show(doc, new URL(url, location.href), "push");
    return true;
  };

  // Fetches `url` and shows it; falls back to the browser's own navigation via `fallback`.
  async function go(url, init, how, fallback, scroll) {
    if (pending) pending.abort();
    const mine = (pending = new AbortController());
    document.documentElement.classList.add("navigating");
    try {
      const response = await fetch(url, {
        ...init,
        credentials: "same-origin",
        headers: { Accept: "text/html,application/xhtml+xml" },
        signal: mine.signal,
      });
      const landed = new URL(response.url || url);
      const type = response.headers.get("Content-Type") || "";
      const attachment = /^\s*attachment/i.test(response.headers.get("Content-Disposition") || "");
      if (!type.startsWith("text/html") || attachment || landed.origin !== location.origin) {
        response.body?.cancel();
        return fallback(landed);
      }
      const doc = new DOMParser().parseFromString(await response.text(), "text/html");
      if (mine !== pending) return;
      // Not our layout (a proxy's error page), or our scripts changed: a real load.
      if (!doc.querySelector("main#content") || scripts(doc) !== scripts(document)) return fallback(landed, doc);
      if (url.hash && !landed.hash) landed.hash = url.hash;
      // A redirect to the page we are on (a like, a follow) replaces it rather than adding an entry.
      const same = how === "push" && landed.href === location.href && init.method === "POST";
      show(doc, landed, same ? "replace" : how, same ? window.scrollY : scroll);
    } catch (e) {
      if (e.name !== "AbortError") fallback(url);
    } finally {
      if (mine === pending) {
        pending = null;
        document.documentElement.classList.remove("navigating");
      }
    }
  }

  document.addEventListener("click", (event) => {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    const link = event.target.closest("a[href]");
    if (!link || link.hasAttribute("download") || (link.target && link.target !== "_self")) return;
    const url = new URL(link.href, location.href);
    if (!isPage(url)) return;
    // Only the fragment changes: the browser scrolls within the page.
    if (url.hash && url.pathname === location.pathname && url.search === location.search) return;
    event.preventDefault();
    saveScroll();
    go(url, { method: "GET" }, "push", (u) => location.assign(u));
  });

  document.addEventListener("submit", (event) => {
    const form = event.target;
    const submitter = event.submitter || null;
    // (app.js's upload form, when it has files, posted it already with its own progress bar.)
    if (event.defaultPrevented) return;
    const attr = (name, prop) => (submitter && submitter.hasAttribute("form" + name) ? submitter["form" + prop] : form[prop.toLowerCase()]);
    const method = attr("method", "Method").toUpperCase();
    const target = submitter?.getAttribute("formtarget") || form.getAttribute("target");
    const url = new URL(attr("action", "Action"), location.href);
    if (method === "DIALOG" || (target && target !== "_self") || !isPage(url)) return;
    event.preventDefault();
    saveScroll();
    const data = new FormData(form, submitter);
    // Without the script the browser would post the form itself: do exactly that.
    const native = () => {
      if (submitter?.name) {
        const field = Object.assign(document.createElement("input"), { type: "hidden", name: submitter.name, value: submitter.value });
        form.append(field);
      }
      HTMLFormElement.prototype.submit.call(form);
    };
    if (method === "GET") {
      url.search = new URLSearchParams(data).toString();
      go(url, { method: "GET" }, "push", (u) => location.assign(u));
    } else {
      const multipart = attr("enctype", "Enctype") === "multipart/form-data";
      const body = multipart ? data : new URLSearchParams(data);
      // A page answering the POST that we cannot show here is written as the browser would.
      go(url, { method: "POST", body }, "push", (landed, doc) => {
        if (!doc) return native();
        history.pushState(null, "", landed);
        document.open();
        document.write(doc.documentElement.outerHTML);
        document.close();
      });
    }
  });

  // Back and Forward: the page at that URL again, at the scroll position it was left at.
  window.addEventListener("popstate", (event) => {
    const url = new URL(location.href);
    if (url.pathname + url.search === shown) return; // only the fragment changed
    go(url, { method: "GET" }, "pop", (u) => location.replace(u), scrollOf(event.state));
  });
  // Kept as you scroll, so a reload finds it too.
  let settle = 0;
  window.addEventListener("scroll", () => {
    clearTimeout(settle);
    settle = setTimeout(saveScroll, 150);
  }, { passive: true });
})();
