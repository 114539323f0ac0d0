// Issue 15: Ragtime used from scratch in headless Chromium, as a person would, at 1280 px and at
// 390 px (a phone), against a real `ragtime serve` (harness.mjs).
//
// Journeys, each at both widths, each with its own newcomer:
//   register (logged in at once) → confirm (the link read off the development mail page) →
//   publish with a track → edit (the old URL answers 301) → follow → like → comment with a
//   mention → search →
//   tag → notifications (the artist's, who is an administrator) → moderate (disable the comment,
//   confirmed on the page) → administer users → log out; password reset (request, mail, new
//   password, log in with it). Once: an API token from curl, used by curl.
//
// Every page a journey reaches is audited:
//   - axe-core: no violation of serious or critical impact, in the light scheme and again in the
//     dark one (the system's preference, emulated: issue 26, item 7);
//   - at no width does the page scroll sideways (`scrollWidth <= innerWidth`), with a
//     64-character title without spaces, a 64-character username, long tags and URLs;
//   - exactly one <h1>, and a <title> that says where you are ("… · Ragtime");
//   - no console error, page error, failed request, CSP violation or request off the site;
//   - a full-page screenshot, `<width>/<page>.png` and `<width>/<page>-dark.png`, under
//     RAGTIME_SCREENSHOTS (tests/browser/screenshots by default): CI keeps that folder.
//
// And the layout facts of issue 26, item 6: the navbar on one line at 1280 px for an
// administrator, the music before "Who to follow" on a phone's profile, "Show more" unfolding in
// place, "Liked", the search query kept, the Followed tab's own URL; and the scheme toggle
// (item 7), with and without the script.
//
// Needs `cargo build` first (RAGTIME_BIN overrides target/debug/ragtime). Exits non-zero on any
// failure; the whole run is bounded (290 s) and every wait has its own timeout.

import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { apiClient, check, launch, log, newContext, ragtime, root, run, startServer, watch, PASSWORD } from "./harness.mjs";

const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
const shots = process.env.RAGTIME_SCREENSHOTS || join(root, "tests/browser/screenshots");
const WIDTHS = [
  { name: "1280", viewport: { width: 1280, height: 800 } },
  { name: "390", viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true },
];
const audited = new Map(); // page type → widths audited

/** The checks every page gets; `name` names the page type (and its screenshot). */
async function audit(page, width, name, problems) {
  await page.waitForLoadState("load");
  // Against the width the page was opened at: a phone widens its layout viewport (and so
  // `innerWidth`) to fit content that overflows, which would hide the very overflow sought.
  const viewport = page.viewportSize().width;
  const where = `${name} at ${width} px (${new URL(page.url()).pathname})`;
  const facts = await page.evaluate((viewport) => ({
    h1: [...document.querySelectorAll("h1")].map((h) => h.textContent.trim()),
    title: document.title,
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
    wide: [...document.querySelectorAll("body *")]
      .filter((el) => el.getBoundingClientRect().right > viewport + 1)
      .slice(0, 3)
      .map((el) => `${el.tagName.toLowerCase()}.${[...el.classList].join(".")}`),
    csp: window.__csp,
  }), viewport);
  check(facts.h1.length === 1, `${where}: one <h1> (${JSON.stringify(facts.h1)})`);
  check(/(^| · )Ragtime$/.test(facts.title), `${where}: the title says where you are ("${facts.title}")`);
  check(
    facts.scrollWidth <= viewport && facts.innerWidth === viewport,
    `${where}: no sideways scroll (scrollWidth ${facts.scrollWidth}, innerWidth ${facts.innerWidth}, viewport ${viewport}${facts.wide.length ? `; wider: ${facts.wide.join(", ")}` : ""})`,
  );
  check(facts.csp.length === 0, `${where}: no CSP violation ${JSON.stringify(facts.csp)}`);
  if (!(await page.evaluate(() => typeof window.axe !== "undefined"))) {
    // Evaluated through the driver rather than added as a <script>: the site's CSP rightly
    // refuses inline scripts, and the check must not weaken it.
    await page.evaluate(axeSource);
  }
  mkdirSync(join(shots, width), { recursive: true });
  // Light, then dark as a system that prefers it would show the page (no scheme chosen).
  for (const scheme of ["light", "dark"]) {
    await page.emulateMedia({ colorScheme: scheme });
    const violations = await page.evaluate(async () => {
      const result = await window.axe.run(document, { resultTypes: ["violations"] });
      return result.violations.map((v) => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        nodes: v.nodes.length,
        first: v.nodes[0]?.target.join(" "),
      }));
    });
    const grave = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
    const minor = violations.filter((v) => !grave.includes(v));
    check(
      grave.length === 0,
      `${where}, ${scheme}: axe finds no serious or critical violation${grave.map((v) => `\n      ${v.impact} ${v.id}: ${v.help} (${v.nodes}×, e.g. ${v.first})`).join("")}`,
    );
    if (minor.length) log(`   axe, ${scheme}, minor: ${minor.map((v) => `${v.impact} ${v.id} (${v.nodes}×)`).join(", ")}`);
    await page.screenshot({ path: join(shots, width, `${name}${scheme === "dark" ? "-dark" : ""}.png`), fullPage: true });
  }
  await page.emulateMedia({ colorScheme: "light" });
  check(problems.length === 0, `${where}: no console error, page error or failed request ${JSON.stringify(problems.splice(0))}`);
  audited.set(name, [...(audited.get(name) || []), width]);
}

