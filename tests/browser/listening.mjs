// Issue 26, items 1–3: the music keeps playing while you browse. Headless Chromium (harness.mjs)
// against a real `ragtime serve` whose lists hold 2 compositions a page, so page boundaries come
// quickly. Three tracks are uploaded: a 60 s tone on the newest composition (card 1 of the
// home page), tone.wav on card 2 (the last of page 1) and tone.ogg on card 5 (page 3; page 2
// has no track).
//
//   1. navigation: a track started on the home page plays on through a profile, a tag, a search
//      (a GET form), Home, a like (a POST form with its CSRF field, redirected back), Back ×3
//      and a log out (flash message, new header): the same <audio> (a marker set on `window` at
//      the start is still there), currentTime only grows; title, URL, head meta, focus on the
//      h1, scroll position on Back; an error page shows at its URL; a download, a non-HTML
//      answer, an external link and target=_blank are left to the browser;
//   2. the waveform is the one seek control: a slider across the card, in the site's colours,
//      moved with the arrow keys; the page has one <audio> and no range input;
//   3. the queue: on `ended` card 2's track is followed by card 5's, read from page 3; Play
//      next, Add to queue, the panel's move and remove buttons, Next and Previous; a reload
//      keeps the queue and the position;
//   4. Media Session metadata and action handlers; keyboard shortcuts, and none in a field;
//   5. "Loading…" while the server holds the audio back, a message when it cannot be played;
//   6. axe-core (serious, critical: 0) with the bar and the queue open, light and dark; no
//      console error or CSP violation; without JavaScript the tracks keep their own controls.
//
// Needs `cargo build` first. Exits non-zero on any failure; bounded to 150 s.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { apiClient, check, launch, log, newContext, root, run, sleep, startServer, watch, PASSWORD } from "./harness.mjs";

const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

/** A mono 16-bit WAV of a 330 Hz tone, `seconds` long. */
function wav(seconds, rate = 8000) {
  const n = seconds * rate;
  const b = Buffer.alloc(44 + n * 2);
  b.write("RIFF", 0); b.writeUInt32LE(36 + n * 2, 4); b.write("WAVE", 8);
  b.write("fmt ", 12); b.writeUInt32LE(16, 16); b.writeUInt16LE(1, 20); b.writeUInt16LE(1, 22);
  b.writeUInt32LE(rate, 24); b.writeUInt32LE(rate * 2, 28); b.writeUInt16LE(2, 32); b.writeUInt16LE(16, 34);
  b.write("data", 36); b.writeUInt32LE(n * 2, 40);
  for (let i = 0; i < n; i++) b.writeInt16LE(Math.round(6000 * Math.sin((2 * Math.PI * 330 * i) / rate)), 44 + 2 * i);
  return b;
}

async function waitFor(what, fn, timeout = 5000) {
  const by = Date.now() + timeout;
  for (;;) {
    const v = await fn().catch(() => false);
    if (v) return check(true, what);
    if (Date.now() > by) return check(false, `${what} (timed out after ${timeout} ms)`);
    await sleep(50);
  }
}

