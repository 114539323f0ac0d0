// Issue 26: what a page change inside the site costs with static/nav.js (the page's content is
// fetched and swapped, the document and its player stay) against a full page load (the same
// server and pages, nav.js left out, as before issue 26). Headless Chromium clicks the navbar's
// "People" and "Home" links in turn, 20 clicks in all (`BENCH_SWITCHES`), and times, in the
// page, from the click until the new page's <h1> is in the document, and until the page is
// ready (its `load` event; for a swap, nav.js's `ragtime:page`). Prints the medians.
//
//   cargo build --release && RAGTIME_BIN=target/release/ragtime node bench/page_switch.mjs
//
// (needs `npm ci --prefix tests/browser`; RAGTIME_BIN defaults to target/debug/ragtime). The
// server is seeded with 20 users and 200 compositions, so the home page holds 20 cards.

import { launch, log, newContext, run, startServer } from "../tests/browser/harness.mjs";

const N = Number(process.env.BENCH_SWITCHES || 20);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function measure(base, withNav) {
  const problems = [];
  const context = await newContext(base, problems, { viewport: { width: 1280, height: 800 } });
  if (!withNav) await context.route((u) => /^\/static\/nav\./.test(u.pathname), (r) => r.fulfill({ contentType: "text/javascript", body: "" }));
  // From the document's start: note when a new <h1> enters <main>, and when the page is ready.
  await context.addInitScript(() => {
    const now = () => performance.timeOrigin + performance.now();
    new MutationObserver(() => {
      const h = document.querySelector("main h1");
      if (h && !h.dataset.timed) {
        h.dataset.timed = "1";
        sessionStorage.setItem("h1", h.textContent.trim() + "@" + now());
      }
    }).observe(document, { childList: true, subtree: true });
    for (const [target, name] of [[window, "load"], [document, "ragtime:page"]]) {
      target.addEventListener(name, () => sessionStorage.setItem("ready", String(now())));
    }
  });
  const page = await context.newPage();
  await page.goto(base + "/");
  const firsts = [];
  const readies = [];
  for (let i = 0; i < N; i++) {
    const [href, heading] = i % 2 === 0 ? ["/users", "People"] : ["/", "Welcome to Ragtime"];
    const t0 = await page.evaluate((href) => {
      sessionStorage.clear();
      const t = performance.timeOrigin + performance.now();
      document.querySelector(`.navbar a[href="${href}"]`).click();
      return t;
    }, href);
    await page.waitForFunction((heading) => (sessionStorage.getItem("h1") || "").startsWith(heading) && sessionStorage.getItem("ready"), heading, { polling: 10, timeout: 10_000 });
    const [h1, ready] = await page.evaluate(() => [Number(sessionStorage.getItem("h1").split("@").pop()), Number(sessionStorage.getItem("ready"))]);
    firsts.push(h1 - t0);
    readies.push(ready - t0);
  }
  if (problems.length) log(`problems: ${problems.join("; ")}`);
  await context.close();
  return { h1: median(firsts), ready: median(readies) };
}

await run("bench: page switch", 240, async () => {
  const { base } = await startServer(["--users", "20", "--compositions", "200", "--comments", "0", "--follows", "5"]);
  await launch();
  // Once each to warm the server and the browser's caches, then measured.
  await measure(base, false);
  const full = await measure(base, false);
  const swap = await measure(base, true);
  const f = (x) => x.toFixed(1) + " ms";
  log(`full page load : h1 present ${f(full.h1)}, load event ${f(full.ready)} (median of ${N})`);
  log(`nav.js switch  : h1 present ${f(swap.h1)}, ragtime:page ${f(swap.ready)} (median of ${N})`);
});