/** The navbar's items sit on one line: every item's box is centred on the same row. */
async function navbarOnOneLine(page) {
  return page.evaluate(() => {
    const items = [...document.querySelectorAll(".navbar-inner > .brand, .nav-links > li, .nav-search")]
      .map((el) => el.getBoundingClientRect())
      .filter((r) => r.width > 0);
    const middles = items.map((r) => Math.round(r.top + r.height / 2));
    return {
      items: items.length,
      rows: new Set(middles.map((m) => Math.round(m / 12))).size,
      spread: Math.max(...middles) - Math.min(...middles),
      height: Math.round(document.querySelector(".navbar").getBoundingClientRect().height),
    };
  });
}

/** On a phone the navigation is folded behind the menu button: open it when it is. */
async function openMenu(page) {
  const toggle = page.locator(".nav-toggle");
  if ((await toggle.isVisible()) && (await toggle.getAttribute("aria-expanded")) !== "true") await toggle.click();
}

async function logIn(page, base, email, password) {
  await page.goto(`${base}/auth/login`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await Promise.all([page.waitForNavigation(), page.getByRole("button", { name: "Log In" }).click()]);
}

async function logOut(page) {
  await openMenu(page);
  await page.locator("details.dropdown > summary").click();
  await Promise.all([page.waitForNavigation(), page.getByRole("button", { name: "Log Out" }).click()]);
  await openMenu(page);
  check(await page.getByRole("link", { name: "Log In" }).isVisible(), "logged out: the navbar offers Log In");
}

/** The newest mail to `to` on the development mail page, and the link in it matching `path`. */
async function mailLink(page, base, width, to, path, problems, name) {
  await page.goto(`${base}/dev/mail`);
  await audit(page, width, name, problems);
  const mail = page.locator("li.dev-message").filter({ has: page.locator(".meta", { hasText: `To ${to}` }) }).first();
  const link = mail.locator(`a[href*="${path}"]`).first();
  check((await link.count()) === 1, `the development mail page shows the mail to ${to} with a ${path} link`);
  return link;
}

function flash(page) {
  return page.locator(".flash").allTextContents();
}

async function journey(base, browserWidth, people) {
  const width = browserWidth.name;
  const problems = [];
  const context = await newContext(base, problems, {
    viewport: browserWidth.viewport,
    isMobile: !!browserWidth.isMobile,
    hasTouch: !!browserWidth.hasTouch,
  });
  const page = await context.newPage();
  watch(page, problems, { navigating: true });

  // A username of 64 characters without a break, as the issue asks of every page.
  const username = `newcomer_${width}_`.padEnd(64, "x");
  const email = `newcomer${width}@example.com`;
  const password = `correct horse ${width}`;

  // Anonymous: the home page, then register.
  await page.goto(base + "/");
  await audit(page, width, "home-anonymous", problems);
  await page.goto(`${base}/auth/register`);
  await audit(page, width, "register", problems);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByLabel("Confirm password").fill(password);
  await Promise.all([page.waitForNavigation(), page.getByRole("button", { name: "Register" }).click()]);
  const registered = await flash(page);
  check(
    registered.some((f) => f.includes("A confirmation email has been sent to you.")),
    `registered: ${JSON.stringify(registered)}`,
  );
  // Registering logs in, on the "check your mail" page; the site reads as for anyone until the
  // mailed link is followed, with the link offered again where the publish form will be.
  check(new URL(page.url()).pathname === "/auth/unconfirmed", `registering lands on /auth/unconfirmed, logged in (${page.url()})`);
  await audit(page, width, "unconfirmed", problems);
  await page.goto(base + "/");
  check(new URL(page.url()).pathname === "/", `an unconfirmed account reads the home page (${page.url()})`);
  check(await page.getByRole("heading", { name: "Confirm your account to publish" }).isVisible(), "the home page asks to confirm where the publish form will be");
  await audit(page, width, "home-unconfirmed", problems);
  const confirm = await mailLink(page, base, width, email, "/auth/confirm/", problems, "dev-mail");
  await Promise.all([page.waitForNavigation(), confirm.click()]);
  const confirmed = await flash(page);
  check(confirmed.some((f) => /confirmed your account/i.test(f)), `the link confirms the account: ${JSON.stringify(confirmed)}`);

  // Publish, with a track: a title of 64 characters without a space, long tags, a long URL.
  await page.goto(base + "/");
  await audit(page, width, "home", problems);
  const feedTop = await page.locator("ul.compositions > li").first().evaluate((li) => li.getBoundingClientRect().top);
  check(feedTop < page.viewportSize().height, `the home page shows the feed on its first screen (the first card at ${Math.round(feedTop)} px)`);
  // A long description is folded to about three lines; "Show more" unfolds it in place.
  const more = page.locator("button.show-more").first();
  if (check((await more.count()) === 1, "a long description of the seeded feed is folded behind a Show more button")) {
    const prose = page.locator(`#${await more.getAttribute("aria-controls")}`);
    const folded = await prose.evaluate((el) => ({ lines: Math.round(el.clientHeight / parseFloat(getComputedStyle(el).lineHeight)), hidden: el.scrollHeight > el.clientHeight }));
    check(folded.hidden && folded.lines <= 4, `folded: ${folded.lines} lines shown, the rest hidden`);
    await more.click();
    const open = await prose.evaluate((el) => !el.classList.contains("folded") && el.scrollHeight <= el.clientHeight + 1);
    check(open && (await more.getAttribute("aria-expanded")) === "true" && (await more.textContent()).startsWith("Show less"), "Show more unfolds the description in place and says Show less");
    await more.click();
    check((await prose.evaluate((el) => el.classList.contains("folded"))) && (await more.getAttribute("aria-expanded")) === "false", "Show less folds it again");
  }
  const cut = page.locator(".all-tracks a").first();
  if (check((await cut.count()) === 1, "a seeded release with more tracks than a card lists links to all of them")) {
    const card = cut.locator("xpath=ancestor::li[contains(concat(' ', @class, ' '), ' composition ')]");
    const total = Number((await cut.textContent()).match(/All (\d+) tracks/)?.[1]);
    check((await card.locator("li.track").count()) === 3 && total > 3, `the card lists 3 of its ${total} tracks`);
  }
  await Promise.all([page.waitForNavigation(), page.getByRole("link", { name: "Followed", exact: true }).click()]);
  check(new URL(page.url()).pathname === "/followed", `the Followed tab has its own URL (${page.url()})`);
  await audit(page, width, "followed", problems);
  await page.goto(base + "/");
  const title = `Maple${width}Leaf`.padEnd(64, "Rag");
  const publish = page.locator("form[action='/']");
  const folded = page.locator("details", { has: publish });
  if ((await folded.count()) && !(await folded.evaluate((d) => d.open))) await folded.locator("summary").click();
  await publish.getByLabel("Title").fill(title);
  await publish.getByLabel("Release type").selectOption({ label: "Single" });
  await publish
    .getByLabel(/^Description/)
    .fill(
      [
        "# A heading in a description",
        "",
        "Recorded at https://example.com/" + "a-very-long-path-segment-".repeat(6),
        "",
        "| Part | Bars |\n| --- | --- |\n| A | 16 |\n| B | 16 |",
        "",
        "![the score, first page](https://example.com/score.png)",
      ].join("\n"),
    );
  await publish.getByLabel(/^Tags/).fill(`stride, ${"syncopation".repeat(3).slice(0, 32)}`);
  await publish.getByLabel(/^Audio/).setInputFiles(join(root, "tests/fixtures/audio/tone.wav"));
  // The upload goes by XMLHttpRequest, then the page follows its redirect (to "/" again).
  await Promise.all([page.waitForNavigation({ timeout: 15_000 }), publish.getByRole("button", { name: "Publish" }).click()]);
  const published = await flash(page);
  check(published.some((f) => f.includes("published")), `published: ${JSON.stringify(published)}`);
  await Promise.all([page.waitForNavigation(), page.getByRole("link", { name: title }).first().click()]);
  const oldUrl = page.url();
  await audit(page, width, "composition", problems);
  check((await page.locator("h1").textContent())?.trim() === title, "the permalink's <h1> is the composition's title");
  // (The player bar holds the page's one <audio>; the track has its play button.)
  check((await page.locator("li.track .player-toggle").count()) === 1, "the composition holds the uploaded track");
  check((await page.locator(".prose table").count()) === 1, "a Markdown table in the description renders");
  const picture = page.locator(".prose a", { hasText: "the score, first page" });
  check((await picture.count()) === 1, "an image in the description shows as a link with its alt text");
  check((await page.locator(".prose h1, .prose h2").count()) === 0, "a heading in the description does not outrank the page");

  // Edit: the title changes, and the old URL answers 301 to the new one.
  await Promise.all([page.waitForNavigation(), page.locator(".actions").getByRole("link", { name: "Edit" }).first().click()]);
  await audit(page, width, "edit", problems);
  const newTitle = `${title.slice(0, 50)} (revised)`;
  await page.getByLabel("Title", { exact: true }).fill(newTitle);
  await Promise.all([page.waitForNavigation(), page.getByRole("button", { name: /^(Submit|Save|Update)/ }).click()]);
  const moved = await context.request.get(oldUrl, { maxRedirects: 0 });
  check(
    moved.status() === 301 && moved.headers().location !== new URL(oldUrl).pathname,
    `the old URL answers ${moved.status()} → ${moved.headers().location}`,
  );
  await page.goto(oldUrl);
  check((await page.locator("h1").textContent())?.trim() === newTitle, `the old URL leads to "${newTitle}"`);
  const slug = new URL(page.url()).pathname.split("/").pop();
  await page.goto(`${base}/delete/${slug}`);
  await audit(page, width, "delete", problems);

  // Follow the artist, then like and comment on one of their compositions.
  const { artist, composition } = people;
  await page.goto(`${base}/user/${artist}`);
  await audit(page, width, "profile", problems);
  const placed = await page.evaluate(() => {
    const music = document.querySelector(".profile-music .composition")?.getBoundingClientRect();
    const who = document.querySelector(".suggestions")?.getBoundingClientRect();
    return music && who ? { musicTop: music.top, musicRight: music.right, whoTop: who.top, whoLeft: who.left } : null;
  });
  if (check(placed !== null, "the profile shows compositions and Who to follow")) {
    if (width === "390") check(placed.musicTop < placed.whoTop, `on a phone the music comes before Who to follow (${Math.round(placed.musicTop)} < ${Math.round(placed.whoTop)})`);
    else check(placed.whoLeft >= placed.musicRight, "on a desktop Who to follow is a column beside the music");
  }
  await Promise.all([page.waitForNavigation(), page.getByRole("button", { name: "Follow", exact: true }).click()]);
  check(await page.getByRole("button", { name: "Unfollow" }).isVisible(), `following ${artist}: the button says Unfollow`);
  await page.goto(`${base}/followers/${artist}`);
  await audit(page, width, "followers", problems);
  await page.goto(`${base}/composition/${composition}`);
  const like = page.locator("form.like-form button").first();
  await Promise.all([page.waitForNavigation(), like.click()]);
  const pressed = page.locator("form.like-form button").first();
  check((await pressed.getAttribute("aria-pressed")) === "true", "liked: the button is pressed");
  check((await pressed.innerText()).trim().endsWith("Liked"), `liked: the button reads Liked (${(await pressed.innerText()).trim()})`);
  check((await page.getByRole("button", { name: "Like", exact: true, pressed: true }).count()) === 1, "liked: still a toggle named Like, pressed");
  const comment = `Lovely voicing, @${artist}! ${width}`;
  await page.getByLabel(/^Enter your comment/).fill(comment);
  await Promise.all([page.waitForNavigation(), page.getByRole("button", { name: "Comment" }).click()]);
  const posted = page.locator(".comment", { hasText: `Lovely voicing` }).filter({ hasText: width });
  check((await posted.count()) === 1, "the comment shows on the composition's page");
  check((await posted.getByRole("link", { name: `@${artist}` }).count()) === 1, "the mention links to the artist's profile");
  await page.goto(`${base}/composition/${composition}/likes`);
  await audit(page, width, "likes", problems);

  // Search from the navbar, then a tag.
  await page.goto(base + "/");
  await openMenu(page);
  await page.getByRole("searchbox", { name: "Search Ragtime" }).fill("Maple");
  await Promise.all([page.waitForNavigation(), page.keyboard.press("Enter")]);
  check((await page.getByRole("link", { name: /Maple/ }).count()) > 0, "the navbar search finds the newcomer's composition");
  await openMenu(page);
  check((await page.getByRole("searchbox", { name: "Search Ragtime" }).inputValue()) === "Maple", "the results page keeps the query in the navbar's box");
  const boxHeight = await page.locator(".nav-search").evaluate((el) => el.getBoundingClientRect().height);
  check(boxHeight < 60, `the navbar's search form is as high as its box (${Math.round(boxHeight)} px)`);
  check((await page.locator("#search-q").inputValue()) === "Maple", "and in the search page's own box");
  const styled = await page.evaluate(() => {
    const look = (el) => { const s = getComputedStyle(el); return [s.borderTopStyle, s.borderTopWidth, s.borderTopLeftRadius, s.fontFamily].join(" "); };
    return { nav: look(document.querySelector("#nav-search-q")), page: look(document.querySelector("#search-q")), field: null };
  });
  check(styled.nav === styled.page && styled.nav.startsWith("solid 1px 8px"), `the search boxes are styled like the site's inputs (${styled.nav} / ${styled.page})`);
  await audit(page, width, "search", problems);
  await page.goto(`${base}/search?q=${encodeURIComponent("newcomer")}&type=users`);
  await audit(page, width, "search-people", problems);
  await page.goto(`${base}/tag/stride`);
  await audit(page, width, "tag", problems);
  await page.goto(`${base}/users`);
  await audit(page, width, "people", problems);
  await page.goto(`${base}/all`);
  const next = page.getByRole("link", { name: /Older|Next/ }).first();
  if (check((await next.count()) === 1, "the feed has a second page")) {
    await Promise.all([page.waitForNavigation(), next.click()]);
    await audit(page, width, "feed-page-2", problems);
    check((await page.title()).startsWith("Page 2 · "), `the second page's title says so ("${await page.title()}")`);
  }
  for (const [path, name] of [
    ["/edit-profile", "edit-profile"],
    ["/auth/change-password", "change-password"],
    ["/auth/change_email", "change-email"],
    ["/notifications/settings", "notification-settings"],
    ["/no/such/page", "not-found"],
  ]) {
    await page.goto(base + path);
    if (name === "not-found") {
      // Chromium logs the 404 of the page itself as a console error: that one is expected.
      const own = `console error on ${page.url()}: Failed to load resource: the server responded with a status of 404`;
      const i = problems.findIndex((p) => p.startsWith(own));
      check(i >= 0, "the missing page answered 404");
      if (i >= 0) problems.splice(i, 1);
    }
    await audit(page, width, name, problems);
    if (name === "change-email") check((await page.locator("main").textContent()).includes(email), "the change-email page shows the current address");
  }
  await logOut(page);

  // The artist — an administrator — reads their notifications, moderates, administers.
  await logIn(page, base, people.artistEmail, PASSWORD);
  if (width === "1280") {
    const nav = await navbarOnOneLine(page);
    check(nav.rows === 1 && nav.spread <= 4 && nav.height < 70, `an administrator's navbar holds on one line at 1280 px (${nav.items} items, spread ${nav.spread} px, ${nav.height} px high)`);
  }
  await openMenu(page);
  const badge = page.locator(".nav-links a[href='/notifications'] .badge");
  check((await badge.count()) === 1, `the artist sees an unread count (${await badge.textContent().catch(() => "none")})`);
  await Promise.all([page.waitForNavigation(), page.getByRole("link", { name: /^Notifications/ }).click()]);
  await audit(page, width, "notifications", problems);
  check((await page.locator("main").textContent()).includes(username), "the notifications name the newcomer");
  await Promise.all([page.waitForNavigation(), page.getByRole("button", { name: /Mark all/ }).click()]);
  await openMenu(page);
  check((await badge.count()) === 0, "marked all read: the unread count is gone");
  await page.goto(`${base}/moderate`);
  await audit(page, width, "moderate", problems);
  const theirs = page.locator(".comment", { hasText: "Lovely voicing" }).filter({ hasText: width }).first();
  check((await theirs.locator("a[href^='/comment/'], a[href^='/composition/']").count()) > 0, "the moderated comment links to its composition");
  await Promise.all([page.waitForNavigation(), theirs.getByRole("button", { name: "Disable" }).click()]);
  const disabled = await flash(page);
  check(disabled.some((f) => /disabled/i.test(f)), `the moderation page confirms the action: ${JSON.stringify(disabled)}`);
  await page.goto(`${base}/admin/users?q=newcomer`);
  await audit(page, width, "admin-users", problems);
  await logOut(page);

  // Password reset: request it, follow the mailed link, log in with the new password.
  await page.goto(`${base}/auth/reset`);
  await audit(page, width, "reset-request", problems);
  await page.getByLabel("Email").fill(email);
  await Promise.all([page.waitForNavigation(), page.getByRole("button", { name: /Reset/ }).click()]);
  const reset = await mailLink(page, base, width, email, "/auth/reset/", problems, "dev-mail");
  await Promise.all([page.waitForNavigation(), reset.click()]);
  await audit(page, width, "reset", problems);
  const renewed = `${password} renewed`;
  await page.getByLabel("New password", { exact: true }).fill(renewed);
  await page.getByLabel("Confirm new password").fill(renewed);
  await Promise.all([page.waitForNavigation(), page.getByRole("button", { name: "Reset Password" }).click()]);
  await logIn(page, base, email, renewed);
  await openMenu(page);
  check(await page.getByRole("link", { name: "Profile" }).isVisible(), "logged in with the new password");
  await context.close();
}

/** The page's background colour, as the eye sees it: dark when its luminance is low. */
async function looksDark(page) {
  return page.evaluate(() => {
    const [r, g, b] = getComputedStyle(document.body).backgroundColor.match(/\d+/g).map(Number);
    return 0.2126 * r + 0.7152 * g + 0.0722 * b < 80;
  });
}

/**
 * The scheme toggle: the system's preference without a choice; with the script, a press flips
 * the page at once and the choice survives a reload (a cookie the server paints with, so no
 * flash of the other scheme), and pressing back to the system's scheme forgets it; without the
 * script, the form does the same through the server.
 */
async function schemeToggle(base) {
  const problems = [];
  for (const system of ["light", "dark"]) {
    const context = await newContext(base, problems, { viewport: WIDTHS[0].viewport, colorScheme: system });
    const page = await context.newPage();
    watch(page, problems, { navigating: true });
    await page.goto(`${base}/users`);
    const toggle = page.getByRole("button", { name: "Dark mode" });
    check((await looksDark(page)) === (system === "dark"), `${system} system, nothing chosen: the page is ${system}`);
    check((await toggle.getAttribute("aria-pressed")) === String(system === "dark"), `${system} system: the toggle says whether dark is on`);
    await toggle.click();
    const other = system === "dark" ? "light" : "dark";
    check((await looksDark(page)) === (other === "dark"), `${system} system: a press turns the page ${other} at once`);
    check((await toggle.getAttribute("aria-pressed")) === String(other === "dark"), `${system} system: the toggle is ${other === "dark" ? "" : "no longer "}pressed`);
    // The cookie is asked for in the background: wait for it, then reload.
    const until = Date.now() + 5000;
    while (!(await context.cookies()).some((c) => c.name === "scheme") && Date.now() < until) await page.waitForTimeout(50);
    // The first paint after a reload, before any script ran, is already right: the server
    // wrote the scheme on <html>.
    const first = await (await context.request.get(`${base}/users`)).text();
    check(first.includes(`<html lang="en" data-scheme="${other}">`), `${system} system: the server paints the next page ${other}`);
    await page.reload();
    check((await looksDark(page)) === (other === "dark"), `${system} system: ${other} survives a reload`);
    await audit(page, "1280", `scheme-${other}-chosen`, problems);
    await page.emulateMedia({ colorScheme: system }); // the audit leaves the page light
    await toggle.click();
    check((await looksDark(page)) === (system === "dark"), `${system} system: pressed again, the page follows the system`);
    const gone = Date.now() + 5000;
    while ((await context.cookies()).some((c) => c.name === "scheme") && Date.now() < gone) await page.waitForTimeout(50);
    check(!(await context.cookies()).some((c) => c.name === "scheme"), `${system} system: back to the system's scheme, the choice is forgotten`);
    await context.close();
  }
  // Without the script: the form goes through the server and back to the same page.
  const context = await newContext(base, problems, { viewport: WIDTHS[0].viewport, colorScheme: "light", javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto(`${base}/users`);
  await Promise.all([page.waitForNavigation(), page.getByRole("button", { name: "Dark mode" }).click()]);
  check(new URL(page.url()).pathname === "/users", `without the script the toggle comes back to the page (${page.url()})`);
  check(await looksDark(page), "without the script the toggle turns the page dark");
  check((await page.getByRole("button", { name: "Dark mode" }).getAttribute("aria-pressed")) === "true", "without the script the toggle then says it is pressed");
  await context.close();
  check(problems.length === 0, `the scheme toggle: no console error or failed request ${JSON.stringify(problems)}`);
}

/** An API token from curl, then a request with it: what the API's readers do first. */
function curlToken(base, email) {
  const curl = (args) => spawnSync("curl", ["--silent", "--show-error", "--max-time", "10", ...args], { encoding: "utf8" });
  const issued = curl(["--user", `${email}:${PASSWORD}`, "--request", "POST", `${base}/api/v1/tokens/`]);
  let token = null;
  try {
    token = JSON.parse(issued.stdout).token;
  } catch {}
  // The token itself stays out of the log.
  const said = token ? `a token of ${token.length} characters` : issued.stdout || issued.stderr;
  if (!check(typeof token === "string" && token.length > 20, `curl gets an API token (${said})`)) return;
  const used = curl(["--header", `Authorization: Bearer ${token}`, "--write-out", "\n%{http_code}", `${base}/api/v1/compositions/`]);
  const [body, status] = [used.stdout.slice(0, used.stdout.lastIndexOf("\n")), used.stdout.split("\n").pop()];
  check(status === "200" && Array.isArray(JSON.parse(body || "{}").compositions), `curl reads the API with the token (${status})`);
}

async function main() {
  const { base, env } = await startServer(["--users", "4", "--compositions", "24", "--comments", "4", "--follows", "2", "--tracks", "--tracks-per-composition", "4"]);
  const target = (await seededCompositions(base))[0];
  const artistEmail = `${target.artist_username}@example.com`;
  log(ragtime(env, ["role", artistEmail, "Administrator"]));
  const people = { artist: target.artist_username, artistEmail, composition: target.id };
  log(`the artist: ${people.artist}; their composition ${target.id} "${target.title}"`);

  curlToken(base, artistEmail);
  await launch();
  for (const width of WIDTHS) {
    log(`— the journeys at ${width.name} px`);
    await journey(base, width, people);
  }
  log("— the colour scheme toggle");
  await schemeToggle(base);
  log(`page types audited: ${[...audited].map(([name, ws]) => `${name} (${ws.join(", ")})`).join("; ")}`);
  log(`screenshots in ${shots}`);
}

/** The seeded compositions, read with a seeded user's credentials (found on the People page). */
async function seededCompositions(base) {
  const html = await (await fetch(`${base}/users`)).text();
  const name = html.match(/href="\/user\/([A-Za-z0-9._]+)"/)?.[1];
  const list = await apiClient(base)("/api/v1/compositions/", {}, `${name}@example.com:${PASSWORD}`);
  return list.compositions;
}

await run("browser journeys", 290, main);
