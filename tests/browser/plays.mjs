// Issue 11: a track really plays in a browser. Headless Chromium (Debian's /usr/bin/chromium,
// driven by playwright-core; never `playwright install`) against a real `ragtime serve`:
//
//   1. the composition's page loads with no console error, page error or CSP violation;
//   2. the feed (`/`) downloads no audio: its cards use preload="none", and so does the player
//      bar's one <audio> (issue 26), which takes their place once the script runs;
//   3. the player's toggle works from the keyboard: Space plays (`playing` fires, currentTime
//      passes 0.2 s, the label says "Pause ..."), Enter pauses;
//   4. one track at a time: starting the second stops the first (one <audio> for the page);
//   5. the audio was served with 200/206 and `Accept-Ranges: bytes`.
//
// Setup goes through the real binary and HTTP API (harness.mjs), then two tracks are uploaded by
// the composition's artist. Needs `cargo build` first (RAGTIME_BIN overrides
// target/debug/ragtime). Exits non-zero on any failure; the whole run is bounded (55 s), and
// every wait has its own timeout.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { apiClient, check, launch, log, newContext, root, run, sleep, startServer, watch, PASSWORD } from "./harness.mjs";

async function main() {
  const { base } = await startServer(["--users", "3", "--compositions", "6", "--comments", "0", "--follows", "2"]);

  // A composition that may hold two tracks (not a single), and its artist's credentials.
  const api = apiClient(base);
  const login = "easy_accordion@example.com"; // any seeded user may list compositions
  const list = await api("/api/v1/compositions/", {}, `${login}:${PASSWORD}`);
  const comps = list.compositions || list.items || list;
  // The fewest tracks first (in case the seed adds tracks of its own), then not a single.
  const comp = [...comps].sort(
    (a, b) => (a.tracks?.length ?? 0) - (b.tracks?.length ?? 0) ||
      (a.release_type_name === "Single") - (b.release_type_name === "Single"),
  ).find((c) => c.release_type_name !== "Single") || comps[0];
  if (!comp) throw new Error("the seed made no composition");
  const artist = `${comp.artist_username}@example.com:${PASSWORD}`;
  log(`composition ${comp.id} "${comp.title}" (${comp.release_type_name}) by ${comp.artist_username}`);

  const uploads = [
    ["tone.wav", "audio/wav", "First tone"],
    ["tone.ogg", "audio/ogg", "Second tone"],
  ];
  const tracks = [];
  for (const [file, type, title] of uploads) {
    const body = readFileSync(join(root, "tests/fixtures/audio", file));
    const t = await api(
      `/api/v1/compositions/${comp.id}/tracks?title=${encodeURIComponent(title)}`,
      { method: "POST", body, headers: { "Content-Type": type } },
      artist,
    );
    tracks.push(t);
    log(`uploaded ${file}: track ${t.id}, ${t.audio_url}`);
  }
  const wanted = tracks.length;
  const total = (await api(`/api/v1/compositions/${comp.id}`, {}, artist)).tracks.length;
  const titles = uploads.map((u) => u[2]);

  await launch();
  const problems = [];
  const context = await newContext(base, problems);

  const page = await context.newPage();
  watch(page, problems);
  const audioRequests = [];
  const audioResponses = [];
  page.on("request", (r) => {
    if (new URL(r.url()).pathname.startsWith("/audio/")) audioRequests.push(r.url());
  });
  page.on("response", (r) => {
    if (new URL(r.url()).pathname.startsWith("/audio/")) audioResponses.push(r);
  });

  // 2. The feed downloads no audio.
  await page.goto(base + "/", { waitUntil: "load" });
  await page.waitForLoadState("networkidle", { timeout: 5000 }).catch(() => {});
  const html = await (await fetch(base + "/")).text();
  const feed = Array.from(html.matchAll(/<audio[^>]*>/g), (m) => (/preload="([^"]*)"/.exec(m[0]) || [])[1]);
  check(feed.length >= wanted, `the feed shows the uploaded tracks (${feed.length} audio elements)`);
  check(feed.every((p) => p === "none"), `every feed audio has preload="none" (${JSON.stringify(feed)})`);
  const inPage = await page.$$eval("audio", (as) => as.map((a) => a.getAttribute("preload")));
  check(inPage.length === 1 && inPage[0] === "none", `with the script, the page has one <audio>, preload="none" (${JSON.stringify(inPage)})`);
  check(audioRequests.length === 0, `the feed requested no audio after load (${audioRequests.length}: ${audioRequests.join(" ")})`);

  check((await page.evaluate(() => window.__csp)).length === 0, "no CSP violation on the feed");

  // 1. The composition's page: /composition/<id> redirects to the slug URL.
  audioRequests.length = 0;
  const resp = await page.goto(`${base}/composition/${comp.id}`, { waitUntil: "load" });
  check(resp && resp.ok(), `/composition/${comp.id} loads (${resp && resp.status()}) at ${page.url()}`);
  check(new URL(page.url()).pathname !== `/composition/${comp.id}`, `it redirects to the slug URL (${new URL(page.url()).pathname})`);
  const items = page.locator("li.track");
  check((await items.count()) === total, `the page lists ${total} tracks (${await items.count()})`);
  // Our tracks, by title (whatever else the composition holds).
  const ours = (i) => page.locator("li.track", { has: page.locator(".track-title", { hasText: titles[i] }) });
  const toggles = { nth: (i) => ours(i).locator("button.player-toggle"), first: () => ours(0).locator("button.player-toggle") };
  await toggles.first().waitFor({ state: "visible", timeout: 5000 });
  check((await page.locator("li.track [role=slider]").count()) === total, "player.js made each track's waveform a slider");
  check((await page.locator("input[type=range]").count()) === 0, "and added no second seek control");
  check((await page.locator("li.track span.player-time").count()) === total, "player.js added a time per track");
  check(audioRequests.length === 0, `the composition page requested no audio before play (${audioRequests.length})`);

  // The page's one <audio>, as far as track `i` is concerned: paused unless it holds that track.
  const state = async (i) => {
    const src = await ours(i).getAttribute("data-src");
    return page.locator("#player audio").evaluate((a, src) => {
      const mine = a.getAttribute("src") === src;
      return {
        paused: !mine || a.paused,
        time: mine ? a.currentTime : 0,
        error: mine && a.error && `${a.error.code} ${a.error.message}`,
        playing: mine && a.__playing === src,
      };
    }, src);
  };
  // Record `playing` events, by the track playing.
  await page.locator("#player audio").evaluate((a) => a.addEventListener("playing", () => (a.__playing = a.getAttribute("src"))));
  const waitFor = async (what, fn, timeout = 5000) => {
    const by = Date.now() + timeout;
    for (;;) {
      const v = await fn();
      if (v) return true;
      if (Date.now() > by) {
        check(false, `${what} (timed out after ${timeout} ms)`);
        return false;
      }
      await sleep(50);
    }
  };

  // 3. Keyboard: focus the first toggle, Space plays, Enter pauses.
  const first = toggles.nth(0);
  const label0 = await first.getAttribute("aria-label");
  check(/^Play /.test(label0 || ""), `the toggle starts as "${label0}"`);
  await first.focus();
  check(await first.evaluate((b) => b === document.activeElement), "the toggle takes the keyboard focus");
  await page.keyboard.press("Space");
  if (await waitFor("track 1 fires `playing` and currentTime passes 0.2 s within 5 s", async () => {
    const s = await state(0);
    if (s.error) throw new Error(`track 1 media error: ${s.error}`);
    return s.playing && s.time > 0.2;
  })) {
    const s = await state(0);
    check(true, `track 1 is playing (currentTime ${s.time.toFixed(2)} s)`);
  }
  const label1 = await first.getAttribute("aria-label");
  check(/^Pause /.test(label1 || ""), `the label switched to "${label1}"`);
  check((await first.getAttribute("aria-pressed")) === "true", "aria-pressed is true while playing");
  await page.keyboard.press("Enter");
  await waitFor("Enter pauses track 1", async () => (await state(0)).paused, 2000);
  const at = (await state(0)).time;
  await sleep(300);
  check((await state(0)).time === at, `track 1 stays at ${at.toFixed(2)} s while paused`);
  check(/^Play /.test((await first.getAttribute("aria-label")) || ""), "the label is back to Play ...");

  // 4. One at a time: with track 1 playing, starting track 2 pauses track 1.
  if (wanted >= 2) {
    await first.click();
    await waitFor("track 1 plays again on click", async () => !(await state(0)).paused, 3000);
    await toggles.nth(1).focus();
    await page.keyboard.press("Space");
    await waitFor("track 2 plays and passes 0.2 s", async () => {
      const s = await state(1);
      if (s.error) throw new Error(`track 2 media error: ${s.error}`);
      return s.playing && s.time > 0.2;
    });
    check((await state(0)).paused, "starting track 2 stopped track 1");
    check(/^Play /.test((await first.getAttribute("aria-label")) || ""), "track 1's toggle says Play again");
    await toggles.nth(1).click();
    await waitFor("track 2 pauses on click", async () => (await state(1)).paused, 2000);
  }

  // 5. The audio responses.
  check(audioResponses.length > 0, `audio was fetched once played (${audioResponses.length} responses)`);
  for (const r of audioResponses) {
    const h = await r.allHeaders().catch(() => r.headers());
    check(
      [200, 206].includes(r.status()) && h["accept-ranges"] === "bytes",
      `${new URL(r.url()).pathname}: ${r.status()}, Accept-Ranges: ${h["accept-ranges"]}, Content-Type: ${h["content-type"]}`,
    );
  }

  const csp = await page.evaluate(() => window.__csp);
  check(csp.length === 0, `no CSP violation on the composition page ${JSON.stringify(csp)}`);
  check(problems.length === 0, `no console error, page error or failed request ${JSON.stringify(problems)}`);
}


await run("browser check (a track plays)", 55, main);
