// Issue 26, item 4: static/plays.js counts a play in a real browser. Headless Chromium against a
// real `ragtime serve` (see harness.mjs): a 1.5 s track (tests/fixtures/audio/tone.wav) heard
// to its end by an anonymous visitor (with a desktop browser's User-Agent) counts once (the composition's `play_count` in the API),
// hearing it again within the hour does not count again, a browser whose User-Agent says it is
// a robot is not counted, and nothing on the way breaks the CSP or logs an error. (A 30 s
// track would make the run 30 s longer; the 30 s rule itself is tested in tests/suite/plays.rs.)
//
//   node tests/browser/counting.mjs      (needs `cargo build` first; RAGTIME_BIN overrides)

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { apiClient, check, launch, log, newContext, root, run, sleep, startServer, watch, PASSWORD } from "./harness.mjs";

async function main() {
  const { base } = await startServer(["--users", "2", "--compositions", "2", "--comments", "0", "--follows", "1"]);
  const api = apiClient(base);
  const list = await api("/api/v1/compositions/", {}, `easy_accordion@example.com:${PASSWORD}`);
  const comp = list.compositions.find((c) => c.tracks.length === 0) || list.compositions[0];
  const artist = `${comp.artist_username}@example.com:${PASSWORD}`;
  if (comp.tracks.length === 0) {
    const body = readFileSync(join(root, "tests/fixtures/audio/tone.wav"));
    await api(`/api/v1/compositions/${comp.id}/tracks?title=Tone`, { method: "POST", body, headers: { "Content-Type": "audio/wav" } }, artist);
  }
  const plays = async () => (await api(`/api/v1/compositions/${comp.id}`)).play_count;
  check((await plays()) === 0, "no play before anyone listens");

  await launch();
  const listen = async (options) => {
    const problems = [];
    const context = await newContext(base, problems, options);
    const page = await context.newPage();
    watch(page, problems);
    const reports = [];
    page.on("response", (r) => {
      const path = new URL(r.url()).pathname;
      if (path.startsWith("/tracks/")) log(`${r.request().method()} ${path}: ${r.status()}`);
      if (path.endsWith("/heard")) reports.push(r.status());
    });
    await page.goto(`${base}/composition/${comp.id}`, { waitUntil: "load" });
    // The player bar's <audio>, the page's only one, started from the track's own button.
    await page.locator(".track .player-toggle").first().click();
    const audio = page.locator("audio");
    check((await audio.count()) === 1, "the player bar holds the page's one <audio>");
    check(/^[0-9]+$/.test((await audio.getAttribute("data-track-id")) || ""), "the audio names its track");
    for (let round = 0; round < 2; round++) {
      if (round > 0) await audio.evaluate((a) => { a.currentTime = 0; return a.play(); });
      await audio.evaluate((a) => new Promise((done) => (a.ended ? done() : a.addEventListener("ended", done, { once: true }))));
      // The report of this hearing, however long the server takes.
      for (const by = Date.now() + 15000; reports.length < round + 1 && Date.now() < by;) await sleep(50);
    }
    check(reports.length === 2, `one report per hearing (${reports.join(", ")})`);
    check((await page.evaluate(() => window.__csp)).length === 0, "no CSP violation");
    check(problems.length === 0, `no console error or failed request (${problems.join("; ")})`);
    await context.close();
  };

  // Headless Chromium says "HeadlessChrome", which the server rightly takes for a robot: the
  // listener's browser says what a desktop Chrome says.
  const desktop = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
  await listen({ userAgent: desktop });
  check((await plays()) === 1, `heard to its end twice: counted once (${await plays()})`);
  await listen({ userAgent: "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)" });
  check((await plays()) === 1, `a robot is not counted (${await plays()})`);
  log(`play_count ${await plays()}`);
}

run("counting", 90, main);