async function main() {
  const { base } = await startServer(
    ["--users", "3", "--compositions", "6", "--comments", "0", "--follows", "2"],
    { RAGTIME_COMPOSITIONS_PER_PAGE: "2" },
  );
  const api = apiClient(base);
  const reader = `easy_accordion@example.com:${PASSWORD}`;
  // The first five cards of the feed, newest first (three pages of two).
  const feed = [];
  for (let url = "/api/v1/compositions/"; url && feed.length < 5;) {
    const page = await api(url, {}, reader);
    feed.push(...page.compositions);
    url = page.next && new URL(page.next).pathname + new URL(page.next).search;
  }
  const cards = [feed[0], feed[1], feed[4]];
  const uploads = [
    [wav(60), "audio/wav", "Long tone"],
    [readFileSync(join(root, "tests/fixtures/audio/tone.wav")), "audio/wav", "Edge of the page"],
    [readFileSync(join(root, "tests/fixtures/audio/tone.ogg")), "audio/ogg", "Over the page"],
  ];
  const src = [];
  for (const [i, [body, type, title]] of uploads.entries()) {
    const c = cards[i];
    const t = await api(
      `/api/v1/compositions/${c.id}/tracks?title=${encodeURIComponent(title)}`,
      { method: "POST", body, headers: { "Content-Type": type } },
      `${c.artist_username}@example.com:${PASSWORD}`,
    );
    src.push(new URL(t.audio_url, base).pathname);
    log(`"${title}" on "${c.title}" by ${c.artist_username}: ${src[i]}`);
  }
  const artist = cards[0].artist_username;

  await launch();
  const problems = [];
  const context = await newContext(base, problems, { viewport: { width: 1280, height: 600 } });
  // Records the Media Session's action handlers, so the test can call them as a headset would.
  await context.addInitScript(() => {
    window.__actions = {};
    const set = navigator.mediaSession?.setActionHandler?.bind(navigator.mediaSession);
    if (set) navigator.mediaSession.setActionHandler = (name, fn) => { window.__actions[name] = fn; set(name, fn); };
  });
  const page = await context.newPage();
  watch(page, problems, { navigating: true });
  const audio = () => page.evaluate(() => {
    const a = document.querySelector("#player audio");
    return a && { src: new URL(a.src, location.href).pathname, time: a.currentTime, paused: a.paused, same: a === window.__audio, marker: window.__marker === "still here" };
  });

  // Log in with the form (a POST through nav.js), then the home page, loaded for real.
  await page.goto(`${base}/auth/login`);
  await page.getByLabel("Email").fill("easy_accordion@example.com");
  await page.getByLabel("Password").fill(PASSWORD);
  await Promise.all([page.waitForURL(`${base}/`), page.getByRole("button", { name: "Log In" }).click()]);
  await page.goto(`${base}/`);

  // 2. One <audio>, no second seek control; the waveform is a slider across the card.
  const counts = await page.evaluate(() => ({
    audio: document.querySelectorAll("audio").length,
    range: document.querySelectorAll("input[type=range]").length,
    sliders: document.querySelectorAll(".track [role=slider]").length,
    tracks: document.querySelectorAll(".track").length,
  }));
  check(counts.audio === 1 && counts.range === 0, `the page has one <audio> and no range input (${JSON.stringify(counts)})`);
  check(counts.sliders === counts.tracks && counts.tracks === 2, `each of the 2 tracks on page 1 has one slider (${counts.sliders})`);
  const long = page.locator(".track", { hasText: "Long tone" });
  const geometry = await long.evaluate((t) => {
    const wave = t.querySelector(".waveform-box");
    const card = t.closest(".composition-body");
    const probe = document.createElement("span");
    probe.style.color = "var(--muted)";
    return { wave: wave.getBoundingClientRect().width, card: card.getBoundingClientRect().width, fill: getComputedStyle(wave.querySelector("path")).fill, muted: getComputedStyle(t.closest(".composition").querySelector(".meta")).color };
  });
  check(geometry.wave >= geometry.card - 1, `the waveform spans its card (${geometry.wave} of ${geometry.card} px)`);
  check(geometry.fill === geometry.muted, `the waveform is drawn in the site's --muted colour (${geometry.fill} vs ${geometry.muted})`);

  // 1. Start the long tone; mark the window and the element.
  await long.locator(".player-toggle").click();
  await waitFor("the long tone plays from the home page", async () => { const a = await audio(); return a && !a.paused && a.time > 0.3 && a.src === src[0]; });
  await page.evaluate(() => { window.__marker = "still here"; window.__audio = document.querySelector("#player audio"); });
  let last = (await audio()).time;
  const onward = async (what, expect) => {
    const a = await audio();
    const facts = await page.evaluate(() => ({
      path: location.pathname + location.search,
      title: document.title,
      h1: document.querySelector("h1")?.textContent.trim(),
      focused: document.activeElement?.tagName,
    }));
    check(a.same && a.marker, `${what}: the same document and <audio> element (marker kept)`);
    check(!a.paused && a.time > last, `${what}: still playing, currentTime grew (${last.toFixed(2)} → ${a.time.toFixed(2)} s)`);
    last = a.time;
    check(expect.path.test(facts.path) && expect.title.test(facts.title), `${what}: at ${facts.path}, titled "${facts.title}"`);
    check(facts.focused === "H1", `${what}: focus moved to the h1 "${facts.h1}" (${facts.focused})`);
    return facts;
  };
  // Waits until the page at `path` (location.pathname + search) is shown, titled `title`, its h1
  // focused; reports where it is otherwise.
  const arrive = async (what, path, title) => {
    const ok = await page.waitForFunction(([p, t]) => new RegExp(p).test(location.pathname + location.search) &&
      new RegExp(t).test(document.title) && document.activeElement?.tagName === "H1", [path.source, title.source], { timeout: 5000 }).then(() => true, () => false);
    if (!ok) {
      const at = await page.evaluate(() => [location.pathname + location.search, document.title, document.activeElement?.outerHTML.slice(0, 80)]);
      check(false, `${what}: the page never arrived (at ${JSON.stringify(at)})`);
    }
    return onward(what, { path, title });
  };

  // A profile: its own title, og:type and canonical link in <head>.
  const profile = [new RegExp(`^/user/${artist}$`), new RegExp(`^${artist} · Ragtime$`)];
  await page.locator(".composition .author", { hasText: artist }).first().click();
  await arrive("a profile", ...profile);
  const head = await page.evaluate(() => ({ og: document.querySelector('meta[property="og:type"]')?.content, canonical: document.querySelector("link[rel=canonical]")?.href }));
  check(head.og === "profile" && head.canonical?.endsWith(`/user/${artist}`), `the profile's <head> meta came along (${JSON.stringify(head)})`);
  // A tag of one of the artist's compositions, scrolled to the top of the window (the page
  // is longer than the window), so the page has a scroll position for Back to restore.
  const tag = page.locator(".composition a.tag").first();
  await tag.evaluate((el) => el.scrollIntoView({ block: "start" }));
  const profileScroll = await page.evaluate(() => window.scrollY);
  check(profileScroll > 0, `the profile is scrolled down to its tag (${profileScroll} px)`);
  const tagName = (await tag.textContent()).trim().slice(1);
  const tagged = [new RegExp(`^/tag/${tagName}$`), new RegExp(`^#${tagName} · Ragtime$`)];
  await tag.click();
  await arrive("a tag", ...tagged);

  // A search from the navbar: a GET form.
  await page.locator("#nav-search-q").fill("a");
  await page.locator("#nav-search-q").press("Enter");
  const searched = [/^\/search\?q=a$/, /^a · Search · Ragtime$/];
  await arrive("a search (GET form)", ...searched);

  // Home, then a like: a POST with the form's CSRF field, redirected back to the page.
  await page.getByRole("link", { name: "Home", exact: true }).click();
  await arrive("Home", /^\/$/, /^Ragtime$/);
  const historyBefore = await page.evaluate(() => history.length);
  await page.locator(".like-form button").first().click();
  await page.waitForFunction(() => document.querySelector(".like-form button")?.getAttribute("aria-pressed") === "true");
  await arrive("a like (POST form)", /^\/$/, /^Ragtime$/);
  check((await page.evaluate(() => history.length)) === historyBefore, "the like's redirect back to the same page adds no history entry");

  // Back ×3: the search, the tag, the profile at its scroll position.
  for (const [what, where] of [["search", searched], ["tag", tagged], ["profile", profile]]) {
    await page.goBack({ waitUntil: "commit" });
    await arrive(`Back to the ${what}`, ...where);
  }
  await waitFor(`Back restores the profile's scroll position (${profileScroll} px)`, async () => Math.abs((await page.evaluate(() => window.scrollY)) - profileScroll) <= 2, 2000);
  await page.goForward({ waitUntil: "commit" });
  await arrive("Forward to the tag", ...tagged);

  // An error page shows at its URL, as without the script.
  await page.evaluate(() => { const a = document.createElement("a"); a.href = "/user/nobody-by-this-name"; a.id = "t404"; a.textContent = "missing"; document.querySelector("main").append(a); });
  await page.locator("#t404").click();
  await arrive("the 404 page", /^\/user\/nobody-by-this-name$/, /^404 Not Found · Ragtime$/);
  const notFound = await page.evaluate(() => ({ code: document.querySelector(".error-code")?.textContent.trim(), title: document.title }));
  check(notFound.code === "404", `a 404 shows its error page at its URL (${JSON.stringify(notFound)})`);
  problems.splice(0, problems.length, ...problems.filter((p) => !p.includes("404"))); // the console notes the 404

  // Log out (a POST in the Account menu): the header and the flash message change.
  await page.locator("details.dropdown > summary").click();
  await page.getByRole("button", { name: "Log Out" }).click();
  await arrive("log out (POST form)", /^\/$/, /^Ragtime$/);
  const out = await page.evaluate(() => ({ flash: document.querySelector(".flash")?.textContent.trim(), login: !!document.querySelector('.navbar a[href="/auth/login"]') }));
  check(out.login && /logged out/i.test(out.flash || ""), `log out: the flash "${out.flash}" and the header's Log In link show`);

  // External links and target=_blank are the browser's: nav.js leaves their click alone.
  const leftAlone = await page.evaluate(() => {
    const results = [];
    for (const [href, target] of [["https://example.org/", ""], ["/users", "_blank"]]) {
      const a = Object.assign(document.createElement("a"), { href, target, textContent: "x" });
      document.body.append(a);
      const spy = (e) => { results.push(e.defaultPrevented); e.preventDefault(); };
      window.addEventListener("click", spy);
      a.click();
      window.removeEventListener("click", spy);
      a.remove();
    }
    return results;
  });
  check(leftAlone.length === 2 && leftAlone.every((p) => p === false), `an external link and a target=_blank link are left to the browser (${JSON.stringify(leftAlone)})`);

  // 4. Media Session: metadata and the handlers a headset calls.
  const meta = await page.evaluate(() => { const m = navigator.mediaSession.metadata; return m && { title: m.title, artist: m.artist, album: m.album, art: m.artwork.length, actions: Object.keys(window.__actions).sort().join(" ") }; });
  check(meta?.title === "Long tone" && meta.artist === artist && meta.album === cards[0].title, `Media Session metadata: ${JSON.stringify(meta)}`);
  check(["nexttrack", "pause", "play", "previoustrack", "seekbackward", "seekforward", "seekto"].every((a) => meta?.actions.includes(a)), `Media Session actions: ${meta?.actions}`);
  await page.evaluate(() => window.__actions.pause());
  await waitFor("the Media Session's pause pauses", async () => (await audio()).paused, 2000);
  await page.evaluate(() => window.__actions.seekto({ seekTime: 20 }));
  await waitFor("the Media Session's seekto moves to 20 s", async () => Math.abs((await audio()).time - 20) < 0.5, 2000);
  await page.evaluate(() => window.__actions.seekforward({}));
  await waitFor("seekforward: 10 s on", async () => Math.abs((await audio()).time - 30) < 0.5, 2000);
  await page.evaluate(() => window.__actions.seekbackward({ seekOffset: 5 }));
  await waitFor("seekbackward by its offset: 5 s back", async () => Math.abs((await audio()).time - 25) < 0.5, 2000);
  await page.evaluate(() => window.__actions.seekforward({ seekOffset: 5 }));
  await waitFor("(and on again to 30 s)", async () => Math.abs((await audio()).time - 30) < 0.5, 2000);
  await page.evaluate(() => window.__actions.nexttrack());
  await waitFor("nexttrack moves to the next card's track", async () => (await audio()).src === src[1], 2000);
  await page.evaluate(() => window.__actions.previoustrack());
  await waitFor("previoustrack comes back to the long tone", async () => (await audio()).src === src[0], 2000);
  await page.evaluate(() => window.__actions.play());
  await waitFor("the Media Session's play plays", async () => { const a = await audio(); return !a.paused && a.time > 0.1; }, 3000);
  await page.evaluate(() => window.__actions.pause());
  await page.evaluate(() => window.__actions.seekto({ seekTime: 30 }));
  await waitFor("(seekto 30 s again)", async () => Math.abs((await audio()).time - 30) < 0.5, 3000);

  // Keyboard shortcuts, with the focus on the page; none while typing in a field.
  await page.evaluate(() => document.activeElement.blur());
  await page.keyboard.press("k");
  await waitFor("k plays", async () => !(await audio()).paused, 2000);
  await page.keyboard.press("k");
  await waitFor("k pauses", async () => (await audio()).paused, 2000);
  let t = (await audio()).time;
  await page.keyboard.press("l");
  check(Math.abs((await audio()).time - (t + 10)) < 0.5, `l goes 10 s forward (${t.toFixed(1)} → ${(await audio()).time.toFixed(1)})`);
  t = (await audio()).time;
  await page.keyboard.press("j");
  check(Math.abs((await audio()).time - (t - 10)) < 0.5, `j goes 10 s back (${t.toFixed(1)} → ${(await audio()).time.toFixed(1)})`);
  await page.keyboard.press(" ");
  await waitFor("Space plays", async () => !(await audio()).paused, 2000);
  await page.keyboard.press(" ");
  await waitFor("Space pauses", async () => (await audio()).paused, 2000);
  const field = page.locator("#nav-search-q");
  await field.fill("");
  await field.focus();
  t = (await audio()).time;
  await page.keyboard.type("kjl N?");
  await page.keyboard.press("Shift+N");
  const typed = await audio();
  check(typed.paused && Math.abs(typed.time - t) < 0.01 && typed.src === src[0], `no shortcut acts while typing in a field (${JSON.stringify(typed)})`);
  check((await field.inputValue()) === "kjl N?N", `the keys went into the field ("${await field.inputValue()}")`);
  check(!(await page.locator("dialog.keys-dialog[open]").count()), "? in a field opens no dialog");
  // Nor in a textarea, a select or a contenteditable element.
  await page.evaluate(() => {
    const main = document.querySelector("main");
    main.insertAdjacentHTML("beforeend", '<textarea id="t-area" aria-label="t"></textarea><select id="t-select" aria-label="t"><option>j</option><option>k</option></select><div id="t-edit" contenteditable="true" aria-label="t"></div>');
  });
  for (const id of ["t-area", "t-select", "t-edit"]) {
    await page.locator("#" + id).focus();
    await page.keyboard.press("k");
    await page.keyboard.press("l");
    await page.keyboard.press("Shift+N");
    const a = await audio();
    check(a.paused && Math.abs(a.time - t) < 0.01 && a.src === src[0], `no shortcut acts in #${id} (${JSON.stringify({ paused: a.paused, time: a.time })})`);
  }
  await page.evaluate(() => ["t-area", "t-select", "t-edit"].forEach((id) => document.getElementById(id).remove()));
  await page.evaluate(() => document.activeElement.blur());
  await page.keyboard.press("?");
  const dialog = page.locator("dialog.keys-dialog[open]");
  check((await dialog.count()) === 1 && /Shift \+ N/.test(await dialog.textContent()), "? lists the shortcuts in a dialog");
  await page.keyboard.press("Escape");
  check(!(await dialog.count()), "Escape closes it");

  // The waveform slider from the keyboard: values, arrows.
  await page.goto(`${base}/`); // a reload: the queue and position come back, paused
  const restored = await page.evaluate(() => ({ title: document.querySelector(".bar-title")?.textContent, clock: document.querySelector(".bar-clock")?.textContent, hidden: document.getElementById("player").hidden }));
  check(!restored.hidden && restored.title === "Long tone" && /^0:3\d \//.test(restored.clock), `a reload keeps the track and its position (${JSON.stringify(restored)})`);
  const slider = page.locator(".track", { hasText: "Long tone" }).locator("[role=slider]");
  const aria = await slider.evaluate((s) => ({ min: s.getAttribute("aria-valuemin"), max: s.getAttribute("aria-valuemax"), now: s.getAttribute("aria-valuenow"), text: s.getAttribute("aria-valuetext"), label: s.getAttribute("aria-label") }));
  check(aria.min === "0" && aria.max === "60" && /^3\d$/.test(aria.now) && /^0:3\d of 1:00$/.test(aria.text) && aria.label === "Position in Long tone", `the slider's ARIA values (${JSON.stringify(aria)})`);
  await slider.focus();
  const saved = Number(aria.now);
  await page.keyboard.press("ArrowRight");
  check(Number(await slider.getAttribute("aria-valuenow")) === saved + 5, `ArrowRight moves 5 s on (${saved} → ${await slider.getAttribute("aria-valuenow")})`);
  await page.keyboard.press("k");
  await waitFor("and the track plays from there", async () => { const a = await audio(); return !a.paused && a.time >= saved + 4.5 && a.time < saved + 8; }, 3000);
  t = (await audio()).time;
  await page.keyboard.press("ArrowLeft");
  check((await audio()).time < t - 4, `ArrowLeft goes back 5 s (${t.toFixed(1)} → ${(await audio()).time.toFixed(1)})`);
  check(Number(await slider.getAttribute("aria-valuenow")) === Math.round((await audio()).time), "aria-valuenow follows the audio");

  // 3. The queue: Shift+N and Shift+P; then the page boundary on `ended`.
  await page.evaluate(() => document.activeElement.blur());
  await page.keyboard.press("Shift+N");
  await waitFor("Shift+N plays the next card's track", async () => { const a = await audio(); return a.src === src[1] && !a.paused; }, 3000);
  await page.keyboard.press("Shift+P");
  await waitFor("Shift+P goes back to the long tone, playing", async () => { const a = await audio(); return a.src === src[0] && !a.paused; }, 3000);
  await page.locator(".track", { hasText: "Edge of the page" }).locator(".player-toggle").click();
  await waitFor("the last track of page 1 plays", async () => { const a = await audio(); return a.src === src[1] && !a.paused && a.time > 0.1; }, 3000);
  const onPage = page.url();
  await page.evaluate(() => { const a = document.querySelector("#player audio"); a.currentTime = Math.max(a.duration - 0.3, 0); });
  await waitFor("on `ended`, the first track after page 1 plays (pages 2 and 3 read from their Next links)", async () => { const a = await audio(); return a.src === src[2] && !a.paused && a.time > 0.1; }, 5000);
  check(page.url() === onPage, "the page itself stayed");
  await page.evaluate(() => document.querySelector("#player audio").pause()); // it is short: keep it current

  // Play next, Add to queue, and the panel (keyboard-operable buttons).
  const queued = () => page.evaluate(() => Array.from(document.querySelectorAll(".queue-item"), (li) => (li.getAttribute("aria-current") ? "*" : "") + li.querySelector(".queue-title").textContent));
  await page.locator(".bar-queue").click();
  check(JSON.stringify(await queued()) === JSON.stringify(["Long tone", "Edge of the page", "*Over the page"]), `the queue panel: ${JSON.stringify(await queued())}`);
  await page.getByRole("button", { name: "Add to queue: Long tone" }).click();
  await page.getByRole("button", { name: "Add to queue: Edge of the page" }).click();
  await page.getByRole("button", { name: "Play next: Long tone" }).click();
  const order = ["Long tone", "Edge of the page", "*Over the page", "Long tone", "Long tone", "Edge of the page"];
  check(JSON.stringify(await queued()) === JSON.stringify(order), `Play next goes first, Add to queue after the added ones: ${JSON.stringify(await queued())}`);
  const down = page.locator(".queue-item").nth(4).locator(".queue-down");
  await down.focus();
  await page.keyboard.press("Enter");
  check(JSON.stringify(await queued()) === JSON.stringify(["Long tone", "Edge of the page", "*Over the page", "Long tone", "Edge of the page", "Long tone"]), `Move down, from the keyboard: ${JSON.stringify(await queued())}`);
  check(await page.evaluate(() => document.activeElement?.classList.contains("queue-up") && document.activeElement.closest(".queue-item") === document.querySelectorAll(".queue-item")[5]), "the focus stays with the moved track (on its Move up, Move down being off at the end)");
  await page.locator(".queue-item").nth(5).locator(".queue-remove").click();
  await page.locator(".queue-item").nth(0).locator(".queue-remove").click();
  check(JSON.stringify(await queued()) === JSON.stringify(["Edge of the page", "*Over the page", "Long tone", "Edge of the page"]), `Remove: ${JSON.stringify(await queued())}`);
  await page.getByRole("button", { name: "Next track" }).click();
  await waitFor("Next moves to the track after the current one", async () => (await audio()).src === src[0], 3000);
  await page.evaluate(() => window.scrollTo(0, 200));
  await sleep(400); // nav.js notes the position once scrolling settles (150 ms)
  await page.reload();
  await waitFor("a reload keeps the scroll position", async () => (await page.evaluate(() => window.scrollY)) === 200, 3000);
  check(JSON.stringify(await page.evaluate(() => JSON.parse(localStorage.getItem("ragtime.queue")).items.map((i) => i.title))) === JSON.stringify(["Edge of the page", "Over the page", "Long tone", "Edge of the page"]), "a reload keeps the queue (localStorage)");
  await page.locator(".bar-queue").click();
  check(JSON.stringify(await queued()) === JSON.stringify(["Edge of the page", "Over the page", "*Long tone", "Edge of the page"]), `… and the panel shows it, at the same track: ${JSON.stringify(await queued())}`);

  // 6. axe with the bar and the queue panel open, light and dark.
  for (const scheme of ["light", "dark"]) {
    await page.emulateMedia({ colorScheme: scheme });
    if (!(await page.evaluate(() => typeof window.axe !== "undefined"))) await page.evaluate(axeSource);
    const grave = await page.evaluate(async () => (await window.axe.run(document, { resultTypes: ["violations"] })).violations
      .filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => `${v.id}: ${v.nodes[0]?.target.join(" ")}`));
    check(grave.length === 0, `axe (${scheme}) with the player bar and queue open: no serious or critical violation ${JSON.stringify(grave)}`);
  }
  await page.emulateMedia({ colorScheme: "light" });

  // 5. Loading while the server holds the audio back, then playing; a clear message on failure.
  let release;
  const held = new Promise((r) => (release = r));
  await page.route(`**${src[1]}`, async (route) => { await held; await route.continue(); });
  await page.locator(".bar-queue").click(); // closed again
  await page.locator(".track", { hasText: "Edge of the page" }).locator(".player-toggle").click();
  await waitFor("“Loading…” shows while the audio is held back", () => page.evaluate(() => {
    const bar = document.getElementById("player");
    return bar.classList.contains("loading") && bar.querySelector(".bar-status").textContent === "Loading…" && document.querySelector(".track.current.loading");
  }), 3000);
  await sleep(1000);
  check(await page.evaluate(() => document.getElementById("player").classList.contains("loading")), "… and still after a second");
  release();
  await waitFor("once the audio arrives it plays and the loading state goes", async () => {
    const a = await audio();
    return !a.paused && a.time > 0.1 && !(await page.evaluate(() => document.getElementById("player").classList.contains("loading")));
  }, 5000);
  await page.unroute(`**${src[1]}`);
  await page.route(`**${src[2]}`, (route) => route.fulfill({ status: 404, contentType: "text/plain", body: "gone" }));
  for (let i = 0; i < 2; i++) {
    const at = page.url();
    await page.locator(".pagination a[rel=next]").click();
    await page.waitForURL((u) => u.href !== at);
  }
  await page.waitForFunction(() => document.querySelector(".track"));
  await page.locator(".track", { hasText: "Over the page" }).locator(".player-toggle").click();
  await waitFor("a track that cannot be played says so", () => page.evaluate(() => /^Cannot play “Over the page”/.test(document.querySelector(".bar-status")?.textContent) && document.getElementById("player").classList.contains("failed")), 5000);
  problems.splice(0, problems.length, ...problems.filter((p) => !p.includes(src[2]))); // the 404 we asked for

  // A download (HTML, but an attachment) is left to the browser: it downloads, the page stays.
  await page.route(`${base}/user/as-a-file`, (route) => route.fulfill({ status: 200, contentType: "text/html", headers: { "Content-Disposition": 'attachment; filename="page.html"' }, body: "<!doctype html><title>file</title><main id=content><h1>A file</h1></main>" }));
  await page.evaluate(() => { const a = Object.assign(document.createElement("a"), { href: "/user/as-a-file", id: "tfile", textContent: "file" }); document.querySelector("main").append(a); });
  const here = page.url();
  const [download] = await Promise.all([page.waitForEvent("download", { timeout: 5000 }).catch(() => null), page.locator("#tfile").click()]);
  check(!!download && download.suggestedFilename() === "page.html", `a download is the browser's (${download?.suggestedFilename()})`);
  check(page.url() === here && (await page.evaluate(() => document.title)) !== "file", "… and the page stays as it was");

  // A non-HTML answer is left to the browser: a real navigation (the marker is gone).
  await page.evaluate(() => { window.__marker = "still here"; });
  await page.route(`${base}/user/plain-text`, (route) => route.fulfill({ status: 200, contentType: "text/plain", body: "plain text" }));
  await page.evaluate(() => { const a = Object.assign(document.createElement("a"), { href: "/user/plain-text", id: "tplain", textContent: "plain" }); document.querySelector("main").append(a); });
  await Promise.all([page.waitForEvent("load"), page.locator("#tplain").click()]);
  const plain = await page.evaluate(() => ({ marker: window.__marker, text: document.body.textContent.trim() }));
  check(plain.marker === undefined && plain.text === "plain text", `a non-HTML answer is a normal navigation (${JSON.stringify(plain)})`);

  const csp = await page.evaluate(() => window.__csp);
  check(csp.length === 0, `no CSP violation ${JSON.stringify(csp)}`);
  check(problems.length === 0, `no console error, page error or failed request ${JSON.stringify(problems)}`);

  // Without JavaScript the tracks keep their own controls and there is no bar.
  const bare = await newContext(base, problems, { javaScriptEnabled: false });
  const noJs = await bare.newPage();
  await noJs.goto(`${base}/`);
  const html = await noJs.content();
  check((html.match(/<audio controls/g) || []).length === 2 && !html.includes('id="player"'), "without JavaScript each track has its own <audio controls> and there is no player bar");
}

await run("browser check (listening while browsing)", 150, main);
